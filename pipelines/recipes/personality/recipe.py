"""Recipe `personality`: inventory responses (any instrument in sources/data/instruments/) -> keyed
answers and domain and facet scores (after PAPI).

Steps: read (files, in parallel on Dask) -> validate_answers -> dedupe_respondents -> key_and_score.
A persona text per respondent (PAPI's LLM step) plugs in after key_and_score; see `persona_hook`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.plots import Plot
from pipelines.engine.runtime import RunContext
from pipelines.recipes.base import Recipe, RecipeConfig, RecipeOutput, step_options
from sources.ipip import definition

from .card import HUB, card_meta, measure
from .records import item_records, respondent_records
from .steps import DedupeRespondents, KeyAndScore, ReadConfig, ReadResponses, ScoreConfig, ValidateAnswers


class Config(RecipeConfig, ReadConfig, ScoreConfig):
    """license, dataset_name; keyed (ReadConfig); min_answered_fraction (ScoreConfig)."""


class Personality(Recipe):
    Config = Config
    demo_inputs = ("personality/demo/*.csv",)  # a few: each gets a persona text
    hub = HUB

    def build(self, ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
        steps = [
            ReadResponses(step_options(config, ReadConfig)),
            ValidateAnswers(),
            DedupeRespondents(),
            KeyAndScore(step_options(config, ScoreConfig)),
        ]
        frame = pl.DataFrame({"path": [str(p) for p in inputs]})
        scored = ctx.chain(steps, frame, inputs_hash=ctx.inputs_hash(inputs))
        data = persona_hook(ctx, scored, config)

        respondents = respondent_records(ctx, data, config, ctx.lineage(scored))
        instruments = (
            [definition(i) for i in sorted(set(data["_instrument"].to_list()))] if "_instrument" in data.columns else []
        )
        items = item_records(ctx, instruments)
        sections = measure(data, respondents, instruments)
        scores = respondents["domain_scores"].struct if respondents.height else None
        plots = [
            Plot(
                "domain_scores",
                "Domain scores (keyed)",
                "hist",
                {
                    (d if len(instruments) == 1 else f"{inst.id} {d}"): scores.field(inst.id)
                    .struct.field(d)
                    .drop_nulls()
                    .to_numpy()
                    for inst in instruments
                    for d in inst.domains
                }
                if scores is not None
                else {},
                "score",
            )
        ]
        tables = {"respondents": respondents, "items": items}
        if "persona_description" in data.columns:  # PAPI's persona texts, when an LLM was configured
            from pipelines.llm.step import model_calls

            from .persona import persona_records

            tables["personas"] = persona_records(ctx, respondents, data, config.license)
            sections.append(model_calls(ctx))
        return RecipeOutput(tables, card_meta(config), sections, plots)

    def check_inputs(self, inputs: list[Path], config: Config) -> None:
        """Reject a wrong file before the run starts (format, instrument), naming the file."""
        from sources.ipip import ResponsesReader

        for path in inputs:
            ResponsesReader().check(path)


def persona_hook(ctx: RunContext, data: pl.DataFrame, config: Config) -> pl.DataFrame:
    """PAPI's LLM persona step (pipelines/recipes/personality/persona.py): a `persona_description` per respondent when
    an LLM endpoint is configured; otherwise a note in the report says why there is none."""
    from .persona import add_personas

    return add_personas(Personality(), ctx, data)
