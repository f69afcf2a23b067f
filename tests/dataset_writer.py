"""Write a small two-config dataset folder through the real `write_dataset_dir`, in-process or as
`python -m tests.dataset_writer OUT ROWS TAG` (a child the dataset-folder tests kill)."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from pipelines.engine.layout import write_dataset_dir
from pipelines.engine.report import RunReport
from pipelines.engine.steps import Account
from pipelines.recipes import CardMeta, RecipeOutput

CONFIGS = ("alpha", "beta")


def tables(rows: int, tag: str, text_bytes: int = 8) -> dict[str, pl.DataFrame]:
    import numpy as np

    rng = np.random.default_rng(rows)
    # one random hex string per row: text that parquet cannot compress away
    raw = rng.integers(0, 256, size=(rows, text_bytes // 2), dtype=np.uint8)
    text = [row.tobytes().hex() for row in raw]
    return {
        name: pl.DataFrame(
            {
                "id": range(rows),
                "tag": [tag] * rows,
                "text": text,
            },
            schema={"id": pl.Int64, "tag": pl.String, "text": pl.String},
        )
        for name in CONFIGS
    }


def write(out: Path, rows: int, tag: str, plot_cache: Path | None = None, text_bytes: int = 8) -> None:
    report = RunReport("test")
    report.add(Account("read", rows, rows))
    report.facts["tag"] = tag
    result = RecipeOutput(
        tables=tables(rows, tag, text_bytes),
        card=CardMeta(pretty_name=f"Test {tag}", license="cc-by-4.0", languages=["en"], task_categories=[]),
    )
    write_dataset_dir(
        out,
        recipe="test",
        result=result,
        report=report,
        inputs=[],
        created_at="2026-01-01T00:00:00",
        plot_cache=plot_cache,
    )


def shard_by_rows(rows: int) -> None:
    """Shards of `rows` rows instead of datasets' byte size, so that a small table makes several."""
    from data_cards import hub

    hub.shards = lambda table, shard_bytes=None: (
        [table.slice(i, rows) for i in range(0, table.num_rows, rows)] or [table]
    )


if __name__ == "__main__":
    out, rows, tag = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    import os

    if os.environ.get("TEST_SHARD_ROWS"):  # several shards per config from a small table
        shard_by_rows(int(os.environ["TEST_SHARD_ROWS"]))
    if "--no-exchange" in sys.argv:  # the two-rename fallback of systems without renameat2
        import pipelines.engine.dataset_dir as dd

        dd._exchange = lambda a, b: False
    write(out, rows, tag, Path(sys.argv[4]) if len(sys.argv) > 4 and not sys.argv[4].startswith("--") else None)
