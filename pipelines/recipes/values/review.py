"""How people review the values recipe's configs in Argilla."""

from __future__ import annotations

import polars as pl

from schemas.review import Field, Question, ReviewSpec, Row, col, integer, md_table, note, number, terms


def _options_list(row: Row) -> str:
    opts = "\n".join(f"{i + 1}. {o}" for i, o in enumerate(row.get("options") or []))
    refusals = ", ".join(row.get("refusal_options") or []) or "none"
    return f"{opts}\n\nRefusal options: {refusals}"


def survey_question_spec(frame: pl.DataFrame) -> ReviewSpec:
    return ReviewSpec(
        "SurveyItem",
        fields=[
            Field("question", "Question", col("question")),
            Field("options", "Answer options", _options_list, markdown=True),
        ],
        questions=[
            Question(
                "labels_match",
                "label",
                "Do the option labels match the question and codebook?",
                ["yes", "no", "unsure"],
            ),
            Question("ordinal", "label", "Are the options ordered (ordinal)?", ["ordinal", "nominal"]),
            Question("correction", "text", "Corrected question or labels (optional)", required=False),
        ],
        metadata=[terms("survey"), terms("wave"), terms("var_name"), terms("ordinal_in_data", "ordinal")],
        embed_text=col("question"),
        guidelines="Check question wording and answer labels against the codebook.",
    )


def distribution_spec(frame: pl.DataFrame) -> ReviewSpec:
    def table(row: Row) -> str:
        probs, cis = row.get("probs") or [], row.get("ci") or []
        rows = [
            [o, f"{p:.3f}", f"[{c['low']:.3f}, {c['high']:.3f}]" if c else "-"]
            for o, p, c in zip(row.get("options") or [], probs, cis + [None] * len(probs))
        ]
        return (
            f"**Group:** {row.get('group_attr')} = {row.get('group_value')} (n = {row.get('n')}, "
            f"n_eff = {row.get('n_eff') or 0:.1f}, refusals {row.get('refusal_mass') or 0:.3f})\n\n"
            + md_table(["option", "share", "95% CI"], rows)
        )

    return ReviewSpec(
        "SurveyDistribution",
        fields=[
            Field("question", "Question", col("question")),
            Field("distribution", "Answer distribution", table, markdown=True),
        ],
        questions=[
            Question(
                "plausible",
                "label",
                "Is this distribution plausible for this group?",
                ["plausible", "implausible", "unsure"],
            ),
            note(),
        ],
        metadata=[
            terms("survey"),
            terms("wave"),
            terms("var_name"),
            terms("group_attr"),
            terms("group_value"),
            integer("n"),
            number("n_eff"),
        ],
        embed_text=col("question"),
        guidelines="Flag group distributions that look wrong (label swaps, weights, tiny groups).",
    )


SPECS = {"questions": survey_question_spec, "distributions": distribution_spec}
