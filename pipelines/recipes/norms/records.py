"""The norms recipe's published records: `situations` (NormScenario) and `threads` (Thread)."""

from __future__ import annotations

import polars as pl

from pipelines.methods.privacy import PseudonymKey
from schemas.envelope import envelope_columns, stable_id

from .steps import VERDICTS

NAME = "norms"


def id_mapper(key: PseudonymKey, keep: bool):
    if keep:
        return lambda fullname: fullname
    return key.keyed_id


def _published(column: pl.Expr, ids) -> pl.Expr:
    return column.map_elements(ids, return_dtype=pl.String)


def vote_table(comments: pl.DataFrame) -> pl.DataFrame:
    """Per post (link_id): votes per verdict, their shares, the majority (null on a tie)."""
    votes = comments.filter(pl.col("verdict").is_not_null())
    counts = votes.group_by("link_id", "verdict").len()
    wide = (
        pl.DataFrame({"link_id": counts["link_id"].unique()})
        if counts.height
        else pl.DataFrame(schema={"link_id": pl.String})
    )
    for v in VERDICTS:
        wide = wide.join(
            counts.filter(pl.col("verdict") == v).select("link_id", pl.col("len").alias(v)), on="link_id", how="left"
        )
    wide = wide.with_columns([pl.col(v).fill_null(0).cast(pl.Int64) for v in VERDICTS])
    total = pl.sum_horizontal(VERDICTS)
    top = pl.max_horizontal(VERDICTS)
    winners = pl.concat_list([pl.when(pl.col(v) == top).then(pl.lit(v)) for v in VERDICTS]).list.drop_nulls()
    distribution = pl.concat_list(
        [
            pl.struct(pl.lit(v).alias("label"), pl.col(v).alias("count"), (pl.col(v) / total).alias("share"))
            for v in VERDICTS
        ]
    )
    return wide.select(
        "link_id",
        total.alias("n_votes"),
        distribution.alias("label_distribution"),
        pl.when(winners.list.len() == 1).then(winners.list.first()).alias("judgment"),
    )


def situation_records(ctx, posts, comments, config, provenance, ids) -> pl.DataFrame:
    votes = vote_table(comments)
    empty_dist = pl.lit([], dtype=pl.List(pl.Struct({"label": pl.String, "count": pl.Int64, "share": pl.Float64})))
    joined = posts.with_columns(("t3_" + pl.col("id")).alias("link_id")).join(votes, on="link_id", how="left")
    action = pl.Struct({"text": pl.String, "polarity": pl.String, "consequence": pl.String})
    records = joined.with_columns(
        pl.struct("subreddit", "created_utc", "title", "selftext")
        .map_elements(
            lambda r: stable_id(NAME, "situation", r["subreddit"], r["created_utc"], r["title"], r["selftext"]),
            return_dtype=pl.String,
        )
        .alias("record_id"),
        _published(pl.col("link_id"), ids).alias("post_id"),
        pl.col("title").alias("situation"),
        pl.lit(None, pl.String).alias("norm"),
        pl.struct(pl.lit(None, pl.String).alias("country"), pl.col("selftext").alias("background")).alias("context"),
        pl.lit(None, pl.String).alias("intention"),
        pl.lit([], dtype=pl.List(action)).alias("actions"),
        pl.col("label_distribution").fill_null(empty_dist),
        pl.col("n_votes").fill_null(0),
        pl.from_epoch("created_utc", time_unit="s").dt.replace_time_zone("UTC").alias("created"),
        *envelope_columns(
            dataset="reddit",
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=_published(pl.col("link_id"), ids),
            lang=pl.col("lang"),
        ),
    )
    return records.select(
        "record_id",
        "situation",
        "norm",
        "context",
        "intention",
        "actions",
        "judgment",
        "label_distribution",
        "n_votes",
        "subreddit",
        "post_id",
        "author_pseudonym",
        "created",
        "score",
        "num_comments",
        "word_count",
        "lang_probability",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    ).sort("created", "record_id")


def thread_records(ctx, posts, comments, config, provenance, ids) -> pl.DataFrame:
    turn_cols = ["id", "parent_id", "author_pseudonym", "text", "created_utc", "score"]
    post_turns = posts.select(
        ("t3_" + pl.col("id")).alias("link_id"),
        _published("t3_" + pl.col("id"), ids).alias("id"),
        pl.lit(None, pl.String).alias("parent_id"),
        "author_pseudonym",
        pl.concat_str("title", pl.lit("\n\n"), "selftext").alias("text"),
        "created_utc",
        "score",
        pl.lit(0).alias("_order"),
    )
    comment_turns = comments.select(
        "link_id",
        _published("t1_" + pl.col("id"), ids).alias("id"),
        _published(pl.col("parent_id"), ids).alias("parent_id"),
        "author_pseudonym",
        pl.col("body").alias("text"),
        "created_utc",
        "score",
        pl.lit(1).alias("_order"),
    )
    turns = pl.concat([post_turns, comment_turns]).sort("link_id", "_order", "created_utc", "id")
    grouped = turns.group_by("link_id", maintain_order=True).agg(pl.struct(turn_cols).alias("turns"))
    meta = posts.select(("t3_" + pl.col("id")).alias("link_id"), "subreddit", "lang", "_file")
    threads = grouped.join(meta, on="link_id", how="inner").with_columns(
        _published(pl.col("link_id"), ids).alias("thread_id"),
        (pl.col("turns").list.len() - 1).alias("n_comments"),
    )
    threads = threads.with_columns(
        pl.col("turns")
        .map_elements(
            lambda t: stable_id(NAME, "thread", [(x["text"], x["created_utc"]) for x in t]), return_dtype=pl.String
        )
        .alias("record_id"),
        *envelope_columns(
            dataset="reddit",
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("_file"),
            source_id=pl.col("thread_id"),
            lang=pl.col("lang"),
        ),
    )
    return threads.select(
        "record_id",
        "thread_id",
        "subreddit",
        "n_comments",
        "turns",
        "source",
        "license",
        "lang",
        "split",
        "parallel_id",
        "provenance",
        "review",
        "created_at",
    ).sort("thread_id")
