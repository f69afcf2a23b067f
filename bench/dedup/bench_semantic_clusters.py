"""Semantic dedup clusters with and without chains, on the planted edit corpus (bench/dedup/corpus.py).

    .venv/bin/python bench/dedup/bench_semantic_clusters.py [--rows 10000] [--thresholds 0.8,0.85,0.9]

The texts are embedded once (the real all-MiniLM-L6-v2, through the embedding cache), then
`SemanticDedup` runs with `clusters: representative` (the default: each removed row is a direct pair
of its kept row) and `clusters: connected` (union-find: chains) on the same vectors. Printed per
threshold: pairwise precision, recall and F1 of the predicted clusters against the planted groups,
the largest predicted cluster against the largest planted group, the lowest similarity of a removed
row to its kept row, and the seconds of the clustering step (same run, same vectors: a ratio).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.dedup.bench_dedup import pairwise_scores  # noqa: E402
from bench.dedup.corpus import build_corpus  # noqa: E402
from pipelines.methods.dedup import SemanticConfig, SemanticDedup  # noqa: E402
from pipelines.methods.embed import embed_texts  # noqa: E402


def clusters_of(result, ids: list[str]) -> list[str]:
    """Each row's cluster: the id of the row kept for it (its own id when kept)."""
    dup_of = dict(zip(result.dropped_rows["_dup_id"].to_list(), result.dropped_rows["_dup_of"].to_list()))
    return [dup_of.get(i, i) for i in ids]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--thresholds", default="0.8,0.85,0.9")
    args = ap.parse_args()
    corpus = build_corpus(args.rows)
    t0 = time.perf_counter()
    vectors = embed_texts(corpus["text"].to_list(), SemanticConfig().embed)
    embed_s = time.perf_counter() - t0
    data = corpus.select("id", "text").with_columns(pl.Series("embedding", np.asarray(vectors, dtype=np.float32)))
    ids, truth = corpus["id"].to_list(), corpus["group"].to_list()
    largest_true = int(corpus.group_by("group").len()["len"].max())
    print(f"{args.rows} rows, embedded in {embed_s:.1f} s; largest planted group {largest_true}")
    rows = []
    for threshold in map(float, args.thresholds.split(",")):
        for mode in ("representative", "connected"):
            cfg = SemanticConfig(id_column="id", threshold=threshold, clusters=mode)
            t = time.perf_counter()
            result = SemanticDedup(cfg).run(data)
            seconds = time.perf_counter() - t
            pred = clusters_of(result, ids)
            scores = pairwise_scores(pred, truth)
            sims = result.dropped_rows["_dup_similarity"]
            largest = int(pl.Series(pred).value_counts()["count"].max())
            row = {
                "threshold": threshold,
                "clusters": mode,
                **scores,
                "largest_cluster": largest,
                "min_similarity_to_kept": round(float(sims.min()), 4) if len(sims) else None,
                "seconds": round(seconds, 2),
            }
            rows.append(row)
            print(
                f"t={threshold:.2f} {mode:14s} P={scores['precision']:.4f} R={scores['recall']:.4f} "
                f"F1={scores['f1']:.4f} largest={largest:<4d} min_sim={row['min_similarity_to_kept']} "
                f"{seconds:.2f}s"
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
