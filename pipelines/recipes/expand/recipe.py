"""Recipe `expand`: inventory items -> scenario questions with options keyed high and low on the
trait (after TRAIT), checked by an LLM judge.

Steps: read_items -> validate_items -> generate_scenarios (LLM) -> judge_scenarios (LLM).
Without a configured model the validated items are published and the card says why there are no
scenarios.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.engine.runtime import RunContext
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.step import llm_step_config
from pipelines.recipes.base import CardSection, Recipe, RecipeConfig, RecipeOutput, options_of
from sources.instruments import ItemTableReader

from .card import HUB, card_meta, sections
from .records import item_records, scenario_records
from .steps import (
    ExpandConfig,
    ExpandOptions,
    GenerateScenarios,
    JudgeConfig,
    JudgeOptions,
    JudgeScenarios,
    ReadItems,
    ValidateItems,
)


class Config(RecipeConfig, ExpandOptions, JudgeOptions):
    """license, dataset_name; scenarios_per_item, options_per_pole (ExpandOptions);
    min_judge_agreement (JudgeOptions); llm."""

    llm: LLMSettings | None = None


class Expand(Recipe):
    Config = Config
    demo_inputs = ("expand/demo/items.csv",)  # a few rows: the demo sends each to the model
    hub = HUB

    def build(self, ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
        raw = ctx.read(ReadItems(), inputs)
        items = ctx.apply(ValidateItems(), raw)
        tables = {"items": item_records(ctx, items, config, ctx.lineage(items, since=raw))}
        client, reason = self.llm_client(
            ctx,
            config.llm,
            steps=("generate_scenarios", "judge_scenarios"),
            missing="scenarios",
            published="Only the validated items are published.",
        )
        if client is None:
            return RecipeOutput(
                tables,
                card_meta(config, False),
                [CardSection("Scenarios", "Not generated in this run: " + reason + ".")],
            )
        gen = GenerateScenarios(
            llm_step_config(client, load_template("expand").hash, ExpandConfig, **options_of(config, ExpandOptions))
        )
        judge = JudgeScenarios(
            llm_step_config(client, load_template("expand_judge").hash, JudgeConfig, **options_of(config, JudgeOptions))
        )
        scenarios = ctx.apply(judge, ctx.apply(gen, items))
        tables["scenarios"] = scenario_records(ctx, scenarios, config, ctx.lineage(scenarios, since=items))
        return RecipeOutput(tables, card_meta(config, True), sections(ctx, tables["scenarios"]))

    def check_inputs(self, inputs: list[Path], config: Config) -> None:
        """Reject a file that is not an item table (a CSV, or an instrument definition from
        sources/data/instruments/) before the run starts, naming the file."""
        for path in inputs:
            ItemTableReader().check(path)
