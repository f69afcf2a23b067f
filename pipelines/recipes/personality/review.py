"""How people review the personality recipe's configs in Argilla."""

from __future__ import annotations

import polars as pl

from schemas.review import Field, Meta, Question, ReviewSpec, Row, clarity, col, integer, lines, md_table, note, terms

from .steps import own_scores


def respondent_spec(frame: pl.DataFrame) -> ReviewSpec:
    def profile(row: Row) -> str:
        demo = row.get("demographics") or {}
        scores = own_scores(row)
        head = ", ".join(f"{k}: {v}" for k, v in demo.items() if v is not None) or "no demographics"
        table = md_table(["domain", "score"], [[k, "-" if v is None else f"{v:.2f}"] for k, v in scores.items()])
        return (
            f"**{row.get('instrument')}**, respondent {row.get('respondent_id')} ({head}); "
            f"{row.get('answered')} items answered.\n\n{table}"
        )

    def answers(row: Row) -> str:
        values = row.get("responses") or []
        blocks = [" ".join("." if v is None else str(v) for v in values[i : i + 30]) for i in range(0, len(values), 30)]
        return "Answers in item order, 30 a line (`.` = missing):\n\n```\n" + "\n".join(blocks) + "\n```"

    return ReviewSpec(
        "RespondentProfile",
        fields=[
            Field("profile", "Profile", profile, markdown=True),
            Field("answers", "Answers", answers, markdown=True),
        ],
        questions=[
            Question(
                "response_quality",
                "label",
                "Is this a valid, attentive response?",
                ["valid", "careless", "unsure"],
                description="careless: straight-lining, random patterns, contradictory answers",
            ),
            note(),
        ],
        metadata=[terms("instrument"), integer("answered"), *_demographics(frame)],
        # one instrument: its domain scores as the vector (several: vectors of different lengths, none)
        vector_column="domain_scores" if "domain_scores" in frame.columns and _one_instrument(frame) else None,
        vector_name="domain_scores",
        guidelines="Check each respondent's answers for careless responding before the profile is used.",
    )


def _one_instrument(frame: pl.DataFrame) -> bool:
    column = "instrument_id" if "instrument_id" in frame.columns else "instrument"
    return column in frame.columns and frame[column].n_unique() == 1


def _demographics(frame: pl.DataFrame) -> list[Meta]:
    if not isinstance(frame.schema.get("demographics"), pl.Struct):
        return []
    demo = pl.col("demographics").struct
    return [
        Meta(name, kind, demo.field(name).cast(pl.Int64 if kind == "integer" else pl.String))
        for name, kind in (("sex", "terms"), ("age", "integer"), ("country", "terms"))
        if name in frame.schema["demographics"].to_schema()
    ]


def _item_text(row: Row) -> str:
    """The item's text; where the instrument's licence keeps it out (key only), what is left to check."""
    if row.get("text"):
        return str(row["text"])
    return (
        f"(text not shipped under the licence of {row.get('instrument')}: item {row.get('item_no')}, "
        f"key only; check its scale and keying against the published key)"
    )


def inventory_item_spec(frame: pl.DataFrame) -> ReviewSpec:
    return ReviewSpec(
        "InventoryItem",
        fields=[
            Field("text", "Item", _item_text),
            Field(
                "facet",
                "Domain and facet",
                lines(("Domain", "domain"), ("Facet", "facet_name"), ("Keyed", "keyed"), ("Scale", "scale")),
                markdown=True,
            ),
        ],
        questions=[
            Question(
                "keying", "label", "Is the keying (+1 / -1) right for this facet?", ["correct", "reversed", "unsure"]
            ),
            clarity(),
            Question("correction", "text", "Corrected item text (optional)", required=False),
        ],
        metadata=[terms("instrument"), terms("domain"), terms("facet_code"), integer("keyed")],
        embed_text=col("text"),
        guidelines="Check that each item reads clearly and is keyed in the direction of its facet.",
    )


SPECS = {"respondents": respondent_spec, "items": inventory_item_spec}
