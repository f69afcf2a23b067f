"""Deduplication steps: exact (normalised text hash), near (MinHash + LSH, verified by Jaccard) and
semantic (SemDeDup on embeddings). Each is a `Step`: the kept rows are its output, the removed rows
(with `duplicate_of` and `similarity`) are its `dropped_rows`, and its account's `extra` holds the
cluster statistics for the data card (`card_section`)."""

from __future__ import annotations

from pipelines.methods.dedup.clusters import duplicates_table
from pipelines.methods.dedup.config import (
    METHOD_CONFIGS,
    DedupConfig,
    ExactConfig,
    NearConfig,
    Normalization,
    SemanticConfig,
)
from pipelines.methods.dedup.exact import ExactDedup
from pipelines.methods.dedup.near import NearDedup
from pipelines.methods.dedup.report import card_section
from pipelines.methods.dedup.semantic import SemanticDedup

STEPS = {"exact": ExactDedup, "near": NearDedup, "semantic": SemanticDedup}


def dedup_step(method: str, config: DedupConfig | dict | None = None):
    """The step for `method` ('exact', 'near', 'semantic') with its config (a model or a dict)."""
    if method not in STEPS:
        raise ValueError(f"unknown dedup method {method!r}; choose one of {', '.join(STEPS)}")
    if isinstance(config, dict):
        config = METHOD_CONFIGS[method](**config)
    return STEPS[method](config)


__all__ = [
    "STEPS",
    "DedupConfig",
    "ExactConfig",
    "NearConfig",
    "SemanticConfig",
    "Normalization",
    "ExactDedup",
    "NearDedup",
    "SemanticDedup",
    "dedup_step",
    "duplicates_table",
    "card_section",
]
