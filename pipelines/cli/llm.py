"""`curate llm ...`: the embedded engine from the command line (`pipelines.flows.llm_route` starts it
for `curate run` / `curate demo` / schedules when no endpoint is configured)."""

from __future__ import annotations

import os
import time
from typing import Annotated, Optional

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
    from pipelines.llm.embedded import MODEL_ID, EngineOptions
    from pipelines.llm.embedded import serve as start

    defaults = EngineOptions.from_env()
    options = EngineOptions(threads or defaults.threads, slots or defaults.slots, defaults.ctx_per_slot)
    server = start(port, options)
    err.print(
        f"serving {MODEL_ID} on http://127.0.0.1:{port}/v1 ({options.threads} threads, {options.slots} slots); "
        "Ctrl-C stops it",
        highlight=False,
    )
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    del server


@llm_app.command()
def probe(
    base_url: Annotated[Optional[str], typer.Argument(help="Endpoint [default: CURATE_LLM_BASE_URL].")] = None,
) -> None:
    """Say what an endpoint is: engine, model, capacity, schema mechanism, prompt style."""
    from pipelines.llm.http_backend import HTTPBackend
    from pipelines.llm.settings import resolve_settings

    settings, why = resolve_settings(None, {**os.environ, **({"CURATE_LLM_BASE_URL": base_url} if base_url else {})})
    if settings is None:
        raise typer.BadParameter(why)
    b = HTTPBackend(settings)
    typer.echo(
        f"engine={b.server.engine} model={b.model} capacity={b.server.capacity} concurrency={b.concurrency} "
        f"schemas={b.guided} prompts={'plain-text (base model)' if b.completions else 'chat'}"
    )
