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
from pipelines.request import RunRequest
from pipelines.runtime import run_logger


def resolve_inputs(patterns: list[str]) -> list[str]:
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        paths += [m for m in matches if m not in paths]
    if not paths:
        raise CurateError(f"no input matches {patterns}")
    return paths


def next_version(repo: Path) -> str:
    from pipelines.publish import parse_version, versions

    tags = versions(repo)
    if not tags:
        return "1.0.0"
    major, minor, patch = parse_version(tags[-1])
    return f"{major}.{minor}.{patch + 1}"


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
    request = RunRequest(recipe=recipe, inputs=tuple(paths), output=output, config_path=config_path,
                         cache_dir=cache_dir, dask_address=dask_address)
    state = run_recipe(request, return_state=True)
    if state.is_failed():
        raise CurateError(state.message or "the run failed")
    summary = state.result()
    if publish_to:
        from pipelines.publish import publish

        result = publish(Path(output), publish_to, next_version(Path(publish_to)))
        changed = any(d["added"] or d["removed"] or d["changed"] for d in result["diff"])
        run_logger().info("published %s to %s (%s)", result["version"], publish_to,
                          "data changed" if changed else "no change in the data")
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
