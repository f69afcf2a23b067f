"""Semantic dedup's distributed stages: each partition's unit vectors, a sample for k-means, each row's
nearest cells (the "bands" of the shuffle), pairs above the cosine threshold within a cell."""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.methods.dedup.distributed.files import GID, Plan, done, save_npy, save_npz, stage, write_parquet


def part_vectors(good: pl.DataFrame, cfg) -> np.ndarray:
    """Unit vectors of a partition's rows: its embedding column, else its texts embedded (through
    the embedding cache) in this task."""
    from pipelines.methods.dedup.semantic import unit_rows

    if cfg.embedding_column in good.columns:
        return unit_rows(np.asarray(good[cfg.embedding_column].to_numpy(), dtype=np.float32))
    from pipelines.methods.dedup.normalize import normalized
    from pipelines.methods.embed import embed_texts

    texts = good.select(normalized(pl.col(cfg.text_column), cfg.normalize).fill_null("")).to_series().to_list()
    return unit_rows(embed_texts(texts, cfg.embed))


@stage
def stage_sample(part: int, plan: Plan) -> str:
    """A random share of a partition's vectors with their global numbers (k-means training set)."""
    out = plan.dir("sample", f"{part:05d}.npz")
    if not done(out):
        vec = np.load(plan.dir("vectors", f"{part:05d}.npy"), mmap_mode="r")
        gid = pl.read_parquet(plan.dir("rows", f"{part:05d}.parquet"), columns=[GID])[GID].to_numpy()
        share = plan.facts["sample_share"]
        pick = (
            np.arange(len(gid))
            if share >= 1
            else np.flatnonzero(np.random.default_rng(plan.cfg.seed + part).random(len(gid)) < share)
        )
        save_npz(out, gid=gid[pick], vectors=np.asarray(vec[pick]))
    return str(out)


@stage
def stage_assign(part: int, plan: Plan) -> int:
    """Each row's `probes` nearest centroids, written to the shard files of those centroids."""
    marker = plan.dir("assigned", f"{part:05d}")
    if marker.exists():
        return part
    import faiss

    vec = np.load(plan.dir("vectors", f"{part:05d}.npy"))
    centroids = np.load(plan.dir("centroids.npy"))
    index = faiss.IndexFlatIP(centroids.shape[1])  # spherical k-means: nearest by inner product
    index.add(centroids)
    _, cell = index.search(vec, min(plan.cfg.probes, len(centroids)))
    gid = pl.read_parquet(plan.dir("rows", f"{part:05d}.parquet"), columns=[GID])[GID].to_numpy()
    local = np.repeat(np.arange(len(gid), dtype=np.int32), cell.shape[1])
    key = cell.ravel().astype(np.uint64)
    table = pl.DataFrame(
        {
            "shard": (key % np.uint64(plan.shards)).astype(np.int64),
            "band": np.zeros(len(key), np.uint8),
            "key": key,
            GID: gid[local],
            "part": np.full(len(key), part, np.int32),
            "local": local,
        }
    )
    for (s,), piece in table.partition_by("shard", as_dict=True, include_key=False).items():
        write_parquet(piece, plan.dir("bands", f"{s:04d}", f"{part:05d}.parquet"))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("")
    return part


def semantic_pairs(plan: Plan, t: pl.DataFrame, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs above the cosine threshold within each k-means cell of a shard (rows sorted by cell,
    then gid: the single-process order), a cell far over the target size split by k-means again; as
    positions in `t`, the smaller gid on the left."""
    from pipelines.methods.dedup.semantic import kmeans_groups, pairs_above

    parts, local = t["part"].to_numpy(), t["local"].to_numpy()
    maps = {}
    vectors = np.empty((t.height, 0), np.float32)
    for p in np.unique(parts):
        maps[int(p)] = np.load(plan.dir("vectors", f"{int(p):05d}.npy"), mmap_mode="r")
        sel = parts == p
        chunk = np.asarray(maps[int(p)][local[sel]])
        if vectors.shape[1] == 0:
            vectors = np.empty((t.height, chunk.shape[1]), np.float32)
        vectors[sel] = chunk
    bounds = np.flatnonzero(np.diff(bucket)) + 1
    lefts, rights = [], []
    for members in np.split(np.arange(t.height), bounds):
        if len(members) < 2:
            continue
        groups = [members]
        if len(members) > 8 * plan.cfg.cluster_size:
            groups = [members[sub] for sub in kmeans_groups(vectors[members], plan.cfg)]
        for g in groups:
            i, j = pairs_above(vectors[g], plan.cfg.threshold)
            lefts.append(g[i])
            rights.append(g[j])
    if not lefts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)


def pair_cosine(plan: Plan, pairs: pl.DataFrame) -> np.ndarray:
    """Cosine similarity of pairs (columns lp, ll, rp, rl) from the partitions' unit vectors."""
    out = np.zeros(pairs.height)
    pairs = pairs.with_row_index("_k")
    for (lp, rp), grp in pairs.partition_by("lp", "rp", as_dict=True).items():
        a = np.load(plan.dir("vectors", f"{lp:05d}.npy"), mmap_mode="r")
        b = np.load(plan.dir("vectors", f"{rp:05d}.npy"), mmap_mode="r")
        va, vb = np.asarray(a[grp["ll"].to_numpy()]), np.asarray(b[grp["rl"].to_numpy()])
        out[grp["_k"].to_numpy()] = np.einsum("ij,ij->i", va, vb).astype(np.float64)
    return out


def train_kmeans(plan: Plan, dask, valid: int, timed) -> dict:
    """Spherical k-means (faiss) on a sample of at most `sample_rows` vectors gathered in id order,
    k = rows / cluster_size as in one process; the centroids go to every assign task as a file."""
    import faiss

    cfg = plan.cfg
    k = max(2, valid // cfg.cluster_size)
    path = plan.dir("centroids.npy")
    if not path.exists():
        plan.facts["sample_share"] = min(1.0, plan.sample_rows / max(valid, 1))
        files = timed("sample", stage_sample, list(range(len(plan.parts))))
        got = [np.load(f) for f in files]
        gid = np.concatenate([g["gid"] for g in got])
        vectors = np.concatenate([g["vectors"] for g in got])[np.argsort(gid, kind="stable")]
        from pipelines.methods.dedup.semantic import _gpu_count

        km = faiss.Kmeans(
            vectors.shape[1],
            k,
            niter=cfg.kmeans_iter,
            seed=cfg.seed,
            spherical=True,
            gpu=_gpu_count() > 0,
            verbose=False,
        )
        km.train(np.ascontiguousarray(vectors, dtype=np.float32))
        save_npy(path, km.centroids)
    return {
        "search": "k-means clusters (trained on a sample, assigned per partition)",
        "kmeans_clusters": k,
        "kmeans_sample_rows": int(min(valid, plan.sample_rows)),
    }
