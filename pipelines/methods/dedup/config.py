"""Typed configuration of the dedup steps (YAML `--config` files map onto these)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipelines.engine.steps import StepConfig
from pipelines.methods.embed import EmbedConfig

KeepPolicy = Literal["first", "longest", "highest_score", "oldest"]


class Normalization(StepConfig):
    """How texts are made comparable before hashing or shingling."""

    nfkc: bool = True  # Unicode NFKC: full-width letters, ligatures, compatibility forms
    lowercase: bool = True
    whitespace: Literal["collapse", "remove", "keep"] = "collapse"  # collapse: runs -> one space, trimmed
    punctuation: Literal["remove", "keep"] = "remove"  # remove: Unicode punctuation and symbols become spaces


class DedupConfig(StepConfig):
    text_column: str = "text"
    id_column: str | None = None  # None: `record_id` when present, else the row number
    keep: KeepPolicy = "first"  # which row of a cluster is kept
    score_column: str | None = None  # for keep: highest_score
    time_column: str | None = None  # for keep: oldest
    examples: int = 12  # removed pairs shown in the report

    @model_validator(mode="after")
    def _policy_columns(self):
        if self.keep == "highest_score" and not self.score_column:
            raise ValueError("keep: highest_score needs score_column")
        if self.keep == "oldest" and not self.time_column:
            raise ValueError("keep: oldest needs time_column")
        return self


class ExactConfig(DedupConfig):
    normalize: Normalization = Normalization()


class NearConfig(DedupConfig):
    """MinHash + LSH. Defaults tuned on bench/dedup (see its README for the sweep)."""

    normalize: Normalization = Normalization()
    shingle: Literal["word", "char"] = "char"
    ngram: int = Field(4, ge=1, le=32)
    threshold: float = Field(0.6, gt=0, le=1)  # Jaccard similarity of shingle sets
    num_perm: int = Field(128, ge=8, le=1024)
    bands: int | None = None  # None (with rows None): the best split of num_perm for the threshold
    rows: int | None = None
    verify: bool = True  # keep only candidate pairs whose true Jaccard reaches the threshold
    # before that check, drop candidates whose MinHash estimate is this many standard errors below
    # the threshold (None: check every candidate); a pair at the threshold is lost with odds < 3e-7
    estimate_sd: float | None = Field(5.0, gt=0)
    max_bucket: int = Field(32, ge=2)  # LSH buckets larger than this link to one anchor instead of all pairs
    batch_rows: int = Field(50_000, ge=1)  # rows hashed at a time: bounds memory
    seed: int = 1

    @model_validator(mode="after")
    def _bands_rows(self):
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self


class SemanticConfig(DedupConfig):
    """SemDeDup: k-means on the embeddings, then cosine similarity of pairs inside each cluster."""

    # cosine similarity; 0.80 with representative clusters: F1 0.913 (P 0.992) on the 10,000-row edit corpus,
    # against 0.908 for chains at 0.85, the former default (bench/dedup/bench_semantic_clusters.py)
    threshold: float = Field(0.80, gt=-1, le=1)
    embedding_column: str = "embedding"  # used when the input has it; otherwise texts are embedded
    # applied to texts before embedding them: NFKC folds full-width letters and ligatures, which the
    # model would read as other tokens (on the benchmark: recall 0.81 -> 0.91 at 0.85)
    normalize: Normalization = Normalization(lowercase=False, punctuation="keep")
    embed: EmbedConfig = EmbedConfig()
    exact_below: int = Field(20_000, ge=0)  # up to this many rows: exact search over all pairs
    cluster_size: int = Field(1_000, ge=10)  # mean rows per k-means cluster
    # nearest centroids each row is compared within (boundary pairs); 3: recall 0.995 of the exact
    # pairs with MiniLM at 100,000 rows, x8 faster than exact (2: 0.975, x16; bench_semantic_search.py)
    probes: int = Field(3, ge=1)
    kmeans_iter: int = Field(20, ge=1)
    seed: int = 1
    # representative: each duplicate attached to a kept row it is itself within the threshold of (as
    # SemDeDup and semhash keep one row per neighbourhood); connected: the rows linked through any
    # chain of similar pairs are one cluster (a -> b -> c removes c even when a and c are far apart)
    clusters: Literal["representative", "connected"] = "representative"


METHOD_CONFIGS = {"exact": ExactConfig, "near": NearConfig, "semantic": SemanticConfig}


def check_text_columns(path, schema, cfg) -> None:
    """The text and id columns hold text or numbers, not lists or structs (one line naming them)."""
    from schemas.errors import InputFileError
    from sources.tables import not_text_columns

    wrong = not_text_columns(schema, [c for c in (cfg.text_column, cfg.id_column) if c])
    if wrong:
        raise InputFileError(
            path,
            f"column {', '.join(wrong)} holds no text or number to compare or identify rows by; "
            "give a text column (--text-column) and an id column (--id-column)",
        )
