"""How people review the preferences recipe's configs in Argilla."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from schemas.review import Field, Question, ReviewSpec, Row, Suggestion, col, note, number, ranks_from_scores, terms


def max_candidates(frame: pl.DataFrame) -> int:
    if "candidates" not in frame.columns or not frame.height:
        return 2
    return max(2, int(frame.select(pl.col("candidates").list.len().max()).item() or 0))


def pair_spec(frame: pl.DataFrame) -> ReviewSpec:
    n = max_candidates(frame)
    values = {f"candidate_{i + 1}": f"Candidate {i + 1}" for i in range(n)}

    def candidate(i: int) -> Callable[[Row], str | None]:
        return lambda r: r["candidates"][i]["text"] if i < len(r.get("candidates") or []) else None

    def judge_ranking(row: Row):
        scores = [c.get("score") for c in row.get("candidates") or []]
        if not scores or any(s is None for s in scores):
            return None
        ranked = ranks_from_scores(scores)
        return [{"value": f"candidate_{i + 1}", "rank": r} for i, r in enumerate(ranked)] + [
            {"value": f"candidate_{i + 1}", "rank": len(scores) + 1} for i in range(len(scores), n)
        ]

    return ReviewSpec(
        "PreferencePair",
        fields=[
            Field("prompt", "Prompt", col("prompt")),
            Field("persona", "Persona", persona_field, markdown=True),
            *[Field(v, t, candidate(i), required=i < 2) for i, (v, t) in enumerate(values.items())],
        ],
        questions=[
            Question("ranking", "ranking", "Rank the answers as this persona would (1 = best)", values),
            Question("rationale", "text", "Why? (optional)", required=False),
        ],
        metadata=[terms("persona_id"), terms("prompt_id"), number("margin")],
        suggestions=[Suggestion("ranking", judge_ranking, step="judge")],
        embed_text=col("prompt"),
        guidelines="Rank the candidate answers from the persona's point of view; the LLM judge's ranking is suggested.",
    )


def persona_field(row: Row) -> str:
    """The persona's description when push joined it in (`persona_description`), else its id."""
    text = row.get("persona_description")
    if not text:
        return f"persona `{row.get('persona_id')}`"
    return f"**{row.get('persona_id')}**\n\n" + text.replace("\n", "\n\n")


def persona_spec(frame: pl.DataFrame) -> ReviewSpec:
    def demographics(row: Row) -> str:
        try:
            demo = json.loads(row.get("demographics") or "{}")
        except ValueError:
            return str(row.get("demographics"))
        return ", ".join(f"{k}: {v}" for k, v in demo.items())

    return ReviewSpec(
        "Persona",
        fields=[
            Field("self_description", "Self-description", col("self_description")),
            Field("demographics", "Demographics", demographics, required=False),
        ],
        questions=[
            Question("realism", "rating", "How realistic is this persona? (1-5)", [1, 2, 3, 4, 5]),
            Question("consistent", "label", "Do description and demographics agree?", ["yes", "no"]),
            note(),
        ],
        metadata=[terms("persona_id"), terms("synthetic")],
        embed_text=col("self_description"),
        guidelines="Check that personas are plausible people and internally consistent.",
    )


def prompt_spec(frame: pl.DataFrame) -> ReviewSpec:
    return ReviewSpec(
        "Prompt",
        fields=[Field("prompt", "Prompt", col("prompt"))],
        questions=[Question("usable", "label", "Is this a usable prompt?", ["yes", "no"]), note()],
        metadata=[terms("prompt_id"), terms("origin")],
        embed_text=col("prompt"),
        guidelines="Keep prompts that invite an opinionated but safe answer.",
    )


SPECS = {"pairs": pair_spec, "personas": persona_spec, "prompts": prompt_spec}


def with_personas(dataset_dir: Path, frame: pl.DataFrame) -> pl.DataFrame:
    """A preference pair's persona description from the run's `personas` config (pairs carry only
    `persona_id`), for display in the review."""
    from pipelines.engine.layout import DATA_DIR

    from .records import persona_text

    personas = dataset_dir / DATA_DIR / "personas"
    if not personas.is_dir() or "persona_id" not in frame.columns:
        return frame
    rows = pl.read_parquet(personas / "*.parquet").select("persona_id", "demographics", "self_description").to_dicts()
    described = {}
    for row in rows:
        try:
            demographics = json.loads(row["demographics"] or "{}")
        except ValueError:
            demographics = {}
        described[row["persona_id"]] = persona_text(
            {"demographics": demographics, "self_description": row["self_description"]}
        )
    lookup = pl.DataFrame(
        {"persona_id": list(described), "persona_description": list(described.values())},
        schema={"persona_id": pl.String, "persona_description": pl.String},
    )
    return frame.join(lookup, on="persona_id", how="left", maintain_order="left")
