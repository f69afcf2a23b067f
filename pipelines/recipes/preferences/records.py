"""The preferences recipe's published records: `personas`, `prompts` and `pairs`."""

from __future__ import annotations

import orjson
import polars as pl

from schemas.envelope import envelope_columns, stable_id

NAME = "preferences"


def persona_text(p: dict) -> str:
    demo = p.get("demographics") or {}
    facts = "; ".join(f"{k}: {v}" for k, v in demo.items() if v not in (None, ""))
    return (f"Demographics: {facts}\n" if facts else "") + f"Self-description: {p['self_description'].strip()}"


def pairs_frame(personas: list[dict], prompts: pl.DataFrame, max_pairs: int | None) -> pl.DataFrame:
    rows = [
        {
            "pair_id": stable_id(NAME, str(p["persona_id"]), q["prompt_id"]),
            "persona_id": str(p["persona_id"]),
            "persona_text": persona_text(p),
            "prompt_id": q["prompt_id"],
            "prompt": q["prompt"],
            "candidates": q["candidates"],
            "_file": q["_file"],
            "_row": q["_row"],
        }
        for p in personas
        for q in prompts.iter_rows(named=True)
    ]
    rows.sort(key=lambda r: r["pair_id"])  # a cap takes a hash-random, reproducible subset
    frame = pl.DataFrame(
        rows[:max_pairs] if max_pairs else rows,
        schema={
            "pair_id": pl.String,
            "persona_id": pl.String,
            "persona_text": pl.String,
            "prompt_id": pl.String,
            "prompt": pl.String,
            "candidates": prompts.schema["candidates"],
            "_file": pl.String,
            "_row": pl.Int64,
        },
    )
    return frame.sort("prompt_id", "persona_id")


def _envelope(ctx, config, provenance, file, source_id):
    return envelope_columns(
        dataset="preferences-input",
        license=config.license,
        created_at=ctx.created_at,
        provenance=provenance,
        file=file,
        source_id=source_id,
        lang="en",
    )


def persona_records(ctx, personas: list[dict], config, provenance: list[dict]) -> pl.DataFrame:
    rows = [
        {
            "record_id": stable_id(NAME, "persona", str(p["persona_id"])),
            "persona_id": str(p["persona_id"]),
            "synthetic": bool(p.get("synthetic", True)),
            "demographics": orjson.dumps(p.get("demographics") or {}).decode(),
            "self_description": p["self_description"],
            "_file": p["_file"],
        }
        for p in personas
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "record_id": pl.String,
            "persona_id": pl.String,
            "synthetic": pl.Boolean,
            "demographics": pl.String,
            "self_description": pl.String,
            "_file": pl.String,
        },
    )
    return frame.with_columns(*_envelope(ctx, config, provenance, pl.col("_file"), pl.col("persona_id"))).drop("_file")


def prompt_records(ctx, prompts: list[dict], config, provenance: list[dict]) -> pl.DataFrame:
    rows = [
        {
            "record_id": stable_id(NAME, "prompt", str(q["prompt_id"])),
            "prompt_id": str(q["prompt_id"]),
            "prompt": q["prompt"],
            "origin": q.get("source"),
            "_file": q["_file"],
        }
        for q in prompts
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "record_id": pl.String,
            "prompt_id": pl.String,
            "prompt": pl.String,
            "origin": pl.String,
            "_file": pl.String,
        },
    )
    return frame.with_columns(*_envelope(ctx, config, provenance, pl.col("_file"), pl.col("prompt_id"))).drop("_file")


def pair_records(ctx, judged: pl.DataFrame, config, provenance: list[dict]) -> pl.DataFrame:
    best = pl.col("scores").list.arg_max()
    worst = pl.col("scores").list.arg_min()
    cands = pl.col("candidates")
    scored = pl.struct(
        text=pl.element().struct.field("text"),
        model=pl.element().struct.field("model"),
        seed=pl.element().struct.field("seed"),
    )
    out = judged.with_columns(
        pl.col("pair_id").alias("record_id"),
        cands.list.eval(scored).alias("_c"),
    ).with_columns(
        pl.struct(pl.col("_c"), pl.col("scores"))
        .map_elements(
            lambda r: [{**c, "score": s} for c, s in zip(r["_c"], r["scores"])],
            return_dtype=pl.List(
                pl.Struct({"text": pl.String, "model": pl.String, "seed": pl.Int64, "score": pl.Float64})
            ),
        )
        .alias("candidates"),
        cands.list.get(best).struct.field("text").alias("chosen"),
        cands.list.get(worst).struct.field("text").alias("rejected"),
        *_envelope(ctx, config, provenance, pl.col("_file"), pl.col("prompt_id")),
    )
    return out.select(
        "record_id",
        "prompt_id",
        "prompt",
        "persona_id",
        "candidates",
        "chosen",
        "rejected",
        "margin",
        "rationale",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    )
