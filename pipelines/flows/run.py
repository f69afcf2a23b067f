"""The Prefect flow every recipe runs in: read config, run the recipe's steps, write the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.states import Failed

from pipelines.engine import interrupt
from pipelines.engine.cache import StepCache
from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.dataset_dir import claim_output
from pipelines.engine.layout import write_dataset_dir
from pipelines.engine.logs import run_logger
from pipelines.engine.redaction import redact, reveal
from pipelines.engine.request import RunRequest
from pipelines.engine.runtime import RunContext
from pipelines.engine.terms import terms_facts, with_citation
from pipelines.flows.prepare import Prepared, forget, prepare
from pipelines.recipes import Recipe, RecipeConfig, RecipeOutput
from schemas.errors import CurateError


@flow(name="curate-run", log_prints=True, persist_result=False)
def run_recipe(request: RunRequest) -> dict[str, Any]:
    try:
        return _run(request)
    except CurateError as e:
        # an expected failure: the message says it all, no traceback in the logs
        run_logger().error("%s", e)
        return Failed(message=redact(str(e)), data=e)  # the message is stored in Prefect's database


def build_checked(recipe: Recipe, ctx: RunContext, paths: list[Path], config: RecipeConfig) -> RecipeOutput:
    """`recipe.build`, held to its contract: the tables it returns are the configs its recipe.yaml
    declares, with their split keys; a column its code asks of an input that lacks it is one line naming
    the recipe and the column (never a traceback), for every recipe by construction."""
    import polars.exceptions

    try:
        result = recipe.build(ctx, paths, config)
    except polars.exceptions.ColumnNotFoundError as e:
        column = str(e).strip().splitlines()[0] if str(e).strip() else "?"
        raise CurateError(
            f"recipe {recipe.name}: a column it reads is missing from its input: {column} (declare the columns "
            f"each input must have under `inputs:` in its recipe.yaml to have them checked before any work)"
        ) from None
    recipe.check_output(result)
    return result


def _run(request: RunRequest) -> dict[str, Any]:
    interrupt.again()  # Ctrl-C and SIGTERM stay one error line inside the flow (pipelines/engine/interrupt.py)
    # the output folder checked and locked for the whole run (reentrant: `curate run` holds it already)
    with claim_output(request.output, allow_foreign=request.allow_existing, lock_timeout=request.lock_timeout):
        return _run_claimed(request)


def _run_claimed(request: RunRequest) -> dict[str, Any]:
    prepared = prepare(request)  # the CLI prepared it already: taken, not done again
    try:
        return _build(prepared)
    finally:
        forget(request)


def _build(prepared: Prepared) -> dict[str, Any]:
    request, recipe, config, paths = prepared.request, prepared.recipe, prepared.config, list(prepared.inputs)
    out = Path(request.output)
    cache = None if request.no_cache else StepCache(request.cache_dir)
    with DaskRuntime(reveal(request.dask_address)) as dask:  # the real address, to connect with only
        ctx = RunContext(recipe=recipe.name, output=out, cache=cache, dask=dask)
        ctx.report.facts["terms"] = terms_facts(config, request.inherited, request.inherited_from)
        inherited = [k for k, v in ctx.report.facts["terms"]["source"].items() if v.startswith("inherited")]
        if inherited:
            run_logger().info(
                "kept from %s of the repository (the config sets none): %s",
                request.inherited_from,
                ", ".join(f"{k}={ctx.report.facts['terms'][k]!r}" for k in inherited),
            )
        result = build_checked(recipe, ctx, paths, config)
        result.card = with_citation(result.card, config)
        if getattr(ctx, "llm", None) is not None and ctx.llm.estimates:  # each LLM step's estimate and decision
            ctx.report.facts["llm_estimates"] = ctx.llm.estimates
        if dask.workers_used:
            ctx.report.facts["dask"] = {
                "scheduler": redact(dask.address) if dask.address else "LocalCluster",
                "workers": sorted(dask.workers_used),
            }
    write_dataset_dir(
        out,
        recipe=recipe.name,
        result=result,
        report=ctx.report,
        inputs=paths,
        created_at=ctx.created_at.isoformat(timespec="seconds"),
        plot_cache=cache.root / "plots" if cache else None,
        splits=config.splits.model_dump() if getattr(config, "splits", None) else None,
        spec=recipe.hub,
    )
    summary = {name: table.height for name, table in result.tables.items()}
    run_logger().info("wrote %s: %s", out, ", ".join(f"{k}={v} rows" for k, v in summary.items()))
    return {"output": str(out), "configs": summary, "report": ctx.report.to_dict()}
