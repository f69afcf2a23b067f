"""Recipe `preferences`: personas x prompts -> candidate responses -> persona-conditioned judge
scores -> PreferencePair records (chosen, rejected, margin, rationale), after PRISM and Fair-PP.

Inputs: JSON Lines files holding personas (`persona_id`, `self_description`, optional
`demographics`) and prompts (`prompt_id`, `prompt`, optional `source`), in any mix. Prompts may come
from Reddit or the web: every template puts them in delimited data blocks.

Steps: read (persona descriptions and prompts then masked, NER included; pipelines.methods.privacy) ->
candidates (LLM, per prompt) -> judge (LLM, per persona x prompt) -> pairs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from pipelines.engine.runtime import RunContext
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.step import llm_step_config
from pipelines.methods.privacy import mask_records
from pipelines.recipes.base import CardSection, Recipe, RecipeConfig, RecipeOutput, options_of
from schemas.errors import InputFileError

from .card import HUB, card_meta, sections
from .records import pair_records, pairs_frame, persona_records, prompt_records
from .review import with_personas
from .steps import (
    CandidateConfig,
    CandidateOptions,
    GenerateCandidates,
    JudgeConfig,
    JudgeOptions,
    JudgePairs,
    ReadRecords,
    _table,
)


class Config(RecipeConfig, CandidateOptions, JudgeOptions):
    """license, dataset_name; candidates_per_prompt, max_words (CandidateOptions); min_margin
    (JudgeOptions); max_pairs; llm."""

    max_pairs: int | None = Field(default=None, ge=1)  # cap on persona x prompt pairs (chosen by hash)
    llm: LLMSettings | None = None


class Preferences(Recipe):
    Config = Config
    demo_inputs = ("preferences/demo/personas.jsonl", "preferences/demo/prompts.jsonl")
    hub = HUB

    def review_context(self, dataset_dir: Path, config: str, frame: pl.DataFrame) -> pl.DataFrame:
        return with_personas(dataset_dir, frame) if config == "pairs" else frame

    def build(self, ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
        read = ctx.read(ReadRecords(), inputs)
        personas, prompts = _table(read, "persona"), _table(read, "prompt")
        (personas, masked_p), (prompts, masked_q) = (
            mask_records(personas, ["self_description"]),
            mask_records(prompts, ["prompt"]),
        )
        ctx.report.notes.append(
            f"Personal data masked in persona descriptions: {masked_p or 'none'}; in prompts: {masked_q or 'none'}."
        )
        tables = {
            "personas": persona_records(ctx, personas, config, ctx.lineage(read)),
            "prompts": prompt_records(ctx, prompts, config, ctx.lineage(read)),
        }
        client, reason = self.llm_client(
            ctx,
            config.llm,
            steps=("candidates", "judge"),
            missing="preference pairs",
            published="Only the validated personas and prompts are published.",
        )
        if client is None:
            return RecipeOutput(
                tables,
                card_meta(config),
                [CardSection("Preference pairs", "Not generated in this run: " + reason + ".")],
            )
        gen = GenerateCandidates(
            llm_step_config(
                client,
                load_template("preference_response").hash,
                CandidateConfig,
                **options_of(config, CandidateOptions),
            )
        )
        judge = JudgePairs(
            llm_step_config(
                client, load_template("preference_judge").hash, JudgeConfig, **options_of(config, JudgeOptions)
            )
        )
        prompt_frame = pl.DataFrame(prompts, schema_overrides={"prompt_id": pl.String}).select(
            pl.col("prompt_id").cast(pl.String), "prompt", "_file", "_row"
        )
        with_candidates = ctx.apply(gen, prompt_frame)
        judged = ctx.apply(judge, pairs_frame(personas, with_candidates, config.max_pairs))
        tables["pairs"] = pair_records(ctx, judged, config, ctx.lineage(with_candidates, judged))
        return RecipeOutput(tables, card_meta(config), sections(ctx, tables["pairs"]))

    def check_inputs(self, inputs: list[Path], config: Config) -> None:
        """Reject a file that is not JSON Lines before the run starts, naming the file."""
        for path in inputs:
            if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
                raise InputFileError(path, f"expected JSON Lines of personas or prompts (.jsonl), got {path.suffix!r}")
