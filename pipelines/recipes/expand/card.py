"""The expand recipe's card: scenarios per trait, the judge's verdicts, model calls."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.hub import HubSpec
from pipelines.llm.step import usage_section
from pipelines.methods.inventory import DOMAINS
from pipelines.recipes.base import CardMeta, CardSection, read_columns
from pipelines.recipes.personality.card import COLUMNS as ITEM_COLUMNS  # the same item records

# Items are a reference table (train); an item's scenarios share a split.
HUB = HubSpec(
    class_labels={"items": {"domain": list(DOMAINS)}},
    source_datasets=["extended|other"],
    annotations_creators=["machine-generated"],
    language_creators=["machine-generated"],
)

COLUMNS = {**ITEM_COLUMNS, **read_columns(Path(__file__).with_name("columns.yaml"))}


def sections(ctx, scenarios: pl.DataFrame) -> list[CardSection]:
    gen, judge = ctx.report.step("generate_scenarios"), ctx.report.step("judge_scenarios")
    counts = scenarios.group_by("trait").len().sort("trait")
    lines = [f"- {t}: {n} scenarios" for t, n in counts.iter_rows()] or ["- none"]
    judged = judge.rows_in
    lines.append(
        f"- the judge kept {judge.kept} of {judged} scenarios "
        f"({', '.join(f'{r}: {n}' for r, n in judge.dropped.items()) or 'none dropped'}); "
        f"{judge.quarantined} judgements stayed invalid after one repair"
    )
    lines.append(
        f"- {gen.quarantined} items got no valid scenario set after one repair (quarantined with the raw reply)"
    )
    return [CardSection("Scenarios", "\n".join(lines)), CardSection("Model calls", usage_section(ctx.report))]


def card_meta(config, with_scenarios: bool) -> CardMeta:
    return CardMeta(
        columns=COLUMNS,
        pretty_name=config.dataset_name or "Scenario questions from personality inventory items (TRAIT style)",
        license=config.license,
        languages=["en"],
        task_categories=["multiple-choice", "question-answering"],
        tags=["personality", "big-five", "trait", "synthetic", "llm-generated"],
        summary=(
            "Inventory items, each expanded by an LLM into scenario questions whose options are keyed high "
            "and low on the item's trait, in the style of TRAIT; an LLM judge checked, blind to the keying, "
            "that the options differ on the trait."
            if with_scenarios
            else "Validated inventory items; scenario questions were not generated in this run (no LLM configured)."
        ),
        citation="Lee, S. et al. (2024). Do LLMs Have Distinct and Consistent Personality? TRAIT: Personality Testset "
        "designed for LLMs with Psychometrics.",
        limitations=[
            "Scenarios and options are written by a language model and judged by one; neither is a "
            "validated psychometric instrument until people have reviewed them (review.status = pending)."
        ],
        fields={
            "scenarios": {
                "options": "answer options in shuffled order; `keyed` is high or low on the trait as the generator keyed it",
                "judge_agreement": "share of options the judge put on the same pole as the generator, blind to the keying",
                "item_record_id": "record_id of the item in the `items` config",
            }
        },
    )
