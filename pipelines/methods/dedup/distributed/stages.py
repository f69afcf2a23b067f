"""Stages 1 to 4 of the distributed dedup: ids, validation and signatures with the band shuffle,
candidate pairs per shard, and their verification by true Jaccard."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from pipelines.methods.dedup.config import DedupConfig
from pipelines.methods.dedup.distributed.files import (
    GID,
    POS,
    Part,
    Plan,
    done,
    read_part,
    save_npy,
    stage,
    write_json,
    write_parquet,
)
from pipelines.methods.dedup.distributed.semantic import part_vectors, semantic_pairs
from pipelines.methods.dedup.minhash import (
    agreement,
    band_keys,
    estimate_cutoff,
    jaccard,
    mix64,
    pairs_in_buckets,
    permutations,
    shingle_sets,
    signatures,
    sketch,
    unique_pairs,
)
from pipelines.methods.dedup.normalize import normalized_hashes

# -- stage 1: ids ----------------------------------------------------------------------------------


@stage
def stage_ids(part: Part, plan: Plan) -> int:
    out = plan.dir("ids", f"{part.index:05d}.parquet")
    if not done(out):
        ids = read_part(part, [plan.id_column]).to_series().drop_nulls().sort()
        write_parquet(ids.to_frame("id"), out)
    return part.index


# -- stage 2: validation, shingles, signatures, band shuffle ---------------------------------------


def policy_expr(cfg: DedupConfig) -> pl.Expr | None:
    if cfg.keep == "longest":
        return pl.col(cfg.text_column).cast(pl.String).str.len_chars()
    if cfg.keep == "highest_score":
        return pl.col(cfg.score_column)
    if cfg.keep == "oldest":
        return pl.col(cfg.time_column)
    return None


@stage
def stage_signatures(part: Part, plan: Plan) -> dict:
    """Validate, number and hash one partition; write its band keys to the shard files."""
    cfg = plan.cfg
    marker = plan.dir("rows", f"{part.index:05d}.parquet")
    if done(marker):
        return json.loads(plan.dir("rows", f"{part.index:05d}.json").read_text())
    frame = (
        read_part(part, plan.columns).with_row_index(POS, offset=part.start).with_columns(pl.col(POS).cast(pl.Int64))
    )
    ident, text = frame[plan.id_column], frame[cfg.text_column]
    gid = np.zeros(frame.height, dtype=np.int64)
    earlier = np.zeros(frame.height, dtype=bool)
    present = ident.fill_null(
        ident.drop_nulls().first() if ident.drop_nulls().len() else None
    )  # nulls: quarantined below
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
        pl.when(pl.col(plan.id_column).is_null())
        .then(pl.lit(f"{plan.id_column} is null"))
        .when(~pl.col(plan.id_column).is_first_distinct() | pl.Series(earlier))
        .then(pl.format("id '{}' repeated: first at an earlier row", pl.col(plan.id_column).cast(pl.String)))
        .when(text.is_null())
        .then(pl.lit(f"{cfg.text_column} is null: nothing to compare"))
    )
    checked = frame.with_columns(problem.alias("_error"))
    bad = checked.filter(pl.col("_error").is_not_null())
    good = checked.filter(pl.col("_error").is_null()).drop("_error")
    good_rows = np.flatnonzero(checked["_error"].is_null().to_numpy())
    if bad.height:
        from schemas.quarantine import quarantine_frame

        raw = [c for c in plan.columns]
        field_ = (
            pl.when(pl.col("_error").str.starts_with(cfg.text_column + " "))
            .then(pl.lit(cfg.text_column))
            .otherwise(pl.lit(plan.id_column))
        )
        write_parquet(
            quarantine_frame(
                bad.select(
                    pl.lit("validate").alias("step"),
                    pl.lit(plan.source).alias("source_file"),
                    (pl.col(POS) + 1).alias("row"),
                    field_.alias("field"),
                    pl.col("_error").alias("error"),
                    pl.struct([pl.col(c).cast(pl.String) for c in raw]).struct.json_encode().alias("raw"),
                )
            ),
            plan.dir("quarantine", f"{part.index:05d}.parquet"),
        )
    policy = policy_expr(cfg)
    rows = good.select(
        pl.col(POS),
        pl.col(GID),
        pl.col(plan.id_column).alias("id"),
        (policy if policy is not None else pl.lit(None)).alias("_policy"),
    )
    local = np.arange(good.height, dtype=np.int64)
    keys_out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (band, key, local)
    if plan.method == "exact":
        keys = normalized_hashes(good[cfg.text_column], cfg.normalize).to_numpy()
        keys_out.append((np.zeros(len(keys), np.uint8), keys, local))
    elif plan.method == "semantic":  # the vectors now; their k-means cells once centroids exist
        save_npy(plan.dir("vectors", f"{part.index:05d}.npy"), part_vectors(good, cfg))
    else:
        bands, r = plan.facts["lsh_bands"], plan.facts["lsh_rows"]
        a, b = permutations(cfg.num_perm, cfg.seed)
        offsets, values, sketches = [np.zeros(1, np.int64)], [], []
        texts = good[cfg.text_column]
        for start in range(0, good.height, plan.batch_rows):
            off, vals = shingle_sets(texts.slice(start, plan.batch_rows), cfg)
            empty = np.diff(off) == 0
            sig = signatures(off, vals, a, b)
            kb = band_keys(sig, bands, r, cfg.seed, empty)
            sketches.append(sketch(sig))
            del sig
            if empty.any():  # empty rows: keys of their own over all partitions (no shingles, no pairs)
                own = mix64(gid[good_rows[start : start + len(empty)][empty]].astype(np.uint64) + np.uint64(0xDEAD))
                kb[empty] = own[:, None] + np.arange(bands, dtype=np.uint64)
            n = kb.shape[0]
            keys_out.append(
                (
                    np.repeat(np.arange(bands, dtype=np.uint8)[None, :], n, 0).ravel(),
                    kb.ravel(),
                    np.repeat(local[start : start + n], bands),
                )
            )
            offsets.append(off[1:] + offsets[-1][-1])
            values.append(vals)
        # two plain .npy files, so that later stages map them and read only the rows they ask for
        save_npy(
            plan.dir("shingles", f"{part.index:05d}.values.npy"),
            np.concatenate(values) if values else np.zeros(0, np.uint32),
        )
        save_npy(plan.dir("shingles", f"{part.index:05d}.offsets.npy"), np.concatenate(offsets))
        save_npy(
            plan.dir("shingles", f"{part.index:05d}.sketch.npy"),
            np.concatenate(sketches) if sketches else np.zeros((0, cfg.num_perm), np.uint16),
        )
    band = np.concatenate([k[0] for k in keys_out]) if keys_out else np.zeros(0, np.uint8)
    key = np.concatenate([k[1] for k in keys_out]) if keys_out else np.zeros(0, np.uint64)
    loc = np.concatenate([k[2] for k in keys_out]) if keys_out else np.zeros(0, np.int64)
    gids = good[GID].to_numpy()[loc]
    shard = (key % np.uint64(plan.shards)).astype(np.int64)
    table = pl.DataFrame(
        {
            "shard": shard,
            "band": band,
            "key": key,
            GID: gids,
            "part": np.full(len(key), part.index, np.int32),
            "local": loc.astype(np.int32),
        }
    )
    for (s,), piece in table.partition_by("shard", as_dict=True, include_key=False).items():
        write_parquet(piece, plan.dir("bands", f"{s:04d}", f"{part.index:05d}.parquet"), scratch=True)
    info = {"part": part.index, "rows": part.rows, "valid": good.height, "quarantined": bad.height}
    write_json(info, plan.dir("rows", f"{part.index:05d}.json"))
    write_parquet(rows, marker)  # last: its presence means the whole stage is done for this partition
    return info


# -- stage 3: buckets -> candidate pairs -----------------------------------------------------------


@stage
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
    # a key held by one row makes no pair: dropped before the sort (most keys are single; the
    # single-process path pairs the same buckets, only sorting them all)
    t = pl.read_parquet(files).filter(pl.len().over("band", "key") > 1).sort("band", "key", GID)
    band, key, gid = t["band"].to_numpy(), t["key"].to_numpy(), t[GID].to_numpy()
    # a bucket is a run of one (band, key); rows are sorted by (band, key, gid)
    same = np.concatenate([[False], (key[1:] == key[:-1]) & (band[1:] == band[:-1])])
    bucket = np.cumsum(~same)
    if plan.method == "semantic":
        left, right = semantic_pairs(plan, t, bucket, gid)
    elif plan.method == "exact":  # every member to the bucket's smallest number
        first = np.flatnonzero(~same)
        anchor = gid[first][bucket - 1]
        sel = gid != anchor
        left, right = anchor[sel], gid[sel]
    else:
        left, right = pairs_in_buckets(bucket, gid, plan.cfg.max_bucket)
    left, right = unique_pairs(left, right)
    where = pl.DataFrame({GID: gid, "part": t["part"], "local": t["local"]}).unique(GID)
    pairs = (
        pl.DataFrame({"l": left, "r": right})
        .join(where.rename({GID: "l", "part": "lp", "local": "ll"}), on="l")
        .join(where.rename({GID: "r", "part": "rp", "local": "rl"}), on="r")
    )
    cutoff = (
        estimate_cutoff(plan.cfg.threshold, plan.cfg.num_perm, plan.cfg.estimate_sd)
        if plan.method == "near" and plan.cfg.verify
        else None
    )
    if cutoff is not None and pairs.height:
        # the estimate check here, so that only likely pairs travel to the verify stage; the others
        # are kept as (l, r) only, for its count of distinct candidates (a pair found in two bands can
        # sit in two shards; the estimate of a pair is the same in both)
        likely = pl.Series(sketch_estimates(plan, pairs) >= cutoff)
        for (p,), piece in pairs.filter(~likely).select("l", "r", "lp").partition_by("lp", as_dict=True).items():
            write_parquet(piece.drop("lp"), out_dir / f"{p:05d}.below.parquet", scratch=True)
        pairs = pairs.filter(likely)
    for (p,), piece in pairs.partition_by("lp", as_dict=True).items():
        write_parquet(piece, out_dir / f"{p:05d}.parquet")
    marker.write_text("")
    return shard


def sketch_of(plan: Plan, part: int) -> np.ndarray:
    return np.load(plan.dir("shingles", f"{part:05d}.sketch.npy"), mmap_mode="r")


def sketch_estimates(plan: Plan, pairs: pl.DataFrame, block: int = 250_000) -> np.ndarray:
    """MinHash estimates of pairs (columns lp, ll, rp, rl) anywhere in the input, from the mapped
    sketches of their partitions, `block` pairs at a time (128 MB of sketch rows). Per block and side,
    the rows are taken partition by partition in row order (one sort, not a mask per partition), and
    each mapping is dropped once its rows are copied: the pages a mapping touches count in the
    worker's RSS, which Dask holds to its memory limit (all partitions' sketches mapped at once took a
    worker to 3.2 GB at 10M rows)."""
    out = np.empty(pairs.height)
    perms = plan.cfg.num_perm
    for start in range(0, pairs.height, block):
        chunk = pairs.slice(start, block)
        sides = []
        for part_col, local_col in (("lp", "ll"), ("rp", "rl")):
            part = chunk[part_col].to_numpy().astype(np.int64)
            local = chunk[local_col].to_numpy().astype(np.int64)
            order = np.argsort((part << np.int64(32)) | local)
            bounds = np.flatnonzero(part[order][1:] != part[order][:-1]) + 1
            rows = np.empty((chunk.height, perms), np.uint16)
            for seg in np.split(order, bounds):
                mapped = sketch_of(plan, int(part[seg[0]]))
                rows[seg] = mapped[local[seg]]
                del mapped
            sides.append(rows)
        out[start : start + chunk.height] = agreement(*sides)
    return out


# -- stage 4: verification -------------------------------------------------------------------------


def shingles_of(plan: Plan, part: int, whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A partition's shingle sets: offsets in memory, values memory-mapped (~1.3 kB a row of 330
    characters; a task verifying pairs against many partitions touches only the pages of the rows
    in its pairs, not every partition's whole file), or read whole with `whole`."""
    values = np.load(plan.dir("shingles", f"{part:05d}.values.npy"), mmap_mode=None if whole else "r")
    return np.load(plan.dir("shingles", f"{part:05d}.offsets.npy")), values


def pair_jaccard(plan: Plan, pairs: pl.DataFrame, at_least: float | None = None) -> np.ndarray:
    """True Jaccard of pairs (columns lp, ll, rp, rl) whose left rows are all in one partition:
    that partition's shingle sets (read whole: each of its rows was in ~13 pairs at 10M rows) against
    one right partition's (mapped) at a time, right rows in row order. `at_least`: see `jaccard`."""
    if pairs.height == 0:
        return np.zeros(0)
    pairs = pairs.with_row_index("_k")
    lp = int(pairs["lp"][0])
    l_off, l_val = shingles_of(plan, lp, whole=True)
    out = np.zeros(pairs.height)
    for (rp,), grp in pairs.partition_by("rp", as_dict=True).items():
        grp = grp.sort("rl")
        left = grp["ll"].to_numpy().astype(np.int64)
        right = grp["rl"].to_numpy().astype(np.int64)
        out[grp["_k"].to_numpy()] = jaccard(
            l_off, l_val, left, right, other=None if rp == lp else shingles_of(plan, rp), at_least=at_least
        )
    return out


@stage
def stage_verify(part: int, plan: Plan) -> dict:
    out = plan.dir("edges", f"{part:05d}.parquet")
    if done(out):
        return json.loads(plan.dir("edges", f"{part:05d}.json").read_text())
    files = sorted(plan.dir("candidates").glob(f"*/{part:05d}.parquet"))
    pairs = (
        pl.read_parquet(files).unique(["l", "r"])
        if files
        else pl.DataFrame(
            schema={"l": pl.Int64, "r": pl.Int64, "lp": pl.Int32, "ll": pl.Int32, "rp": pl.Int32, "rl": pl.Int32}
        )
    )
    info = {"candidate_pairs": pairs.height}
    cfg = plan.cfg
    if plan.method == "near" and cfg.verify:
        if estimate_cutoff(cfg.threshold, cfg.num_perm, cfg.estimate_sd) is not None:  # checked in the buckets stage
            below = sorted(plan.dir("candidates").glob(f"*/{part:05d}.below.parquet"))
            dropped = pl.scan_parquet(below).unique(["l", "r"]).select(pl.len()).collect().item() if below else 0
            info.update(candidate_pairs=pairs.height + dropped, below_estimate=dropped)
        if pairs.height:
            pairs = pairs.filter(pl.Series(pair_jaccard(plan, pairs, at_least=cfg.threshold) >= cfg.threshold))
    info["pairs_linked"] = pairs.height
    write_json(info, plan.dir("edges", f"{part:05d}.json"))
    write_parquet(pairs.select("l", "r"), out)
    return info
