"""`curate dedup`: deduplicate one table file with the exact, near or semantic step.

Writes a dataset folder, as `curate run` does (`load_dataset(DIR, "kept")`):
- config `kept` (data/kept/): the rows kept, every input column as read;
- config `duplicates` (data/duplicates/): `id, duplicate_of, method, similarity`, one row per removed row;
- README.md: the card (configs, features, steps, the cluster statistics);
- report.json: each step's account (in = kept + dropped + quarantined) and the cluster statistics;
- quarantine.parquet: rows that could not be deduplicated (malformed line, null or repeated id,
  null text), with file, row, field and reason.
Every id that passed validation is in `kept` or `duplicates`, exactly once (checked).
Steps run through the step cache, so rerunning after a crash reuses what finished.
The output folder is written as `curate run` writes one (pipelines/engine/dataset_dir.py): claimed and locked
before any work, staged beside it and swapped in whole, a user's files in it kept.

Engines: `single` holds the table in one process; `dask` (every method, parquet input: a file or a
folder of files) runs the partitioned stages of `pipelines.methods.dedup.distributed` with bounded memory
per worker; `auto` (the default) takes dask when the single-process estimate exceeds the memory
budget. Both give the same kept rows and duplicates.
"""

from __future__ import annotations

import os
import shutil
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from pipelines.engine.report import RunReport

METHOD_SECTIONS = ("exact", "near", "semantic")
OUTPUTS = [
    "data/kept",
    "data/duplicates",
    "README.md",
    "quarantine.parquet",
]  # a dataset folder: load_dataset(DIR, "kept")


class Engine(str, Enum):
    auto = "auto"
    single = "single"
    dask = "dask"


# bytes per row of the single-process path (bench/dedup: 3.25 GB at 1M rows of ~330 characters for
# near, 1.65 GB for exact), as (per character, fixed)
SINGLE_COST = {
    "near": (8, 400),
    "exact": (4, 300),
    "semantic": (4, 4_000),
}  # semantic: 384 float32 a row, k-means copies


def available_memory() -> int:
    """Memory this process may use: MemAvailable, or the cgroup limit when lower."""
    avail = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit.isdigit():
            avail = min(avail, int(limit))
    except OSError:
        pass
    return avail


def choose_engine(engine: str, method: str, input: Path, cfg, memory_budget: int | None = None) -> str:
    """`single` or `dask`. auto: dask on parquet when the single-process estimate
    (rows x bytes per row for the mean text length) exceeds the budget (half the available memory,
    or the per-worker limit given)."""
    parquet = input.is_dir() or input.suffix.lower() == ".parquet"
    if engine == "dask":
        if method not in SINGLE_COST:
            raise typer.BadParameter(f"--engine dask has no method {method}", param_hint="--engine")
        if not parquet:
            raise typer.BadParameter(
                f"--engine dask reads parquet (a file or a folder of them); {input} is not", param_hint="--engine"
            )
        return "dask"
    if engine == "single" or method not in SINGLE_COST or not parquet:
        return "single"
    import polars as pl

    from pipelines.methods.dedup.config import check_text_columns
    from pipelines.methods.dedup.distributed import input_files

    files = input_files(input)
    check_text_columns(input, pl.scan_parquet(files).collect_schema(), cfg)
    stats = (
        pl.scan_parquet(files)
        .select(pl.len().alias("n"), pl.col(cfg.text_column).cast(pl.String).str.len_bytes().mean().alias("c"))
        .collect()
    )
    rows, chars = int(stats["n"][0]), float(stats["c"][0] or 0)
    per_char, fixed = SINGLE_COST[method]
    budget = memory_budget or available_memory() // 2
    return "dask" if rows * (per_char * chars + fixed) > budget else "single"


class Method(str, Enum):
    exact = "exact"
    near = "near"
    semantic = "semantic"


def load_dedup_config(method: str, path: Path | None, overrides: dict[str, Any]):
    """The method's config from a YAML file (top-level keys, then a section named after the method
    overriding them) and the command-line options (overriding both)."""
    from pipelines.engine.config import read_yaml_mapping, validated
    from pipelines.methods.dedup.config import METHOD_CONFIGS

    data: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml_mapping(path)
        data = {k: v for k, v in loaded.items() if k not in METHOD_SECTIONS}
        section = loaded.get(method) or {}
        if not isinstance(section, dict):
            from schemas.errors import InputFileError

            raise InputFileError(path, f"section `{method}:` must be a mapping of option: value, not {section!r}")
        data.update(section)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validated(METHOD_CONFIGS[method], data, path, f"configuration for dedup --method {method}")


def validate_rows(frame, cfg, path: Path, step: str = "validate"):
    """Rows fit for dedup, and the others as quarantine rows: the id null or repeated (the first
    occurrence stays), the text null."""
    import polars as pl

    from schemas.errors import InputFileError
    from schemas.quarantine import empty_quarantine, quarantine_frame
    from sources.files import input_name
    from sources.tables import ROW

    for role, col in (
        ("--text-column", cfg.text_column),
        ("--id-column", cfg.id_column),
        ("score_column", cfg.score_column),
        ("time_column", cfg.time_column),
    ):
        if col and col not in frame.columns:
            shown = ", ".join(c for c in frame.columns if c != ROW)
            raise InputFileError(path, f"no column {col!r} ({role}); columns are: {shown}")
    from pipelines.methods.dedup.config import check_text_columns

    check_text_columns(path, frame.schema, cfg)
    ident, text = pl.col(cfg.id_column), pl.col(cfg.text_column)
    first_row = pl.col(ROW).first().over(cfg.id_column)
    problem = (
        pl.when(ident.is_null())
        .then(pl.lit(f"{cfg.id_column} is null"))
        .when(~ident.is_first_distinct())
        .then(pl.format("id '{}' repeated: first at row {}", ident.cast(pl.String), first_row))
        .when(text.is_null())
        .then(pl.lit(f"{cfg.text_column} is null: nothing to compare"))
    )
    field = (
        pl.when(ident.is_null() | ~ident.is_first_distinct())
        .then(pl.lit(cfg.id_column))
        .otherwise(pl.lit(cfg.text_column))
    )
    checked = frame.with_columns(problem.alias("_error"), field.alias("_field"))
    good = checked.filter(pl.col("_error").is_null()).drop("_error", "_field")
    bad = checked.filter(pl.col("_error").is_not_null())
    if not bad.height:
        return good, empty_quarantine()
    raw_cols = [c for c in frame.columns if c != ROW]
    quarantine = quarantine_frame(
        bad.select(
            pl.lit(step).alias("step"),
            pl.lit(input_name(path)).alias("source_file"),
            pl.col(ROW).alias("row"),
            pl.col("_field").alias("field"),
            pl.col("_error").alias("error"),
            pl.struct([pl.col(c).cast(pl.String) for c in raw_cols]).struct.json_encode().alias("raw"),
        )
    )
    return good, quarantine


def run_dedup(
    input: Path,
    method: str,
    output: Path,
    cfg,
    cache_dir: Path | None = None,
    no_cache: bool = False,
    dask_address: str | None = None,
    engine: str = "auto",
    workers: int | None = None,
    memory_per_worker: str | None = None,
    partition_rows: int | None = None,
    allow_existing: bool = False,
    lock_timeout: float = 0.0,
) -> dict[str, Any]:
    """Read, validate, deduplicate and write the output folder; returns the report as a dict."""
    from pipelines.engine.dataset_dir import claim_output

    with claim_output(output, allow_foreign=allow_existing, lock_timeout=lock_timeout):
        return _run_dedup(
            input,
            method,
            output,
            cfg,
            cache_dir,
            no_cache,
            dask_address,
            engine,
            workers,
            memory_per_worker,
            partition_rows,
        )


def _run_dedup(
    input: Path,
    method: str,
    output: Path,
    cfg,
    cache_dir: Path | None,
    no_cache: bool,
    dask_address: str | None,
    engine: str,
    workers: int | None,
    memory_per_worker: str | None,
    partition_rows: int | None,
) -> dict[str, Any]:
    from pipelines.methods.dedup.distributed import memory_bytes

    limit = memory_bytes(memory_per_worker)
    if choose_engine(engine, method, input, cfg, limit) == "dask":
        return run_dedup_dask(
            input, method, output, cfg, cache_dir, no_cache, dask_address, workers, memory_per_worker, partition_rows
        )
    from pipelines.engine.cache import StepCache
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.engine.dataset_dir import staged_dataset
    from pipelines.engine.layout import write_config
    from pipelines.engine.runtime import RunContext, inputs_fingerprint
    from pipelines.engine.steps import Account
    from pipelines.methods.dedup import dedup_step, duplicates_table
    from pipelines.methods.dedup.card import write_dedup_card
    from sources.files import input_name
    from sources.tables import ROW, read_table

    frame, bad_lines = read_table(input) if not input.is_dir() else read_dataset(input)
    cache = None if no_cache else StepCache(cache_dir)
    embed = getattr(cfg, "embed", None)
    if cache is not None and embed is not None and embed.cache_dir is None:  # embeddings beside the steps
        cfg = cfg.model_copy(update={"embed": embed.model_copy(update={"cache_dir": str(cache.root / "embeddings")})})
    ctx = RunContext(recipe="dedup", output=output, cache=cache, dask=DaskRuntime(dask_address))
    ctx.report.add(Account("read", frame.height + bad_lines.height, frame.height, {}, bad_lines.height), bad_lines)
    good, bad_rows = validate_rows(frame, cfg, input)
    ctx.report.add(Account("validate", frame.height, good.height, {}, bad_rows.height), bad_rows)
    step = dedup_step(method, cfg)
    if dask_address:
        step.dask = ctx.dask
    data = good.drop(ROW)
    try:
        result = ctx.apply_result(step, data, inputs_hash=f"{inputs_fingerprint([input])}|{method}")
    finally:
        ctx.dask.close()
    duplicates = duplicates_table(result.dropped_rows)
    check_every_id_once(data[cfg.id_column], result.data[cfg.id_column], duplicates)
    ctx.report.facts.update(input=input_name(input), method=method, dedup=result.account.extra, outputs=OUTPUTS)
    with staged_dataset(output) as stage:  # swapped in whole (pipelines/engine/dataset_dir.py)
        views = {
            "kept": write_config(stage, "kept", result.data, by_split=False),
            "duplicates": write_config(stage, "duplicates", duplicates, by_split=False),
        }
        write_dedup_card(
            stage,
            views=views,
            report=ctx.report,
            input=input,
            method=method,
            cfg=cfg,
            plot_cache=cache.root / "plots" if cache else None,
        )
    return ctx.report.to_dict()


def read_dataset(folder: Path):
    """A folder of parquet files as one table (files in name order), rows numbered across them."""
    import polars as pl

    from pipelines.methods.dedup.distributed import input_files
    from sources.tables import ROW, read_table

    frames, bad = zip(*(read_table(f) for f in input_files(folder)))
    frame = (
        pl.concat(frames, how="vertical_relaxed")
        .drop(ROW)
        .with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64))
    )
    return frame, pl.concat(bad)


def run_dedup_dask(
    input: Path,
    method: str,
    output: Path,
    cfg,
    cache_dir: Path | None,
    no_cache: bool,
    dask_address: str | None,
    workers: int | None,
    memory_per_worker: str | None,
    partition_rows: int | None,
) -> dict[str, Any]:
    """The partitioned stages on Dask. Their files live under the step cache (a rerun after a crash
    redoes only the missing tasks) and are removed once the outputs are written; the per-partition
    outputs stay there, so an unchanged rerun writes them again without computing (as the single
    engine's step cache does). With `--no-cache` nothing stays."""
    from pipelines.engine.cache import StepCache
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.engine.dataset_dir import staged_dataset, staging_dir
    from pipelines.methods.dedup import dedup_step
    from pipelines.methods.dedup.card import write_dedup_card
    from pipelines.methods.dedup.distributed import memory_bytes, run_distributed

    # without a cache, the stage files live beside the output, under a staging name: removed at the
    # end, and by the next run's recovery if this one is killed (pipelines/engine/dataset_dir.py)
    work_root = (
        staging_dir(output).with_name(f".{output.name}.curate-staging-work")
        if no_cache
        else StepCache(cache_dir).root / "dedup-stages"
    )
    embed = getattr(cfg, "embed", None)
    if not no_cache and embed is not None and embed.cache_dir is None:  # embeddings beside the steps, as in one process
        cfg = cfg.model_copy(
            update={"embed": embed.model_copy(update={"cache_dir": str(StepCache(cache_dir).root / "embeddings")})}
        )
    step = dedup_step(method, cfg)
    runtime = DaskRuntime(
        dask_address, workers=workers, memory_limit=memory_per_worker, local_directory=str(work_root / "dask-spill")
    )
    try:
        with staged_dataset(output) as stage:  # swapped in whole (pipelines/engine/dataset_dir.py)
            result = run_distributed(
                method,
                step.config,
                input,
                stage,
                runtime,
                work_root,
                partition_rows=partition_rows,
                memory_limit=memory_bytes(memory_per_worker),
                params=step.params(),
                progress=lambda msg: typer.echo(msg, err=True),
                cache_outputs=not no_cache,  # with --no-cache the work folder goes at the end
            )
            report = dask_report(result, input, method, step.name, dask_address, memory_per_worker, result.peaks)
            write_dedup_card(
                stage,
                views=result.views,
                report=report,
                input=input,
                method=method,
                cfg=step.config,
                plot_cache=None if no_cache else StepCache(cache_dir).root / "plots",
            )
    finally:
        runtime.close()
        if no_cache:
            shutil.rmtree(work_root, ignore_errors=True)
    return report.to_dict()


def dask_report(
    result, input: Path, method: str, step_name: str, dask_address: str | None, memory_per_worker: str | None, peaks
) -> RunReport:
    from pipelines.engine.redaction import redact
    from pipelines.engine.report import RunReport
    from pipelines.engine.steps import Account
    from sources.files import input_name

    report = RunReport("dedup")
    report.add(Account("read", result.rows_in, result.rows_in, {}, 0))
    report.add(Account("validate", result.rows_in, result.valid, {}, result.quarantine.height), result.quarantine)
    dropped = {f"duplicate_{method}": result.removed} if result.removed else {}
    report.add(Account(step_name, result.valid, result.kept_rows, dropped, 0, result.stats))
    report.facts.update(
        input=input_name(input),
        method=method,
        dedup=result.stats,
        outputs=OUTPUTS,
        dask={
            "scheduler": redact(dask_address) if dask_address else "LocalCluster",
            "workers": result.workers,
            "worker_peak_memory_bytes": peaks,
            "memory_per_worker": memory_per_worker,
            "reused": result.reused,  # the outputs of a finished run with the same files, settings and code
        },
    )
    return report


def check_every_id_once(ids, kept_ids, duplicates) -> None:
    """Each validated id is kept or listed as a duplicate, exactly once (a broken step fails here,
    not in a user's join weeks later)."""
    import polars as pl

    seen = pl.concat([kept_ids.cast(pl.String), duplicates["id"].cast(pl.String)])
    if seen.len() != ids.len() or seen.n_unique() != seen.len() or not seen.is_in(ids.cast(pl.String).implode()).all():
        raise AssertionError(
            f"dedup lost or repeated ids: {ids.len()} in, {kept_ids.len()} kept + {duplicates.height} duplicates"
        )


def dedup(
    input: Annotated[
        Path,
        typer.Option(
            "--input",
            "-i",
            help="Table file: .parquet, .csv, .tsv, .jsonl/.ndjson or .json; or a folder of .parquet files.",
        ),
    ],
    text_column: Annotated[str, typer.Option("--text-column", help="Column with the text to compare.")],
    id_column: Annotated[str, typer.Option("--id-column", help="Column with a unique id per row.")],
    method: Annotated[Method, typer.Option("--method", help="exact | near | semantic.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Output folder: a dataset with configs kept and duplicates, a card, report.json."
        ),
    ],
    threshold: Annotated[
        Optional[float], typer.Option(help="near: Jaccard (default 0.6); semantic: cosine (default 0.85).")
    ] = None,
    config: Annotated[
        Optional[Path],
        typer.Option("--config", "-c", help="YAML with the method's options (see pipelines/methods/dedup/config.py)."),
    ] = None,
    keep: Annotated[
        Optional[str], typer.Option(help="Which row of a cluster is kept: first | longest | highest_score | oldest.")
    ] = None,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Step cache folder [default: $CURATE_CACHE_DIR or ~/.cache/curate].")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompute every step.")] = False,
    dask_address: Annotated[
        Optional[str],
        typer.Option(
            help="Dask scheduler: the dask engine runs its stages there; the single engine embeds (semantic) there."
        ),
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            help="single (one process) | dask (parquet input, bounded memory per worker) | auto: dask when one process would not fit."
        ),
    ] = Engine.auto,
    workers: Annotated[
        Optional[int], typer.Option(help="dask engine, local cluster: worker processes [default: one per core].")
    ] = None,
    memory_per_worker: Annotated[
        Optional[str],
        typer.Option(
            help="dask engine: memory limit per worker, e.g. 4GB (sizes the partitions; dask spills past 60%)."
        ),
    ] = None,
    partition_rows: Annotated[
        Optional[int], typer.Option(help="dask engine: rows per partition [default: from the memory limit].")
    ] = None,
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
    """Deduplicate a table: exact (normalised text), near (MinHash + LSH) or semantic (embeddings)."""
    from sources.files import check_readable

    if input.is_dir():  # a parquet dataset: a folder of files
        from pipelines.methods.dedup.distributed import input_files

        try:
            input_files(input)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint="--input") from None
    else:
        check_readable(input)
    overrides = {"text_column": text_column, "id_column": id_column, "keep": keep}
    if threshold is not None:
        if method == Method.exact:
            raise typer.BadParameter("exact dedup has no threshold", param_hint="--threshold")
        overrides["threshold"] = threshold
    cfg = load_dedup_config(method.value, config, overrides)
    report = run_dedup(
        input,
        method.value,
        output,
        cfg,
        cache_dir,
        no_cache,
        dask_address,
        engine.value,
        workers,
        memory_per_worker,
        partition_rows,
        allow_existing,
        lock_timeout,
    )
    print_summary(report, output)


def print_summary(report: dict, output: Path) -> None:
    for step in report["steps"]:
        dropped = ", ".join(f"{r}={n}" for r, n in step["dropped"].items()) or "-"
        typer.echo(
            f"  {step['name']:16s} in={step['in']:<9d} kept={step['kept']:<9d} dropped: {dropped}  quarantined={step['quarantined']}"
        )
    stats = report["facts"]["dedup"]
    typer.echo(
        f"{output}: kept {stats['kept']} of {stats['rows']} rows; {stats['removed']} duplicates in "
        f"{stats['clusters']} clusters (largest {stats['largest_cluster']})"
    )
