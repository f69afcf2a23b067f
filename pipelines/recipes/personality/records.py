"""The personality recipe's published records: `respondents` and `items`."""

from __future__ import annotations

import polars as pl

from schemas.envelope import envelope_columns, provenance_entry, stable_id
from sources.instruments import Instrument
from sources.ipip import DEMOGRAPHICS, definition

NAME = "personality"


# what a scored frame holds whatever the instrument; scores are added by instrument (`steps.by_instrument`)
SCORED = {
    "_instrument": pl.String,
    "respondent_id": pl.String,
    "instrument_items": pl.Int16,
    "_file": pl.String,
    "responses": pl.List(pl.Int8),
    "answered": pl.Int32,
}


def respondent_records(ctx, data: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    if data.height == 0:  # nobody passed the steps: an empty config with the columns every instrument has
        data = pl.DataFrame(schema=SCORED)
    demo = [pl.col(c).cast(pl.String) if c in data.columns else pl.lit(None, pl.String).alias(c) for c in DEMOGRAPHICS]
    age = demo[1].cast(pl.Float64, strict=False).cast(pl.Int32).alias("age")
    ids = [  # IPIP-NEO ids as before (by item count), other instruments by their id
        stable_id(NAME, int(n) if i.startswith("ipip_neo_") else i, rid)
        for n, i, rid in data.select("instrument_items", "_instrument", "respondent_id").iter_rows()
    ]
    records = data.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        pl.col("_instrument")
        .replace_strict({i: definition(i).name for i in data["_instrument"].unique()}, return_dtype=pl.String)
        .alias("instrument"),
        pl.col("_instrument").alias("instrument_id"),
        pl.struct(
            demo[0].alias("sex"),
            age,
            demo[2].alias("country"),
            *(
                pl.col(c).cast(pl.String) if c in data.columns else pl.lit(None, pl.String).alias(c)
                for c in ("country_code", "country_alpha3", "country_raw")
            ),
        ).alias("demographics"),
        pl.col("responses").cast(pl.List(pl.Int8)),
        pl.lit(True).alias("responses_keyed"),
        *envelope_columns(
            dataset="personality-inventory",
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=pl.col("respondent_id"),
            lang="en",
        ),
    )

    def present(name: str) -> list[str]:  # facet_scores: some instrument has facets; checks_failed: catch items
        return [name] if name in records.columns else []

    return records.select(
        "record_id",
        "respondent_id",
        "instrument",
        "instrument_id",
        "demographics",
        "responses",
        "responses_keyed",
        *present("domain_scores"),
        *present("facet_scores"),
        "answered",
        *present("checks_failed"),
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    )


def item_records(ctx, instruments: list[Instrument]) -> pl.DataFrame:
    frames = []
    for inst in instruments:
        key = inst.key_frame()
        labels = ", ".join(f"{k} = {v}" for k, v in inst.response_scale.labels.items())
        file = f"sources/data/instruments/{inst.id}.yaml"
        frames.append(
            key.with_columns(
                pl.lit(inst.name).alias("instrument"),
                pl.lit(f"{inst.response_scale.min}-{inst.response_scale.max}: {labels}").alias("scale"),
                pl.col("item_no")
                .map_elements(
                    lambda i, inst=inst: (
                        stable_id("ipip-item", int(inst.id.removeprefix("ipip_neo_")), i)
                        if inst.id.startswith("ipip_neo_")
                        else stable_id("instrument-item", inst.id, i)
                    ),
                    return_dtype=pl.String,
                )
                .alias("record_id"),
                *envelope_columns(
                    dataset=f"{inst.id}-key",
                    license=inst.key.license if not inst.texts.shipped else inst.texts.license,
                    created_at=ctx.created_at,
                    provenance=[provenance_entry("key", "1", {"file": file})],
                    file=f"{inst.id}.yaml",
                    source_id=pl.col("item_no").cast(pl.String),
                    lang="en",
                ),
            )
        )
    if not frames:
        return pl.DataFrame()
    cols = [
        "record_id",
        "instrument",
        "item_no",
        "text",
        "domain",
        "facet_code",
        "facet_name",
        "keyed",
        "scale",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    ]
    return pl.concat(frames, how="diagonal_relaxed").select(cols)
