"""`curate`: the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from pipelines.engine.request import RunRequest
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
REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sources" / "samples"

InputOpt = Annotated[list[Path], typer.Option("--input", "-i", help="Input file; repeat for several.")]
OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Output folder: a Hugging Face dataset layout.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML file with the recipe's options.")]
CacheOpt = Annotated[
    Optional[Path], typer.Option(help="Step cache folder [default: $CURATE_CACHE_DIR or ~/.cache/curate].")
]
DaskOpt = Annotated[
    Optional[str], typer.Option(help="Dask scheduler address (tcp://host:8786); default: a LocalCluster.")
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bars or info logs; warnings, errors and the summary only.")
]


def quiet_mode() -> None:
    """Before Prefect and tqdm are imported: their levels and bars are read from the environment,
    so flows in this process and Dask workers started by it are quiet too."""
    os.environ["CURATE_QUIET"] = "1"
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"


def fail(message: str, code: int = 2) -> None:
    from pipelines.engine.redaction import redact

    err.print(f"[bold red]error:[/] {redact(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`--set key=value` options as a mapping; values are read as YAML (numbers, true/false, lists),
    dotted keys make nested options (`llm.model=x`). The recipe's config validates them."""
    import yaml

    from sources.files import parse_yaml_text

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise CurateError(f"--set {pair!r}: expected key=value")
        if not text.strip():
            raise CurateError(f"--set {pair!r}: no value (to leave an option at its default, leave it out)")
        try:
            value = parse_yaml_text(text)
        except yaml.constructor.ConstructorError as e:  # a date that does not exist, an alias bomb
            raise CurateError(f"--set {pair!r}: {e.problem}") from None
        except yaml.YAMLError:
            value = text
        *parents, leaf = key.strip().split(".")
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return out


def run_one(request: RunRequest) -> dict:
    """Run the request's flow (`prepare` has passed, or the flow does it); the caller holds the output
    folder (`claim_output`) or the flow claims it."""
    from pipelines.flows.run import run_recipe

    state = run_recipe(request, return_state=True)
    if state.is_failed():
        error = state.result(raise_on_failure=False)
        if isinstance(error, BaseException) and not isinstance(error, CurateError):
            raise error  # a bug: main() prints it with where to report it
        fail(str(error) if isinstance(error, CurateError) else state.message or "the run failed; see the log above")
    return state.result()


def _request(
    recipe: str,
    inputs: list[Path],
    output: Path,
    config: Path | None,
    overrides: dict[str, Any],
    cache_dir: Path | None,
    no_cache: bool,
    dask_address: str | None,
    **options: Any,
) -> RunRequest:
    return RunRequest(
        recipe=recipe,
        inputs=tuple(str(p) for p in inputs),
        output=str(output),
        config_path=str(config) if config else None,
        overrides=overrides,
        cache_dir=str(cache_dir) if cache_dir else None,
        no_cache=no_cache,
        dask_address=dask_address,
        **options,
    )


@app.command()
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe name; see `curate recipes`.")],
    input: InputOpt,
    output: OutputOpt,
    config: ConfigOpt = None,
    set_: Annotated[
        list[str],
        typer.Option(
            "--set", help="A recipe option over the config file's, KEY=VALUE (value as YAML; repeat for several)."
        ),
    ] = [],  # noqa: B006
    # kept for scripts written before `--set`; hidden: options belong to recipes, not to the generic run
    keyed: Annotated[bool, typer.Option("--keyed", hidden=True, help="Same as --set keyed=true.")] = False,
    cache_dir: CacheOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every step.")] = False,
    dask_address: DaskOpt = None,
    publish_to: Annotated[
        Optional[str], typer.Option(help="Also publish the output to this repository (a folder, or hf://org/name).")
    ] = None,
    version: Annotated[Optional[str], typer.Option(help="Version X.Y.Z for --publish-to.")] = None,
    quiet: QuietOpt = False,
    allow_existing: Annotated[
        bool,
        typer.Option(
            "--allow-existing",
            help="Write into an existing folder that curate did not write (its other files are kept).",
        ),
    ] = False,
    lock_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for another run writing the same output folder [default: 0, stop at once].", min=0
        ),
    ] = 0.0,
) -> None:
    """Run RECIPE on the inputs and write a dataset folder with report.json and quarantine.parquet."""
    if quiet:
        quiet_mode()
    if publish_to and not version:
        fail("--publish-to needs --version X.Y.Z")
    overrides = parse_sets(set_ + (["keyed=true"] if keyed else []))
    plan = None
    if publish_to:  # the version and repository checked before any work; the latest version's terms kept
        from pipelines.engine.publish import plan_publish

        plan = plan_publish(publish_to, version, recipe)
    request = _request(
        recipe,
        input,
        output,
        config,
        overrides,
        cache_dir,
        no_cache,
        dask_address,
        allow_existing=allow_existing,
        lock_timeout=lock_timeout,
        inherited=plan.inherited if plan else {},
        inherited_from=plan.previous if plan else None,
    )
    from pipelines.engine.dataset_dir import claim_output
    from pipelines.flows.prepare import prepare

    # the output folder is claimed once, before the embedded engine starts: a refused folder costs nothing
    with claim_output(request.output, allow_foreign=allow_existing, lock_timeout=lock_timeout):
        prepared = prepare(request)  # inputs and options checked before the engine starts; the flow reuses it
        with embedded_if_needed([prepared]):  # the embedded LLM engine, when no endpoint is configured
            summary = run_one(request)
    _print_summary(summary)
    if publish_to:
        _publish(output, publish_to, version)


@app.command()
def publish(
    run_dir: Annotated[Path, typer.Argument(help="A folder written by `curate run`.")],
    repo: Annotated[
        str,
        typer.Option(
            help="Local repository folder, relative or absolute (a git repo, made if missing), or hf://org/name for the Hub."
        ),
    ],
    version: Annotated[str, typer.Option(help="Semantic version X.Y.Z; versions are immutable.")],
    message: Annotated[Optional[str], typer.Option(help="Changelog message.")] = None,
    hub: Annotated[
        bool, typer.Option("--hub", help="REPO is a Hub dataset id org/name (same as hf://org/name).")
    ] = False,
) -> None:
    """Publish a run folder as an immutable, tagged version, with a changelog and a diff."""
    _publish(run_dir, repo, version, message, hub=hub)


@app.command()
def schedule(
    recipe: Annotated[str, typer.Argument(help="Recipe name; see `curate recipes`.")],
    cron: Annotated[str, typer.Option(help='Cron schedule, e.g. "0 3 * * *" for 03:00 daily.')],
    input: Annotated[
        list[str], typer.Option("--input", "-i", help="Input file or glob pattern (resolved at each run).")
    ],
    output: OutputOpt,
    config: ConfigOpt = None,
    timezone: Annotated[
        Optional[str], typer.Option(help="IANA time zone of the cron schedule, e.g. Europe/Paris [default: UTC].")
    ] = None,
    name: Annotated[Optional[str], typer.Option(help="Deployment name [default: the recipe's].")] = None,
    publish_to: Annotated[
        Optional[str], typer.Option(help="Publish each run to this repository as the next patch version.")
    ] = None,
    cache_dir: CacheOpt = None,
    dask_address: DaskOpt = None,
) -> None:
    """Serve RECIPE as a Prefect deployment with a cron schedule (needs PREFECT_API_URL)."""
    from pipelines.engine.redaction import conceal
    from pipelines.flows.schedule import check_cron, serve_schedule
    from pipelines.recipes import get_recipe

    get_recipe(recipe)
    check_cron(cron, timezone)
    # absolute now: the runs happen later, in a process whose working directory is not ours to assume
    if publish_to and not publish_to.startswith("hf://"):
        publish_to = str(Path(publish_to).resolve())
    parameters = {
        "recipe": recipe,
        "inputs": [str(Path(p).expanduser().absolute()) for p in input],
        "output": str(output.resolve()),
        "config_path": str(config.resolve()) if config else None,
        # the deployment's parameters are stored by Prefect: credentials in the address stay in this
        # process's environment, which the scheduled runs inherit (pipelines/engine/redaction.py)
        "cache_dir": str(cache_dir) if cache_dir else None,
        "dask_address": conceal(dask_address),
        "publish_to": publish_to,
    }
    serve_schedule(name or recipe, cron, parameters, timezone)


@app.command()
def versions(repo: Annotated[Path, typer.Argument(help="Local dataset repository.")]) -> None:
    """List the published versions of a local dataset repository."""
    from pipelines.engine.publish import versions as list_versions

    for tag in list_versions(repo, must_exist=True):
        typer.echo(tag)


def _publish(run_dir: Path, repo: str, version: str, message: str | None = None, hub: bool = False) -> None:
    from pipelines.engine.publish import publish as do_publish

    result = do_publish(run_dir, repo, version, message=message, hub=hub)
    if result["version"] is None:
        typer.echo(f"nothing published: the data equals {result['unchanged_from']} of {result['repo']}")
        return
    typer.echo(
        f"published {result['version']} to {result['repo']}"
        + (f" (previous: {result['previous']})" if result["previous"] else "")
    )
    for line in result.get("terms", []):
        typer.echo(f"  terms changed: {line}")
    for d in result["diff"]:
        typer.echo(
            f"  {d['config']:14s} rows={d['rows']} added={d['added']} removed={d['removed']} changed={d['changed']}"
        )


@app.command()
def recipes() -> None:
    """List the recipes."""
    from pipelines.engine.contract import read_contract
    from pipelines.engine.recipe_folders import available

    for name, folder in available().items():  # from each recipe's contract (recipe.yaml): no recipe code imported
        typer.echo(f"{name:14s} {read_contract(folder).description}")


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Parent folder of one dataset per recipe.")] = Path(
        "out"
    ),
    cache_dir: CacheOpt = None,
    dask_address: DaskOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Run every recipe on the sample sources shipped in sources/samples/."""
    if quiet:
        quiet_mode()
    from pipelines.cli.demo import demo_runs
    from pipelines.engine.dataset_dir import claim_output
    from pipelines.flows.prepare import prepare

    runs = demo_runs(SAMPLES)
    requests = [
        _request(recipe, inputs, output / recipe, config, {}, cache_dir, False, dask_address)
        for recipe, inputs, config in runs
    ]
    prepared = [prepare(request) for request in requests]  # every sample checked before the engine starts
    with embedded_if_needed(prepared):  # the embedded LLM engine, when no endpoint is configured
        for request in requests:
            err.rule(f"curate run {request.recipe}")
            with claim_output(request.output):
                summary = run_one(request)
            _print_summary(summary)
    typer.echo(
        f"datasets written under {output}/; load one with datasets.load_dataset('{output}/personality', 'respondents')"
    )


def _print_summary(summary: dict) -> None:
    report = summary["report"]
    typer.echo(f"{summary['output']}: " + ", ".join(f"{k} {v} rows" for k, v in summary["configs"].items()))
    for step in report["steps"]:
        dropped = ", ".join(f"{r}={n}" for r, n in step["dropped"].items()) or "-"
        typer.echo(
            f"  {step['name']:22s} in={step['in']:<8d} kept={step['kept']:<8d} "
            f"dropped: {dropped}  quarantined={step['quarantined']}"
        )
    for note in report.get("notes", []):
        typer.echo(f"  note: {note}")


@app.command("reddit-fetch")
def reddit_fetch(
    subreddit: Annotated[list[str], typer.Option("--subreddit", "-s", help="Subreddit; repeat for several.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the RS_live_*/RC_live_* dump files.")],
    state: Annotated[Path, typer.Option(help="State file: the newest item fetched per subreddit.")] = Path(
        "reddit-state.json"
    ),
    limit: Annotated[int, typer.Option(help="At most this many items per listing (Reddit serves up to 1000).")] = 1000,
) -> None:
    """Fetch new posts and comments through the Reddit API (PRAW; credentials from REDDIT_CLIENT_ID,
    REDDIT_CLIENT_SECRET, REDDIT_USER_AGENT) into dump files that `curate run norms` reads."""
    from sources.reddit.live import fetch_to_dumps, reddit_from_env

    written = fetch_to_dumps(reddit_from_env(), subreddit, state, output, limit)
    typer.echo("\n".join(str(p) for p in written) or "nothing new")


from pipelines.cli.dedup import dedup as _dedup  # noqa: E402  (cheap: its heavy imports are inside)

app.command("dedup")(_dedup)

from annotation.cli import argilla_app as _argilla_app  # noqa: E402  (heavy imports inside)
from annotation.cli import review_app as _review_app  # noqa: E402

app.add_typer(_review_app, name="review")
from pipelines.cli.llm import llm_app as _llm_app  # noqa: E402  (heavy imports inside)
from pipelines.flows.llm_route import embedded_if_needed  # noqa: E402

app.add_typer(_llm_app, name="llm")
app.add_typer(_argilla_app, name="argilla")


CHILD_COMMANDS = {"run", "demo", "dedup", "schedule"}  # the commands that start child processes
BUG_NOTE = (
    "this is a bug in curate, not a problem with your input: please report it with the traceback "
    'above and the command you ran (README, "Reporting a bug")'
)


def main() -> None:
    from pipelines.engine.redaction import install_log_redaction, redact

    install_log_redaction()  # before Prefect logs anything: its database keeps what it is sent
    from schemas.progress import silence_library_bars

    silence_library_bars()  # one display (schemas/progress.py): libraries' own tqdm bars stay off
    if len(sys.argv) > 1 and sys.argv[1] in CHILD_COMMANDS and "--help" not in sys.argv:
        from pipelines.engine.watchdog import start_watchdog

        start_watchdog()  # Prefect's server and Dask's workers end with us, even on kill -9
        if sys.argv[1] != "schedule":  # serving schedules stops on Ctrl-C as Prefect does
            from pipelines.engine.interrupt import stop_on_interrupt

            stop_on_interrupt()
    try:
        app()
    except CurateError as e:  # expected: one line, exit 2
        err.print(f"[bold red]error:[/] {redact(str(e))}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except OSError as e:
        if e.filename is None:
            _bug()
        # the machine refused (permission, no space, read-only file system): one line naming the path
        err.print(f"[bold red]error:[/] {redact(str(e.filename))}: {e.strerror}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None
    except RuntimeError as e:
        if "ephemeral Prefect API server" not in str(e):
            _bug()
        # a busy machine, not a bug: Prefect's temporary server did not answer in time
        wait = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
        err.print(
            f"[bold red]error:[/] Prefect's temporary API server did not start within {wait} s (a busy "
            "machine?): raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or start one with "
            '`prefect server start` and set PREFECT_API_URL (README, "Prefect")',
            highlight=False,
            soft_wrap=True,
        )
        raise SystemExit(2) from None
    except Exception:
        _bug()


def _bug() -> None:
    import traceback

    from pipelines.engine.redaction import redact

    err.print(redact(traceback.format_exc()), highlight=False, markup=False, soft_wrap=True)
    err.print(f"[bold red]error:[/] {BUG_NOTE}", highlight=False, soft_wrap=True)
    raise SystemExit(1) from None


if __name__ == "__main__":
    main()
