"""Semantic dedup in the manner of SemDeDup: embed, cluster the embeddings with k-means, and within
each cluster link the pairs whose cosine similarity reaches the threshold; clusters of duplicates by
union-find. Small inputs skip k-means and search all pairs exactly.

faiss does the heavy lifting: spherical k-means and range search over inner products (cosine on
unit vectors). With faiss-gpu installed and a GPU present, k-means runs on the GPU.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.engine.steps import Step, StepResult
from pipelines.methods.dedup.clusters import (
    CI,
    canonical,
    canonical_order,
    components,
    finish,
    policy_rank,
    representatives,
    to_input_order,
)
from pipelines.methods.dedup.config import SemanticConfig
from pipelines.methods.dedup.minhash import sorted_unique
from pipelines.methods.dedup.normalize import normalized


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def pairs_above(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i < j) of rows with inner product >= threshold: exact, blocked by faiss."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    # range_search keeps results strictly above the radius; the tiny step makes it ">="
    lims, _, found = index.range_search(vectors, float(np.nextafter(np.float32(threshold), np.float32(-2))))
    query = np.repeat(np.arange(len(vectors)), np.diff(lims).astype(np.int64))
    keep = found > query
    return query[keep], found[keep].astype(np.int64)


def _gpu_count() -> int:
    import faiss

    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def kmeans_groups(vectors: np.ndarray, cfg: SemanticConfig) -> list[np.ndarray]:
    """Row indices of each k-means cluster, each row in its `probes` nearest clusters; a cluster much
    larger than the target is split again, so that no pairwise search blows up."""
    import faiss

    k = max(2, len(vectors) // cfg.cluster_size)
    km = faiss.Kmeans(
        vectors.shape[1], k, niter=cfg.kmeans_iter, seed=cfg.seed, spherical=True, gpu=_gpu_count() > 0, verbose=False
    )
    km.train(vectors)
    _, assign = km.index.search(vectors, min(cfg.probes, k))
    rows = np.repeat(np.arange(len(vectors)), assign.shape[1])
    labels = assign.ravel()
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    groups = []
    for members in np.split(rows[order], bounds):
        if len(members) > 8 * cfg.cluster_size and len(members) < len(vectors):
            groups.extend(members[sub] for sub in kmeans_groups(vectors[members], cfg))
        else:
            groups.append(members)
    return groups


def semantic_pairs(vectors: np.ndarray, cfg: SemanticConfig) -> tuple[np.ndarray, np.ndarray, dict]:
    if len(vectors) <= cfg.exact_below:
        left, right = pairs_above(vectors, cfg.threshold)
        return left, right, {"search": "exact (all pairs)"}
    lefts, rights = [], []
    groups = kmeans_groups(vectors, cfg)
    for members in groups:
        if len(members) < 2:
            continue
        i, j = pairs_above(vectors[members], cfg.threshold)
        lefts.append(members[i])
        rights.append(members[j])
    left, right = np.concatenate(lefts), np.concatenate(rights)
    lo, hi = np.minimum(left, right), np.maximum(left, right)
    pair = sorted_unique(lo * len(vectors) + hi)  # a pair seen in two probed clusters counts once
    sizes = [len(g) for g in groups]
    facts = {"search": "k-means clusters", "kmeans_clusters": len(groups), "largest_kmeans_cluster": max(sizes)}
    return pair // len(vectors), pair % len(vectors), facts


def embedding_matrix(column: pl.Series) -> np.ndarray:
    """The vectors of an embedding column: a fixed-size array column, or lists of one length (as JSON
    and most parquet writers store them); else one line naming the column."""
    from schemas.errors import CurateError

    if isinstance(column.dtype, pl.List):
        lengths = column.list.len()
        if column.null_count() or lengths.n_unique() != 1 or lengths[0] == 0:
            raise CurateError(
                f"column {column.name!r}: every row needs an embedding of the same length "
                f"(found lengths {sorted(set(lengths.drop_nulls().to_list()))[:5]} and {column.null_count()} nulls)"
            )
        column = column.cast(pl.Array(pl.Float32, lengths[0]))
    elif not isinstance(column.dtype, pl.Array) or column.null_count():
        raise CurateError(f"column {column.name!r} is {column.dtype}, not embeddings (arrays or lists of numbers)")
    return np.asarray(column.to_numpy(), dtype=np.float32)


class SemanticDedup(Step):
    """Remove rows whose embedding is within the cosine threshold of a kept row (`clusters`:
    representative, the default: of the row it is removed for; connected: directly or through a
    chain); `similarity` is the cosine with the kept row. Uses the `embedding_column` when the input
    has it, else embeds the texts (through the embedding cache)."""

    name = "dedup_semantic"
    version = "1"
    dask = None  # a recipe may set its DaskRuntime, used when texts must be embedded

    def __init__(self, config: SemanticConfig | None = None):
        super().__init__(config or SemanticConfig())

    def run(self, data: pl.DataFrame) -> StepResult:
        cfg: SemanticConfig = self.config
        frame, ident = canonical(data, cfg, self.name)
        vectors = unit_rows(self._vectors(frame[canonical_order(frame)], cfg))  # rows in id order
        left, right, facts = semantic_pairs(vectors, cfg)
        ci = frame[CI].to_numpy()
        if cfg.clusters == "representative":  # no chains: each removed row is a direct pair of its kept row
            order = ci[policy_rank(frame, cfg, ident)]  # the keep policy's order, as id-order positions
            labels = to_input_order(frame, representatives(frame.height, left, right, order))
        else:
            labels = to_input_order(frame, components(frame.height, left, right))
        facts["clusters"] = cfg.clusters

        def similarity(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            i, j = ci[i], ci[j]  # input positions -> id order, in which the shingles/vectors are
            return np.einsum("ij,ij->i", vectors[i], vectors[j]).astype(np.float64)

        facts["pairs_linked"] = int(len(left))
        return finish(self.name, "semantic", frame, ident, labels, similarity, cfg, {**self.params(), **facts})

    def _vectors(self, frame: pl.DataFrame, cfg: SemanticConfig) -> np.ndarray:
        if cfg.embedding_column in frame.columns:
            return embedding_matrix(frame[cfg.embedding_column])
        from pipelines.methods.embed import embed_texts, embedding_runtime

        texts = frame.select(normalized(pl.col(cfg.text_column), cfg.normalize).fill_null("")).to_series().to_list()
        return embed_texts(texts, cfg.embed, dask=embedding_runtime(self.dask))
