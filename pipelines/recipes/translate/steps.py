"""The translate recipe's steps: load_source (datasets.load_dataset) -> validate_source -> translate
(LLM) -> check_translations (langdetect on the target language, a length-ratio bound, cross-lingual
similarity when a multilingual embedding model is configured)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import BaseModel, Field, create_model

from pipelines.engine.steps import Account, Step, StepConfig, StepResult, split_by_reason
from pipelines.llm.prompts import load_template
from pipelines.llm.step import LLMStep, LLMStepConfig
from pipelines.llm.structured import complete_structured, structured_request
from schemas.errors import CurateError
from schemas.quarantine import quarantine_frame
from sources.benchmarks import BenchmarkReader
from sources.tables import not_text_columns

MORAL_STORIES_FIELDS = [
    "norm",
    "situation",
    "intention",
    "moral_action",
    "moral_consequence",
    "immoral_action",
    "immoral_consequence",
]


LANGUAGES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ko": "Korean",
    "ja": "Japanese",
    "zh-cn": "Chinese",
    "ar": "Arabic",
    "ru": "Russian",
}


class LoadConfig(StepConfig):
    hub_dataset: str | None = None  # e.g. demelin/moral_stories; read instead of the --input files
    hub_config: str | None = None
    split: str = "train"


class LoadSource(Step):
    """Rows of the source dataset via `datasets.load_dataset` (`sources.benchmarks`): the Hub, a local
    copy of a Hub repository (a folder), or data files in any format `datasets` reads."""

    name = "load_source"
    depends_on = BenchmarkReader.modules

    def run(self, data: pl.DataFrame) -> StepResult:
        frame = load_rows(list(data["path"]), self.config)
        return StepResult(frame, Account(self.name, frame.height, frame.height))


def load_rows(paths: list[Path], config: LoadConfig) -> pl.DataFrame:
    """The inputs (or the Hub dataset) as one dataset's rows; `datasets` loads the files as a set."""
    return BenchmarkReader(config.hub_dataset, config.hub_config, config.split).read_all(paths)[0].rows


class SourceFields(StepConfig):
    id_field: str = "ID"
    fields: list[str] = Field(default_factory=lambda: list(MORAL_STORIES_FIELDS))


class ValidateConfig(SourceFields):
    pass


class ValidateSource(Step):
    """Quarantine rows without an id, with a repeated id, or with a chosen field empty or not text."""

    name = "validate_source"

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        missing = [f for f in [c.id_field, *c.fields] if f not in data.columns]
        if missing:
            raise CurateError(
                f"the source dataset has no field(s) {', '.join(missing)}; it has {', '.join(data.columns)}"
            )
        wrong = not_text_columns(data.schema, [c.id_field, *c.fields])
        if wrong:
            files = data["_file"].unique(maintain_order=True).to_list() if "_file" in data.columns else []
            where = f"{', '.join(str(f) for f in files[:3])}{' and more' if len(files) > 3 else ''}: " if files else ""
            raise CurateError(
                f"{where}the source dataset's field(s) {', '.join(wrong)} hold no text to translate; "
                "choose text fields (`fields`, `id_field`)"
            )
        checks = [(c.id_field, _blank(c.id_field), "empty id")]
        checks += [(f, _blank(f), "empty or missing text") for f in c.fields]
        problem = pl.lit(None, pl.String)
        for field, bad, msg in reversed(checks):
            problem = pl.when(bad).then(pl.lit(f"{field}|{msg}")).otherwise(problem)
        dup = pl.col(c.id_field).cast(pl.String).is_first_distinct().not_()
        problem = pl.when(problem.is_null() & dup).then(pl.lit(f"{c.id_field}|repeated id")).otherwise(problem)
        tagged = data.with_columns([pl.col(f).cast(pl.String) for f in [c.id_field, *c.fields]]).with_columns(
            problem.alias("_p")
        )
        bad = tagged.filter(pl.col("_p").is_not_null())
        quarantine = quarantine_frame(
            bad.select(
                pl.lit(self.name).alias("step"),
                pl.col("_file").alias("source_file"),
                pl.col("_row").alias("row"),
                pl.col("_p").str.split("|").list.first().alias("field"),
                pl.col("_p").str.split("|").list.last().alias("error"),
                pl.struct([c.id_field, *c.fields]).struct.json_encode().alias("raw"),
            )
        )
        good = tagged.filter(pl.col("_p").is_null()).select(c.id_field, *c.fields, "_file", "_row")
        return split_by_reason(self.name, good, pl.lit(None, pl.String), quarantine, bad.height)


def _blank(field: str) -> pl.Expr:
    text = pl.col(field).cast(pl.String).str.strip_chars()
    return text.is_null() | (text == "")


class NameChange(BaseModel):
    source: str
    target: str


def translation_model(fields: list[str]) -> type[BaseModel]:
    specs = {f: (str, Field(min_length=1, max_length=5000)) for f in fields}
    return create_model("Translation", **specs, name_changes=(list[NameChange], Field(default_factory=list)))


class TranslateOptions(SourceFields):
    source_lang: str = "en"
    target_lang: str = "fr"
    adapt_names: bool = True
    adapt_culture: bool = False


class TranslateConfig(LLMStepConfig, TranslateOptions):
    demonstrations: list[dict]


class Translate(LLMStep):
    name = "translate"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        output = translation_model(c.fields)
        template = load_template("translate")
        common = {
            "source_language": LANGUAGES.get(c.source_lang, c.source_lang),
            "target_language": LANGUAGES.get(c.target_lang, c.target_lang),
            "fields": c.fields,
            "adapt_names": c.adapt_names,
            "adapt_culture": c.adapt_culture,
            "demonstrations": c.demonstrations,
        }
        rows = list(data.iter_rows(named=True))
        requests = [
            structured_request(template, {**common, "story": {f: r[f] for f in c.fields}}, output, c.params)
            for r in rows
        ]
        outcomes, usage = complete_structured(self.client, requests, output, desc="translate")
        good = [i for i, o in enumerate(outcomes) if o.value is not None]
        out = data[good].with_columns(
            *[pl.Series(f"t_{f}", [getattr(outcomes[i].value, f) for i in good], pl.String) for f in c.fields],
            pl.Series(
                "name_changes",
                [[n.model_dump() for n in outcomes[i].value.name_changes] for i in good],
                pl.List(pl.Struct({"source": pl.String, "target": pl.String})),
            ),
            pl.Series("translation_repaired", [outcomes[i].repaired for i in good], pl.Boolean),
        )
        failed = [(i, o) for i, o in enumerate(outcomes) if o.value is None]
        return StepResult(
            out, self.account(data.height, out.height, usage, quarantined=len(failed)), self.quarantine(data, failed)
        )


class CheckOptions(StepConfig):
    min_length_ratio: float = Field(default=0.6, gt=0)  # target/source characters, per field
    max_length_ratio: float = Field(default=1.9, gt=0)
    min_lang_field_chars: int = 40  # fields shorter than this are too short for language detection
    embedding_model: str | None = None  # a multilingual sentence-transformers model (local path or name)
    min_similarity: float = Field(default=0.75, ge=-1, le=1)


class CheckConfig(CheckOptions):
    fields: list[str]  # TranslateOptions'
    target_lang: str


class CheckTranslations(Step):
    """Quality signals for every translation; none drops a row: flagged rows go to review first."""

    name = "check_translations"

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        rows = list(data.iter_rows(named=True))
        similarity = self._similarities(rows) if c.embedding_model and rows else [None] * len(rows)
        quality = [_quality(r, c, s) for r, s in zip(rows, similarity)]
        out = data.with_columns(pl.Series("quality", quality, QUALITY_DTYPE))
        flagged = sum(bool(q["flags"]) for q in quality)
        return StepResult(out, Account(self.name, data.height, data.height, extra={"flagged_for_review": flagged}))

    def _similarities(self, rows: list[dict]) -> list[float]:
        from pipelines.methods.embed import load_model

        # torch in fp32, as before backends existed: the similarities (and the flags they raise) stay the
        # same; loaded offline, once per process, with one line if the model is not there
        model = load_model(self.config.embedding_model, "cpu", "fp32", "torch")
        fields = self.config.fields
        src = model.encode([" ".join(r[f] for f in fields) for r in rows], normalize_embeddings=True)
        tgt = model.encode([" ".join(r[f"t_{f}"] for f in fields) for r in rows], normalize_embeddings=True)
        return [float(x) for x in (src * tgt).sum(axis=1)]


QUALITY_DTYPE = pl.Struct(
    {
        "detected_lang": pl.String,
        "lang_prob": pl.Float64,
        "length_ratio": pl.Float64,
        "similarity": pl.Float64,
        "confidence": pl.Float64,
        "flags": pl.List(pl.String),
        "needs_review_first": pl.Boolean,
    }
)


def detect_language(text: str) -> tuple[str | None, float]:
    from langdetect import DetectorFactory, LangDetectException, detect_langs

    DetectorFactory.seed = 0  # langdetect samples; a fixed seed makes a rerun give the same answer
    try:
        best = detect_langs(text)[0]
    except LangDetectException:
        return None, 0.0
    return best.lang, float(best.prob)


def _quality(row: dict, c: CheckConfig, similarity: float | None) -> dict:
    flags = []
    target_text = " ".join(row[f"t_{f}"] for f in c.fields)
    lang, prob = detect_language(target_text)
    if lang != c.target_lang:
        flags.append(f"language:{lang or 'unknown'}")
    for f in c.fields:
        text = row[f"t_{f}"]
        if len(text) >= c.min_lang_field_chars and detect_language(text)[0] != c.target_lang:
            flags.append(f"language:{f}")
        ratio = len(text) / max(1, len(row[f]))
        if not c.min_length_ratio <= ratio <= c.max_length_ratio:
            flags.append(f"length_ratio:{f}={ratio:.2f}")
    overall = len(target_text) / max(1, len(" ".join(row[f] for f in c.fields)))
    if similarity is not None and similarity < c.min_similarity:
        flags.append(f"similarity={similarity:.2f}")
    # one number to order the review queue: language certainty, discounted by every other flag
    confidence = (prob if lang == c.target_lang else 0.0) * (0.5 ** sum(not f.startswith("language:") for f in flags))
    if similarity is not None:
        confidence *= max(0.0, similarity)
    return {
        "detected_lang": lang,
        "lang_prob": prob,
        "length_ratio": overall,
        "similarity": similarity,
        "confidence": confidence,
        "flags": flags,
        "needs_review_first": bool(flags),
    }
