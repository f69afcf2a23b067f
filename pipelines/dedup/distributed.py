"""Exact and near dedup as partitioned Dask stages over parquet files on disk, for inputs that do not
fit one process. Every stage reads and writes files under a work folder, so a worker holds one
partition (or one shard, or one pair of partitions) at a time, whatever the input size, and a rerun
after a crash skips every task whose output is already there (each file is written atomically).

Stages (near; exact is the same with one "band", the hash of the normalised text, and no check):
1. ids: each partition's ids, sorted. A row's global number `gid` is the count of ids below its
   own over all partitions: unique, and in id order, so it plays the part of the single-process
   path's canonical (id) order without a global sort.
2. signatures: per partition, validation (null or repeated id, null text -> quarantine), shingle
   sets (kept on disk for the checks), MinHash, and the LSH band keys written to `shards` files by
   key: the band shuffle.
3. buckets: per shard, rows sharing a band key become candidate pairs (the single-process
   function on global numbers), written per partition of the pair's left row.
4. verify: per partition, its candidate pairs, checked by true Jaccard against the shingle sets of
   the partitions on the other side, one partition at a time.
5. components: union-find per partition's edges, then merged pairwise up a tree (each merge holds
   only the rows that have a duplicate); the label of a cluster is its smallest global number.
6. keep: the policy's row per cluster (the single-process expressions, gid breaking ties as the id
   does there); similarity of each removed row to its kept row, as in step 4.
7. write: per partition, the kept rows and the duplicates; concatenated by a streaming copy.

The results equal the single-process path's (tests/test_dedup_distributed.py checks kept ids,
`duplicate_of` and similarity on a LocalCluster and on an external scheduler).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.dedup.clusters import clip, cluster_summary
from pipelines.dedup.config import DedupConfig
from pipelines.dedup.minhash import (
    band_keys, jaccard, mix64, optimal_bands, pairs_in_buckets, permutations, shingle_sets, signatures, unique_pairs,
)
from pipelines.dedup.normalize import normalize_texts

POS, GID = "_pos", "_gid"  # input position (0-based, over all files), global number (id order)
METHODS = ("exact", "near", "semantic")


@dataclass(frozen=True)
class Part:
    index: int
    file: str
    offset: int
    rows: int
    start: int  # input position of its first row


@dataclass
class Plan:
    """Everything a task needs, sent to the workers (small: no data)."""

    method: str
    cfg: DedupConfig
    parts: list[Part]
    work: str
    shards: int
    id_column: str
    columns: list[str]
    source: str
    batch_rows: int
    columns_all: list[str] = field(default_factory=list)  # every input column (for the kept rows)
    sample_rows: int = 200_000  # semantic: k-means training sample
    facts: dict = field(default_factory=dict)

    def dir(self, *names: str) -> Path:
        return Path(self.work).joinpath(*names)


def memory_bytes(value: str | int | None) -> int | None:
    """'4GB', '512MiB', 4e9 -> bytes (dask's parser); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    from dask.utils import parse_bytes

    return int(parse_bytes(value))


def rows_per_partition(memory_limit: int | None, avg_chars: float) -> int:
    """Rows per partition so that what a signature task keeps for the whole partition (the text, its
    shingle set at 4 bytes a character, band keys, polars copies: about 12 bytes a character and
    2.5 kB a row) takes at most a quarter of a worker's memory; a second quarter is for the batch
    being shingled (`batch_rows_for`), the rest for the worker itself and the shuffle's buffers."""
    budget = (memory_limit or 4 * 2**30) // 4
    per_row = 12 * max(avg_chars, 16) + 2_500
    return int(min(1_000_000, max(5_000, budget // per_row)))


def batch_rows_for(memory_limit: int | None, avg_chars: float, configured: int) -> int:
    """Rows shingled at a time: about 60 bytes a character while shingling, within a quarter of the
    worker's memory, and never more than the step's own batch_rows."""
    budget = (memory_limit or 4 * 2**30) // 4
    return int(max(1_000, min(configured, budget // (60 * max(avg_chars, 16)))))


def parquet_parts(files: list[Path], partition_rows: int) -> list[Part]:
    import pyarrow.parquet as pq

    parts, start = [], 0
    for f in files:
        n = pq.ParquetFile(f).metadata.num_rows
        for off in range(0, n, partition_rows):
            rows = min(partition_rows, n - off)
            parts.append(Part(len(parts), str(f), off, rows, start + off))
        start += n
    return parts


def input_files(path: Path) -> list[Path]:
    """A parquet file, or a folder of them (a dataset: files in name order)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
        if not files:
            raise FileNotFoundError(f"{path}: no .parquet files in the folder")
        return files
    return [path]


def fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _read(part: Part, columns: list[str]) -> pl.DataFrame:
    return pl.scan_parquet(part.file).slice(part.offset, part.rows).select(columns).collect()


def _write(frame: pl.DataFrame, path: Path) -> None:
    """Atomic: a task killed mid-write leaves no file, so a rerun redoes exactly the missing ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)


def _save_npz(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _write_json(info: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _vectors(good: pl.DataFrame, cfg) -> np.ndarray:
    """Unit vectors of a partition's rows: its embedding column, else its texts embedded (through
    the embedding cache) in this task."""
    from pipelines.dedup.semantic import unit_rows

    if cfg.embedding_column in good.columns:
        return unit_rows(np.asarray(good[cfg.embedding_column].to_numpy(), dtype=np.float32))
    from pipelines.dedup.normalize import normalized
    from pipelines.embed import embed_texts

    texts = good.select(normalized(pl.col(cfg.text_column), cfg.normalize).fill_null("")).to_series().to_list()
    return unit_rows(embed_texts(texts, cfg.embed))


def stage_sample(part: int, plan: Plan) -> str:
    """A random share of a partition's vectors with their global numbers (k-means training set)."""
    out = plan.dir("sample", f"{part:05d}.npz")
    if not _done(out):
        vec = np.load(plan.dir("vectors", f"{part:05d}.npy"), mmap_mode="r")
        gid = pl.read_parquet(plan.dir("rows", f"{part:05d}.parquet"), columns=[GID])[GID].to_numpy()
        share = plan.facts["sample_share"]
        pick = np.arange(len(gid)) if share >= 1 else np.flatnonzero(np.random.default_rng(plan.cfg.seed + part).random(len(gid)) < share)
        _save_npz(out, gid=gid[pick], vectors=np.asarray(vec[pick]))
    return str(out)


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
    table = pl.DataFrame({"shard": (key % np.uint64(plan.shards)).astype(np.int64), "band": np.zeros(len(key), np.uint8),
                          "key": key, GID: gid[local], "part": np.full(len(key), part, np.int32), "local": local})
    for (s,), piece in table.partition_by("shard", as_dict=True, include_key=False).items():
        _write(piece, plan.dir("bands", f"{s:04d}", f"{part:05d}.parquet"))
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("")
    return part


def _semantic_pairs(plan: Plan, t: pl.DataFrame, bucket: np.ndarray, gid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs above the cosine threshold within each k-means cell of a shard (rows sorted by cell,
    then gid: the single-process order), a cell far over the target size split by k-means again."""
    from pipelines.dedup.semantic import kmeans_groups, pairs_above

    parts, local = t["part"].to_numpy(), t["local"].to_numpy()
    maps = {}
    vectors = np.empty((len(gid), 0), np.float32)
    for p in np.unique(parts):
        maps[int(p)] = np.load(plan.dir("vectors", f"{int(p):05d}.npy"), mmap_mode="r")
        sel = parts == p
        chunk = np.asarray(maps[int(p)][local[sel]])
        if vectors.shape[1] == 0:
            vectors = np.empty((len(gid), chunk.shape[1]), np.float32)
        vectors[sel] = chunk
    bounds = np.flatnonzero(np.diff(bucket)) + 1
    lefts, rights = [], []
    for members in np.split(np.arange(len(gid)), bounds):
        if len(members) < 2:
            continue
        groups = [members]
        if len(members) > 8 * plan.cfg.cluster_size:
            groups = [members[sub] for sub in kmeans_groups(vectors[members], plan.cfg)]
        for g in groups:
            i, j = pairs_above(vectors[g], plan.cfg.threshold)
            lefts.append(gid[g[i]])
            rights.append(gid[g[j]])
    if not lefts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(lefts), np.concatenate(rights)


def _done(path: Path) -> bool:
    return path.exists()


# -- stage 1: ids ----------------------------------------------------------------------------------


def stage_ids(part: Part, plan: Plan) -> int:
    out = plan.dir("ids", f"{part.index:05d}.parquet")
    if not _done(out):
        ids = _read(part, [plan.id_column]).to_series().drop_nulls().sort()
        _write(ids.to_frame("id"), out)
    return part.index


# -- stage 2: validation, shingles, signatures, band shuffle ---------------------------------------


def _policy_expr(cfg: DedupConfig) -> pl.Expr | None:
    if cfg.keep == "longest":
        return pl.col(cfg.text_column).cast(pl.String).str.len_chars()
    if cfg.keep == "highest_score":
        return pl.col(cfg.score_column)
    if cfg.keep == "oldest":
        return pl.col(cfg.time_column)
    return None


def stage_signatures(part: Part, plan: Plan) -> dict:
    """Validate, number and hash one partition; write its band keys to the shard files."""
    cfg = plan.cfg
    marker = plan.dir("rows", f"{part.index:05d}.parquet")
    if _done(marker):
        return json.loads(plan.dir("rows", f"{part.index:05d}.json").read_text())
    frame = _read(part, plan.columns).with_row_index(POS, offset=part.start).with_columns(pl.col(POS).cast(pl.Int64))
    ident, text = frame[plan.id_column], frame[cfg.text_column]
    gid = np.zeros(frame.height, dtype=np.int64)
    earlier = np.zeros(frame.height, dtype=bool)
    present = ident.fill_null(ident.drop_nulls().first() if ident.drop_nulls().len() else None)  # nulls: quarantined below
    for q in range(len(plan.parts)):
        other = pl.read_parquet(plan.dir("ids", f"{q:05d}.parquet")).to_series()
        if other.dtype != present.dtype and other.len():
            other = other.cast(present.dtype)
        left = other.search_sorted(present, side="left").to_numpy().astype(np.int64)
        gid += left
        if q < part.index:
            earlier |= other.search_sorted(present, side="right").to_numpy() > left
    frame = frame.with_columns(pl.Series(GID, gid))
    problem = (
        pl.when(pl.col(plan.id_column).is_null()).then(pl.lit(f"{plan.id_column} is null"))
        .when(~pl.col(plan.id_column).is_first_distinct() | pl.Series(earlier))
        .then(pl.format("id '{}' repeated: first at an earlier row", pl.col(plan.id_column).cast(pl.String)))
        .when(text.is_null()).then(pl.lit(f"{cfg.text_column} is null: nothing to compare"))
    )
    checked = frame.with_columns(problem.alias("_error"))
    bad = checked.filter(pl.col("_error").is_not_null())
    good = checked.filter(pl.col("_error").is_null()).drop("_error")
    good_rows = np.flatnonzero(checked["_error"].is_null().to_numpy())
    if bad.height:
        from schemas.quarantine import quarantine_frame

        raw = [c for c in plan.columns]
        field_ = pl.when(pl.col("_error").str.starts_with(cfg.text_column + " ")).then(pl.lit(cfg.text_column)).otherwise(pl.lit(plan.id_column))
        _write(quarantine_frame(bad.select(
            pl.lit("validate").alias("step"), pl.lit(plan.source).alias("source_file"), (pl.col(POS) + 1).alias("row"),
            field_.alias("field"), pl.col("_error").alias("error"),
            pl.struct([pl.col(c).cast(pl.String) for c in raw]).struct.json_encode().alias("raw"),
        )), plan.dir("quarantine", f"{part.index:05d}.parquet"))
    policy = _policy_expr(cfg)
    rows = good.select(pl.col(POS), pl.col(GID), pl.col(plan.id_column).alias("id"),
                       (policy if policy is not None else pl.lit(None)).alias("_policy"))
    local = np.arange(good.height, dtype=np.int64)
    keys_out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (band, key, local)
    if plan.method == "exact":
        keys = normalize_texts(good[cfg.text_column], cfg.normalize).hash(seed=0).to_numpy()
        keys_out.append((np.zeros(len(keys), np.uint8), keys, local))
    elif plan.method == "semantic":  # the vectors now; their k-means cells once centroids exist
        _save_npy(plan.dir("vectors", f"{part.index:05d}.npy"), _vectors(good, cfg))
    else:
        bands, r = plan.facts["lsh_bands"], plan.facts["lsh_rows"]
        a, b = permutations(cfg.num_perm, cfg.seed)
        offsets, values = [np.zeros(1, np.int64)], []
        texts = good[cfg.text_column]
        for start in range(0, good.height, plan.batch_rows):
            off, vals = shingle_sets(texts.slice(start, plan.batch_rows), cfg)
            empty = np.diff(off) == 0
            kb = band_keys(signatures(off, vals, a, b), bands, r, cfg.seed, empty)
            if empty.any():  # empty rows: keys of their own over all partitions (no shingles, no pairs)
                own = mix64(gid[good_rows[start:start + len(empty)][empty]].astype(np.uint64) + np.uint64(0xDEAD))
                kb[empty] = own[:, None] + np.arange(bands, dtype=np.uint64)
            n = kb.shape[0]
            keys_out.append((np.repeat(np.arange(bands, dtype=np.uint8)[None, :], n, 0).ravel(), kb.ravel(),
                             np.repeat(local[start:start + n], bands)))
            offsets.append(off[1:] + offsets[-1][-1])
            values.append(vals)
        _save_npz(plan.dir("shingles", f"{part.index:05d}.npz"), offsets=np.concatenate(offsets),
                  values=np.concatenate(values) if values else np.zeros(0, np.uint32))
    band = np.concatenate([k[0] for k in keys_out]) if keys_out else np.zeros(0, np.uint8)
    key = np.concatenate([k[1] for k in keys_out]) if keys_out else np.zeros(0, np.uint64)
    loc = np.concatenate([k[2] for k in keys_out]) if keys_out else np.zeros(0, np.int64)
    gids = good[GID].to_numpy()[loc]
    shard = (key % np.uint64(plan.shards)).astype(np.int64)
    table = pl.DataFrame({"shard": shard, "band": band, "key": key, GID: gids,
                          "part": np.full(len(key), part.index, np.int32), "local": loc.astype(np.int32)})
    for (s,), piece in table.partition_by("shard", as_dict=True, include_key=False).items():
        _write(piece, plan.dir("bands", f"{s:04d}", f"{part.index:05d}.parquet"))
    info = {"part": part.index, "rows": part.rows, "valid": good.height, "quarantined": bad.height}
    _write_json(info, plan.dir("rows", f"{part.index:05d}.json"))
    _write(rows, marker)  # last: its presence means the whole stage is done for this partition
    return info


# -- stage 3: buckets -> candidate pairs -----------------------------------------------------------


def stage_buckets(shard: int, plan: Plan) -> int:
    out_dir = plan.dir("candidates", f"{shard:04d}")
    marker = out_dir / "_done"
    if marker.exists():
        return shard
    files = sorted(plan.dir("bands", f"{shard:04d}").glob("*.parquet"))
    if not files:
        out_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text("")
        return shard
    t = pl.read_parquet(files).sort("band", "key", GID)
    band, key, gid = t["band"].to_numpy(), t["key"].to_numpy(), t[GID].to_numpy()
    # a bucket is a run of one (band, key); rows are sorted by (band, key, gid)
    same = np.concatenate([[False], (key[1:] == key[:-1]) & (band[1:] == band[:-1])])
    bucket = np.cumsum(~same)
    if plan.method == "semantic":
        left, right = _semantic_pairs(plan, t, bucket, gid)
    elif plan.method == "exact":  # every member to the bucket's smallest number
        first = np.flatnonzero(~same)
        anchor = gid[first][bucket - 1]
        sel = gid != anchor
        left, right = anchor[sel], gid[sel]
    else:
        left, right = pairs_in_buckets(bucket, gid, plan.cfg.max_bucket)
    left, right = unique_pairs(left, right)
    where = pl.DataFrame({GID: gid, "part": t["part"], "local": t["local"]}).unique(GID)
    pairs = (pl.DataFrame({"l": left, "r": right})
             .join(where.rename({GID: "l", "part": "lp", "local": "ll"}), on="l")
             .join(where.rename({GID: "r", "part": "rp", "local": "rl"}), on="r"))
    for (p,), piece in pairs.partition_by("lp", as_dict=True).items():
        _write(piece, out_dir / f"{p:05d}.parquet")
    marker.write_text("")
    return shard


# -- stage 4: verification -------------------------------------------------------------------------


def _shingles(plan: Plan, part: int) -> tuple[np.ndarray, np.ndarray]:
    z = np.load(plan.dir("shingles", f"{part:05d}.npz"))
    return z["offsets"], z["values"]


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


def pair_jaccard(plan: Plan, pairs: pl.DataFrame) -> np.ndarray:
    """True Jaccard of pairs (columns lp, ll, rp, rl) whose left rows are all in one partition:
    that partition's shingle sets and one other partition's at a time."""
    if pairs.height == 0:
        return np.zeros(0)
    pairs = pairs.with_row_index("_k")
    lp = int(pairs["lp"][0])
    l_off, l_val = _shingles(plan, lp)
    out = np.zeros(pairs.height)
    for (rp,), grp in pairs.partition_by("rp", as_dict=True).items():
        r_off, r_val = (l_off, l_val) if rp == lp else _shingles(plan, rp)
        # both sides in one CSR: the left partition's rows, then the right one's
        offsets = np.concatenate([l_off, r_off[1:] + l_off[-1]])
        values = np.concatenate([l_val, r_val])
        left = grp["ll"].to_numpy().astype(np.int64)
        right = grp["rl"].to_numpy().astype(np.int64) + (len(l_off) - 1)
        out[grp["_k"].to_numpy()] = jaccard(offsets, values, left, right)
    return out


def stage_verify(part: int, plan: Plan) -> dict:
    out = plan.dir("edges", f"{part:05d}.parquet")
    if _done(out):
        return json.loads(plan.dir("edges", f"{part:05d}.json").read_text())
    files = sorted(plan.dir("candidates").glob(f"*/{part:05d}.parquet"))
    pairs = pl.read_parquet(files).unique(["l", "r"]) if files else pl.DataFrame(
        schema={"l": pl.Int64, "r": pl.Int64, "lp": pl.Int32, "ll": pl.Int32, "rp": pl.Int32, "rl": pl.Int32})
    candidates = pairs.height
    if plan.method == "near" and plan.cfg.verify and pairs.height:
        sims = pair_jaccard(plan, pairs)
        pairs = pairs.filter(pl.Series(sims >= plan.cfg.threshold))
    info = {"candidate_pairs": candidates, "pairs_linked": pairs.height}
    _write_json(info, plan.dir("edges", f"{part:05d}.json"))
    _write(pairs.select("l", "r"), out)
    return info


# -- stage 5: connected components -----------------------------------------------------------------


def forest(left: np.ndarray, right: np.ndarray) -> pl.DataFrame:
    """(node, root) for every node of the edges, root = the smallest node of its component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes, inverse = np.unique(np.concatenate([left, right]), return_inverse=True)
    if len(nodes) == 0:
        return pl.DataFrame(schema={"node": pl.Int64, "root": pl.Int64})
    n = len(nodes)
    graph = coo_matrix((np.ones(len(left), np.int8), (inverse[: len(left)], inverse[len(left):])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    roots = np.full(labels.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(roots, labels, nodes)  # nodes are sorted: the first of each label is its minimum
    return pl.DataFrame({"node": nodes, "root": roots[labels]})


def stage_forest(item: tuple[str, list[str]], plan: Plan) -> str:
    """Union-find of edge files (round 0) or of forests (later rounds), written as one forest."""
    out, sources = item
    if _done(Path(out)):
        return out
    frames = [pl.read_parquet(s) for s in sources if Path(s).exists()]
    t = pl.concat([f.rename({f.columns[0]: "l", f.columns[1]: "r"}).select("l", "r") for f in frames]) if frames else pl.DataFrame(schema={"l": pl.Int64, "r": pl.Int64})
    _write(forest(t["l"].to_numpy(), t["r"].to_numpy()), Path(out))
    return out


# -- stage 6: keep policy and similarities ----------------------------------------------------------


def stage_members(part: int, plan: Plan) -> str:
    """The rows of one partition that have a duplicate, with their cluster (its root)."""
    out = plan.dir("members", f"{part:05d}.parquet")
    if not _done(out):
        rows = pl.read_parquet(plan.dir("rows", f"{part:05d}.parquet")).with_row_index("local").with_columns(
            pl.col("local").cast(pl.Int32), pl.lit(part, pl.Int32).alias("part"))
        labels = pl.scan_parquet(plan.dir("labels.parquet")).filter(pl.col("node").is_in(rows[GID].implode())).collect()
        _write(rows.join(labels, left_on=GID, right_on="node"), out)
    return str(out)


def keepers(members: pl.DataFrame, cfg: DedupConfig) -> pl.DataFrame:
    """Per cluster (root) the kept row: the single-process policy, gid standing for the id."""
    if cfg.keep == "first":
        order, desc = [pl.col(POS)], [False]
    elif cfg.keep == "oldest":
        order, desc = [pl.col("_policy"), pl.col(GID)], [False, False]
    else:
        order, desc = [pl.col("_policy"), pl.col(GID)], [True, False]
    return (members.sort(order, descending=desc, nulls_last=True)
            .group_by("root", maintain_order=True).first()
            .select("root", pl.col(GID).alias("kept_gid"), pl.col("id").alias("kept_id"),
                    pl.col("part").alias("kept_part"), pl.col("local").alias("kept_local")))


def stage_similarity(part: int, plan: Plan) -> str:
    """The removed rows of one partition: id, kept id, similarity (true Jaccard for near)."""
    out = plan.dir("removed", f"{part:05d}.parquet")
    if _done(out):
        return str(out)
    members = pl.read_parquet(plan.dir("members", f"{part:05d}.parquet"))
    kept = pl.read_parquet(plan.dir("keepers.parquet"))
    removed = members.join(kept, on="root").filter(pl.col(GID) != pl.col("kept_gid"))
    sides = removed.select(pl.col("part").alias("lp"), pl.col("local").alias("ll"),
                           pl.col("kept_part").alias("rp"), pl.col("kept_local").alias("rl"))
    if plan.method == "near" and removed.height:
        sims = pair_jaccard(plan, sides)
    elif plan.method == "semantic" and removed.height:
        sims = pair_cosine(plan, sides)
    else:
        sims = np.ones(removed.height)
    _write(removed.select(POS, GID, "id", "kept_id", "kept_part", "kept_local", "part", "local", "root",
                          pl.Series("similarity", sims, dtype=pl.Float64)), out)
    return str(out)


# -- stage 7: outputs --------------------------------------------------------------------------------


def stage_write(part: Part, plan: Plan) -> dict:
    kept_out = plan.dir("kept", f"{part.index:05d}.parquet")
    dup_out = plan.dir("duplicates", f"{part.index:05d}.parquet")
    if not _done(kept_out):
        frame = _read(part, plan.columns_all).with_row_index(POS, offset=part.start).with_columns(pl.col(POS).cast(pl.Int64))
        rows = pl.read_parquet(plan.dir("rows", f"{part.index:05d}.parquet"), columns=[POS])
        removed = pl.read_parquet(plan.dir("removed", f"{part.index:05d}.parquet"))
        kept = frame.join(rows, on=POS, how="semi").join(removed.select(POS), on=POS, how="anti").sort(POS)
        dups = removed.sort(POS).select(pl.col("id"), pl.col("kept_id").alias("duplicate_of"),
                                        pl.lit(plan.method).alias("method"), pl.col("similarity"))
        _write(dups, dup_out)
        _write(kept.drop(POS), kept_out)
    return {"part": part.index}


# -- the driver ------------------------------------------------------------------------------------


@dataclass
class DistributedResult:
    kept: Path  # parquet file
    duplicates: Path
    quarantine: pl.DataFrame
    rows_in: int
    valid: int
    kept_rows: int
    removed: int
    stats: dict
    seconds: dict
    workers: list[str]


def plan_for(method: str, cfg: DedupConfig, files: list[Path], work_root: Path, partition_rows: int | None,
             memory_limit: int | None, shards: int | None, source: str) -> Plan:
    if method not in METHODS:
        raise ValueError(f"distributed dedup runs {', '.join(METHODS)}; {method!r} runs in one process")
    id_col = cfg.id_column
    if not id_col:
        raise ValueError("distributed dedup needs an id column (id_column)")
    names = pl.scan_parquet(files[0]).collect_schema().names()
    for role, col in (("text_column", cfg.text_column), ("id_column", id_col), ("score_column", cfg.score_column),
                      ("time_column", cfg.time_column)):
        if col and col not in names:
            from pipelines.errors import InputFileError

            raise InputFileError(files[0], f"no column {col!r} ({role}); columns are: {', '.join(names)}")
    sample = pl.scan_parquet(files[0]).select(pl.col(cfg.text_column).cast(pl.String).str.len_chars().mean()).head(1).collect()
    avg = float(sample.item() or 100)
    prows = partition_rows or rows_per_partition(memory_limit, avg)
    parts = parquet_parts(files, prows)
    total = sum(p.rows for p in parts)
    nshards = shards or max(1, min(256, -(-total * {"near": 25, "semantic": 2}.get(method, 1) // 2_000_000)))
    key = hashlib.sha256(json.dumps({"m": method, "cfg": cfg.model_dump(mode="json"), "in": fingerprint(files),
                                     "p": prows, "s": nshards, "v": 1}, sort_keys=True).encode()).hexdigest()[:20]
    policy_cols = [c for c in (cfg.score_column, cfg.time_column) if c]
    if method == "semantic" and cfg.embedding_column in names:
        policy_cols.append(cfg.embedding_column)
    columns = list(dict.fromkeys([id_col, cfg.text_column, *policy_cols]))
    plan = Plan(method, cfg, parts, str(work_root / f"{method}-{key}"), nshards, id_col, columns, source,
                batch_rows=batch_rows_for(memory_limit, avg, getattr(cfg, "batch_rows", 50_000)))
    plan.columns_all = names
    if method == "near":
        bands, rows = (cfg.bands, cfg.rows) if cfg.bands else optimal_bands(cfg.threshold, cfg.num_perm)
        plan.facts.update(lsh_bands=bands, lsh_rows=rows)
    return plan


def run_distributed(method: str, cfg: DedupConfig, input: Path, output: Path, dask, work_root: Path,
                    partition_rows: int | None = None, memory_limit: int | None = None, shards: int | None = None,
                    params: dict | None = None, keep_work: bool = False, progress=None) -> DistributedResult:
    """Deduplicate the parquet file or folder `input` on the Dask runtime `dask`; writes
    output/kept.parquet and output/duplicates.parquet. `work_root` holds the stage files (reused by
    a rerun with the same input and settings; removed at the end unless `keep_work`)."""
    files = input_files(input)
    plan = plan_for(method, cfg, files, work_root, partition_rows, memory_limit, shards, str(input))
    say = progress or (lambda msg: None)
    seconds: dict[str, float] = {}
    Path(plan.work).mkdir(parents=True, exist_ok=True)
    parts, nparts = plan.parts, len(plan.parts)
    say(f"dedup {method} on dask: {sum(p.rows for p in parts):,} rows in {nparts} partitions, {plan.shards} shards, work folder {plan.work}")

    def timed(name, fn, items):
        t0 = time.perf_counter()
        out = dask.map(fn, items, plan=plan)
        seconds[name] = round(time.perf_counter() - t0, 3)
        say(f"  stage {name}: {len(items)} tasks, {seconds[name]:.1f} s")
        return out

    timed("ids", stage_ids, parts)
    infos = timed("signatures", stage_signatures, parts)
    if method == "semantic":
        plan.facts.update(train_kmeans(plan, dask, sum(i["valid"] for i in infos), timed))
        timed("assign", stage_assign, list(range(nparts)))
    timed("buckets", stage_buckets, list(range(plan.shards)))
    checks = timed("verify", stage_verify, list(range(nparts)))
    # components: a tree of merges, 4 inputs per task
    level = [str(plan.dir("edges", f"{p:05d}.parquet")) for p in range(nparts)]
    rnd = 0
    t0 = time.perf_counter()
    while True:
        groups = [level[i:i + 4] for i in range(0, len(level), 4)] if rnd else [[f] for f in level]
        items = [(str(plan.dir("forest", f"{rnd:02d}", f"{k:05d}.parquet")), g) for k, g in enumerate(groups)]
        level = dask.map(stage_forest, items, plan=plan)
        rnd += 1
        if len(level) == 1:
            break
    labels = plan.dir("labels.parquet")
    if not labels.exists():
        shutil.copyfile(level[0], labels)
    seconds["components"] = round(time.perf_counter() - t0, 3)
    timed("members", stage_members, list(range(nparts)))
    kp = plan.dir("keepers.parquet")
    if not kp.exists():
        _write(keepers(pl.read_parquet([plan.dir("members", f"{p:05d}.parquet") for p in range(nparts)]), cfg), kp)
    timed("similarity", stage_similarity, list(range(nparts)))
    timed("write", stage_write, parts)

    output.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    kept_path, dup_path = output / "kept.parquet", output / "duplicates.parquet"
    _sink([plan.dir("kept", f"{p.index:05d}.parquet") for p in parts], kept_path)
    _sink([plan.dir("duplicates", f"{p.index:05d}.parquet") for p in parts], dup_path)
    seconds["concat"] = round(time.perf_counter() - t0, 3)
    qfiles = sorted(plan.dir("quarantine").glob("*.parquet"))
    from schemas.quarantine import empty_quarantine

    quarantine = pl.read_parquet(qfiles) if qfiles else empty_quarantine()
    valid = sum(i["valid"] for i in infos)
    rows_in = sum(i["rows"] for i in infos)
    removed = pl.scan_parquet(dup_path).select(pl.len()).collect().item()
    kept_rows = pl.scan_parquet(kept_path).select(pl.len()).collect().item()
    if kept_rows + removed != valid:
        raise AssertionError(f"dedup lost or repeated ids: {valid} valid rows, {kept_rows} kept + {removed} duplicates")
    facts = {**plan.facts, "candidate_pairs": sum(c["candidate_pairs"] for c in checks),
             "pairs_linked": sum(c["pairs_linked"] for c in checks)}
    if method == "exact":
        facts = {}
    elif method == "semantic":
        facts = {k: plan.facts[k] for k in ("search", "kmeans_clusters", "kmeans_sample_rows")}
        facts["pairs_linked"] = sum(c["pairs_linked"] for c in checks)
    stats = distributed_stats(plan, valid, {**(params or {}), **facts})
    stats["engine"] = {"kind": "dask", "partitions": nparts, "shards": plan.shards,
                       "partition_rows": parts[0].rows if parts else 0, "seconds": seconds}
    workers = sorted(dask.workers_used)
    if not keep_work:
        shutil.rmtree(plan.work, ignore_errors=True)
    return DistributedResult(kept_path, dup_path, quarantine, rows_in, valid, kept_rows, removed, stats, seconds, workers)


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
        from pipelines.dedup.semantic import _gpu_count

        km = faiss.Kmeans(vectors.shape[1], k, niter=cfg.kmeans_iter, seed=cfg.seed, spherical=True,
                          gpu=_gpu_count() > 0, verbose=False)
        km.train(np.ascontiguousarray(vectors, dtype=np.float32))
        _save_npy(path, km.centroids)
    return {"search": "k-means clusters (trained on a sample, assigned per partition)", "kmeans_clusters": k,
            "kmeans_sample_rows": int(min(valid, plan.sample_rows))}


def _sink(files: list[Path], out: Path) -> None:
    """Concatenate part files into one parquet file, streaming (bounded memory)."""
    tmp = out.with_name(f".{out.name}.tmp")
    pl.scan_parquet(files).sink_parquet(tmp)
    os.replace(tmp, out)


def distributed_stats(plan: Plan, valid: int, params: dict) -> dict:
    """The single-process cluster statistics, from the files of the stages."""
    cfg, nparts = plan.cfg, len(plan.parts)
    members = pl.scan_parquet([plan.dir("members", f"{p:05d}.parquet") for p in range(nparts)])
    sizes = members.group_by("root").len().collect()["len"]
    removed = pl.scan_parquet([plan.dir("removed", f"{p:05d}.parquet") for p in range(nparts)])
    sims = removed.select("similarity").collect().to_series()
    examples = []
    if cfg.examples > 0 and sims.len():
        ordered = removed.select("id", "kept_id", "similarity", "part", "local", "kept_part", "kept_local").collect().sort("similarity", "id")
        picks = np.unique(np.linspace(0, ordered.height - 1, min(cfg.examples, ordered.height)).round().astype(int))
        sample = ordered[picks.tolist()]
        texts = {}
        for p in set(sample["part"].to_list()) | set(sample["kept_part"].to_list()):
            valid_rows = pl.read_parquet(plan.dir("rows", f"{p:05d}.parquet"), columns=[POS])[POS]
            frame = _read(plan.parts[p], [cfg.text_column]).with_row_index(POS, offset=plan.parts[p].start)
            frame = frame.filter(pl.col(POS).cast(pl.Int64).is_in(valid_rows.implode()))
            texts[p] = frame[cfg.text_column].cast(pl.String)
        for row in sample.iter_rows(named=True):
            examples.append({"id": row["id"], "text": clip(texts[row["part"]][row["local"]]), "duplicate_of": row["kept_id"],
                             "kept_text": clip(texts[row["kept_part"]][row["kept_local"]]), "similarity": round(float(row["similarity"]), 4)})
    return cluster_summary(plan.method, params, valid, sizes, sims, examples)
