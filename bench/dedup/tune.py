"""Sweep near-dup parameters on the benchmark corpus: shingle kind and size, threshold, and the
number of permutations; prints F1 and rows/s per setting. The defaults in NearConfig come from here.

    .venv/bin/python bench/dedup/tune.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    from bench_dedup import cluster_of, pairwise_scores
    from corpus import build_corpus

    from pipelines.methods.dedup import NearConfig, NearDedup

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--grid", default="word:1,word:2,word:3,char:3,char:4,char:5,char:7")
    ap.add_argument("--thresholds", default="0.4,0.5,0.6,0.7,0.8")
    ap.add_argument("--perms", default="128")
    args = ap.parse_args()
    frame = build_corpus(args.rows)
    truth = frame["group"].to_numpy()
    print(f"{'shingle':8s} {'n':>2s} {'thr':>4s} {'perm':>4s} {'P':>7s} {'R':>7s} {'F1':>7s} {'rows/s':>9s} candidates")
    for item in args.grid.split(","):
        kind, n = item.split(":")
        for thr in map(float, args.thresholds.split(",")):
            for perms in map(int, args.perms.split(",")):
                cfg = NearConfig(id_column="id", shingle=kind, ngram=int(n), threshold=thr, num_perm=perms, examples=0)
                t0 = time.perf_counter()
                result = NearDedup(cfg).run(frame.select("id", "text"))
                dt = time.perf_counter() - t0
                s = pairwise_scores(cluster_of(frame, result), truth)
                print(
                    f"{kind:8s} {n:>2s} {thr:4.2f} {perms:4d} {s['precision']:7.4f} {s['recall']:7.4f} {s['f1']:7.4f} "
                    f"{frame.height / dt:9,.0f} {result.account.extra['params']['candidate_pairs']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
