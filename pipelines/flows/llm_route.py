"""Where a run's LLM steps go (a configured endpoint, the embedded engine, or nowhere), said in one
line, and the block that starts the embedded engine for `curate run`, `curate demo` and schedules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:  # a type only: `curate --help` and `curate recipes` import no recipe code
    from pipelines.flows.prepare import Prepared

err = Console(stderr=True)


def llm_route(runs: list[Prepared]) -> tuple[str | None, str]:
    """Where the LLM steps of these runs go, and one line that says so: ("endpoint", ...) when every
    LLM recipe has one configured (environment or the recipe's `llm:` config), ("embedded", ...) when
    one has none and the embedded engine is allowed, ("off", ...) when it is not (CURATE_LLM_EMBEDDED=0:
    the LLM steps are skipped with a note); (None, "") when no recipe has LLM steps."""
    from pipelines.engine.redaction import redact
    from pipelines.llm.settings import resolve_settings

    endpoints = []
    for run in runs:
        if not run.recipe.uses_llm:  # the recipe's contract says whether it has LLM steps
            continue
        settings = resolve_settings(getattr(run.config, "llm", None))[0]
        if settings is None:
            if os.environ.get("CURATE_LLM_EMBEDDED", "1") == "0":
                return "off", "no LLM endpoint configured and CURATE_LLM_EMBEDDED=0: the LLM steps are skipped"
            return "embedded", "no LLM endpoint configured: starting the embedded llama.cpp engine"
        endpoints.append(f"{settings.backend} {redact(settings.base_url or '')} {settings.model or ''}".strip())
    if not endpoints:
        return None, ""
    return "endpoint", "LLM steps use the configured endpoint: " + ", ".join(dict.fromkeys(endpoints))


def needs_embedded(runs: list[Prepared]) -> bool:
    """True when an LLM recipe runs with no endpoint configured and the embedded engine is allowed."""
    return llm_route(runs)[0] == "embedded"


@contextmanager
def embedded_if_needed(runs: list[Prepared], say=None) -> Iterator[None]:
    """Start the embedded engine for the duration of the block when some run needs it (one line
    says so), with CURATE_LLM_BASE_URL set for the recipes; stop it at the end. `runs`: their
    preparations (`pipelines.flows.prepare`); `say`: where the lines go (the console; a scheduled run's log), and with it
    the line for every route. Every row goes to the model, as with any endpoint: a cap on rows per step
    (CURATE_LLM_MAX_ITEMS) or tokens per reply (CURATE_LLM_MAX_TOKENS) is the user's to set."""
    route, line = llm_route(runs)
    if say is not None and route not in (None, "embedded"):
        say(line)
    if route != "embedded":
        with nullcontext():
            yield
        return
    from pipelines.llm.embedded import EMBEDDED_WARNING, embedded_endpoint

    say = say or (lambda text: err.print(text, highlight=False, soft_wrap=True))
    say(f"{line} ({EMBEDDED_WARNING})")
    from pipelines.llm.budget import DEFAULT_EMBEDDED

    saved = {k: os.environ.get(k) for k in ("CURATE_LLM_BASE_URL", "CURATE_LLM_BUDGET")}
    if saved["CURATE_LLM_BUDGET"] is None:  # a recipe config's `llm: {budget: ...}` still wins
        os.environ["CURATE_LLM_BUDGET"] = DEFAULT_EMBEDDED
        say(
            f"LLM budget: {DEFAULT_EMBEDDED} of model work for this run (the embedded engine's default; "
            "CURATE_LLM_BUDGET or llm.budget to change it, none for no limit)"
        )
    try:
        with embedded_endpoint() as base_url:
            os.environ["CURATE_LLM_BASE_URL"] = base_url
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        say("embedded llama.cpp engine stopped")
