"""The preferences recipe's card: pairs, ties, margins, model calls."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.hub import HubSpec
from pipelines.llm.step import usage_section
from pipelines.recipes.base import CardMeta, CardSection, read_columns

# A persona's pairs and its persona row share a split; prompts are a reference table (train).
HUB = HubSpec(
    annotations_creators=["machine-generated"],
    language_creators=["machine-generated"],
)

COLUMNS = read_columns(Path(__file__).with_name("columns.yaml"))


def sections(ctx, pairs: pl.DataFrame) -> list[CardSection]:
    judge = ctx.report.step("judge")
    lines = [
        f"- {pairs.height} preference pairs from {pairs['persona_id'].n_unique() if pairs.height else 0} personas "
        f"and {pairs['prompt_id'].n_unique() if pairs.height else 0} prompts",
        f"- judged pairs: {judge.rows_in}; dropped as ties (margin < {judge.dropped and 'min_margin' or 'min_margin'}): "
        f"{judge.dropped.get('tie', 0)}; judgements invalid after one repair: {judge.quarantined}",
    ]
    if pairs.height:
        lines.append(
            f"- margin (score points, 1..10 scale): mean {pairs['margin'].mean():.2f}, "
            f"min {pairs['margin'].min():.1f}, max {pairs['margin'].max():.1f}"
        )
    return [CardSection("Preference pairs", "\n".join(lines)), CardSection("Model calls", usage_section(ctx.report))]


def card_meta(config) -> CardMeta:
    return CardMeta(
        columns=COLUMNS,
        pretty_name=config.dataset_name or "Persona-conditioned preference pairs (PRISM / Fair-PP style)",
        license=config.license,
        languages=["en"],
        task_categories=["text-generation", "text-classification"],
        tags=["preference", "rlhf", "persona", "synthetic", "llm-generated"],
        summary="Prompts answered by an LLM several times; an LLM judge scored every answer as each persona would; "
        "the best and worst answers form a preference pair with the score margin and the judge's rationale.",
        citation="Kirk, H. R. et al. (2024). The PRISM Alignment Dataset. Fair-PP: a synthetic dataset for "
        "aligning LLMs with personalized preferences (2025).",
        limitations=[
            "Preferences are a model's guess at what a persona would prefer, not people's judgements.",
            "Candidates come from one model with different seeds; they may differ less than answers from "
            "several models would.",
        ],
        fields={
            "pairs": {
                "margin": "score of chosen minus score of rejected (judge's 1..10 scale)",
                "candidates": "every candidate answer with the model, its seed and the judge's score",
                "rationale": "the judge's reason, written from the persona's point of view",
            }
        },
    )
