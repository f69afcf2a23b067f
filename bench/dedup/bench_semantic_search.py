"""Semantic dedup's pair search: exact, our k-means cells, and an HNSW index, recall against exact.

    .venv/bin/python bench/dedup/bench_semantic_search.py [--rows 50000,200000] [--probes 2,3,4] [--model minilm]

Vectors: the edit corpus (bench/dedup/corpus.py; past 93,000 rows its rows are sentence triples,
which share sentences and make dense neighbourhoods) embedded with the static method (model2vec
distilled from MiniLM: fast enough for 200,000 rows here), or with MiniLM itself (`--model minilm`,
the default embedding: denser neighbourhoods than the static vectors). Threshold 0.80 (`--threshold`).
Measured per size:
- exact: every pair above the threshold (faiss `IndexFlatIP.range_search`, what runs below
  `exact_below` rows), its time the baseline;
- k-means cells (what runs above `exact_below`): `semantic_pairs` with `probes` 2, 3, 4;
- HNSW (faiss `IndexHNSWFlat`, M 32, efConstruction 64, efSearch 64): the 32 nearest rows of each
  row, kept where above the threshold (an ANN index answers k-nearest queries, not a range).
Printed: seconds, speed against exact, and recall of the exact pairs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.dedup.corpus import build_corpus  # noqa: E402
from pipelines.methods.dedup import SemanticConfig  # noqa: E402
from pipelines.methods.dedup.semantic import pairs_above, semantic_pairs, unit_rows  # noqa: E402
from pipelines.methods.embed import EmbedConfig, embed_texts  # noqa: E402

THRESHOLD = 0.8


def pair_set(left: np.ndarray, right: np.ndarray, n: int) -> set[int]:
    lo, hi = np.minimum(left, right).astype(np.int64), np.maximum(left, right).astype(np.int64)
    keep = lo != hi
    return set((lo[keep] * n + hi[keep]).tolist())


def hnsw_pairs(vectors: np.ndarray, k: int = 32, threshold: float = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.add(vectors)
    index.hnsw.efSearch = 64
    sims, found = index.search(vectors, k)
    query = np.repeat(np.arange(len(vectors)), k)
    keep = (sims.ravel() >= threshold) & (found.ravel() >= 0)
    return query[keep], found.ravel()[keep]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="50000,200000")
    ap.add_argument("--probes", default="2,3,4")
    ap.add_argument("--model", choices=["static", "minilm"], default="static")
    ap.add_argument("--threshold", type=float, default=THRESHOLD)
    args = ap.parse_args()
    threshold = args.threshold
    method = "static" if args.model == "static" else "transformer"
    cache = tempfile.mkdtemp(prefix="curate-bench-search-")
    for n in map(int, args.rows.split(",")):
        corpus = build_corpus(max(n, 100_000)).head(n)
        t = time.perf_counter()
        vectors = unit_rows(embed_texts(corpus["text"].to_list(), EmbedConfig(method=method, cache_dir=cache)))
        print(f"{n:,} rows embedded ({args.model}) in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        exact = pair_set(*pairs_above(vectors, threshold), n)
        base = time.perf_counter() - t
        print(f"{n:,} rows: exact {base:.1f} s, {len(exact):,} pairs at >= {threshold}", flush=True)
        methods = {
            f"k-means cells, probes {p}": (
                lambda p=p, v=vectors: semantic_pairs(v, SemanticConfig(threshold=threshold, exact_below=0, probes=p))[
                    :2
                ]
            )
            for p in map(int, args.probes.split(","))
        }
        methods["HNSW, 32 nearest"] = lambda v=vectors: hnsw_pairs(v, threshold=threshold)
        for name, fn in methods.items():
            t = time.perf_counter()
            found = pair_set(*fn(), n)
            sec = time.perf_counter() - t
            recall = len(found & exact) / len(exact) if exact else 1.0
            print(f"  {name:26s} {sec:7.1f} s  x{base / sec:5.1f} of exact  recall {recall:.4f}", flush=True)


if __name__ == "__main__":
    main()
