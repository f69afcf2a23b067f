"""How people review the expand recipe's configs in Argilla."""

from __future__ import annotations

import polars as pl

from schemas.review import Field, Question, ReviewSpec, Row, Suggestion, col, lines, md_table, number, terms


def scenario_spec(frame: pl.DataFrame) -> ReviewSpec:
    def options(row: Row) -> str:
        return md_table(
            ["option", "text", "keyed"], [[o["label"], o["text"], o["keyed"]] for o in row.get("options") or []]
        )

    return ReviewSpec(
        "Scenario",
        fields=[
            Field(
                "item",
                "Inventory item",
                lines(("Item", "item_text"), ("Trait", "trait"), ("Facet", "facet_name")),
                markdown=True,
            ),
            Field("question", "Scenario question", col("question")),
            Field("options", "Options (keyed: which pole of the trait)", options, markdown=True),
        ],
        questions=[
            Question(
                "keyed_correct",
                "label",
                "Do the options express the trait's poles as keyed?",
                ["correct", "wrong", "unsure"],
            ),
            Question("realism", "rating", "How realistic is the scenario? (1-5)", [1, 2, 3, 4, 5]),
            Question("correction", "text", "Corrected question or options (optional)", required=False),
        ],
        metadata=[terms("trait"), terms("instrument"), number("judge_agreement")],
        suggestions=[
            Suggestion(
                "keyed_correct",
                lambda r: (
                    None
                    if r.get("judge_agreement") is None
                    else ("correct" if r["judge_agreement"] >= 1.0 else "wrong")
                ),
                step="judge_scenarios",
                score=lambda r: r.get("judge_agreement"),
            )
        ],
        embed_text=col("question"),
        guidelines="An LLM wrote these scenarios and another call judged their keying; its verdict is suggested.",
    )


def _item_spec(frame: pl.DataFrame) -> ReviewSpec:
    from pipelines.recipes.personality.review import inventory_item_spec  # the same record type

    return inventory_item_spec(frame)


SPECS = {"items": _item_spec, "scenarios": scenario_spec}
