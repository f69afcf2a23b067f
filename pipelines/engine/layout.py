"""Write a run's output as a Hugging Face dataset repository layout that `load_dataset` reads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from data_cards import hub
from data_cards.card import render_card
from data_cards.plots import PLOTS_DIR, draw_all, funnel_plot, language_plots, split_plot
from pipelines.engine.dataset_dir import staged_dataset
from pipelines.engine.report import RunReport, atomic_write_bytes
from pipelines.engine.runtime import content_hash, fault_point
from sources.files import encoding_read, input_name

DATA_DIR = "data"


def write_config(
    out: Path, name: str, frame: pl.DataFrame, class_labels: dict[str, list[str]] | None = None, by_split: bool = True
) -> dict[str, Any]:
    """Write one config as `data/<name>/<split>-NNNNN-of-NNNNN.parquet`, one set of shards per value
    of the envelope's `split` column, in Hub types and byte-sized shards and row groups. Returns what
    the card's `dataset_info` states: {"splits": {split: (rows, bytes)}, "features": Features}.

    A config without rows is one schema-only file (`train-00000-of-00001.parquet`, no row group:
    polars, pandas and pyarrow read its columns and types) and no split: datasets 5.2 cannot load a
    split of no rows ("corresponds to no data", huggingface/datasets PR #8401), so the card declares
    only the configs that have rows and names the empty ones."""
    target = out / DATA_DIR / name
    # shards of an earlier run into the same folder must not be read with the new ones
    if target.exists():
        shutil.rmtree(target)
    view: dict[str, Any] = {"splits": {}, "features": None, "download_size": 0}
    if frame.height == 0:
        table = hub.hub_table(frame)
        view["features"] = hub.features_for(table, class_labels)
        path = target / "train-00000-of-00001.parquet"
        hub.write_parquet(table, path, view["features"])
        view["download_size"] = path.stat().st_size
        return view
    by_split = by_split and "split" in frame.columns  # else all rows in train (a table that is not ours)
    present = frame["split"].unique().to_list() if by_split else ["train"]
    order = [s for s in hub.SPLITS if s in present] + sorted(s for s in present if s not in hub.SPLITS)
    for split in order:
        part = frame.filter(pl.col("split") == split) if by_split else frame
        table = hub.hub_table(part)
        features = hub.features_for(table, class_labels)
        view["features"] = features
        pieces = hub.shards(table)
        for i, piece in enumerate(pieces):
            path = target / f"{split}-{i:05d}-of-{len(pieces):05d}.parquet"
            hub.write_parquet(piece, path, features)
            view["download_size"] += path.stat().st_size
        view["splits"][split] = (table.num_rows, table.nbytes)
    return view


def write_config_files(out: Path, name: str, files: list[Path], batch_rows: int = 65_536) -> dict[str, Any]:
    """`write_config` for a table too large to hold: the parquet `files` streamed, in order, into
    `data/<name>/train-NNNNN-of-NNNNN.parquet` shards of at most datasets' shard size, in Hub types,
    with the `datasets` features in each file (all rows in `train`: no split column is read)."""
    import pyarrow as pa
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    target = out / DATA_DIR / name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    source = pads.dataset([str(f) for f in files], format="parquet")
    schema = pa.schema([hub._hub_field(f) for f in source.schema])
    features = hub.features_for(schema.empty_table())
    view: dict[str, Any] = {"splits": {}, "features": features, "download_size": 0}
    meta = {b"huggingface": hub.features_metadata(features)}
    schema = schema.with_metadata(meta)
    limit, row_group = hub.max_shard_bytes(), hub.max_row_group_bytes()
    parts: list[Path] = []
    writer, in_shard, rows, size = None, 0, 0, 0
    for batch in source.to_batches(batch_size=batch_rows):
        table = pa.Table.from_batches([batch]).cast(schema)
        if writer is None or (in_shard and in_shard + table.nbytes > limit):
            if writer is not None:
                writer.close()
            parts.append(target / f".part-{len(parts):05d}.tmp")
            writer, in_shard = pq.ParquetWriter(parts[-1], schema, compression="zstd"), 0
        writer.write_table(table, row_group_size=hub.rows_for_bytes(table, row_group))
        in_shard += table.nbytes
        rows, size = rows + table.num_rows, size + table.nbytes
    if writer is None:  # no rows: one schema-only file, no split (see write_config)
        parts.append(target / ".part-00000.tmp")
        pq.ParquetWriter(parts[-1], schema).close()
    else:
        writer.close()
    for i, part in enumerate(parts):
        path = target / f"train-{i:05d}-of-{len(parts):05d}.parquet"
        part.replace(path)
        view["download_size"] += path.stat().st_size
    if rows:
        view["splits"]["train"] = (rows, size)
    return view


def describe_inputs(paths: list[Path]) -> list[dict[str, Any]]:
    return [
        {"name": input_name(p), "bytes": p.stat().st_size, "hash": content_hash(p), "encoding": encoding_read(p)}
        for p in paths
        if p.is_file()
    ]


def write_dataset_dir(
    out: Path,
    *,
    recipe: str,
    result,  # RecipeOutput
    report: RunReport,
    inputs: list[Path],
    created_at: str,
    plot_cache: Path | None = None,
    splits: dict[str, Any] | None = None,
    spec: hub.HubSpec | None = None,
) -> None:
    """`spec`: the recipe's publishing choices (`Recipe.hub`: split keys, ClassLabels, creators);
    `splits`: the recipe config's `splits` option, {"fractions": {split: share}, "keys": {config:
    column or [columns] or None}}, over the spec's keys."""
    # written whole into a staging folder beside `out`, then swapped in (pipelines/engine/dataset_dir.py)
    with staged_dataset(out) as stage:
        _write_dataset(
            stage,
            recipe=recipe,
            result=result,
            report=report,
            inputs=inputs,
            created_at=created_at,
            plot_cache=plot_cache,
            splits=splits,
            spec=spec,
        )


def _write_dataset(stage: Path, *, recipe, result, report, inputs, created_at, plot_cache, splits, spec) -> None:
    spec = spec or hub.HubSpec()
    fractions = hub.check_fractions(dict((splits or {}).get("fractions") or hub.DEFAULT_FRACTIONS))
    keys = {**spec.split_keys, **((splits or {}).get("keys") or {})}
    tables, views = {}, {}
    for name, frame in result.tables.items():
        labels = spec.class_labels.get(name, {})
        hub.check_labels(frame, labels, name)
        tables[name] = hub.assign_splits(frame, keys.get(name), fractions)
        if tables[name].height and not (tables[name]["split"] == "train").any():
            # a few groups that the hash put outside train: `ds["train"]` must work, so all go to train
            fell = ", ".join(sorted(tables[name]["split"].unique().to_list()))
            tables[name] = tables[name].with_columns(pl.lit("train").alias("split"))
            report.notes.append(
                f"Config `{name}`: the split hash put all its {tables[name].height} rows in {fell}, "
                "none in train; too few to split, so all are in `train` in this version (a larger "
                "later version splits them by the hash)."
            )
        views[name] = write_config(stage, name, tables[name], labels)
        fault_point(f"write:{name}")
    report.facts["splits"] = {name: {s: n for s, (n, _) in v["splits"].items()} for name, v in views.items()}
    empty = [name for name, v in views.items() if not v["splits"]]
    if empty:
        report.facts["empty_configs"] = empty
    finish_dataset(
        stage,
        recipe=recipe,
        card=result.card,
        views=views,
        spec=spec,
        report=report,
        inputs=inputs,
        sections=result.sections,
        created_at=created_at,
        plot_cache=plot_cache,
        plots=[*language_plots(tables), split_plot(tables), *result.plots],
    )


def finish_dataset(
    stage: Path,
    *,
    recipe: str,
    card,
    views: dict[str, dict[str, Any]],
    spec: hub.HubSpec,
    report: RunReport,
    inputs: list[Path],
    sections: list,
    created_at: str,
    plot_cache: Path | None,
    plots: list,
    command: str | None = None,
) -> None:
    """What every dataset folder has beside its configs (`views`, from `write_config`): report.json,
    quarantine.parquet, the figures and the card."""
    report.write(stage)
    drawn = draw_all(
        [p for p in [funnel_plot(report.to_dict()), *plots] if p is not None], stage / PLOTS_DIR, plot_cache
    )
    text = render_card(
        recipe=recipe,
        card=card,
        views=views,
        spec=spec,
        report=report.to_dict(),
        inputs=describe_inputs(inputs),
        sections=sections,
        created_at=created_at,
        plots=drawn,
        command=command,
    )
    atomic_write_bytes(stage / "README.md", text.encode())
