"""The translate recipe's published records: `originals` and `translations`."""

from __future__ import annotations

import polars as pl

from schemas.envelope import envelope_columns, stable_id

NAME = "translate"


def _source_id(config) -> str:
    return config.hub_dataset or "moral-stories"


def original_records(ctx, rows: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    ids = [stable_id(_source_id(config), i) for i in rows[config.id_field]]
    return rows.with_columns(
        pl.Series("record_id", ids, pl.String),
        *envelope_columns(
            dataset=_source_id(config),
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=pl.col(config.id_field),
            lang=config.source_lang,
        ),
    ).select(
        "record_id",
        config.id_field,
        *config.fields,
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    )


def translation_records(ctx, data: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    fields = config.fields
    parallel = [stable_id(_source_id(config), i) for i in data[config.id_field]]
    ids = [
        stable_id(NAME, config.target_lang, p, *texts)
        for p, texts in zip(parallel, data.select([f"t_{f}" for f in fields]).iter_rows())
    ]
    out = data.with_columns(
        pl.Series("record_id", ids, pl.String),
        *[pl.col(f"t_{f}").alias(f) for f in fields],
        pl.struct([pl.col(f).alias(f) for f in fields]).alias("_src"),
    ).with_columns(
        pl.col("_src").alias("source_text"),
        *envelope_columns(
            dataset=_source_id(config),
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=pl.col(config.id_field),
            lang=config.target_lang,
            parallel_id=pl.Series(parallel, dtype=pl.String),
        ),
    )
    # flagged first, least confident first: what reviewers should see before the rest
    out = out.sort(
        [pl.col("quality").struct.field("needs_review_first"), pl.col("quality").struct.field("confidence")],
        descending=[True, False],
    )
    return out.with_row_index("review_priority").select(
        "record_id",
        config.id_field,
        *[pl.col(f"t_{f}").alias(f) for f in fields],
        "name_changes",
        "quality",
        pl.col("review_priority").cast(pl.Int32),
        "translation_repaired",
        "source_text",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    )
