"""Scheduled runs: each recipe as a Prefect deployment with a cron schedule, served by
`curate schedule` (a long-running process that executes the runs the Prefect server schedules).

Inputs may be glob patterns, resolved at each run, so new dump or survey files are picked up; the
step cache makes unchanged inputs cost nothing. With `publish_to`, each run that changed the data
is published as the next patch version.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from prefect import flow

from pipelines.errors import CurateError
from pipelines.flow import run_recipe
from pipelines.runtime import run_logger


def resolve_inputs(patterns: list[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        paths += [m for m in matches if m not in paths]
    if not paths:
        raise CurateError(f"no input matches {patterns}")
    return paths


@flow(name="curate-scheduled-run", persist_result=False)
def scheduled_run(
    recipe: str,
    inputs: list[str],
    output: str,
    config_path: str | None = None,
    cache_dir: str | None = None,
    dask_address: str | None = None,
    publish_to: str | None = None,
) -> dict[str, Any]:
    paths = resolve_inputs(inputs)
    state = run_recipe(recipe, paths, output, config_path, None, cache_dir, False, dask_address, return_state=True)
    if state.is_failed():
        raise CurateError(state.message or "the run failed")
    summary = state.result()
    if publish_to:
        from pipelines.publish import next_version, publish

        result = publish(Path(output), publish_to, next_version(publish_to))
        if result["version"] is None:
            run_logger().info("nothing published: the data equals %s of %s", result["unchanged_from"], publish_to)
        else:
            run_logger().info("published %s to %s", result["version"], publish_to)
        summary["published"] = result["version"]
    return summary


def serve_schedule(name: str, cron: str, parameters: dict[str, Any]) -> None:
    """Register the deployment with its schedule on the Prefect server and run it until stopped."""
    from prefect import serve

    if not os.environ.get("PREFECT_API_URL"):
        raise CurateError(
            "schedules need a running Prefect server: start one with `.venv/bin/prefect server start` "
            "and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    deployment = scheduled_run.to_deployment(name=name, cron=cron, parameters=parameters,
                                             description=f"curate run {parameters['recipe']} on a schedule")
    serve(deployment, print_starting_message=True)
