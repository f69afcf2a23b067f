"""Semantic dedup against semhash, on the edit corpus and on a labelled paraphrase corpus.

    .venv/bin/python bench/dedup/bench_semantic_static.py [--rows 10000] [--thresholds 0.8,0.85,0.9]

Corpora (bench/dedup/corpus.py): `build_corpus` (planted edits of real sentences) and
`build_paraphrase_corpus` (labelled paraphrases, and look-alike contrasts labelled as other groups).
Methods, each from texts to clusters, timed as a whole (embedding included):
- semhash 0.5 (`SemHash.from_records(...).self_deduplicate(threshold)`, its default usearch index)
  with a model2vec model distilled from our MiniLM, the one our static method uses (read from our
  cache folder, so both embed with the same static vectors);
- ours, static: `SemanticDedup` with `embed: {method: static}`;
- ours, MiniLM: `SemanticDedup` with the default embedding (the CPU default backend), the vector
  cache off, run once per threshold; and the same with `clusters: connected` (chains), for the
  largest cluster.
Printed per corpus and threshold: pairwise precision, recall, F1 against the labels, rows/s (best of
`--repeats` interleaved rounds), and the largest predicted cluster against the largest labelled group
(a larger one is a chain, or a real merge of look-alikes), and the lowest similarity of a removed row
to the row kept for it (below the threshold only through a chain).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.dedup.bench_dedup import pairwise_scores  # noqa: E402
from bench.dedup.corpus import build_corpus, build_paraphrase_corpus  # noqa: E402
from pipelines.methods.dedup import SemanticConfig, SemanticDedup  # noqa: E402
from pipelines.methods.embed import EmbedConfig, load_static  # noqa: E402


def ours(frame: pl.DataFrame, threshold: float, embed: EmbedConfig, clusters: str = "representative"):
    """Each row's cluster (the id of its kept row), and the lowest similarity of a removed row to it."""
    cfg = SemanticConfig(id_column="id", threshold=threshold, embed=embed, clusters=clusters)
    result = SemanticDedup(cfg).run(frame.select("id", "text"))
    dropped = result.dropped_rows
    dup_of = dict(zip(dropped["_dup_id"].to_list(), dropped["_dup_of"].to_list()))
    lowest = float(dropped["_dup_similarity"].min()) if dropped.height else None
    return [dup_of.get(i, i) for i in frame["id"].to_list()], lowest


def semhash(frame: pl.DataFrame, threshold: float, model):
    from semhash import SemHash

    records = [{"id": str(i), "text": t} for i, t in zip(frame["id"].to_list(), frame["text"].to_list())]
    result = SemHash.from_records(records, columns=["text"], model=model).self_deduplicate(threshold=threshold)
    dup_of = {d.record["id"]: d.duplicate_of["id"] for d in result.filtered}
    lowest = min((d.score for d in result.filtered), default=None)
    return [dup_of.get(str(i), str(i)) for i in frame["id"].to_list()], lowest


def run_method(name: str, frame: pl.DataFrame, threshold: float, model, static_cfg, minilm_cfg):
    if name == "semhash + model2vec":
        return semhash(frame, threshold, model)
    if name == "ours, static":
        return ours(frame, threshold, static_cfg)
    if name == "ours, MiniLM":
        return ours(frame, threshold, minilm_cfg)
    return ours(frame, threshold, minilm_cfg, clusters="connected")


TIMED = ("semhash + model2vec", "ours, static")  # repeated, best of; the MiniLM rows run once, cold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--thresholds", default="0.8,0.85,0.9")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    cache = tempfile.mkdtemp(prefix="curate-bench-static-")
    static_cfg = EmbedConfig(method="static", cache=False, cache_dir=cache)
    minilm_cfg = EmbedConfig(cache=False, cache_dir=cache)  # the export is kept; vectors are not
    t0 = time.perf_counter()
    model = load_static(None, None, static_cfg.static_dims, str(Path(cache) / "models")).model
    print(f"static model distilled from MiniLM in {time.perf_counter() - t0:.1f} s ({model.dim} dims)")
    corpora = {
        "edit": build_corpus(args.rows).select("id", "text", "group"),
        "paraphrase": build_paraphrase_corpus(args.rows).select("id", "text", "group"),
    }
    names = ("semhash + model2vec", "ours, static", "ours, MiniLM", "ours, MiniLM, connected")
    rows = []
    for corpus_name, frame in corpora.items():
        truth = frame["group"].to_list()
        largest_true = int(frame.group_by("group").len()["len"].max())
        print(f"\n{corpus_name} corpus, {frame.height} rows, largest labelled group {largest_true}")
        for threshold in map(float, args.thresholds.split(",")):
            best: dict[str, float] = {}
            results: dict[str, tuple] = {}
            for _ in range(args.repeats):  # interleaved rounds
                for name in names:
                    if name in results and name not in TIMED:
                        continue
                    t = time.perf_counter()
                    results[name] = run_method(name, frame, threshold, model, static_cfg, minilm_cfg)
                    best[name] = min(best.get(name, float("inf")), time.perf_counter() - t)
            for name in names:
                pred, lowest = results[name]
                scores = pairwise_scores(pred, truth)
                largest = int(pl.Series([str(p) for p in pred]).value_counts()["count"].max())
                row = {
                    "corpus": corpus_name,
                    "threshold": threshold,
                    "method": name,
                    **scores,
                    "rows_per_s": round(frame.height / best[name], 1),
                    "largest_cluster": largest,
                    "largest_labelled": largest_true,
                    "lowest_similarity_to_kept": None if lowest is None else round(lowest, 4),
                }
                rows.append(row)
                print(
                    f"  t={threshold:.2f} {name:24s} P={scores['precision']:.4f} R={scores['recall']:.4f} "
                    f"F1={scores['f1']:.4f} {row['rows_per_s']:>9,.0f} rows/s  largest={largest:<3d} "
                    f"lowest sim to kept={row['lowest_similarity_to_kept']}"
                )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
