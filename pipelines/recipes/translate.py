"""Recipe `translate`: a benchmark (Moral Stories by default) from the Hugging Face Hub or a local
copy of it -> an LLM translation with demonstrations and optional name and culture adaptation
(after Histoires Morales) -> checks on every output -> translations linked to their sources.

Steps: load_source (datasets.load_dataset) -> validate_source -> translate (LLM) -> check_translations
(langdetect on the target language, a length-ratio bound, cross-lingual similarity when a
multilingual embedding model is configured). Low-confidence translations are not dropped: they are
flagged and ordered first, so reviewers see them first. Each translation's `parallel_id` is the
`record_id` of its source in the `originals` config.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
from pydantic import BaseModel, Field, create_model

from pipelines.errors import CurateError, InputFileError
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.step import LLMStep, LLMStepConfig, client_for, llm_step_config, usage_section
from pipelines.llm.structured import complete_structured, structured_request
from pipelines.recipes import CardMeta, CardSection, RecipeConfig, RecipeOutput
from pipelines.runtime import RunContext, file_fingerprint
from sources.tables import arrow_frame, check_data_files
from pipelines.steps import Account, Step, StepConfig, StepResult, split_by_reason
from schemas.envelope import envelope_columns, provenance_entry, stable_id
from schemas.quarantine import quarantine_frame

NAME = "translate"
DESCRIPTION = "a Hub dataset or local copy (Moral Stories fields) -> LLM translation with checks, linked by parallel_id"
MORAL_STORIES_FIELDS = ["norm", "situation", "intention", "moral_action", "moral_consequence", "immoral_action",
                        "immoral_consequence"]
LANGUAGES = {"en": "English", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
             "nl": "Dutch", "ko": "Korean", "ja": "Japanese", "zh-cn": "Chinese", "ar": "Arabic", "ru": "Russian"}
DEMOS_DIR = Path(__file__).resolve().parents[2] / "sources" / "data" / "translate"
BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv", ".arrow": "arrow"}


class Config(RecipeConfig):
    hub_dataset: str | None = None  # e.g. demelin/moral_stories; read instead of the --input files
    hub_config: str | None = None
    split: str = "train"
    id_field: str = "ID"
    fields: list[str] = Field(default_factory=lambda: list(MORAL_STORIES_FIELDS))
    source_lang: str = "en"
    target_lang: str = "fr"
    demonstrations: Path | None = None  # JSONL of {"source": {...}, "target": {...}}; default: shipped ones
    max_demonstrations: int = Field(default=2, ge=0)
    adapt_names: bool = True
    adapt_culture: bool = False
    min_length_ratio: float = Field(default=0.6, gt=0)  # target/source characters, per field
    max_length_ratio: float = Field(default=1.9, gt=0)
    min_lang_field_chars: int = 40  # fields shorter than this are too short for language detection
    embedding_model: str | None = None  # a multilingual sentence-transformers model (local path or name)
    min_similarity: float = Field(default=0.75, ge=-1, le=1)
    limit: int | None = Field(default=None, ge=1)
    llm: LLMSettings | None = None


# -- steps ---------------------------------------------------------------------------------------


class LoadConfig(StepConfig):
    hub_dataset: str | None = None
    hub_config: str | None = None
    split: str = "train"


class LoadSource(Step):
    """Rows of the source dataset via `datasets.load_dataset`: the Hub, a local copy of a Hub
    repository (a folder), or data files in any format `datasets` reads."""

    name = "load_source"

    def run(self, data: pl.DataFrame) -> StepResult:
        frame = load_rows([Path(p) for p in data["path"]], self.config)
        return StepResult(frame, Account(self.name, frame.height, frame.height))


def load_rows(paths: list[Path], config: LoadConfig) -> pl.DataFrame:
    import datasets

    try:
        if config.hub_dataset:
            ds = datasets.load_dataset(config.hub_dataset, config.hub_config, split=config.split)
            origin = config.hub_dataset
        elif len(paths) == 1 and paths[0].is_dir():
            ds = datasets.load_dataset(str(paths[0]), config.hub_config, split=config.split)
            origin = paths[0].name
        else:
            suffixes = {p.suffix.lower() for p in paths}
            builder = {BUILDERS.get(s) for s in suffixes}
            if len(builder) != 1 or None in builder:
                raise InputFileError(paths[0], f"expected data files of one format ({', '.join(BUILDERS)}), got {sorted(suffixes)}")
            ds = datasets.load_dataset(builder.pop(), data_files=[str(p) for p in paths], split="train")
            origin = ",".join(p.name for p in paths)
    except (FileNotFoundError, ValueError, datasets.exceptions.DatasetNotFoundError) as e:
        raise CurateError(f"cannot load the source dataset: {str(e).splitlines()[0]}") from None
    frame = arrow_frame(ds.data.table)  # JSON columns of mixed types (ids 1 and "a1") as text
    return frame.with_columns(pl.lit(origin).alias("_file"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"))


class ValidateConfig(StepConfig):
    id_field: str
    fields: list[str]


class ValidateSource(Step):
    """Quarantine rows without an id, with a repeated id, or with a chosen field empty or not text."""

    name = "validate_source"

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        missing = [f for f in [c.id_field, *c.fields] if f not in data.columns]
        if missing:
            raise CurateError(f"the source dataset has no field(s) {', '.join(missing)}; it has {', '.join(data.columns)}")
        checks = [(c.id_field, _blank(c.id_field), "empty id")]
        checks += [(f, _blank(f), "empty or missing text") for f in c.fields]
        problem = pl.lit(None, pl.String)
        for field, bad, msg in reversed(checks):
            problem = pl.when(bad).then(pl.lit(f"{field}|{msg}")).otherwise(problem)
        dup = pl.col(c.id_field).cast(pl.String).is_first_distinct().not_()
        problem = pl.when(problem.is_null() & dup).then(pl.lit(f"{c.id_field}|repeated id")).otherwise(problem)
        tagged = data.with_columns([pl.col(f).cast(pl.String) for f in [c.id_field, *c.fields]]).with_columns(problem.alias("_p"))
        bad = tagged.filter(pl.col("_p").is_not_null())
        quarantine = quarantine_frame(bad.select(
            pl.lit(self.name).alias("step"), pl.col("_file").alias("source_file"), pl.col("_row").alias("row"),
            pl.col("_p").str.split("|").list.first().alias("field"), pl.col("_p").str.split("|").list.last().alias("error"),
            pl.struct([c.id_field, *c.fields]).struct.json_encode().alias("raw"),
        ))
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


class TranslateConfig(LLMStepConfig):
    id_field: str
    fields: list[str]
    source_lang: str
    target_lang: str
    adapt_names: bool
    adapt_culture: bool
    demonstrations: list[dict]


class Translate(LLMStep):
    name = "translate"

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        output = translation_model(c.fields)
        template = load_template("translate")
        common = {"source_language": LANGUAGES.get(c.source_lang, c.source_lang),
                  "target_language": LANGUAGES.get(c.target_lang, c.target_lang), "fields": c.fields,
                  "adapt_names": c.adapt_names, "adapt_culture": c.adapt_culture, "demonstrations": c.demonstrations}
        rows = list(data.iter_rows(named=True))
        requests = [structured_request(template, {**common, "story": {f: r[f] for f in c.fields}}, output, c.params)
                    for r in rows]
        outcomes, usage = complete_structured(self.client, requests, output, desc="translate")
        good = [i for i, o in enumerate(outcomes) if o.value is not None]
        out = data[good].with_columns(
            *[pl.Series(f"t_{f}", [getattr(outcomes[i].value, f) for i in good], pl.String) for f in c.fields],
            pl.Series("name_changes", [[n.model_dump() for n in outcomes[i].value.name_changes] for i in good],
                      pl.List(pl.Struct({"source": pl.String, "target": pl.String}))),
            pl.Series("translation_repaired", [outcomes[i].repaired for i in good], pl.Boolean),
        )
        failed = [(i, o) for i, o in enumerate(outcomes) if o.value is None]
        return StepResult(out, self.account(data.height, out.height, usage, quarantined=len(failed)),
                          self.quarantine(data, failed))


class CheckConfig(StepConfig):
    fields: list[str]
    target_lang: str
    min_length_ratio: float
    max_length_ratio: float
    min_lang_field_chars: int
    embedding_model: str | None
    min_similarity: float


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
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(self.config.embedding_model, device="cpu")
        fields = self.config.fields
        src = model.encode([" ".join(r[f] for f in fields) for r in rows], normalize_embeddings=True)
        tgt = model.encode([" ".join(r[f"t_{f}"] for f in fields) for r in rows], normalize_embeddings=True)
        return [float(x) for x in (src * tgt).sum(axis=1)]


QUALITY_DTYPE = pl.Struct({
    "detected_lang": pl.String, "lang_prob": pl.Float64, "length_ratio": pl.Float64, "similarity": pl.Float64,
    "confidence": pl.Float64, "flags": pl.List(pl.String), "needs_review_first": pl.Boolean,
})


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
    return {"detected_lang": lang, "lang_prob": prob, "length_ratio": overall, "similarity": similarity,
            "confidence": confidence, "flags": flags, "needs_review_first": bool(flags)}


# -- recipe --------------------------------------------------------------------------------------


def build(ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
    paths = pl.DataFrame({"path": [str(p) for p in inputs]})
    loader = LoadSource(LoadConfig(hub_dataset=config.hub_dataset, hub_config=config.hub_config, split=config.split))
    fingerprint = config.hub_dataset or "|".join(file_fingerprint(p) for p in inputs if p.is_file())
    rows = ctx.apply(loader, paths, inputs_hash=fingerprint)
    validator = ValidateSource(ValidateConfig(id_field=config.id_field, fields=config.fields))
    rows = ctx.apply(validator, rows)
    if config.limit:
        rows = rows.head(config.limit)
    originals = _original_records(ctx, rows, config, [loader, validator])
    tables = {"originals": originals}
    client, reason = client_for(ctx, config.llm)
    if client is None:
        ctx.report.notes.append(f"No translations: the LLM step translate was skipped because {reason}. "
                                "Only the validated source rows are published.")
        return RecipeOutput(tables, _card(config, False), [CardSection("Translations", f"Not made in this run: {reason}.")])
    translator = Translate(llm_step_config(
        client, load_template("translate").hash, TranslateConfig, id_field=config.id_field, fields=config.fields,
        source_lang=config.source_lang, target_lang=config.target_lang, adapt_names=config.adapt_names,
        adapt_culture=config.adapt_culture, demonstrations=load_demonstrations(config)))
    translator.client = client
    translated = ctx.apply(translator, rows)
    checker = CheckTranslations(CheckConfig(
        fields=config.fields, target_lang=config.target_lang, min_length_ratio=config.min_length_ratio,
        max_length_ratio=config.max_length_ratio, min_lang_field_chars=config.min_lang_field_chars,
        embedding_model=config.embedding_model, min_similarity=config.min_similarity))
    checked = ctx.apply(checker, translated)
    tables["translations"] = _translation_records(ctx, checked, config, [loader, validator, translator, checker])
    return RecipeOutput(tables, _card(config, True), _sections(ctx, tables["translations"], config))


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
                demos.append({"source": {f: d["source"][f] for f in config.fields},
                              "target": {**{f: d["target"][f] for f in config.fields},
                                         "name_changes": d["target"].get("name_changes", [])}})
            except (orjson.JSONDecodeError, KeyError, TypeError) as e:
                raise InputFileError(path, f"line {line_no}: not a demonstration with the fields {config.fields}: {e}") from None
    return demos[: config.max_demonstrations]


def _source_id(config: Config) -> str:
    return config.hub_dataset or "moral-stories"


def _original_records(ctx, rows: pl.DataFrame, config: Config, steps) -> pl.DataFrame:
    ids = [stable_id(_source_id(config), i) for i in rows[config.id_field]]
    return rows.with_columns(
        pl.Series("record_id", ids, pl.String),
        *envelope_columns(dataset=_source_id(config), license=config.license, created_at=ctx.created_at,
                          provenance=[provenance_entry(s.name, s.code_version(), s.params()) for s in steps],
                          file=pl.col("_file"), source_id=pl.col(config.id_field), lang=config.source_lang),
    ).select("record_id", config.id_field, *config.fields, "source", "license", "lang", "split", "parallel_id",
             "provenance", "review", "created_at")


def _translation_records(ctx, data: pl.DataFrame, config: Config, steps) -> pl.DataFrame:
    fields = config.fields
    parallel = [stable_id(_source_id(config), i) for i in data[config.id_field]]
    ids = [stable_id(NAME, config.target_lang, p, *texts)
           for p, texts in zip(parallel, data.select([f"t_{f}" for f in fields]).iter_rows())]
    provenance = [provenance_entry(s.name, s.code_version(), s.params()) if not isinstance(s, LLMStep) else s.provenance()
                  for s in steps]
    out = data.with_columns(
        pl.Series("record_id", ids, pl.String),
        *[pl.col(f"t_{f}").alias(f) for f in fields],
        pl.struct([pl.col(f).alias(f) for f in fields]).alias("_src"),
    ).with_columns(
        pl.col("_src").alias("source_text"),
        *envelope_columns(dataset=_source_id(config), license=config.license, created_at=ctx.created_at,
                          provenance=provenance, file=pl.col("_file"), source_id=pl.col(config.id_field),
                          lang=config.target_lang, parallel_id=pl.Series(parallel, dtype=pl.String)),
    )
    # flagged first, least confident first: what reviewers should see before the rest
    out = out.sort([pl.col("quality").struct.field("needs_review_first"), pl.col("quality").struct.field("confidence")],
                   descending=[True, False])
    return out.with_row_index("review_priority").select(
        "record_id", config.id_field, *[pl.col(f"t_{f}").alias(f) for f in fields], "name_changes", "quality",
        pl.col("review_priority").cast(pl.Int32), "translation_repaired", "source_text",
        "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at")


def _sections(ctx, translations: pl.DataFrame, config: Config) -> list[CardSection]:
    q = translations["quality"]
    n = translations.height
    flagged = int(q.struct.field("needs_review_first").sum()) if n else 0
    translate = ctx.report.step("translate")
    lines = [f"- {n} translations into `{config.target_lang}`; {translate.quarantined} items had no valid translation "
             "after one repair (quarantined with the raw reply)",
             f"- {flagged} of {n} flagged for review first (wrong language, length ratio outside "
             f"[{config.min_length_ratio}, {config.max_length_ratio}], or low similarity); `review_priority` 0 is the first to review"]
    if n:
        lines.append(f"- detected language `{config.target_lang}` for "
                     f"{int((q.struct.field('detected_lang') == config.target_lang).sum())} of {n}")
        lines.append(f"- length ratio target/source: mean {q.struct.field('length_ratio').mean():.2f}")
        sims = q.struct.field("similarity").drop_nulls()
        lines.append(f"- cross-lingual similarity ({config.embedding_model}): mean {sims.mean():.3f}" if sims.len()
                     else "- cross-lingual similarity: not measured (no `embedding_model` configured)")
        changes = translations["name_changes"].list.len().sum()
        lines.append(f"- names adapted: {changes} replacements" if config.adapt_names else "- names kept as in the source")
    return [CardSection("Translations", "\n".join(lines)), CardSection("Model calls", usage_section(ctx.report))]


def _card(config: Config, translated: bool) -> CardMeta:
    langs = [config.source_lang] + ([config.target_lang] if translated else [])
    return CardMeta(
        pretty_name=config.dataset_name or f"Moral stories translated into {LANGUAGES.get(config.target_lang, config.target_lang)}",
        license=config.license, languages=[l.split("-")[0] for l in langs],
        task_categories=["text-classification", "text-generation"], tags=["moral-stories", "translation", "norms", "llm-generated"],
        source_datasets=[config.hub_dataset] if config.hub_dataset else [],
        summary=(f"Moral Stories-style items translated from `{config.source_lang}` into `{config.target_lang}` by an LLM with "
                 "demonstrations" + (" and name adaptation" if config.adapt_names else "") + ", after Histoires Morales; "
                 "every translation links to its source by `parallel_id`." if translated else
                 "The validated source items; no translation was made in this run."),
        citation="Leteno, T. et al. (2025). Histoires Morales: A French Dataset for Assessing Moral Alignment. "
                 "Emelin, D. et al. (2021). Moral Stories: Situated Reasoning about Norms, Intents, Actions, and their Consequences.",
        limitations=["Machine translations: until native speakers have reviewed them (review.status = pending) they may "
                     "carry errors of meaning, register or culture.",
                     "langdetect is unreliable on short texts; fields shorter than `min_lang_field_chars` are checked "
                     "only as part of the whole item."],
        fields={"translations": {"parallel_id": "record_id of the source item in the `originals` config",
                                 "quality": "language detected, length ratio, similarity, confidence and the flags raised",
                                 "review_priority": "0 = review first (flagged, then least confident)",
                                 "source_text": "the source fields, for reviewers"}},
    )


def check_inputs(inputs: list[Path], config: Config) -> None:
    """Reject inputs `datasets` cannot read as one table before the run starts, naming the file."""
    if config.hub_dataset:
        return
    suffixes = {p.suffix.lower() for p in inputs}
    for path in inputs:
        if path.suffix.lower() not in BUILDERS:
            raise InputFileError(path, f"expected data files of a dataset ({', '.join(BUILDERS)}), got {path.suffix!r}")
    if len(suffixes) > 1:
        raise InputFileError(inputs[0], f"all data files must have one format, got {sorted(suffixes)}")
    check_data_files(inputs)  # a damaged parquet or a non-UTF-8 text file: one line naming it
