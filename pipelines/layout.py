"""Write a run's output as a Hugging Face dataset repository layout that `load_dataset` reads."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import polars as pl

from data_cards.card import render_card
from data_cards.plots import PLOTS_DIR, draw_all, funnel_plot, language_plot
from pipelines.report import RunReport, atomic_write_bytes, write_parquet_atomic
from pipelines.runtime import fault_point, file_fingerprint

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
        {"name": p.name, "bytes": p.stat().st_size, "hash": file_fingerprint(p)}
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
    out.mkdir(parents=True, exist_ok=True)
    stale = out / DATA_DIR
    if stale.exists():
        for old in stale.iterdir():
            if old.is_dir() and old.name not in result.tables:
                shutil.rmtree(old)
    for name, frame in result.tables.items():
        write_config(out, name, frame)
        fault_point(f"write:{name}")
    report.write(out)
    plots = [funnel_plot(report.to_dict()), language_plot(result.tables), *result.plots]
    if (out / PLOTS_DIR).exists():
        shutil.rmtree(out / PLOTS_DIR)
    drawn = draw_all([p for p in plots if p is not None], out / PLOTS_DIR, plot_cache)
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
    atomic_write_bytes(out / "README.md", card.encode())
