"""Scheduled runs: each recipe as a Prefect deployment with a cron schedule (and its time zone),
served by `curate schedule` or deployed to a work pool with `prefect deploy` (see prefect.yaml).

Inputs may be glob patterns, resolved at each run, so new dump or survey files are picked up; the
step cache makes unchanged inputs cost nothing, and a run whose data equals the latest version
publishes nothing. Each run leaves a Markdown artifact: the step table, the card, the version.
Recipes that pseudonymize authors (norms) refuse to run on a schedule without a persistent key:
`CURATE_PSEUDONYM_KEY` in the environment or the Prefect Secret block `curate-pseudonym-key`.
"""

from __future__ import annotations

import glob
import os
from enum import Enum
from pathlib import Path
from typing import Any

from prefect import flow, task

from pipelines.engine.logs import run_logger
from pipelines.engine.publish import plan_publish
from pipelines.engine.request import RunRequest
from pipelines.flows.llm_route import embedded_if_needed
from pipelines.flows.prepare import prepare
from pipelines.flows.run import run_recipe
from pipelines.recipes import available, get_recipe
from schemas.errors import CurateError

KEY_ENV = "CURATE_PSEUDONYM_KEY"
KEY_BLOCK = "curate-pseudonym-key"

Recipe = Enum("Recipe", {name: name for name in available()}, type=str)  # a choice list in the Prefect UI


def pseudonym_key(recipe: str) -> str | None:
    """Where the run's pseudonym key comes from ("environment" or "secret block"); a recipe that
    needs one and finds none is refused: a drawn key would change every row of every version."""
    if not get_recipe(recipe).needs_pseudonym_key:  # a recipe whose output changes with the key
        return None
    if os.environ.get(KEY_ENV):
        return "environment"
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(KEY_BLOCK, _sync=True).get()
    except Exception:  # no block of that name, or no server to ask
        value = None
    if value:
        os.environ[KEY_ENV] = str(value)  # for this run's process only; never logged
        return "secret block"
    raise CurateError(
        f"a scheduled {recipe} run needs a persistent pseudonym key, or every version gets new pseudonyms: "
        f"set {KEY_ENV} or create the Prefect Secret block {KEY_BLOCK!r}"
    )


def check_cron(cron: str, timezone: str | None) -> None:
    """A bad cron expression or time zone is one line, before anything is registered."""
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as e:
        reason = e.errors()[0].get("msg", str(e)).removeprefix("Value error, ")
        raise CurateError(f"--cron {cron!r}{f' --timezone {timezone}' if timezone else ''}: {reason}") from None


@task(retries=2, retry_delay_seconds=10, task_run_name="resolve inputs")
def resolve_inputs(patterns: list[str]) -> list[str]:
    """Glob patterns to files (retried: a network mount may be slow to answer)."""
    paths: list[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        paths += [m for m in matches if m not in paths]
    if not paths:
        raise CurateError(f"no input matches {patterns}")
    return paths


@task(retries=2, retry_delay_seconds=30, task_run_name="publish")
def publish_version(output: str, publish_to: str) -> dict[str, Any]:
    """Publish the next patch version. Safe to retry: an existing version is refused and equal data
    publishes nothing, so a retry after a half-finished attempt cannot make two versions."""
    from pipelines.engine.publish import next_version, publish

    return publish(Path(output), publish_to, next_version(publish_to))


def artifact_markdown(
    recipe: str, summary: dict[str, Any], published: dict[str, Any] | None, publish_to: str | None
) -> str:
    report = summary["report"]
    card = Path(summary["output"]) / "README.md"
    lines = [f"# curate run {recipe}", "", f"Output: `{summary['output']}`; card: [{card.name}]({card.as_uri()})", ""]
    if published is None:
        lines.append("Not published (no `publish_to`).")
    elif published["version"] is None:
        lines.append(f"Nothing published: the data equals **{published['unchanged_from']}** of `{publish_to}`.")
    else:
        previous = f" (previous: {published['previous']})" if published["previous"] else ""
        lines.append(f"Published **{published['version']}** to `{publish_to}`{previous}.")
    lines += ["", "| step | in | kept | dropped | quarantined |", "|---|---:|---:|---|---:|"]
    for s in report["steps"]:
        dropped = ", ".join(f"{r}: {n}" for r, n in s["dropped"].items()) or "-"
        lines.append(f"| {s['name']} | {s['in']} | {s['kept']} | {dropped} | {s['quarantined']} |")
    lines += ["", "| config | rows |", "|---|---:|"] + [f"| {c} | {n} |" for c, n in summary["configs"].items()]
    return "\n".join(lines) + "\n"


@flow(name="curate-scheduled-run", persist_result=False, log_prints=True)
def scheduled_run(
    recipe: Recipe,
    inputs: list[str],
    output: str,
    config_path: str | None = None,
    cache_dir: str | None = None,
    dask_address: str | None = None,
    publish_to: str | None = None,
) -> dict[str, Any]:
    """Run a curate recipe on the files its input patterns match now, and publish what changed.

    Args:
        recipe: The recipe to run (`curate recipes` lists them).
        inputs: Input files or glob patterns (absolute), resolved at each run so new files are picked up.
        output: Folder the dataset is written to (a Hugging Face dataset layout), replaced by each run.
        config_path: YAML file with the recipe's options.
        cache_dir: Step cache folder; unchanged steps are read from it. Default: $CURATE_CACHE_DIR.
        dask_address: Dask scheduler address (tcp://host:8786); default: a LocalCluster per run.
        publish_to: Dataset repository (a folder, or hf://org/name) that gets the next patch version
            when the data changed; nothing is published when it equals the latest version.
    """
    from prefect.artifacts import create_markdown_artifact

    recipe = Recipe(recipe).value
    source = pseudonym_key(recipe)
    if source:
        run_logger().info("pseudonym key from the %s", source)
    paths = resolve_inputs(inputs)
    plan = plan_publish(publish_to, None, recipe) if publish_to else None  # the latest version's terms kept
    request = RunRequest(
        recipe=recipe,
        inputs=tuple(paths),
        output=output,
        config_path=config_path,
        cache_dir=cache_dir,
        dask_address=dask_address,
        inherited=plan.inherited if plan else {},
        inherited_from=plan.previous if plan else None,
    )
    # the LLM steps go where `curate run`'s go: the configured endpoint, else the embedded engine
    prepared = prepare(request)  # checked before the engine starts; the flow takes this preparation
    with embedded_if_needed([prepared], say=run_logger().info):
        state = run_recipe(request, return_state=True)
    if state.is_failed():
        raise CurateError(state.message or "the run failed")
    summary = state.result()
    published = None
    if publish_to:
        published = publish_version(output, publish_to)
        if published["version"] is None:
            run_logger().info("nothing published: the data equals %s of %s", published["unchanged_from"], publish_to)
        else:
            run_logger().info("published %s to %s", published["version"], publish_to)
        summary["published"] = published["version"]
    create_markdown_artifact(
        key=f"curate-{recipe}",
        markdown=artifact_markdown(recipe, summary, published, publish_to),
        description=f"curate run {recipe}: steps, card, version",
    )
    return summary


def schedule_deployment(name: str, cron: str, timezone: str | None, parameters: dict[str, Any]):
    from prefect.schedules import Cron

    return scheduled_run.to_deployment(
        name=name,
        schedules=[Cron(cron, timezone=timezone)],
        parameters=parameters,
        description=f"curate run {parameters['recipe']} on a schedule ({cron}, {timezone or 'UTC'})",
        tags=["curate", parameters["recipe"]],
    )


def next_runs(cron: str, timezone: str | None, n: int = 3) -> list[str]:
    """The next `n` times the schedule fires, in its time zone (with the UTC time beside each)."""
    import asyncio
    import datetime

    from prefect.server.schemas.schedules import CronSchedule

    dates = asyncio.run(CronSchedule(cron=cron, timezone=timezone or "UTC").get_dates(n))
    out = []
    for d in dates:
        local = d.strftime("%Y-%m-%d %H:%M %Z")
        utc = d.astimezone(datetime.UTC).strftime("%H:%M UTC")
        out.append(local if local.endswith("UTC") else f"{local} ({utc})")
    return out


def serve_schedule(name: str, cron: str, parameters: dict[str, Any], timezone: str | None = None, say=print) -> None:
    """Register the deployment with its schedule on the Prefect server and run it until stopped."""
    from prefect import serve

    check_cron(cron, timezone)
    if not os.environ.get("PREFECT_API_URL"):
        raise CurateError(
            "schedules need a running Prefect server: start one with `.venv/bin/prefect server start` "
            "and set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    pseudonym_key(parameters["recipe"])  # refuse now, not at 03:00
    if parameters.get("publish_to"):  # a repository of another recipe, refused now
        plan_publish(parameters["publish_to"], None, parameters["recipe"])
    say(f"schedule {cron!r} in time zone {timezone or 'UTC'}; next runs: {', '.join(next_runs(cron, timezone))}")
    serve(schedule_deployment(name, cron, timezone, parameters), print_starting_message=True)
