"""`curate review push|pull|users` and `curate argilla up|down|status` (registered in pipelines/cli/main.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

review_app = typer.Typer(
    help="Human review in Argilla: push a config, pull responses with agreement, manage annotators.",
    no_args_is_help=True,
)
argilla_app = typer.Typer(
    help="The local Argilla stack (Redis, OpenSearch with k-NN, argilla-server) on 127.0.0.1.", no_args_is_help=True
)

DatasetDir = Annotated[
    Path, typer.Argument(help="A dataset folder written by `curate run` (README.md, report.json, data/).")
]
Workspace = Annotated[str, typer.Option("--workspace", "-w", help="Argilla workspace (made on push when missing).")]
SettingsOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--settings", help="YAML: min_submitted, rules, dataset_name, vectors, embedding_model, batch_size, guidelines."
    ),
]


@review_app.command("push")
def push_cmd(
    dataset_dir: DatasetDir,
    config: Annotated[
        str, typer.Option("--config", "-c", help="Config (table) of the dataset, e.g. situations, translations, pairs.")
    ],
    workspace: Workspace,
    settings: SettingsOpt = None,
    name: Annotated[Optional[str], typer.Option(help="Argilla dataset name [default: <folder>-<config>].")] = None,
    min_submitted: Annotated[
        Optional[int],
        typer.Option(
            help="Annotators per record [default: 2 for a new dataset; an existing one is changed only when given]."
        ),
    ] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Records per bulk upsert (at most 500).")] = None,
    no_vectors: Annotated[bool, typer.Option("--no-vectors", help="Push without vectors (no embedding).")] = False,
) -> None:
    """Create (once) the Argilla dataset for CONFIG and upsert its records, keyed by record_id."""
    from annotation.push import load_options, push

    options = load_options(
        settings,
        dataset_name=name,
        min_submitted=min_submitted,
        batch_size=batch_size,
        vectors=False if no_vectors else None,
    )
    result = push(dataset_dir, config, workspace, options)
    typer.echo(
        f"pushed {result.records} records to Argilla dataset {result.dataset!r} in workspace {workspace!r}: "
        f"{result.created} new, {result.updated} updated, {result.records / max(result.seconds, 1e-9):.0f} records/s"
        + (f"; vectors of {result.vectors} dimensions" if result.vectors else "; no vectors")
    )
    typer.echo(f"annotators open: {result.url}")


@review_app.command("pull")
def pull_cmd(
    dataset_dir: DatasetDir,
    workspace: Workspace,
    config: Annotated[
        Optional[list[str]],
        typer.Option("--config", "-c", help="Only this config; repeat for several [default: every pushed one]."),
    ] = None,
    settings: SettingsOpt = None,
    name: Annotated[
        Optional[str], typer.Option(help="Argilla dataset name, with a single --config [default: <folder>-<config>].")
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Folder for the reviewed dataset [default: <DATASET_DIR>-reviewed]."),
    ] = None,
    publish_to: Annotated[
        Optional[str], typer.Option(help="Publish the reviewed dataset to this repository (folder or Hub id).")
    ] = None,
    version: Annotated[Optional[str], typer.Option(help="Version for --publish-to [default: next minor].")] = None,
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
    """Fetch submitted responses, compute agreement, resolve records and write the reviewed dataset."""
    from annotation.pull import pull
    from annotation.push import load_options

    options = load_options(settings, dataset_name=name)
    result = pull(
        dataset_dir,
        workspace,
        configs=config or None,
        options=options,
        output=output,
        publish_to=publish_to,
        version=version,
        allow_existing=allow_existing,
        lock_timeout=lock_timeout,
    )
    for review in result.reviews:
        status = ", ".join(f"{k}={v}" for k, v in review.status.items())
        typer.echo(
            f"{review.config} ({review.dataset}): {review.records} records, {status}; {review.annotators} annotators"
        )
        for q in review.questions:
            alphas = ", ".join(f"{lvl} {'-' if v is None else f'{v:.3f}'}" for lvl, v in q["alpha"].items()) or "-"
            unanimous = "-" if q["unanimous"] is None else f"{q['unanimous']:.0%}"
            typer.echo(
                f"  {q['question']:22s} {q['kind']:8s} multi={q['records_multi']:<5d} alpha: {alphas}; "
                f"unanimous {unanimous}; resolved {q['resolved']} ({q['rule']})"
            )
    typer.echo(f"wrote {result.output}")
    if result.published:
        typer.echo(f"published {result.published['version']} to {result.published['repo']}")


@review_app.command("users")
def users_cmd(
    file: Annotated[
        Path, typer.Argument(help="YAML/JSON with `workspaces` and `users` (username, role, workspaces, password_env).")
    ],
    credentials: Annotated[
        Optional[Path],
        typer.Option(help="Where new users' passwords go (mode 0600) [default: <FILE>.credentials.json]."),
    ] = None,
) -> None:
    """Create annotators and workspaces and assign them, from FILE (idempotent; removes nothing)."""
    from annotation.push import connect
    from annotation.users import apply_users, load_users_file

    users_file = load_users_file(file)
    client = connect()
    target = credentials or file.with_name(file.stem + ".credentials.json")
    result = apply_users(client, users_file, target, url=client.api_url)
    typer.echo(f"workspaces created: {', '.join(result.workspaces_created) or '-'}")
    typer.echo(f"users created: {', '.join(result.created) or '-'}; already there: {', '.join(result.existing) or '-'}")
    for user, ws in result.added:
        typer.echo(f"  {user} -> {ws}")
    if result.created:
        typer.echo(f"passwords of the new users: {target} (mode 0600; hand them over privately)")


def _stack(command: str, data_dir: Optional[Path], as_json: bool = False) -> None:
    from annotation.stack.__main__ import main

    argv = [command] + (["--data-dir", str(data_dir)] if data_dir else []) + (["--json"] if as_json else [])
    code = main(argv)
    if code:
        raise typer.Exit(code)


DataDirOpt = Annotated[
    Optional[Path], typer.Option(help="Data directory [default: $CURATE_STACK_DIR or <repo>/.stack].")
]


@argilla_app.command("up")
def argilla_up(data_dir: DataDirOpt = None) -> None:
    """Set up (first time) and start the stack; prints the URL and where the owner's credentials are."""
    _stack("up", data_dir)


@argilla_app.command("down")
def argilla_down(data_dir: DataDirOpt = None) -> None:
    """Stop every process of the stack."""
    _stack("down", data_dir)


@argilla_app.command("status")
def argilla_status(
    data_dir: DataDirOpt = None, as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False
) -> None:
    """Each service's pid and health; exit code 0 only when all answer."""
    _stack("status", data_dir, as_json)
