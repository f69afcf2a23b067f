"""Exact dedup: rows whose normalised text is the same (64-bit hash of it, in polars)."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.engine.steps import Step, StepResult
from pipelines.methods.dedup.clusters import canonical, finish
from pipelines.methods.dedup.config import ExactConfig
from pipelines.methods.dedup.normalize import normalized_hashes


def exact_labels(texts: pl.Series, cfg: ExactConfig) -> np.ndarray:
    """Cluster label per row: the 64-bit hash of the normalised text (at a million rows the chance
    of any collision is about 3e-8, at a billion about 3%). A null text is a cluster of its own."""
    keys = normalized_hashes(texts, cfg.normalize).to_numpy()
    if texts.null_count():  # the hash of null is one value; give each null row a value of its own
        nulls = texts.is_null().to_numpy()
        keys = keys.copy()
        keys[nulls] = np.flatnonzero(nulls).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(1)
    return keys


class ExactDedup(Step):
    """Remove rows whose normalised text equals that of a kept row (similarity 1.0)."""

    name = "dedup_exact"
    version = "1"

    def __init__(self, config: ExactConfig | None = None):
        super().__init__(config or ExactConfig())

    def run(self, data: pl.DataFrame) -> StepResult:
        cfg: ExactConfig = self.config
        frame, ident = canonical(data, cfg, self.name, ordered=False)
        labels = exact_labels(frame[cfg.text_column], cfg)
        return finish(self.name, "exact", frame, ident, labels, _ones, cfg, self.params())


def _ones(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.ones(len(left))
