"""The peers of bench_dedup.py that live outside the project's environment: rensa and datatrove's
MinHash stages. Run by bench_dedup.py with the Python of a throwaway venv (see README.md):

    PEERS_PYTHON texts.parquet out.parquet --tool rensa|datatrove --ngram 4 --num-perm 128 --threshold 0.6

texts.parquet holds `text`: the rows already normalised by our normaliser (the same input every tool
gets). The shingles are the same for every tool: the set of character 4-grams of that text (a text
shorter than 4 characters is one shingle, an empty one has none and is never a duplicate). Writes
`left, right` (row pairs found similar; the bench clusters them with the same union-find as ours)
or `cluster` per row, and prints one RESULT line: seconds, peak RSS, what the tool was told.
"""

from __future__ import annotations

import argparse
import json
import resource
import time


def char_shingles(text: str, n: int) -> list[str]:
    if not text:
        return []
    return sorted({text[i : i + n] for i in range(max(1, len(text) - n + 1))})


def run_rensa(texts: list[str], args) -> tuple[dict, dict]:
    """rensa's bulk path: R-MinHash objects from the token sets of 20,000 rows per call (Rust; the
    token lists of all rows at once would take ~17 GB at 1M rows), its LSH index filled with
    insert_many, every row queried with query_all, candidates kept when rensa's estimated Jaccard
    reaches the threshold (rensa's own deduplicators check the same way)."""
    from rensa import RMinHash, RMinHashLSH

    nonempty = [i for i, t in enumerate(texts) if t]
    lsh = RMinHashLSH(args.threshold, args.num_perm, args.bands)
    rows = []
    for start in range(0, len(nonempty), 20_000):
        sets = [char_shingles(texts[i], args.ngram) for i in nonempty[start : start + 20_000]]
        batch = RMinHash.from_token_sets(sets, args.num_perm, 42)
        lsh.insert_many(batch, start)
        rows += batch
    left, right = [], []
    # queried 20,000 rows per call: one query_all over 1M rows of sentence triples (which share
    # sentences) held every candidate list at once and took the process past 9.5 GB
    for start in range(0, len(rows), 20_000):
        for k, found in enumerate(lsh.query_all(rows[start : start + 20_000]), start):
            mk = rows[k]
            for j in found:
                if j > k and mk.jaccard(rows[j]) >= args.threshold:
                    left.append(nonempty[k])
                    right.append(nonempty[j])
    return {"left": left, "right": right}, {
        "bands": args.bands,
        "rows_per_band": args.num_perm // args.bands,
        "check": "estimated Jaccard >= threshold",
    }


def run_datatrove(texts: list[str], args, work: str) -> tuple[dict, dict]:
    """datatrove's four MinHash stages as its executor runs them (signatures, buckets, clusters),
    with a character tokenizer so that its n-grams are our character 4-grams, and its own text
    normalisation switched off (the texts come normalised)."""
    import struct
    from collections import deque
    from pathlib import Path

    from datatrove.data import Document
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.utils.hashing import HashConfig
    from datatrove.utils.text import TextNormConfig
    from datatrove.utils.word_tokenizers import WordTokenizer

    class Chars(WordTokenizer):
        def word_tokenize(self, text):
            return list(text)

        def sent_tokenize(self, text):
            return [text]

        def span_tokenize(self, text):
            return [(0, len(text))]

    off = TextNormConfig(
        lowercase=False,
        norm_whitespace=False,
        remove_punctuation=False,
        norm_unicode_diacritics=False,
        norm_numbers=False,
    )
    cfg = MinhashConfig(
        n_grams=args.ngram,
        num_buckets=args.bands,
        hashes_per_bucket=args.num_perm // args.bands,
        seed=1,
        norm_config=off,
        hash_config=HashConfig(precision=64),
    )
    sigs, buckets, clusters = (str(Path(work) / d) for d in ("sigs", "buckets", "clusters"))
    docs = (Document(text=t, id=str(i)) for i, t in enumerate(texts))
    # short texts: datatrove's ngrams() gives none below n tokens; pad like ours (one shingle)
    docs = (
        Document(text=d.text if len(d.text) >= args.ngram or not d.text else d.text.ljust(args.ngram, "\x00"), id=d.id)
        for d in docs
    )

    def drain(out) -> None:  # a step's run is a generator or returns None
        deque(out or (), maxlen=0)

    drain(MinhashDedupSignature(sigs, cfg, language=Chars())(docs, rank=0, world_size=1))
    for b in range(args.bands):  # one task per bucket, as the executor would schedule them
        drain(MinhashDedupBuckets(sigs, buckets, config=cfg)(None, rank=b, world_size=args.bands))
    drain(MinhashDedupCluster(buckets, clusters, config=cfg, save_cluster_id=True)(None, 0, 1))
    cluster = list(range(len(texts)))
    path = Path(clusters) / "000000.clusters"
    if path.exists():
        raw = path.read_bytes()
        for doc, cid in struct.iter_unpack("<II", raw):
            cluster[doc] = len(texts) + cid
    return {"cluster": cluster}, {
        "buckets": args.bands,
        "hashes_per_bucket": args.num_perm // args.bands,
        "check": "none (LSH buckets only)",
        "hash": "64-bit",
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("texts")
    ap.add_argument("out")
    ap.add_argument("--tool", required=True, choices=["rensa", "datatrove"])
    ap.add_argument("--ngram", type=int, default=4)
    ap.add_argument("--num-perm", type=int, default=128)
    ap.add_argument("--threshold", type=float, default=0.6)
    ap.add_argument("--bands", type=int, required=True)
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    import polars as pl

    texts = pl.read_parquet(args.texts)["text"].to_list()
    t0 = time.perf_counter()
    if args.tool == "rensa":
        out, facts = run_rensa(texts, args)
    else:
        out, facts = run_datatrove(texts, args, args.work)
    seconds = time.perf_counter() - t0
    pl.DataFrame(out).write_parquet(args.out)
    import importlib.metadata as md

    print(
        "RESULT "
        + json.dumps(
            {
                "seconds": seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "version": md.version(args.tool),
                **facts,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
