"""Recipe `norms`: Reddit dumps -> situations with community verdicts, and their threads
(after Social Chemistry 101 and Scruples).

Steps: read_reddit (files in parallel on Dask, subreddit and time filters while streaming) -> privacy
(keyed pseudonyms, masks) -> dedupe_items -> select_situations (Scruples' filters) -> detect_language
-> select_comments (top-level, no bots) -> parse_verdicts (YTA/NTA/ESH/NAH/INFO, one vote a comment).
The raw author name does not survive the privacy step, so nothing after it can leak it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import polars as pl
from pydantic import field_validator, model_validator

from pipelines.engine.runtime import RunContext
from pipelines.methods.privacy import PrivacyConfig, PrivacyOptions, Pseudonymize, PseudonymKey
from pipelines.recipes.base import Recipe, RecipeConfig, RecipeOutput, step_options
from sources.reddit.parallel import DumpReader

from .card import HUB, card_meta, measure
from .records import id_mapper, situation_records, thread_records
from .steps import (
    DedupeItems,
    DetectLanguage,
    LanguageConfig,
    ParseVerdicts,
    ReadConfig,
    ReadDumps,
    SelectComments,
    SelectSituations,
    SituationConfig,
    VerdictConfig,
    epoch,
)


class Config(RecipeConfig, SituationConfig, VerdictConfig, PrivacyOptions):
    """license, dataset_name; min_words (SituationConfig); verdict_subreddits (VerdictConfig);
    mask_author_names, privacy_ner, bots, bot_pattern (PrivacyOptions); and the options below (the
    reader's are derived from them)."""

    subreddits: list[str] = ["AmItheAsshole", "confessions"]
    start: date | datetime | None = None  # created on or after (UTC)
    end: date | datetime | None = None  # created before (UTC)
    languages: list[str] = ["en"]  # langdetect codes kept; others dropped as non_target_language
    keep_reddit_ids: bool = False  # publish Reddit's own ids (they lead back to a post and author)

    @field_validator("subreddits", "languages")
    @classmethod
    def _not_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must name at least one")
        return v

    @model_validator(mode="after")
    def _a_time_range(self):  # start after end keeps nothing: a mistake, not an empty dataset
        from .steps import epoch

        if self.start is not None and self.end is not None and epoch(self.start) >= epoch(self.end):
            raise ValueError(f"start ({self.start}) must be before end ({self.end})")
        return self


class Norms(Recipe):
    Config = Config
    demo_inputs = ("norms/demo/R[SC]_*.zst",)  # a few rows: the demo sends each to the model
    hub = HUB

    def build(self, ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
        key = PseudonymKey.from_env()
        reader = ReadDumps(
            ReadConfig(subreddits=tuple(config.subreddits), start_utc=epoch(config.start), end_utc=epoch(config.end))
        )
        rows = ctx.read(reader, inputs)
        privacy = Pseudonymize(step_options(config, PrivacyConfig, key_id=key.key_id), key)
        rows = ctx.apply(privacy, rows)
        rows = ctx.apply(DedupeItems(), rows)

        situations = SelectSituations(step_options(config, SituationConfig))
        posts = ctx.apply(situations, rows.filter(pl.col("kind") == "submission"))
        posts = ctx.apply(DetectLanguage(LanguageConfig(languages=tuple(config.languages))), posts)

        selected = ("t3_" + posts["id"]).to_list()
        comments = rows.filter(pl.col("kind") == "comment").with_columns(
            pl.col("link_id").is_in(selected).alias("_post_selected")
        )
        comments = ctx.apply(SelectComments(), comments)
        comments = ctx.apply(ParseVerdicts(step_options(config, VerdictConfig)), comments)

        provenance = ctx.lineage(rows, posts, comments)
        ids = id_mapper(key, config.keep_reddit_ids)
        records = situation_records(ctx, posts, comments, config, provenance, ids)
        threads = thread_records(ctx, posts, comments, config, provenance, ids)
        sections = measure(ctx, records, threads, comments, key, config)
        tables = {"situations": records, "threads": threads}
        from .rules_of_thumb import rules_of_thumb  # Social Chemistry's LLM step (issue 17)

        if (rules := rules_of_thumb(self, ctx, records, config.license)) is not None:
            from pipelines.llm.step import model_calls

            tables["rules_of_thumb"] = rules
            sections.append(model_calls(ctx))
        return RecipeOutput(tables, card_meta(config, key), sections)

    def check_inputs(self, inputs: list[Path], config: Config) -> None:
        for path in inputs:
            DumpReader().check(path)
