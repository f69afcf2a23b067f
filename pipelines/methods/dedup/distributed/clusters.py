"""Stages 5 to 7 of the distributed dedup: connected components merged up a tree, the keep policy
per cluster with each removed row's similarity, and the kept rows and duplicates per partition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from pipelines.methods.dedup.config import DedupConfig
from pipelines.methods.dedup.distributed.files import GID, POS, Part, Plan, done, read_part, stage, write_parquet
from pipelines.methods.dedup.distributed.semantic import pair_cosine
from pipelines.methods.dedup.distributed.stages import pair_jaccard
from pipelines.methods.dedup.minhash import unique_inverse

# -- stage 5: connected components -----------------------------------------------------------------


def forest(left: np.ndarray, right: np.ndarray) -> pl.DataFrame:
    """(node, root) for every node of the edges, root = the smallest node of its component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    nodes, inverse = unique_inverse(np.concatenate([left, right]))
    if len(nodes) == 0:
        return pl.DataFrame(schema={"node": pl.Int64, "root": pl.Int64})
    n = len(nodes)
    graph = coo_matrix((np.ones(len(left), np.int8), (inverse[: len(left)], inverse[len(left) :])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    roots = np.full(labels.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(roots, labels, nodes)  # nodes are sorted: the first of each label is its minimum
    return pl.DataFrame({"node": nodes, "root": roots[labels]})


@stage
def stage_forest(item: tuple[str, list[str]], plan: Plan) -> str:
    """Union-find of edge files (round 0) or of forests (later rounds), written as one forest."""
    out, sources = item
    if done(Path(out)):
        return out
    frames = [pl.read_parquet(s) for s in sources if Path(s).exists()]
    t = (
        pl.concat([f.rename({f.columns[0]: "l", f.columns[1]: "r"}).select("l", "r") for f in frames])
        if frames
        else pl.DataFrame(schema={"l": pl.Int64, "r": pl.Int64})
    )
    write_parquet(forest(t["l"].to_numpy(), t["r"].to_numpy()), Path(out))
    return out


# -- stage 6: keep policy and similarities ----------------------------------------------------------


@stage
def stage_members(part: int, plan: Plan) -> str:
    """The rows of one partition that have a duplicate, with their cluster (its root)."""
    out = plan.dir("members", f"{part:05d}.parquet")
    if not done(out):
        rows = (
            pl.read_parquet(plan.dir("rows", f"{part:05d}.parquet"))
            .with_row_index("local")
            .with_columns(pl.col("local").cast(pl.Int32), pl.lit(part, pl.Int32).alias("part"))
        )
        labels = pl.scan_parquet(plan.dir("labels.parquet")).filter(pl.col("node").is_in(rows[GID].implode())).collect()
        write_parquet(rows.join(labels, left_on=GID, right_on="node"), out)
    return str(out)


def keepers(members: pl.DataFrame, cfg: DedupConfig) -> pl.DataFrame:
    """Per cluster (root) the kept row: the single-process policy, gid standing for the id."""
    if cfg.keep == "first":
        order, desc = [pl.col(POS)], [False]
    elif cfg.keep == "oldest":
        order, desc = [pl.col("_policy"), pl.col(GID)], [False, False]
    else:
        order, desc = [pl.col("_policy"), pl.col(GID)], [True, False]
    return (
        members.sort(order, descending=desc, nulls_last=True)
        .group_by("root", maintain_order=True)
        .first()
        .select(
            "root",
            pl.col(GID).alias("kept_gid"),
            pl.col("id").alias("kept_id"),
            pl.col("part").alias("kept_part"),
            pl.col("local").alias("kept_local"),
        )
    )


@stage
def stage_similarity(part: int, plan: Plan) -> str:
    """The removed rows of one partition: id, kept id, similarity (true Jaccard for near)."""
    out = plan.dir("removed", f"{part:05d}.parquet")
    if done(out):
        return str(out)
    members = pl.read_parquet(plan.dir("members", f"{part:05d}.parquet"))
    kept = pl.read_parquet(plan.dir("keepers.parquet"))
    removed = members.join(kept, on="root").filter(pl.col(GID) != pl.col("kept_gid"))
    sides = removed.select(
        pl.col("part").alias("lp"),
        pl.col("local").alias("ll"),
        pl.col("kept_part").alias("rp"),
        pl.col("kept_local").alias("rl"),
    )
    if plan.method == "near" and removed.height:
        sims = pair_jaccard(plan, sides)
    elif plan.method == "semantic" and removed.height:
        sims = pair_cosine(plan, sides)
    else:
        sims = np.ones(removed.height)
    write_parquet(
        removed.select(
            POS,
            GID,
            "id",
            "kept_id",
            "kept_part",
            "kept_local",
            "part",
            "local",
            "root",
            pl.Series("similarity", sims, dtype=pl.Float64),
        ),
        out,
    )
    return str(out)


# -- stage 7: outputs --------------------------------------------------------------------------------


@stage
def stage_write(part: Part, plan: Plan) -> dict:
    kept_out = plan.dir("kept", f"{part.index:05d}.parquet")
    dup_out = plan.dir("duplicates", f"{part.index:05d}.parquet")
    if not done(kept_out):
        frame = (
            read_part(part, plan.columns_all)
            .with_row_index(POS, offset=part.start)
            .with_columns(pl.col(POS).cast(pl.Int64))
        )
        rows = pl.read_parquet(plan.dir("rows", f"{part.index:05d}.parquet"), columns=[POS])
        removed = pl.read_parquet(plan.dir("removed", f"{part.index:05d}.parquet"))
        kept = frame.join(rows, on=POS, how="semi").join(removed.select(POS), on=POS, how="anti").sort(POS)
        dups = removed.sort(POS).select(
            pl.col("id"),
            pl.col("kept_id").alias("duplicate_of"),
            pl.lit(plan.method).alias("method"),
            pl.col("similarity"),
        )
        write_parquet(dups, dup_out)
        write_parquet(kept.drop(POS), kept_out)
    return {"part": part.index}
