"""The expand recipe's published records: `items` and `scenarios`."""

from __future__ import annotations

import polars as pl

from schemas.envelope import envelope_columns, stable_id

from .steps import ITEM_COLUMNS, TRAITS

NAME = "expand"


def item_records(ctx, items: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    ids = [
        stable_id(NAME, "item", inst, no, text)
        for inst, no, text in items.select("instrument", "item_no", "text").iter_rows()
    ]
    return items.with_columns(
        pl.Series("record_id", ids, pl.String),
        pl.col("item_no").cast(pl.Int32, strict=False),
        pl.lit("1-5 agreement").alias("scale"),
        *envelope_columns(
            dataset="inventory-items",
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=pl.col("item_no"),
            lang="en",
        ),
    ).select(
        "record_id",
        *ITEM_COLUMNS,
        "scale",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    )


def scenario_records(ctx, data: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    ids = [
        stable_id(NAME, "scenario", t, k, q) for t, k, q in data.select("text", "scenario_no", "question").iter_rows()
    ]
    item_ids = [
        stable_id(NAME, "item", i, n, t) for i, n, t in data.select("instrument", "item_no", "text").iter_rows()
    ]
    return data.with_columns(
        pl.Series("record_id", ids, pl.String),
        pl.Series("item_record_id", item_ids, pl.String),
        pl.col("item_no").cast(pl.Int32, strict=False),
        pl.col("domain").replace_strict(TRAITS, default=pl.col("domain"), return_dtype=pl.String).alias("trait"),
        pl.col("text").alias("item_text"),
        *envelope_columns(
            dataset="inventory-items",
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=pl.col("item_no"),
            lang="en",
        ),
    ).select(
        "record_id",
        "item_record_id",
        "instrument",
        "item_no",
        "item_text",
        "trait",
        "facet_name",
        "keyed",
        "scenario_no",
        "question",
        "options",
        "judge_agreement",
        "judge_rationale",
        "generation_repaired",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    )
