"""Write a run's output as a Hugging Face dataset repository layout that `load_dataset` reads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from data_cards.card import render_card
from data_cards.plots import PLOTS_DIR, draw_all, funnel_plot, language_plot
from pipelines.dataset_dir import staged_dataset
from pipelines.report import RunReport, atomic_write_bytes, write_parquet_atomic
from pipelines.runtime import content_hash, fault_point
from sources.files import encoding_read

DATA_DIR = "data"
SHARD_ROWS = 250_000


def shard_frame(frame: pl.DataFrame, rows: int = SHARD_ROWS) -> list[pl.DataFrame]:
    if frame.height <= rows:
        return [frame]
    return [frame.slice(i, rows) for i in range(0, frame.height, rows)]


def write_config(out: Path, name: str, frame: pl.DataFrame) -> None:
    target = out / DATA_DIR / name
    # shards of an earlier run into the same folder must not be read with the new ones
    if target.exists():
        shutil.rmtree(target)
    shards = shard_frame(frame)
    for i, shard in enumerate(shards):
        write_parquet_atomic(shard, target / f"train-{i:05d}-of-{len(shards):05d}.parquet")


def describe_inputs(paths: list[Path]) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "bytes": p.stat().st_size, "hash": content_hash(p), "encoding": encoding_read(p)}
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
) -> None:
    # written whole into a staging folder beside `out`, then swapped in (pipelines/dataset_dir.py)
    with staged_dataset(out) as stage:
        _write_dataset(stage, out, recipe=recipe, result=result, report=report, inputs=inputs,
                       created_at=created_at, plot_cache=plot_cache)


def _write_dataset(stage: Path, out: Path, *, recipe, result, report, inputs, created_at, plot_cache) -> None:
    for name, frame in result.tables.items():
        write_config(stage, name, frame)
        fault_point(f"write:{name}")
    report.write(stage)
    plots = [funnel_plot(report.to_dict()), language_plot(result.tables), *result.plots]
    drawn = draw_all([p for p in plots if p is not None], stage / PLOTS_DIR, plot_cache)
    card = render_card(
        recipe=recipe,
        card=result.card,
        configs=result.tables,
        report=report.to_dict(),
        inputs=describe_inputs(inputs),
        sections=result.sections,
        created_at=created_at,
        load_path=str(out),
        plots=drawn,
    )
    atomic_write_bytes(stage / "README.md", card.encode())
