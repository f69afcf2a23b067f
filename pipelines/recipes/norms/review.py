"""How people review the norms recipe's configs in Argilla."""

from __future__ import annotations

import polars as pl

from schemas.review import Field, Question, ReviewSpec, Row, clarity, col, integer, note, terms

from .rules_of_thumb import rule_of_thumb_spec
from .steps import VERDICTS


def situation_spec(frame: pl.DataFrame) -> ReviewSpec:
    def story(row: Row) -> str:
        ctx = row.get("context") or {}
        parts = [f"### {row.get('situation')}"]
        if ctx.get("background"):
            parts.append(ctx["background"])
        for a in row.get("actions") or []:
            parts.append(f"- action ({a.get('polarity')}): {a.get('text')}")
        return "\n\n".join(parts)

    return ReviewSpec(
        "NormScenario",
        fields=[
            Field("situation", "Situation", story, markdown=True),
            Field("norm", "Norm (if stated)", col("norm"), required=False),
        ],
        questions=[
            Question(
                "verdict",
                "label",
                "Your verdict",
                list(VERDICTS),
                description="YTA: you're the one at fault; NTA: the other party is; ESH: everyone; "
                "NAH: no one; INFO: not enough information",
            ),
            clarity(),
            Question("norm_text", "text", "The rule of thumb at stake (optional)", required=False),
        ],
        metadata=[
            terms("subreddit"),
            terms("community_judgment", "judgment", hidden=True),  # judged before seen
            integer("n_votes"),
            integer("word_count"),
        ],
        embed_text=lambda r: r.get("situation"),
        guidelines="Judge each situation yourself before looking at the community's verdict.",
    )


def thread_spec(frame: pl.DataFrame) -> ReviewSpec:
    def turns(row: Row) -> str:
        out = []
        for t in row.get("turns") or []:
            indent = "> " if t.get("parent_id") else ""
            out.append(f"{indent}**{t.get('author_pseudonym')}** (score {t.get('score')}): {t.get('text')}")
        return "\n\n".join(out)

    return ReviewSpec(
        "Thread",
        fields=[Field("thread", "Thread", turns, markdown=True)],
        questions=[
            Question("keep", "label", "Keep this thread in the dataset?", ["keep", "remove"]),
            Question("personal_information", "label", "Does it still contain personal information?", ["no", "yes"]),
            note(),
        ],
        metadata=[terms("subreddit"), integer("n_comments")],
        embed_text=lambda r: (r.get("turns") or [{}])[0].get("text"),
        guidelines="Remove threads that are off-topic or still identify someone.",
    )


SPECS = {"situations": situation_spec, "threads": thread_spec, "rules_of_thumb": rule_of_thumb_spec}
