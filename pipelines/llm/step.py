"""What LLM steps share: their configuration (model, template hash, sampling parameters: the step
cache key and the provenance), the client they are handed by the recipe, the quarantine rows for
failed items, and the account with token usage in its `extra`."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson
import polars as pl

from pipelines.engine.logs import run_logger
from pipelines.engine.steps import Account, Step, StepConfig
from pipelines.llm.client import LLMClient
from pipelines.llm.completion_cache import CompletionCache
from pipelines.llm.embedded import EMBEDDED_WARNING, MODEL_ID
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings, resolve_settings
from pipelines.llm.structured import Outcome, complete_structured, structured_request
from pipelines.llm.types import Usage
from schemas.envelope import provenance_entry
from schemas.quarantine import empty_quarantine, quarantine_frame


class LLMStepConfig(StepConfig):
    template: str  # name@hash of the prompt template
    model: str
    backend: str
    params: dict[str, Any]  # temperature, top_p, max_tokens, seed
    guided_decoding: str = "auto"
    max_items: int | None = None  # rows sent to the model; the rest are dropped as over_llm_item_limit


OVER_LIMIT = "over_llm_item_limit"


def llm_step_config(client: LLMClient, template_hash: str, config_cls=LLMStepConfig, **extra) -> Any:
    s = client.settings
    return config_cls(
        template=template_hash,
        model=client.model,
        backend=client.backend.name,
        params=s.generation_params(),
        guided_decoding=s.guided_decoding,
        max_items=s.max_items,
        **extra,
    )


class LLMStep(Step):
    """Base of the steps that call a model; `client` is set by the recipe (like a reader's dask).

    With `max_items` (a cap the user sets: CURATE_LLM_MAX_ITEMS or `llm: {max_items: N}`; none by
    default), a step's `run` sees only the first max_items rows; the others are dropped with the
    reason `over_llm_item_limit`, so the account still holds every row."""

    client: LLMClient | None = None

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "run" in cls.__dict__:
            cls.run = _capped(cls.__dict__["run"])

    def provenance(self) -> dict:
        """Model, template hash, sampling parameters and seed, and the step's own options (long
        ones, such as demonstrations, by their hash)."""
        c = self.config
        own = {k: _short(v) for k, v in c.model_dump(mode="json").items() if k not in LLMStepConfig.model_fields}
        if c.model == MODEL_ID:
            own["model_note"] = EMBEDDED_WARNING
        if c.max_items is not None:
            own["max_items"] = c.max_items
        return provenance_entry(
            self.name,
            self.code_version(),
            {**c.params, "backend": c.backend, **own},
            model=c.model,
            template_hash=c.template,
            seed=c.params.get("seed"),
        )

    def ask_each(
        self, data: pl.DataFrame, template: str, output: type, variables
    ) -> tuple[list[dict], list[Outcome], Usage]:
        """Each row of `data` rendered into the prompt `template` (its variables: `variables(row)`) and
        answered as an `output` object, with one repair for an invalid reply: (rows, outcomes, usage)."""
        prompt = load_template(template)
        rows = list(data.iter_rows(named=True))
        requests = [structured_request(prompt, variables(r), output, self.config.params) for r in rows]
        outcomes, usage = complete_structured(self.client, requests, output, desc=self.name)
        return rows, outcomes, usage

    def quarantine(self, frame: pl.DataFrame, failed: list[tuple[int, Outcome]], what: str = "row") -> pl.DataFrame:
        """Quarantine rows for failed items: where the input came from, why, and the raw reply."""
        if not failed:
            return empty_quarantine()
        rows = []
        for index, outcome in failed:
            row = frame.row(index, named=True)
            rows.append(
                {
                    "step": self.name,
                    "source_file": str(row.get("_file") or row.get("source_file") or what),
                    "row": int(row.get("_row") or index + 1),
                    "field": outcome.field or "output",
                    "error": outcome.error or "invalid output",
                    "raw": outcome.raw if outcome.raw is not None else _row_json(row),
                }
            )
        return quarantine_frame(rows, step=self.name)

    def account(
        self, rows_in: int, kept: int, usage: Usage, dropped: dict[str, int] | None = None, quarantined: int = 0
    ) -> Account:
        return Account(self.name, rows_in, kept, dropped or {}, quarantined, {"llm": usage.as_dict()})


def _capped(run):
    @functools.wraps(run)
    def capped_run(self, data: pl.DataFrame):
        limit = getattr(self.config, "max_items", None)
        if limit is None or data.height <= limit:
            return run(self, data)
        result = run(self, data.head(limit))
        over = data.height - limit
        a = result.account
        a.rows_in += over
        a.dropped = {**a.dropped, OVER_LIMIT: a.dropped.get(OVER_LIMIT, 0) + over}
        return result

    return capped_run


def _aborted(n: int) -> str:
    return (
        f", {n} closed before the reply finished: their tokens, which the server does not report, are not counted"
        if n
        else ""
    )


def _short(value: Any) -> Any:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return value if len(text) <= 200 else "blake2b:" + hashlib.blake2b(text, digest_size=8).hexdigest()


def _row_json(row: dict) -> str:
    return orjson.dumps(row, default=str).decode()


def client_for(ctx, settings: LLMSettings | None = None) -> tuple[LLMClient | None, str]:
    """The run's LLM client (completion cache beside the step cache), or (None, why not)."""
    resolved, reason = resolve_settings(settings)
    if resolved is None:
        return None, reason
    cache = CompletionCache.under(ctx.cache.root) if ctx.cache is not None else None
    client = LLMClient(resolved, cache)
    if client.model == MODEL_ID:
        warning = f"Model `{MODEL_ID}`: {EMBEDDED_WARNING}."
        if warning not in ctx.report.notes:
            ctx.report.notes.append(warning)
    if resolved.max_items is not None:
        rows = "1 row" if resolved.max_items == 1 else f"{resolved.max_items} rows"
        limit = (
            f"Each LLM step sent at most {rows} to the model (a cap set by CURATE_LLM_MAX_ITEMS or "
            "llm.max_items); the others are counted as dropped: over_llm_item_limit."
        )
        if limit not in ctx.report.notes:
            ctx.report.notes.append(limit)
    return client, ""


def skipped_over_budget(ctx, over, missing: str, published: str) -> None:
    """An enrichment step (persona texts, rules of thumb) over the run's LLM budget: one note in the
    report and the card with its estimate and the ways to get it; nothing was sent."""
    ctx.report.notes.append(f"No {missing}: the LLM budget does not cover them. {over} {published}")
    run_logger().warning("no %s: over the LLM budget (%s); see the report's notes", missing, over.budget)


def model_calls(ctx):
    """The card's "Model calls" section of a run (`usage_section` of its report)."""
    from data_cards.meta import CardSection

    return CardSection("Model calls", usage_section(ctx.report))


def usage_section(report) -> str:
    """Markdown lines on the model calls of a run, for the card."""
    lines = []
    if any((a.extra or {}).get("llm", {}).get("model") == MODEL_ID for a in report.accounts):
        lines.append(f"- **Not for use as data**: `{MODEL_ID}` is {EMBEDDED_WARNING}.")
    for account in report.accounts:
        llm = account.extra.get("llm") if account.extra else None
        if llm:
            lines.append(
                f"- `{account.name}`: model `{llm.get('model')}` ({llm.get('backend')}), "
                f"{llm.get('requests', 0)} requests ({llm.get('retries', 0)} retries"
                f"{_aborted(llm.get('aborted', 0))}), {llm.get('cache_hits', 0)} completions from cache, "
                f"{llm.get('prompt_tokens', 0)} prompt tokens ({llm.get('cached_prompt_tokens', 0)} of them "
                f"from the server's prompt cache) + {llm.get('completion_tokens', 0)} completion tokens, "
                f"{llm.get('repairs', 0)} repairs ({llm.get('repaired', 0)} valid after repair), "
                f"guided decoding: {llm.get('guided_decoding') or 'n/a'}"
            )
    return "\n".join(lines) or "No model was called in this run."
