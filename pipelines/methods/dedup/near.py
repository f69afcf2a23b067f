"""Near-duplicate dedup: MinHash + LSH over word or character shingles, candidate pairs checked by
true Jaccard, clusters by union-find."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.engine.steps import Step, StepResult
from pipelines.methods.dedup.clusters import CI, canonical, canonical_order, components, finish, to_input_order
from pipelines.methods.dedup.config import NearConfig
from pipelines.methods.dedup.minhash import (
    band_keys,
    bucket_pairs,
    estimate_cutoff,
    estimated_jaccard,
    jaccard,
    optimal_bands,
    permutations,
    screen_bits,
    screen_limit,
    shingle_sets,
    signatures,
    sketch,
)


def near_pairs(texts: pl.Series, cfg: NearConfig, progress: bool = False) -> tuple[np.ndarray, np.ndarray, dict, tuple]:
    """Pairs (i, j) of rows at or above the threshold, facts about the search, and the shingle sets."""
    bands, rows = (cfg.bands, cfg.rows) if cfg.bands else optimal_bands(cfg.threshold, cfg.num_perm)
    a, b = permutations(cfg.num_perm, cfg.seed)
    offsets, values, keys, sketches, bits = [np.zeros(1, np.int64)], [], [], [], []
    cutoff = estimate_cutoff(cfg.threshold, cfg.num_perm, cfg.estimate_sd) if cfg.verify else None
    limit = screen_limit(cfg.threshold, cfg.num_perm, cfg.estimate_sd) if cfg.verify else None
    batches = range(0, texts.len(), cfg.batch_rows)
    if progress and len(batches) > 1:
        from schemas.progress import bar as progress_bar

        batches = progress_bar(
            batches, desc="minhash", unit="batch", leave=False, disable=None
        )  # None: only on a terminal
    for start in batches:
        off, vals = shingle_sets(texts.slice(start, cfg.batch_rows), cfg)
        sig = signatures(off, vals, a, b)
        keys.append(band_keys(sig, bands, rows, cfg.seed, np.diff(off) == 0))
        if cutoff is not None:
            sketches.append(sketch(sig))
            bits.append(screen_bits(sig))
        del sig
        offsets.append(off[1:] + offsets[-1][-1])
        values.append(vals)
    offsets = np.concatenate(offsets)
    values = np.concatenate(values) if values else np.zeros(0, np.uint64)
    keys = np.concatenate(keys) if keys else np.zeros((0, bands), np.uint64)
    words = -(-cfg.num_perm // 64)
    bits = np.concatenate(bits) if bits else np.zeros((0, words), np.uint64)
    left, right, screened = bucket_pairs(keys, cfg.max_bucket, bits, limit)
    facts = {"lsh_bands": bands, "lsh_rows": rows, "candidate_pairs": int(len(left))}
    if cutoff is not None:
        facts["screened_out"] = screened
        facts["below_estimate"] = 0
        if len(left):
            sk = np.concatenate(sketches)
            likely = estimated_jaccard(sk, sk, left, right) >= cutoff
            facts["below_estimate"] = int(len(left) - likely.sum())
            left, right = left[likely], right[likely]
    if cfg.verify and len(left):
        sims = jaccard(offsets, values, left, right, at_least=cfg.threshold)
        keep = sims >= cfg.threshold
        left, right = left[keep], right[keep]
    facts["pairs_linked"] = int(len(left))
    return left, right, facts, (offsets, values)


class NearDedup(Step):
    """Remove rows whose shingle set is near that of a kept row (Jaccard >= threshold, directly or
    through a chain of such pairs); `similarity` is the true Jaccard with the kept row."""

    name = "dedup_near"
    version = "1"

    def __init__(self, config: NearConfig | None = None):
        super().__init__(config or NearConfig())

    def run(self, data: pl.DataFrame) -> StepResult:
        cfg: NearConfig = self.config
        frame, ident = canonical(data, cfg, self.name)
        texts = frame[cfg.text_column].gather(canonical_order(frame))
        left, right, facts, (offsets, values) = near_pairs(texts, cfg, progress=True)
        labels = to_input_order(frame, components(frame.height, left, right))
        ci = frame[CI].to_numpy()

        def similarity(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            i, j = ci[i], ci[j]  # input positions -> id order, in which the shingles/vectors are
            return jaccard(offsets, values, i, j)

        return finish(self.name, "near", frame, ident, labels, similarity, cfg, {**self.params(), **facts})
