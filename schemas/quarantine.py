"""The quarantine table: every row that failed validation, with where it came from and why."""

from __future__ import annotations

import polars as pl

QUARANTINE_SCHEMA = pl.Schema(
    {
        "step": pl.String,
        "source_file": pl.String,
        "row": pl.Int64,  # 1-based data row (CSV: header excluded) or line number (NDJSON, fixed width)
        "field": pl.String,
        "error": pl.String,
        "raw": pl.String,  # the raw row as text (JSON for tabular rows)
    }
)


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def quarantine_frame(rows: list[dict] | pl.DataFrame, step: str | None = None) -> pl.DataFrame:
    """Rows (dicts or a frame with the quarantine columns) as a frame of the quarantine schema."""
    frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)
    if step is not None:
        frame = frame.with_columns(step=pl.lit(step))
    return frame.select([pl.col(c).cast(t) for c, t in QUARANTINE_SCHEMA.items()])
