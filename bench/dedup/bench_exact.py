"""Exact dedup against polars' own query with the same normalisation, on the same rows.

    .venv/bin/python bench/dedup/bench_exact.py [--rows 1000000] [--repeats 3]

Rows: the 100,000-row edit corpus (bench/dedup/corpus.py) repeated with a copy number appended to
every text (" copy 3"), so that copies are not duplicates of each other and the duplicate rate stays
the corpus's (13% exact after normalisation). Measured, best of `--repeats` interleaved rounds:
- polars' own query: the kept rows of `unique` on the hash of our normalisation expression, first
  row per key, input order kept (what a user would write by hand: no id checks, no report);
- our `ExactDedup` step: kept rows, the removed rows with what each duplicates, the id checks, the
  cluster statistics and example pairs.
Goal: ours >= 0.9x polars' own rows/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.dedup.corpus import build_corpus  # noqa: E402
from pipelines.methods.dedup import ExactConfig, ExactDedup  # noqa: E402
from pipelines.methods.dedup.normalize import normalized  # noqa: E402


def rows_of(n: int) -> pl.DataFrame:
    base = build_corpus(100_000).select("text")
    copies = -(-n // base.height)
    frame = pl.concat(
        [base.with_columns(pl.col("text") + pl.lit(f" copy {k}")) for k in range(copies)], rechunk=True
    ).head(n)
    return frame.with_row_index("id").with_columns(pl.col("id").cast(pl.Int64))


def polars_own(frame: pl.DataFrame, cfg: ExactConfig) -> pl.DataFrame:
    return (
        frame.lazy()
        .with_columns(normalized(pl.col("text"), cfg.normalize).hash(seed=0).alias("_k"))
        .unique("_k", keep="first", maintain_order=True)
        .drop("_k")
        .collect()
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    frame = rows_of(args.rows)
    cfg = ExactConfig(id_column="id")
    step = ExactDedup(cfg)
    best = {"polars' own query": float("inf"), "our ExactDedup": float("inf")}
    for _ in range(args.repeats):
        t = time.perf_counter()
        theirs = polars_own(frame, cfg)
        best["polars' own query"] = min(best["polars' own query"], time.perf_counter() - t)
        t = time.perf_counter()
        result = step.run(frame)
        best["our ExactDedup"] = min(best["our ExactDedup"], time.perf_counter() - t)
    same = result.data["id"].to_list() == theirs["id"].to_list()
    print(f"{frame.height:,} rows, {frame.height - theirs.height:,} exact duplicates; same kept rows: {same}")
    for name, sec in best.items():
        print(f"  {name:20s} {frame.height / sec:12,.0f} rows/s  ({sec:.3f} s)")
    ratio = best["polars' own query"] / best["our ExactDedup"]
    print(f"  ours / polars' own: x{ratio:.2f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
