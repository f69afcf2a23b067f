"""Recipe `translate`: a benchmark (Moral Stories by default) from the Hugging Face Hub or a local
copy of it -> an LLM translation with demonstrations and optional name and culture adaptation
(after Histoires Morales) -> checks on every output -> translations linked to their sources.

Steps: load_source (datasets.load_dataset) -> validate_source -> mask_text (personal data in the
source fields; pipelines.methods.privacy) -> translate (LLM) -> check_translations
(langdetect on the target language, a length-ratio bound, cross-lingual similarity when a
multilingual embedding model is configured). Low-confidence translations are not dropped: they are
flagged and ordered first, so reviewers see them first. Each translation's `parallel_id` is the
`record_id` of its source in the `originals` config.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from pydantic import Field

from pipelines.engine.runtime import RunContext
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.step import llm_step_config
from pipelines.methods.privacy import MaskConfig, MaskOptions, MaskText
from pipelines.recipes.base import CardSection, Recipe, RecipeConfig, RecipeOutput, options_of, step_options
from schemas.errors import InputFileError
from sources.benchmarks import BUILDERS
from sources.tables import check_data_files

from .card import HUB, card_meta, sections
from .records import original_records, translation_records
from .steps import (
    CheckConfig,
    CheckOptions,
    CheckTranslations,
    LoadConfig,
    LoadSource,
    Translate,
    TranslateConfig,
    TranslateOptions,
    ValidateConfig,
    ValidateSource,
)

DEMOS_DIR = Path(__file__).resolve().parents[3] / "sources" / "data" / "translate"


class Config(RecipeConfig, LoadConfig, TranslateOptions, CheckOptions, MaskOptions):
    """license, dataset_name; hub_dataset, hub_config, split (LoadConfig); id_field, fields,
    source_lang, target_lang, adapt_names, adapt_culture (TranslateOptions); the checks' bounds
    (CheckOptions); privacy_ner (MaskOptions, off here); demonstrations, max_demonstrations, limit, llm."""

    demonstrations: Path | None = None  # JSONL of {"source": {...}, "target": {...}}; default: shipped ones
    max_demonstrations: int = Field(default=2, ge=0)
    limit: int | None = Field(default=None, ge=1)
    llm: LLMSettings | None = None
    # structured personal data in the source fields is always masked; names by NER only if set (the
    # benchmark's names are invented characters, which adapt_names translates)
    privacy_ner: bool = False


class TranslateRecipe(Recipe):
    Config = Config
    demo_inputs = ("translate/demo/moral_stories.parquet",)  # a few rows: the demo sends each to the model
    hub = HUB

    def build(self, ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
        rows = ctx.read(LoadSource(step_options(config, LoadConfig)), inputs, identity=config.hub_dataset)
        rows = ctx.apply(ValidateSource(step_options(config, ValidateConfig)), rows)
        masked = ctx.apply(MaskText(step_options(config, MaskConfig, columns=tuple(config.fields))), rows)
        rows = masked.head(config.limit) if config.limit else masked
        tables = {"originals": original_records(ctx, rows, config, ctx.lineage(masked))}
        client, reason = self.llm_client(
            ctx,
            config.llm,
            steps=("translate",),
            missing="translations",
            published="Only the validated source rows are published.",
        )
        if client is None:
            return RecipeOutput(
                tables, card_meta(config, False), [CardSection("Translations", f"Not made in this run: {reason}.")]
            )
        translator = Translate(
            llm_step_config(
                client,
                load_template("translate").hash,
                TranslateConfig,
                **options_of(config, TranslateOptions),
                demonstrations=load_demonstrations(config),
            )
        )
        translated = ctx.apply(translator, rows)
        checked = ctx.apply(CheckTranslations(step_options(config, CheckConfig)), translated)
        tables["translations"] = translation_records(ctx, checked, config, ctx.lineage(masked, checked))
        return RecipeOutput(tables, card_meta(config, True), sections(ctx, tables["translations"], config))

    def check_inputs(self, inputs: list[Path], config: Config) -> None:
        """Reject inputs `datasets` cannot read as one table before the run starts, naming the file."""
        if config.hub_dataset:
            return
        suffixes = {p.suffix.lower() for p in inputs}
        for path in inputs:
            if path.suffix.lower() not in BUILDERS:
                raise InputFileError(
                    path, f"expected data files of a dataset ({', '.join(BUILDERS)}), got {path.suffix!r}"
                )
        if len(suffixes) > 1:
            raise InputFileError(inputs[0], f"all data files must have one format, got {sorted(suffixes)}")
        check_data_files(inputs)  # a damaged parquet or a non-UTF-8 text file: one line naming it


def load_demonstrations(config: Config) -> list[dict]:
    path = config.demonstrations or DEMOS_DIR / f"demonstrations.{config.target_lang}.jsonl"
    if not path.exists():
        if config.demonstrations:
            raise InputFileError(path, "demonstrations file not found")
        return []
    demos = []
    for line_no, line in enumerate(path.read_bytes().splitlines(), start=1):
        if line.strip():
            try:
                d = orjson.loads(line)
                demos.append(
                    {
                        "source": {f: d["source"][f] for f in config.fields},
                        "target": {
                            **{f: d["target"][f] for f in config.fields},
                            "name_changes": d["target"].get("name_changes", []),
                        },
                    }
                )
            except (orjson.JSONDecodeError, KeyError, TypeError) as e:
                raise InputFileError(
                    path, f"line {line_no}: not a demonstration with the fields {config.fields}: {e}"
                ) from None
    return demos[: config.max_demonstrations]
