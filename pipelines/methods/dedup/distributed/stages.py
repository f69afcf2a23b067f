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
    band_keys,
    estimate_cutoff,
    estimated_jaccard,
    jaccard,
    mix64,
    pairs_in_buckets,
    permutations,
    screen_bits,
    screen_limit,
    shingle_sets,
    signatures,
    sketch,
    sorted_unique,
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


@stage
def stage_ranks(parts: int, plan: Plan) -> int:
    """Every id's global number: the count of ids below it over all partitions (the single process
    numbers its rows in id order, so both engines pair the same rows in a bucket larger than
    max_bucket), and whether it occurs in an earlier partition (a repeat, quarantined). One task
    reads the partitions' sorted ids once and sorts them together, and writes per partition, in the
    order of its ids file, the numbers and the flags. (Each signature task used to search every
    partition's ids: work of the square of the partitions, 28 s of 2 workers' time at 10M rows.)"""
    marker = plan.dir("ranks", "_done")
    if marker.exists():
        return parts
    frames = [
        pl.read_parquet(plan.dir("ids", f"{q:05d}.parquet")).with_columns(pl.lit(q, pl.Int32).alias("q"))
        for q in range(parts)
    ]
    ids = pl.concat(frames, how="vertical_relaxed").with_row_index("at").sort("id", "q", maintain_order=True)
    start = (pl.col("id") != pl.col("id").shift(1)).fill_null(True)  # the first row of each id's run
    ranked = ids.with_columns(
        pl.when(start).then(pl.int_range(pl.len(), dtype=pl.Int64)).forward_fill().alias(GID),
        (pl.col("q") > pl.when(start).then(pl.col("q")).forward_fill()).alias("earlier"),
    ).sort("at")
    offset = 0
    for q, frame in enumerate(frames):
        write_parquet(ranked.slice(offset, frame.height).select(GID, "earlier"), plan.dir("ranks", f"{q:05d}.parquet"))
        offset += frame.height
    marker.write_text("")
    return parts


# -- stage 2: validation, shingles, signatures, band shuffle ---------------------------------------


def screen_of(plan: Plan) -> int | None:
    """The screen's limit of differing bits (near with verify and an estimate), else None."""
    cfg = plan.cfg
    if plan.method != "near" or not cfg.verify:
        return None
    return screen_limit(cfg.threshold, cfg.num_perm, cfg.estimate_sd)


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
    own = pl.read_parquet(plan.dir("ids", f"{part.index:05d}.parquet")).to_series()
    if own.len():  # each row's place in its partition's sorted ids, and there the global number
        if own.dtype != present.dtype:
            own = own.cast(present.dtype)
        at = own.search_sorted(present, side="left").to_numpy().astype(np.int64)  # every id is in `own`
        ranks = pl.read_parquet(plan.dir("ranks", f"{part.index:05d}.parquet"))
        gid, earlier = ranks[GID].to_numpy()[at], ranks["earlier"].to_numpy()[at]
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
        offsets, values, sketches, bits = [np.zeros(1, np.int64)], [], [], []
        screened = screen_of(plan) is not None
        texts = good[cfg.text_column]
        for start in range(0, good.height, plan.batch_rows):
            off, vals = shingle_sets(texts.slice(start, plan.batch_rows), cfg)
            empty = np.diff(off) == 0
            sig = signatures(off, vals, a, b)
            kb = band_keys(sig, bands, r, cfg.seed, empty)
            sketches.append(sketch(sig))
            if screened:
                bits.append(screen_bits(sig))
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
    columns = {
        "shard": shard,
        "band": band,
        "key": key,
        GID: gids,
        "part": np.full(len(key), part.index, np.int32),
        "local": loc.astype(np.int32),
    }
    if screen_of(plan) is not None:
        # each key's row carries its screen bits (16 bytes at 128 permutations) to the buckets stage:
        # read from a file per partition there instead, every shard would touch every partition's
        # pages, work of shards x rows (x9.6 the shards and x10 the rows at 10M)
        screen = np.concatenate(bits) if bits else np.zeros((0, -(-cfg.num_perm // 64)), np.uint64)
        columns |= {f"screen{w}": screen[loc, w] for w in range(screen.shape[1])}
    table = pl.DataFrame(columns)
    for (s,), piece in table.partition_by("shard", as_dict=True, include_key=False).items():
        write_parquet(piece, plan.dir("bands", f"{s:04d}", f"{part.index:05d}.parquet"), scratch=True)
    info = {"part": part.index, "rows": part.rows, "valid": good.height, "quarantined": bad.height}
    write_json(info, plan.dir("rows", f"{part.index:05d}.json"))
    save_npy(plan.dir("rows", f"{part.index:05d}.gid.npy"), rows[GID].to_numpy())  # by local row
    write_parquet(rows, marker)  # last: its presence means the whole stage is done for this partition
    return info


# -- stage 3: buckets -> candidate pairs -----------------------------------------------------------


@stage
def stage_buckets(shard: int, plan: Plan) -> dict:
    """The candidate pairs of one shard's buckets, screened (near), written to the left row's
    partition; returns how many the screen dropped (a pair counts once per band that found it)."""
    out_dir = plan.dir("candidates", f"{shard:04d}")
    marker = out_dir / "_done"
    if marker.exists():
        return json.loads(marker.read_text())
    files = sorted(plan.dir("bands", f"{shard:04d}").glob("*.parquet"))
    info = {"shard": shard, "screened_out": 0}
    if not files:
        out_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(info))
        return info
    # a key held by one row makes no pair: dropped before the sort (most keys are single; the
    # single-process path pairs the same buckets, only sorting them all). Lazy: the same query
    # eagerly costs twice the CPU (1.04 against 0.50 s on a 1.9M-row shard, one thread)
    rows = pl.scan_parquet(files)
    if plan.method == "near":  # by key alone (0.30 against 0.74 s on a 1M-row shard, one thread):
        # near pairs need no order in a bucket (`pairs_in_buckets` finds a large one's smallest gid)
        t = rows.filter(pl.len().over("key") > 1).sort("key").collect()
        band, key = t["band"].to_numpy(), t["key"].to_numpy()
        if ((key[1:] == key[:-1]) & (band[1:] != band[:-1])).any():  # one key in two bands: odds 2^-64
            t = t.sort("key", "band")  # a pair of keys; then each band's rows must be one run
    else:
        t = rows.filter(pl.len().over("band", "key") > 1).sort("band", "key", GID).collect()
    band, key, gid = t["band"].to_numpy(), t["key"].to_numpy(), t[GID].to_numpy()
    # a bucket is a run of one (band, key); rows are sorted by (band, key, gid), or (key, band) for near
    same = np.concatenate([[False], (key[1:] == key[:-1]) & (band[1:] == band[:-1])])
    bucket = np.cumsum(~same)
    # pairs as positions in `t`, then the smaller gid on the left
    if plan.method == "semantic":
        left, right = semantic_pairs(plan, t, bucket)
    elif plan.method == "exact":  # every member to the bucket's first (smallest number)
        first = np.flatnonzero(~same)[bucket - 1]
        sel = np.arange(len(gid)) != first
        left, right = first[sel], np.flatnonzero(sel)
    else:  # screened as they are paired: most background candidates stop here, before the shuffle
        limit = screen_of(plan)
        bits = (
            None if limit is None else np.column_stack([t[c].to_numpy() for c in t.columns if c.startswith("screen")])
        )
        left, right, info["screened_out"] = pairs_in_buckets(
            bucket, np.arange(len(gid), dtype=np.int64), plan.cfg.max_bucket, bits, limit, rank=gid
        )
    part, local = t["part"].to_numpy(), t["local"].to_numpy()
    swap = gid[left] > gid[right]  # (k-means may split a cell out of order)
    left, right = np.where(swap, right, left), np.where(swap, left, right)
    # a pair met in two bands of this shard is written twice: the verify stage drops all copies
    pairs = pl.DataFrame({"lp": part[left], "ll": local[left], "rp": part[right], "rl": local[right]})
    # to the left row's partition, as locations only (12 bytes a pair: the gids are looked up for
    # the pairs that link). No estimate here: a pair of near-duplicates meets in most of the 25 bands,
    # so it sits in ~20 shards; the verify stage checks it once, after dropping the copies
    for (p,), piece in pairs.partition_by("lp", as_dict=True, include_key=False).items():
        write_parquet(piece, out_dir / f"{p:05d}.parquet", scratch=True)
    marker.write_text(json.dumps(info))
    return info


def sketch_of(plan: Plan, part: int, whole: bool = False) -> np.ndarray:
    return np.load(plan.dir("shingles", f"{part:05d}.sketch.npy"), mmap_mode=None if whole else "r")


def gids_of(plan: Plan, part: int) -> np.ndarray:
    """A partition's global row numbers, by local row (memory-mapped)."""
    return np.load(plan.dir("rows", f"{part:05d}.gid.npy"), mmap_mode="r")


# -- stage 4: verification -------------------------------------------------------------------------


def shingles_of(plan: Plan, part: int, whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A partition's shingle sets, offsets and values memory-mapped (~1.3 kB a row of 330 characters;
    a task verifying pairs against many partitions touches only the pages of the rows in its pairs,
    not every partition's whole file), or read whole with `whole`."""
    mode = None if whole else "r"
    return tuple(
        np.load(plan.dir("shingles", f"{part:05d}.{name}.npy"), mmap_mode=mode) for name in ("offsets", "values")
    )


def right_groups(rp: np.ndarray, rl: np.ndarray, ordered: bool = False):
    """(right partition, pair numbers) of pairs, one right partition at a time, its rows in row order
    (so a mapped file is read front to back); `ordered`: the pairs are sorted by (rp, rl) already."""
    order = np.arange(len(rp)) if ordered else np.lexsort((rl, rp))
    bounds = np.flatnonzero(rp[order][1:] != rp[order][:-1]) + 1
    for k in np.split(order, bounds) if len(order) else ():
        yield int(rp[k[0]]), k


def distinct_locations(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct pairs (ll, rp, rl) of the shards' files, sorted by (rp, rl, ll): one sort of the
    three packed in an int64 (on 5.8M pairs 0.45 s, where polars' unique and a sort per right
    partition took 1.3 s), or a lexsort where they do not fit."""
    ll, rp, rl = (frame[c].to_numpy().astype(np.int64) for c in ("ll", "rp", "rl"))
    if len(ll) == 0:
        return ll, rp, rl
    bits_l, bits_p = max(int(ll.max()), int(rl.max()), 1).bit_length(), max(int(rp.max()), 1).bit_length()
    if 2 * bits_l + bits_p <= 63:
        key = sorted_unique((rp << np.int64(2 * bits_l)) | (rl << np.int64(bits_l)) | ll)
        mask = np.int64((1 << bits_l) - 1)
        return key & mask, key >> np.int64(2 * bits_l), (key >> np.int64(bits_l)) & mask
    order = np.lexsort((ll, rl, rp))
    ll, rp, rl = ll[order], rp[order], rl[order]
    first = np.concatenate([[True], (ll[1:] != ll[:-1]) | (rp[1:] != rp[:-1]) | (rl[1:] != rl[:-1])])
    return ll[first], rp[first], rl[first]


def pair_jaccard(plan: Plan, pairs: pl.DataFrame) -> np.ndarray:
    """True Jaccard of pairs (columns lp, ll, rp, rl) whose left rows are all in one partition."""
    if pairs.height == 0:
        return np.zeros(0)
    lp = int(pairs["lp"][0])
    l_off, l_val = shingles_of(plan, lp, whole=True)
    ll, rp, rl = (pairs[c].to_numpy().astype(np.int64) for c in ("ll", "rp", "rl"))
    out = np.zeros(pairs.height)
    for q, k in right_groups(rp, rl):
        out[k] = jaccard(l_off, l_val, ll[k], rl[k], other=None if q == lp else shingles_of(plan, q))
    return out


def check_pairs(plan: Plan, part: int, ll: np.ndarray, rp: np.ndarray, rl: np.ndarray) -> tuple[np.ndarray, int]:
    """Which distinct candidate pairs of partition `part` (sorted by right partition and row) link,
    and how many fell below the MinHash estimate cutoff. This partition's sketches and shingle sets
    are read whole (its rows are the left side of every pair); the right rows' are memory-mapped,
    one partition at a time in row order, so a task touches only the pages of the rows in its pairs
    and holds one mapping at a time (the pages a mapping touches count in the worker's RSS, which
    Dask holds to its memory limit). The estimate first, then true Jaccard for the pairs past it."""
    cfg = plan.cfg
    cutoff = estimate_cutoff(cfg.threshold, cfg.num_perm, cfg.estimate_sd)
    links = np.zeros(len(ll), dtype=bool)
    below = 0
    if len(ll) == 0:
        return links, below
    l_sketch = sketch_of(plan, part, whole=True) if cutoff is not None else None
    l_off, l_val = shingles_of(plan, part, whole=True)
    for q, k in right_groups(rp, rl, ordered=True):
        if cutoff is not None:
            r_sketch = l_sketch if q == part else sketch_of(plan, q)
            likely = estimated_jaccard(l_sketch, r_sketch, ll[k], rl[k]) >= cutoff
            below += int(len(k) - likely.sum())
            k = k[likely]
        other = None if q == part else shingles_of(plan, q)
        links[k[jaccard(l_off, l_val, ll[k], rl[k], other=other, at_least=cfg.threshold) >= cfg.threshold]] = True
    return links, below


@stage
def stage_verify(part: int, plan: Plan) -> dict:
    """The distinct candidate pairs whose left row is in this partition (a pair found in several
    bands arrives from several shards), checked (near) and written as edges of global row numbers."""
    out = plan.dir("edges", f"{part:05d}.parquet")
    if done(out):
        return json.loads(plan.dir("edges", f"{part:05d}.json").read_text())
    files = sorted(plan.dir("candidates").glob(f"*/{part:05d}.parquet"))
    ll, rp, rl = distinct_locations(
        pl.read_parquet(files) if files else pl.DataFrame(schema={"ll": pl.Int32, "rp": pl.Int32, "rl": pl.Int32})
    )
    info = {"candidate_pairs": len(ll)}
    cfg = plan.cfg
    if plan.method == "near" and cfg.verify:
        links, below = check_pairs(plan, part, ll, rp, rl)
        if estimate_cutoff(cfg.threshold, cfg.num_perm, cfg.estimate_sd) is not None:
            info["below_estimate"] = below
        ll, rp, rl = ll[links], rp[links], rl[links]
    info["pairs_linked"] = len(ll)
    left = np.asarray(gids_of(plan, part))[ll]
    right = np.empty(len(ll), dtype=np.int64)
    for q, k in right_groups(rp, rl, ordered=True):
        right[k] = gids_of(plan, q)[rl[k]]
    write_json(info, plan.dir("edges", f"{part:05d}.json"))
    write_parquet(pl.DataFrame({"l": left, "r": right}), out)
    return info
