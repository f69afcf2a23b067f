"""Recipe `preferences`: personas x prompts -> candidate responses -> persona-conditioned judge
scores -> PreferencePair records (chosen, rejected, margin, rationale), after PRISM and Fair-PP.

Inputs: JSON Lines files holding personas (`persona_id`, `self_description`, optional
`demographics`) and prompts (`prompt_id`, `prompt`, optional `source`), in any mix. Prompts may come
from Reddit or the web: every template puts them in delimited data blocks.

Steps: read -> candidates (LLM, per prompt) -> judge (LLM, per persona x prompt) -> pairs.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
from pydantic import BaseModel, Field, model_validator

from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.step import LLMStep, LLMStepConfig, client_for, llm_step_config, usage_section
from pipelines.llm.structured import Outcome, complete_structured, complete_text, structured_request
from pipelines.llm.types import ChatRequest
from pipelines.recipes import CardMeta, CardSection, RecipeConfig, RecipeOutput
from pipelines.runtime import RunContext, file_fingerprint
from sources.files import utf8_source
from pipelines.steps import Account, Step, StepResult, split_by_reason
from schemas.envelope import envelope_columns, provenance_entry, stable_id
from schemas.quarantine import quarantine_frame

NAME = "preferences"
DESCRIPTION = "personas x prompts (JSONL) -> LLM candidates -> persona-conditioned judge -> preference pairs"


class Config(RecipeConfig):
    candidates_per_prompt: int = Field(default=2, ge=2, le=8)
    max_words: int = Field(default=120, ge=10)
    max_pairs: int | None = Field(default=None, ge=1)  # cap on persona x prompt pairs (chosen by hash)
    min_margin: float = Field(default=1.0, ge=0)  # score points between chosen and rejected
    llm: LLMSettings | None = None


class CandidateScore(BaseModel):
    candidate: int = Field(ge=1)
    score: float = Field(ge=1, le=10)


def judgement_model(n: int) -> type[BaseModel]:
    class Judgement(BaseModel):
        scores: list[CandidateScore]
        rationale: str = Field(min_length=1, max_length=2000)

        @model_validator(mode="after")
        def _one_each(self):
            seen = sorted(s.candidate for s in self.scores)
            if seen != list(range(1, n + 1)):
                raise ValueError(f"scores must rate candidates 1..{n} once each, got {seen}")
            return self

    return Judgement


# -- reading -------------------------------------------------------------------------------------


class ReadRecords(Step):
    """JSON Lines -> personas and prompts; a line that is not JSON, or neither, is quarantined."""

    name = "read"

    def run(self, data: pl.DataFrame) -> StepResult:
        rows, bad = [], []
        for path in data["path"]:
            name = Path(path).name
            source = utf8_source(Path(path))  # UTF-8 required (said where not); UTF-16 with a BOM read
            with (open(source, "rb") if isinstance(source, Path) else source) as f:
                for line_no, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    kind, record, error = _classify(line)
                    if error:
                        bad.append({"step": self.name, "source_file": name, "row": line_no, "field": kind or "line",
                                    "error": error, "raw": line.decode("utf-8", "replace").rstrip("\n")})
                    else:
                        rows.append({"kind": kind, "payload": orjson.dumps(record).decode(), "_file": name, "_row": line_no})
        frame = pl.DataFrame(rows, schema={"kind": pl.String, "payload": pl.String, "_file": pl.String, "_row": pl.Int64})
        quarantine = quarantine_frame(bad, step=self.name)
        return StepResult(frame, Account(self.name, frame.height + len(bad), frame.height, {}, len(bad)), quarantine)


def _classify(line: bytes) -> tuple[str | None, dict | None, str | None]:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return None, None, f"not valid JSON: {e}"
    if not isinstance(record, dict):
        return None, None, "a line must hold a JSON object"
    if "self_description" in record:
        ok = isinstance(record.get("persona_id"), (str, int)) and isinstance(record["self_description"], str) \
            and record["self_description"].strip()
        return ("persona", record, None) if ok else ("self_description", None, "a persona needs persona_id and a non-empty self_description")
    if "prompt" in record:
        ok = isinstance(record.get("prompt_id"), (str, int)) and isinstance(record["prompt"], str) and record["prompt"].strip()
        return ("prompt", record, None) if ok else ("prompt", None, "a prompt needs prompt_id and a non-empty prompt text")
    return None, None, "neither a persona (self_description) nor a prompt (prompt)"


def _table(frame: pl.DataFrame, kind: str) -> list[dict]:
    return [{**orjson.loads(p), "_file": f, "_row": r}
            for p, f, r in frame.filter(pl.col("kind") == kind).select("payload", "_file", "_row").iter_rows()]


# -- LLM steps -----------------------------------------------------------------------------------


class CandidateConfig(LLMStepConfig):
    candidates: int
    max_words: int


class GenerateCandidates(LLMStep):
    """`candidates` answers per prompt, each with its own seed; a prompt with fewer than two usable
    answers is quarantined."""

    name = "candidates"

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        template = load_template("preference_response")
        requests = []
        for prompt in data["prompt"]:
            messages = template.render(prompt=prompt, max_words=c.max_words)
            for k in range(c.candidates):
                requests.append(ChatRequest.make(messages, {**c.params, "seed": c.params["seed"] + k},
                                                 template_hash=template.hash))
        outcomes, usage = complete_text(self.client, requests, desc="candidates")
        lists, failed = [], []
        for i in range(data.height):
            mine = outcomes[i * c.candidates:(i + 1) * c.candidates]
            good = [{"text": o.value, "model": self.client.model, "seed": c.params["seed"] + k}
                    for k, o in enumerate(mine) if o.value is not None]
            lists.append(good)
            if len(good) < 2:
                errors = "; ".join(o.error for o in mine if o.error)
                failed.append((i, Outcome(None, None, f"{len(good)} usable candidates: {errors}", "candidates")))
        keep = [i for i in range(data.height) if len(lists[i]) >= 2]
        frame = data[keep].with_columns(pl.Series("candidates", [lists[i] for i in keep],
                                                  pl.List(pl.Struct({"text": pl.String, "model": pl.String, "seed": pl.Int64}))))
        return StepResult(frame, self.account(data.height, frame.height, usage, quarantined=len(failed)),
                          self.quarantine(data, failed))


class JudgeConfig(LLMStepConfig):
    min_margin: float


class JudgePairs(LLMStep):
    """Scores every candidate as the persona would; chosen = best, rejected = worst, margin = the
    score difference; pairs under `min_margin` are dropped as `tie`."""

    name = "judge"

    def run(self, data: pl.DataFrame) -> StepResult:
        template = load_template("preference_judge")
        requests, models = [], {}
        for row in data.iter_rows(named=True):
            n = len(row["candidates"])
            models.setdefault(n, judgement_model(n))
            requests.append(structured_request(template, {
                "persona": row["persona_text"], "prompt": row["prompt"],
                "candidates": [c["text"] for c in row["candidates"]]}, models[n], self.config.params))
        outcomes = [None] * data.height
        usage = None
        for n, model in models.items():  # one batch per candidate count (its own schema)
            idx = [i for i, r in enumerate(data["candidates"]) if len(r) == n]
            got, u = complete_structured(self.client, [requests[i] for i in idx], model, desc="judge")
            for i, o in zip(idx, got):
                outcomes[i] = o
            usage = u if usage is None else (usage.add(u) or usage)
        scores, rationale = [], []
        for o in outcomes:
            scores.append([s.score for s in sorted(o.value.scores, key=lambda s: s.candidate)] if o and o.value else None)
            rationale.append(o.value.rationale if o and o.value else None)
        judged = data.with_columns(pl.Series("scores", scores, pl.List(pl.Float64)),
                                   pl.Series("rationale", rationale, pl.String))
        failed = [(i, o) for i, o in enumerate(outcomes) if o is not None and o.value is None]
        ok = judged.filter(pl.col("scores").is_not_null()).with_columns(
            (pl.col("scores").list.max() - pl.col("scores").list.min()).alias("margin"))
        result = split_by_reason(self.name, ok, pl.when(pl.col("margin") < self.config.min_margin).then(pl.lit("tie")),
                                 self.quarantine(data, failed), len(failed))
        if usage is not None:
            result.account.extra = {"llm": usage.as_dict()}
        return result


# -- recipe --------------------------------------------------------------------------------------


def build(ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
    paths = pl.DataFrame({"path": [str(p) for p in inputs]})
    read = ctx.apply(ReadRecords(), paths, inputs_hash="|".join(file_fingerprint(p) for p in inputs))
    personas, prompts = _table(read, "persona"), _table(read, "prompt")
    tables = {"personas": _persona_records(ctx, personas, config), "prompts": _prompt_records(ctx, prompts, config)}
    client, reason = client_for(ctx, config.llm)
    if client is None:
        ctx.report.notes.append(f"No preference pairs: the LLM steps candidates and judge were skipped because "
                                f"{reason}. Only the validated personas and prompts are published.")
        return RecipeOutput(tables, _card(config), [CardSection("Preference pairs", "Not generated in this run: " + reason + ".")])
    gen = GenerateCandidates(llm_step_config(client, load_template("preference_response").hash, CandidateConfig,
                                             candidates=config.candidates_per_prompt, max_words=config.max_words))
    judge = JudgePairs(llm_step_config(client, load_template("preference_judge").hash, JudgeConfig,
                                       min_margin=config.min_margin))
    gen.client = judge.client = client
    prompt_frame = pl.DataFrame(prompts, schema_overrides={"prompt_id": pl.String}).select(
        pl.col("prompt_id").cast(pl.String), "prompt", "_file", "_row")
    with_candidates = ctx.apply(gen, prompt_frame)
    judged = ctx.apply(judge, _pairs(personas, with_candidates, config.max_pairs))
    tables["pairs"] = _pair_records(ctx, judged, config, [gen, judge])
    return RecipeOutput(tables, _card(config), _sections(ctx, tables["pairs"]))


def persona_text(p: dict) -> str:
    demo = p.get("demographics") or {}
    facts = "; ".join(f"{k}: {v}" for k, v in demo.items() if v not in (None, ""))
    return (f"Demographics: {facts}\n" if facts else "") + f"Self-description: {p['self_description'].strip()}"


def _pairs(personas: list[dict], prompts: pl.DataFrame, max_pairs: int | None) -> pl.DataFrame:
    rows = [{"pair_id": stable_id(NAME, str(p["persona_id"]), q["prompt_id"]), "persona_id": str(p["persona_id"]),
             "persona_text": persona_text(p), "prompt_id": q["prompt_id"], "prompt": q["prompt"],
             "candidates": q["candidates"], "_file": q["_file"], "_row": q["_row"]}
            for p in personas for q in prompts.iter_rows(named=True)]
    rows.sort(key=lambda r: r["pair_id"])  # a cap takes a hash-random, reproducible subset
    frame = pl.DataFrame(rows[:max_pairs] if max_pairs else rows,
                         schema={"pair_id": pl.String, "persona_id": pl.String, "persona_text": pl.String,
                                 "prompt_id": pl.String, "prompt": pl.String, "candidates": prompts.schema["candidates"],
                                 "_file": pl.String, "_row": pl.Int64})
    return frame.sort("prompt_id", "persona_id")


def _envelope(ctx, config, provenance, file, source_id):
    return envelope_columns(dataset="preferences-input", license=config.license, created_at=ctx.created_at,
                            provenance=provenance, file=file, source_id=source_id, lang="en")


def _persona_records(ctx, personas: list[dict], config: Config) -> pl.DataFrame:
    rows = [{"record_id": stable_id(NAME, "persona", str(p["persona_id"])), "persona_id": str(p["persona_id"]),
             "synthetic": bool(p.get("synthetic", True)), "demographics": orjson.dumps(p.get("demographics") or {}).decode(),
             "self_description": p["self_description"], "_file": p["_file"]} for p in personas]
    frame = pl.DataFrame(rows, schema={"record_id": pl.String, "persona_id": pl.String, "synthetic": pl.Boolean,
                                       "demographics": pl.String, "self_description": pl.String, "_file": pl.String})
    return frame.with_columns(*_envelope(ctx, config, [provenance_entry("read", ReadRecords().code_version())],
                                         pl.col("_file"), pl.col("persona_id"))).drop("_file")


def _prompt_records(ctx, prompts: list[dict], config: Config) -> pl.DataFrame:
    rows = [{"record_id": stable_id(NAME, "prompt", str(q["prompt_id"])), "prompt_id": str(q["prompt_id"]),
             "prompt": q["prompt"], "origin": q.get("source"), "_file": q["_file"]} for q in prompts]
    frame = pl.DataFrame(rows, schema={"record_id": pl.String, "prompt_id": pl.String, "prompt": pl.String,
                                       "origin": pl.String, "_file": pl.String})
    return frame.with_columns(*_envelope(ctx, config, [provenance_entry("read", ReadRecords().code_version())],
                                         pl.col("_file"), pl.col("prompt_id"))).drop("_file")


def _pair_records(ctx, judged: pl.DataFrame, config: Config, steps) -> pl.DataFrame:
    best = pl.col("scores").list.arg_max()
    worst = pl.col("scores").list.arg_min()
    cands = pl.col("candidates")
    scored = pl.struct(text=pl.element().struct.field("text"), model=pl.element().struct.field("model"),
                       seed=pl.element().struct.field("seed"))
    out = judged.with_columns(
        pl.col("pair_id").alias("record_id"),
        cands.list.eval(scored).alias("_c"),
    ).with_columns(
        pl.struct(pl.col("_c"), pl.col("scores")).map_elements(
            lambda r: [{**c, "score": s} for c, s in zip(r["_c"], r["scores"])],
            return_dtype=pl.List(pl.Struct({"text": pl.String, "model": pl.String, "seed": pl.Int64, "score": pl.Float64})),
        ).alias("candidates"),
        cands.list.get(best).struct.field("text").alias("chosen"),
        cands.list.get(worst).struct.field("text").alias("rejected"),
        *_envelope(ctx, config, [s.provenance() for s in steps], pl.col("_file"), pl.col("prompt_id")),
    )
    return out.select("record_id", "prompt_id", "prompt", "persona_id", "candidates", "chosen", "rejected",
                      "margin", "rationale", "source", "license", "lang", "split", "parallel_id", "provenance",
                      "review", "created_at")


def _sections(ctx, pairs: pl.DataFrame) -> list[CardSection]:
    judge = ctx.report.step("judge")
    lines = [f"- {pairs.height} preference pairs from {pairs['persona_id'].n_unique() if pairs.height else 0} personas "
             f"and {pairs['prompt_id'].n_unique() if pairs.height else 0} prompts",
             f"- judged pairs: {judge.rows_in}; dropped as ties (margin < {judge.dropped and 'min_margin' or 'min_margin'}): "
             f"{judge.dropped.get('tie', 0)}; judgements invalid after one repair: {judge.quarantined}"]
    if pairs.height:
        lines.append(f"- margin (score points, 1..10 scale): mean {pairs['margin'].mean():.2f}, "
                     f"min {pairs['margin'].min():.1f}, max {pairs['margin'].max():.1f}")
    return [CardSection("Preference pairs", "\n".join(lines)), CardSection("Model calls", usage_section(ctx.report))]


def _card(config: Config) -> CardMeta:
    return CardMeta(
        pretty_name=config.dataset_name or "Persona-conditioned preference pairs (PRISM / Fair-PP style)",
        license=config.license, languages=["en"], task_categories=["text-generation", "text-classification"],
        tags=["preference", "rlhf", "persona", "synthetic", "llm-generated"],
        summary="Prompts answered by an LLM several times; an LLM judge scored every answer as each persona would; "
                "the best and worst answers form a preference pair with the score margin and the judge's rationale.",
        citation="Kirk, H. R. et al. (2024). The PRISM Alignment Dataset. Fair-PP: a synthetic dataset for "
                 "aligning LLMs with personalized preferences (2025).",
        limitations=["Preferences are a model's guess at what a persona would prefer, not people's judgements.",
                     "Candidates come from one model with different seeds; they may differ less than answers from "
                     "several models would."],
        fields={"pairs": {"margin": "score of chosen minus score of rejected (judge's 1..10 scale)",
                          "candidates": "every candidate answer with the model, its seed and the judge's score",
                          "rationale": "the judge's reason, written from the persona's point of view"}},
    )


def check_inputs(inputs: list[Path], config: Config) -> None:
    """Reject a file that is not JSON Lines before the run starts, naming the file."""
    from pipelines.errors import InputFileError

    for path in inputs:
        if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
            raise InputFileError(path, f"expected JSON Lines of personas or prompts (.jsonl), got {path.suffix!r}")
