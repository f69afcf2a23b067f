"""The Prefect flow every recipe runs in: read config, run the recipe's steps, write the dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.states import Failed

from pipelines.cache import StepCache
from pipelines.dask_runtime import DaskRuntime
from pipelines.errors import CurateError
from pipelines.layout import write_dataset_dir
from pipelines.recipes import get_recipe, load_config
from pipelines.runtime import RunContext, run_logger
from pipelines.redaction import redact
from sources.files import check_readable


@flow(name="curate-run", log_prints=True, persist_result=False)
def run_recipe(
    recipe: str,
    inputs: list[str],
    output: str,
    config_path: str | None = None,
    overrides: dict[str, Any] | None = None,
    cache_dir: str | None = None,
    no_cache: bool = False,
    dask_address: str | None = None,
) -> dict[str, Any]:
    try:
        return _run(recipe, inputs, output, config_path, overrides, cache_dir, no_cache, dask_address)
    except CurateError as e:
        # an expected failure: the message says it all, no traceback in the logs
        run_logger().error("%s", e)
        return Failed(message=redact(str(e)), data=e)  # the message is stored in Prefect's database


def _run(recipe, inputs, output, config_path, overrides, cache_dir, no_cache, dask_address):
    module = get_recipe(recipe)
    config = load_config(module, Path(config_path) if config_path else None, overrides)
    paths = [check_readable(p) for p in inputs]
    out = Path(output)
    cache = None if no_cache else StepCache(cache_dir)
    with DaskRuntime(dask_address) as dask:
        ctx = RunContext(recipe=recipe, output=out, cache=cache, dask=dask)
        result = module.build(ctx, paths, config)
        if dask.workers_used:
            ctx.report.facts["dask"] = {
                "scheduler": dask.address or "LocalCluster",
                "workers": sorted(dask.workers_used),
            }
    write_dataset_dir(
        out, recipe=recipe, result=result, report=ctx.report, inputs=paths,
        created_at=ctx.created_at.isoformat(timespec="seconds"),
        plot_cache=cache.root / "plots" if cache else None,
    )
    summary = {name: table.height for name, table in result.tables.items()}
    run_logger().info("wrote %s: %s", out, ", ".join(f"{k}={v} rows" for k, v in summary.items()))
    return {"output": str(out), "configs": summary, "report": ctx.report.to_dict()}
