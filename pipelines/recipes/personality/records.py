"""The personality recipe's published records: `respondents` and `items`."""

from __future__ import annotations

import polars as pl

from schemas.envelope import envelope_columns, provenance_entry, stable_id
from sources.ipip import DEMOGRAPHICS, load_key

NAME = "personality"
INSTRUMENT_NAMES = {120: "IPIP-NEO-120", 300: "IPIP-NEO-300"}


def respondent_records(ctx, data: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    demo = [pl.col(c).cast(pl.String) if c in data.columns else pl.lit(None, pl.String).alias(c) for c in DEMOGRAPHICS]
    age = demo[1].cast(pl.Float64, strict=False).cast(pl.Int32).alias("age")
    ids = [
        stable_id(NAME, int(n), rid)
        for n, rid in data.select("instrument_items", "respondent_id").iter_rows()
    ]
    records = data.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        pl.col("instrument_items").replace_strict(INSTRUMENT_NAMES, return_dtype=pl.String).alias("instrument"),
        pl.struct(demo[0].alias("sex"), age, demo[2].alias("country")).alias("demographics"),
        pl.col("responses").cast(pl.List(pl.Int8)),
        pl.lit(True).alias("responses_keyed"),
        *envelope_columns(
            dataset="ipip-neo", license=config.license, created_at=ctx.created_at,
            provenance=provenance, file=pl.col("_file"), source_id=pl.col("respondent_id"), lang="en",
        ),
    )
    return records.select(
        "record_id", "respondent_id", "instrument", "demographics", "responses", "responses_keyed",
        "domain_scores", "facet_scores", "answered",
        "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at",
    )


def item_records(ctx, instruments: list[int]) -> pl.DataFrame:
    frames = []
    for n in instruments:
        key = load_key(n)
        frames.append(
            key.with_columns(
                pl.lit(INSTRUMENT_NAMES[n]).alias("instrument"),
                pl.lit("1-5: very inaccurate, moderately inaccurate, neither, moderately accurate, very accurate").alias("scale"),
                pl.col("item_no").map_elements(lambda i, n=n: stable_id("ipip-item", n, i), return_dtype=pl.String).alias("record_id"),
                pl.col("item_no").cast(pl.String).alias("_sid"),
                *envelope_columns(
                    dataset=f"ipip-neo-{n}-key", license="public-domain", created_at=ctx.created_at,
                    provenance=[provenance_entry("key", "1", {"file": f"sources/data/ipip_neo/ipip_neo_{n}.csv"})],
                    file=f"ipip_neo_{n}.csv", source_id=pl.col("item_no").cast(pl.String), lang="en",
                ),
            ).drop("_sid")
        )
    if not frames:
        return pl.DataFrame()
    cols = ["record_id", "instrument", "item_no", "text", "domain", "facet_code", "facet_name", "keyed", "scale",
            "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at"]
    return pl.concat(frames).select(cols)
