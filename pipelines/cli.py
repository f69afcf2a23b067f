"""`curate`: the command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from pipelines.request import RunRequest

from schemas.errors import CurateError

# No network at run time: Prefect must not try to send telemetry or check for updates.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# The ephemeral API server starts slowly on a busy 2-core machine; 20 s (the default) is too short.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

app = typer.Typer(
    name="curate",
    help="Build and curate human-alignment datasets: personality, values, norms, translations, preferences.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err = Console(stderr=True)
REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sources" / "samples"

InputOpt = Annotated[list[Path], typer.Option("--input", "-i", help="Input file; repeat for several.")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Output folder: a Hugging Face dataset layout.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML file with the recipe's options.")]
CacheOpt = Annotated[Optional[Path], typer.Option(help="Step cache folder [default: $CURATE_CACHE_DIR or ~/.cache/curate].")]
DaskOpt = Annotated[Optional[str], typer.Option(help="Dask scheduler address (tcp://host:8786); default: a LocalCluster.")]


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`--set key=value` options as a mapping; values are read as YAML (numbers, true/false, lists),
    dotted keys make nested options (`llm.model=x`). The recipe's config validates them."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise CurateError(f"--set {pair!r}: expected key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        *parents, leaf = key.strip().split(".")
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


def run_one(request: RunRequest) -> dict:
    from pipelines.recipes import get_recipe, load_config
    from sources.files import check_readable

    # Checks before the flow starts, so a wrong file or option fails fast with one line.
    recipe = get_recipe(request.recipe)
    config = load_config(recipe, Path(request.config_path) if request.config_path else None, request.overrides)
    inputs = [Path(p) for p in request.inputs]
    for path in inputs:
        check_readable(path)
    recipe.check_inputs(inputs, config)

    from pipelines.flow import run_recipe

    state = run_recipe(request, return_state=True)
    if state.is_failed():
        fail(state.message or "the run failed; see the log above")
    return state.result()


def _request(recipe: str, inputs: list[Path], output: Path, config: Path | None, overrides: dict[str, Any],
             cache_dir: Path | None, no_cache: bool, dask_address: str | None) -> RunRequest:
    return RunRequest(recipe=recipe, inputs=tuple(str(p) for p in inputs), output=str(output),
                      config_path=str(config) if config else None, overrides=overrides,
                      cache_dir=str(cache_dir) if cache_dir else None, no_cache=no_cache, dask_address=dask_address)


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe name; see `curate recipes`.")],
    input: InputOpt,
    output: OutputOpt,
    config: ConfigOpt = None,
    set_: Annotated[list[str], typer.Option("--set", help="A recipe option over the config file's, KEY=VALUE "
                                                           "(value as YAML; repeat for several).")] = [],  # noqa: B006
    keyed: Annotated[bool, typer.Option("--keyed", help="Same as --set keyed=true (personality: answers in "
                                                        "CSV/SPSS/Stata are already keyed).")] = False,
    cache_dir: CacheOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every step.")] = False,
    dask_address: DaskOpt = None,
    publish_to: Annotated[Optional[str], typer.Option(help="Also publish the output to this repository (folder or Hub id).")] = None,
    version: Annotated[Optional[str], typer.Option(help="Version X.Y.Z for --publish-to.")] = None,
) -> None:
    """Run RECIPE on the inputs and write a dataset folder with report.json and quarantine.parquet."""
    if publish_to and not version:
        fail("--publish-to needs --version X.Y.Z")
    overrides = parse_sets(set_ + (["keyed=true"] if keyed else []))
    with embedded_if_needed([(recipe, config)]):  # the embedded LLM engine, when no endpoint is configured
        summary = run_one(_request(recipe, input, output, config, overrides, cache_dir, no_cache, dask_address))
    _print_summary(summary)
    if publish_to:
        _publish(output, publish_to, version)


@app.command()
def publish(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `curate run`.")],
    repo: Annotated[str, typer.Option(help="Local repository folder (a git repo, made if missing) or Hub id owner/name.")],
    version: Annotated[str, typer.Option(help="Semantic version X.Y.Z; versions are immutable.")],
    message: Annotated[Optional[str], typer.Option(help="Changelog message.")] = None,
) -> None:
    """Publish a run folder as an immutable, tagged version, with a changelog and a diff."""
    _publish(run_dir, repo, version, message)


@app.command()
def schedule(
    recipe: Annotated[str, typer.Argument(help="Recipe name; see `curate recipes`.")],
    cron: Annotated[str, typer.Option(help='Cron schedule, e.g. "0 3 * * *" for 03:00 daily.')],
    input: Annotated[list[str], typer.Option("--input", "-i", help="Input file or glob pattern (resolved at each run).")],
    output: OutputOpt,
    config: ConfigOpt = None,
    name: Annotated[Optional[str], typer.Option(help="Deployment name [default: the recipe's].")] = None,
    publish_to: Annotated[Optional[str], typer.Option(help="Publish each run to this repository as the next patch version.")] = None,
    cache_dir: CacheOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Serve RECIPE as a Prefect deployment with a cron schedule (needs PREFECT_API_URL)."""
    from pipelines.recipes import get_recipe
    from pipelines.schedule import serve_schedule

    get_recipe(recipe)
    parameters = {
        "recipe": recipe, "inputs": input, "output": str(output.resolve()),
        "config_path": str(config.resolve()) if config else None,
        "cache_dir": str(cache_dir) if cache_dir else None, "dask_address": dask_address,
        "publish_to": publish_to,
    }
    serve_schedule(name or recipe, cron, parameters)


@app.command()
def versions(repo: Annotated[Path, typer.Argument(help="Local dataset repository.")]) -> None:
    """List the published versions of a local dataset repository."""
    from pipelines.publish import versions as list_versions

    for tag in list_versions(repo):
        typer.echo(tag)


def _publish(run_dir: Path, repo: str, version: str, message: str | None = None) -> None:
    from pipelines.publish import publish as do_publish

    result = do_publish(run_dir, repo, version, message=message)
    typer.echo(f"published {result['version']} to {result['repo']}"
               + (f" (previous: {result['previous']})" if result["previous"] else ""))
    for d in result["diff"]:
        typer.echo(f"  {d['config']:14s} rows={d['rows']} added={d['added']} removed={d['removed']} changed={d['changed']}")


@app.command()
def recipes() -> None:
    """List the recipes."""
    from pipelines.recipes import available, get_recipe

    for name in available():
        typer.echo(f"{name:14s} {get_recipe(name).description}")


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Parent folder of one dataset per recipe.")] = Path("out"),
    cache_dir: CacheOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Run every recipe on the sample sources shipped in sources/samples/."""
    from pipelines.demo import demo_runs

    runs = demo_runs(SAMPLES)
    with embedded_if_needed([(r, c) for r, _, c in runs]):  # the embedded LLM engine, when no endpoint is configured
        for recipe, inputs, config in runs:
            err.rule(f"curate run {recipe}")
            summary = run_one(_request(recipe, inputs, output / recipe, config, {}, cache_dir, False, dask_address))
            _print_summary(summary)
    typer.echo(f"datasets written under {output}/; load one with "
               f"datasets.load_dataset('{output}/personality', 'respondents', split='train')")


def _print_summary(summary: dict) -> None:
    report = summary["report"]
    typer.echo(f"{summary['output']}: " + ", ".join(f"{k} {v} rows" for k, v in summary["configs"].items()))
    for step in report["steps"]:
        dropped = ", ".join(f"{r}={n}" for r, n in step["dropped"].items()) or "-"
        typer.echo(f"  {step['name']:22s} in={step['in']:<8d} kept={step['kept']:<8d} "
                   f"dropped: {dropped}  quarantined={step['quarantined']}")
    for note in report.get("notes", []):
        typer.echo(f"  note: {note}")


@app.command("reddit-fetch")
def reddit_fetch(
    subreddit: Annotated[list[str], typer.Option("--subreddit", "-s", help="Subreddit; repeat for several.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the RS_live_*/RC_live_* dump files.")],
    state: Annotated[Path, typer.Option(help="State file: the newest item fetched per subreddit.")] = Path("reddit-state.json"),
    limit: Annotated[int, typer.Option(help="At most this many items per listing (Reddit serves up to 1000).")] = 1000,
) -> None:
    """Fetch new posts and comments through the Reddit API (PRAW; credentials from REDDIT_CLIENT_ID,
    REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT) into dump files that `curate run norms` reads."""
    from sources.reddit.live import fetch_to_dumps, reddit_from_env

    written = fetch_to_dumps(reddit_from_env(), subreddit, state, output, limit)
    typer.echo("\n".join(str(p) for p in written) or "nothing new")


from pipelines.cli_dedup import dedup as _dedup  # noqa: E402  (cheap: its heavy imports are inside)

app.command("dedup")(_dedup)

from annotation.cli import argilla_app as _argilla_app, review_app as _review_app  # noqa: E402  (heavy imports inside)

app.add_typer(_review_app, name="review")
from pipelines.llm.cli import embedded_if_needed, llm_app as _llm_app  # noqa: E402  (heavy imports inside)

app.add_typer(_llm_app, name="llm")
app.add_typer(_argilla_app, name="argilla")


def main() -> None:
    try:
        app()
    except CurateError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
