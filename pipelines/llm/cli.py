"""`curate llm ...`: the embedded engine from the command line, and the hook that starts it for
`curate run` / `curate demo` when no endpoint is configured."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console

llm_app = typer.Typer(help="The LLM engine: serve the embedded model, probe an endpoint.", no_args_is_help=True)
err = Console(stderr=True)


@llm_app.command()
def serve(
    port: Annotated[int, typer.Option(help="Loopback port.")] = 8012,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads [default: half the cores, 1 to 4].")] = None,
    slots: Annotated[Optional[int], typer.Option(help="Requests decoded at once [default: 2].")] = None,
) -> None:
    """Serve the embedded model (Gemma 3 270M base, llama.cpp) on 127.0.0.1 until Ctrl-C; point
    recipes at it with CURATE_LLM_BASE_URL=http://127.0.0.1:PORT/v1."""
    from pipelines.llm.embedded import MODEL_ID, EngineOptions, serve as start

    defaults = EngineOptions.from_env()
    options = EngineOptions(threads or defaults.threads, slots or defaults.slots, defaults.ctx_per_slot)
    server = start(port, options)
    err.print(f"serving {MODEL_ID} on http://127.0.0.1:{port}/v1 ({options.threads} threads, {options.slots} slots); "
              "Ctrl-C stops it", highlight=False)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    del server


@llm_app.command()
def probe(base_url: Annotated[Optional[str], typer.Argument(help="Endpoint [default: CURATE_LLM_BASE_URL].")] = None) -> None:
    """Say what an endpoint is: engine, model, capacity, schema mechanism, prompt style."""
    from pipelines.llm.http_backend import HTTPBackend
    from pipelines.llm.settings import resolve_settings

    settings, why = resolve_settings(None, {**os.environ, **({"CURATE_LLM_BASE_URL": base_url} if base_url else {})})
    if settings is None:
        raise typer.BadParameter(why)
    b = HTTPBackend(settings)
    typer.echo(f"engine={b.server.engine} model={b.model} capacity={b.server.capacity} concurrency={b.concurrency} "
               f"schemas={b.guided} prompts={'plain-text (base model)' if b.completions else 'chat'}")


def llm_route(runs: list[tuple[str, Path | None]]) -> tuple[str | None, str]:
    """Where the LLM steps of these runs go, and one line that says so: ("endpoint", ...) when every
    LLM recipe has one configured (environment or the recipe's `llm:` config), ("embedded", ...) when
    one has none and the embedded engine is allowed, ("off", ...) when it is not (CURATE_LLM_EMBEDDED=0:
    the LLM steps are skipped with a note); (None, "") when no recipe has LLM steps."""
    from pipelines.llm.settings import resolve_settings
    from pipelines.recipes import get_recipe, load_config
    from pipelines.redaction import redact

    endpoints = []
    for name, config in runs:
        recipe = get_recipe(name)
        if not recipe.uses_llm:  # the recipe says whether it has LLM steps
            continue
        settings = resolve_settings(getattr(load_config(recipe, config), "llm", None))[0]
        if settings is None:
            if os.environ.get("CURATE_LLM_EMBEDDED", "1") == "0":
                return "off", "no LLM endpoint configured and CURATE_LLM_EMBEDDED=0: the LLM steps are skipped"
            return "embedded", "no LLM endpoint configured: starting the embedded llama.cpp engine"
        endpoints.append(f"{settings.backend} {redact(settings.base_url or '')} {settings.model or ''}".strip())
    if not endpoints:
        return None, ""
    return "endpoint", "LLM steps use the configured endpoint: " + ", ".join(dict.fromkeys(endpoints))


def needs_embedded(runs: list[tuple[str, Path | None]]) -> bool:
    """True when an LLM recipe runs with no endpoint configured and the embedded engine is allowed."""
    return llm_route(runs)[0] == "embedded"


@contextmanager
def embedded_if_needed(runs: list[tuple[str, Path | None]], say=None) -> Iterator[None]:
    """Start the embedded engine for the duration of the block when some run needs it (one line
    says so), with CURATE_LLM_BASE_URL set for the recipes; stop it at the end. `runs`: (recipe,
    config file) pairs; `say`: where the lines go (the console; a scheduled run's log), and with it
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
        say(f"LLM budget: {DEFAULT_EMBEDDED} of model work for this run (the embedded engine's default; "
            "CURATE_LLM_BUDGET or llm.budget to change it, none for no limit)")
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
