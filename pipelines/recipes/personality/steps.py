"""The personality recipe's steps: read (files, in parallel on Dask) -> validate_answers ->
dedupe_respondents -> key_and_score. Their option models are the recipe's options (`Config`)."""

from __future__ import annotations

import polars as pl
from pydantic import Field

from pipelines.engine.steps import Account, Step, StepConfig, StepResult, split_by_reason
from pipelines.methods.inventory import answer_ok, answer_problem, score_instrument
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.instruments import Instrument, shipped
from sources.ipip import ResponsesReader, definition

MAX_AGE = 130  # an age above it (1e9, inf) is quarantined, not published


class ReadConfig(StepConfig):
    keyed: bool = False  # CSV/SPSS/Stata answers already keyed (Johnson's .dat always are)


class ReadResponses(Step):
    """Parse each input file (one Dask partition a file) into text columns with their origin."""

    name = "read"
    needs = ("dask",)
    depends_on = ResponsesReader.modules

    def run(self, data: pl.DataFrame) -> StepResult:
        frames, quarantines = [], []
        for read in ResponsesReader().read_all(data["path"], self.dask):
            keyed = read.facts["keyed_at_source"] or self.config.keyed
            instrument = definition(read.facts["instrument"])
            frames.append(
                read.rows.with_columns(
                    pl.lit(keyed).alias("_keyed"),
                    pl.lit(len(instrument.items), pl.Int16).alias("instrument_items"),
                    pl.lit(instrument.id).alias("_instrument"),
                )
            )
            quarantines.append(read.quarantine)
        frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        quarantine = quarantine_frame(pl.concat(quarantines), step=self.name)
        rows_in = frame.height + quarantine.height
        return StepResult(frame, Account(self.name, rows_in, frame.height, {}, quarantine.height), quarantine)


class ValidateAnswers(Step):
    """Quarantine rows with an answer outside the instrument's response scale (0 or blank = missing),
    or an age not a number."""

    name = "validate_answers"
    depends_on = ("pipelines.methods.inventory", "sources.instruments")

    def run(self, data: pl.DataFrame) -> StepResult:
        parts, bad_parts = [], []
        for inst, part in _by_instrument(data):
            scale = inst.response_scale
            cols = inst.columns + (["age"] if "age" in part.columns else [])
            problems = [answer_problem(c, scale) if c != "age" else _age_problem() for c in cols]
            # the messages are string work on every answer: build them only for rows that fail a
            # cheap test (0..5 as written, or blank); a row keeps its place either way
            schema = part.schema
            plain = pl.all_horizontal(
                answer_ok(c, schema[c], scale) if c != "age" else _age_problem().is_null() for c in cols
            )
            part = part.with_row_index("_i")
            checked = (
                part.filter(~plain)
                .with_columns(
                    pl.concat_str(problems, separator="; ", ignore_nulls=True).alias("_error"),
                    pl.coalesce([pl.when(p.is_not_null()).then(pl.lit(c)) for c, p in zip(cols, problems)]).alias(
                        "_field"
                    ),
                )
                .filter(pl.col("_field").is_not_null())
            )
            parts.append(part.filter(~pl.col("_i").is_in(checked["_i"].implode())).drop("_i"))
            bad_parts.append(checked.drop("_i"))
        kept = _concat(parts, data)
        bad = pl.concat(bad_parts, how="diagonal_relaxed") if bad_parts else pl.DataFrame()
        quarantine = _quarantine_rows(bad, self.name) if bad.height else empty_quarantine()
        account = Account(self.name, data.height, kept.height, {}, quarantine.height)
        return StepResult(kept, account, quarantine)


class DedupeRespondents(Step):
    """A repeated respondent id (per instrument) keeps its first row; later ones are quarantined."""

    name = "dedupe_respondents"

    def run(self, data: pl.DataFrame) -> StepResult:
        with_id = data.with_columns(_respondent_id_expr(data.columns).alias("respondent_id"))
        firsts = with_id.group_by("_instrument", "respondent_id", maintain_order=True).agg(
            pl.col("_file").first().alias("_first_file"), pl.col("_row").first().alias("_first_row")
        )
        flagged = with_id.with_columns(pl.col("respondent_id").is_first_distinct().over("_instrument").alias("_first"))
        kept = flagged.filter(pl.col("_first")).drop("_first")
        later = flagged.filter(~pl.col("_first")).join(firsts, on=["_instrument", "respondent_id"], how="left")
        later = later.with_columns(
            pl.lit("case").alias("_field"),
            pl.format(
                "duplicate respondent id '{}': first seen in {} row {}",
                pl.col("respondent_id"),
                pl.col("_first_file"),
                pl.col("_first_row"),
            ).alias("_error"),
        ).drop("_first", "_first_file", "_first_row", "respondent_id")
        quarantine = _quarantine_rows(later, self.name) if later.height else empty_quarantine()
        return StepResult(kept, Account(self.name, data.height, kept.height, {}, quarantine.height), quarantine)


class ScoreConfig(StepConfig):
    min_answered_fraction: float = Field(0.5, ge=0, le=1)  # respondents below it: dropped, `insufficient_answers`


class KeyAndScore(Step):
    """Key reverse-scored items, score domains and facets, drop respondents with too few answers
    (`insufficient_answers`) or a failed catch item (`failed_check`, MFQ-30)."""

    name = "key_and_score"
    depends_on = ("pipelines.methods.inventory", "sources.instruments")

    def run(self, data: pl.DataFrame) -> StepResult:
        parts, scored_items = [], {}
        for inst, part in _by_instrument(data):
            scored_items[inst.id] = sum(i.scale is not None for i in inst.items)
            parts.append(
                by_instrument(score_instrument(part.drop(_other_items(part, inst)), inst, pl.col("_keyed")), inst)
            )
        scored = _concat(parts, data)
        if not scored.height:
            return split_by_reason(self.name, scored, pl.lit(None, pl.String))
        frac = self.config.min_answered_fraction
        too_few = (
            pl.col("answered") < pl.col("_instrument").replace_strict(scored_items, return_dtype=pl.Float64) * frac
        )
        failed = (pl.col("checks_failed") > 0) if "checks_failed" in scored.columns else pl.lit(False)
        reason = (
            pl.when(too_few)
            .then(pl.lit("insufficient_answers"))
            .when(failed.fill_null(False))
            .then(pl.lit("failed_check"))
        )
        return split_by_reason(self.name, scored, reason)


# -- helpers -------------------------------------------------------------------------------------


SCORE_COLUMNS = ("domain_scores", "facet_scores")


def by_instrument(scored: pl.DataFrame, inst: Instrument) -> pl.DataFrame:
    """`domain_scores` and `facet_scores` keyed by instrument: {instrument id: {scale code: score}}, so
    that in a run of several instruments one field never holds two constructs (BFI-2's `E` is
    Extraversion, HEXACO-60's is Emotionality); the rows of other instruments hold null there."""
    return scored.with_columns(
        pl.struct(pl.col(c).alias(inst.id)).alias(c) for c in SCORE_COLUMNS if c in scored.columns
    )


def own_scores(row: dict, column: str = "domain_scores") -> dict:
    """A row's scale scores of its own instrument ({} when it has none); a dataset published before
    scores were keyed by instrument holds them flat ({scale: score}), as they are."""
    scores = row.get(column) or {}
    instrument = row.get("_instrument") or row.get("instrument_id")
    if instrument in scores:
        return scores[instrument] or {}
    flat = all(v is None or isinstance(v, (int, float)) for v in scores.values())
    return scores if flat else {}


def _by_instrument(data: pl.DataFrame) -> list[tuple[Instrument, pl.DataFrame]]:
    if "_instrument" not in data.columns or not data.height:
        return []
    return [(definition(i), data.filter(pl.col("_instrument") == i)) for i in sorted(data["_instrument"].unique())]


def _other_items(part: pl.DataFrame, inst: Instrument) -> list[str]:
    """Item columns of other instruments (a 120-item row in a frame shared with 300-item rows)."""
    mine = set(inst.columns)
    others = {c for other in shipped().values() for c in other.columns} - mine
    return [c for c in part.columns if c in others]


def _concat(parts: list[pl.DataFrame], like: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(parts, how="diagonal_relaxed") if parts else like.clear()


def _age_problem() -> pl.Expr:
    text = pl.col("age").cast(pl.String).str.strip_chars()
    present = text.is_not_null() & (text != "")
    years = text.cast(pl.Float64, strict=False)
    return (
        pl.when(present & years.is_null())
        .then(pl.format("age: '{}' is not a number", text))
        .when(present & ~(years.is_finite() & (years >= 0) & (years <= MAX_AGE)).fill_null(False))
        .then(pl.format("age: '{}' is not an age in years (0 to {})", text, pl.lit(MAX_AGE)))
    )


def _respondent_id_expr(columns: list[str]) -> pl.Expr:
    """The file's case number; `file:row` for files without one."""
    fallback = pl.format("{}:{}", pl.col("_file"), pl.col("_row"))
    if "case" not in columns:
        return fallback
    case = pl.col("case").cast(pl.String).str.strip_chars()
    return pl.when(case.is_not_null() & (case != "")).then(case).otherwise(fallback)


def _quarantine_rows(bad: pl.DataFrame, step: str) -> pl.DataFrame:
    raw_cols = [c for c in bad.columns if not c.startswith("_") and c not in ("instrument_items",)]
    return quarantine_frame(
        bad.select(
            pl.lit(step).alias("step"),
            pl.col("_file").alias("source_file"),
            pl.col("_row").alias("row"),
            pl.col("_field").alias("field"),
            pl.col("_error").alias("error"),
            pl.struct([pl.col(c) for c in raw_cols]).struct.json_encode().alias("raw"),
        )
    )
