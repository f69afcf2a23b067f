#!/usr/bin/env python
"""Usage: .venv/bin/python scripts/compare_demo.py BEFORE_DIR AFTER_DIR

Compare two `curate demo` output trees (set CURATE_PSEUDONYM_KEY for both runs, or norms differs): every parquet file, ignoring run timestamps (created_at)
and the code-version digest of provenance entries (version+digest -> version); floats equal within
1e-12 relative. LLM outputs of the embedded engine vary between two runs of the same code (its
parallel slots batch requests by timing): compare with CURATE_LLM_EMBEDDED=0 for an exact answer."""

import math
import sys
from pathlib import Path

import polars as pl


def norm(df: pl.DataFrame) -> pl.DataFrame:
    df = df.drop([c for c in ("created_at",) if c in df.columns])
    if "provenance" in df.columns:
        df = df.with_columns(
            pl.col("provenance").list.eval(
                pl.element().struct.with_fields(pl.element().struct.field("version").str.replace(r"\+[0-9a-f]+$", ""))
            )
        )
    return df


a, b = Path(sys.argv[1]), Path(sys.argv[2])
fa = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
fb = sorted(p.relative_to(b) for p in b.rglob("*.parquet"))
bad = 0
if fa != fb:
    print("different file sets:", set(fa) ^ set(fb))
    bad += 1


def close(u, v) -> bool:
    """Equal, floats within 1e-12 relative (sums of weights in another order differ in the last bit)."""
    if isinstance(u, float) and isinstance(v, float):
        return math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-15) or (math.isnan(u) and math.isnan(v))
    if isinstance(u, dict) and isinstance(v, dict):
        return u.keys() == v.keys() and all(close(u[k], v[k]) for k in u)
    if isinstance(u, (list, tuple)) and isinstance(v, (list, tuple)):
        return len(u) == len(v) and all(close(p, q) for p, q in zip(u, v))
    return u == v


for rel in sorted(set(fa) & set(fb)):
    x, y = norm(pl.read_parquet(a / rel)), norm(pl.read_parquet(b / rel))
    if x.schema != y.schema or not (x.equals(y) or close(x.rows(named=True), y.rows(named=True))):
        bad += 1
        print("DIFF", rel, x.shape, y.shape, x.schema == y.schema)
    else:
        print("same", rel, x.shape)
print("files compared:", len(fa), "differing:", bad)
sys.exit(1 if bad else 0)
