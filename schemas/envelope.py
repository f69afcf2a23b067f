"""The record envelope every published row carries (DESIGN.md, "Record types").

Two views of one thing: pydantic models for validation in Python, and the Arrow/Polars schema used to
store it in parquet. `envelope_columns` adds the stored form to a frame of records.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
import polars as pl
from pydantic import BaseModel, Field


class SourceRef(BaseModel):
    dataset: str
    file: str | None = None
    source_id: str | None = None
    url: str | None = None


class ProvenanceStep(BaseModel):
    step: str
    version: str
    params: str | None = None  # JSON of the step's configuration
    model: str | None = None  # for LLM output
    template_hash: str | None = None
    seed: int | None = None


class Review(BaseModel):
    status: str = "pending"  # pending | submitted | resolved | discarded
    annotators: list[str] = Field(default_factory=list)
    responses: str | None = None  # JSON of the submitted responses
    agreement: float | None = None


class Envelope(BaseModel):
    record_id: str
    source: SourceRef
    license: str
    lang: str | None = None
    split: str = "train"
    parallel_id: str | None = None
    provenance: list[ProvenanceStep] = Field(default_factory=list)
    review: Review = Field(default_factory=Review)
    created_at: datetime


SOURCE_DTYPE = pl.Struct({"dataset": pl.String, "file": pl.String, "source_id": pl.String, "url": pl.String})
PROVENANCE_DTYPE = pl.List(
    pl.Struct(
        {
            "step": pl.String,
            "version": pl.String,
            "params": pl.String,
            "model": pl.String,
            "template_hash": pl.String,
            "seed": pl.Int64,
        }
    )
)
REVIEW_DTYPE = pl.Struct(
    {
        "status": pl.String,
        "annotators": pl.List(pl.String),
        "responses": pl.String,
        "agreement": pl.Float64,
    }
)
ENVELOPE_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "source": SOURCE_DTYPE,
        "license": pl.String,
        "lang": pl.String,
        "split": pl.String,
        "parallel_id": pl.String,
        "provenance": PROVENANCE_DTYPE,
        "review": REVIEW_DTYPE,
        "created_at": pl.Datetime("us", "UTC"),
    }
)


def stable_id(*parts: Any) -> str:
    """A content hash of the parts: the same parts give the same id on every machine and run."""
    payload = orjson.dumps(list(parts), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(payload, digest_size=16).hexdigest()


def provenance_entry(step: str, version: str, params: dict | None = None, **llm: Any) -> dict:
    entry = {"step": step, "version": version, "model": None, "template_hash": None, "seed": None}
    entry["params"] = orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode() if params else None
    entry.update(llm)
    return entry


def envelope_columns(
    *,
    dataset: str,
    license: str,
    created_at: datetime,
    provenance: list[dict],
    file: pl.Expr | str | None = None,
    source_id: pl.Expr | None = None,
    lang: pl.Expr | str | None = None,
    split: str = "train",
    parallel_id: pl.Expr | None = None,
) -> list[pl.Expr]:
    """Expressions that add the envelope columns (all but `record_id`) to a frame of records."""

    def as_expr(value, dtype=pl.String) -> pl.Expr:
        return value.cast(dtype) if isinstance(value, pl.Expr) else pl.lit(value, dtype=dtype)

    source = pl.struct(
        dataset=pl.lit(dataset, dtype=pl.String),
        file=as_expr(file),
        source_id=as_expr(source_id),
        url=pl.lit(None, dtype=pl.String),
    )
    review = pl.lit(
        {"status": "pending", "annotators": [], "responses": None, "agreement": None},
        dtype=REVIEW_DTYPE,
    )
    return [
        source.alias("source"),
        pl.lit(license, dtype=pl.String).alias("license"),
        as_expr(lang).alias("lang"),
        pl.lit(split, dtype=pl.String).alias("split"),
        as_expr(parallel_id).alias("parallel_id"),
        pl.lit(provenance, dtype=PROVENANCE_DTYPE).alias("provenance"),
        review.alias("review"),
        pl.lit(created_at, dtype=pl.Datetime("us", "UTC")).alias("created_at"),
    ]
