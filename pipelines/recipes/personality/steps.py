"""The personality recipe's steps: read (files, in parallel on Dask) -> validate_answers ->
dedupe_respondents -> key_and_score. Their option models are the recipe's options (`Config`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.inventory import answer_ok, answer_problem, score_frame
from pipelines.steps import Account, Step, StepConfig, StepResult, split_by_reason
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.ipip import item_columns, load_key, read_responses


class ReadConfig(StepConfig):
    keyed: bool = False  # CSV/SPSS/Stata answers already keyed (Johnson's .dat always are)


class ReadResponses(Step):
    """Parse each input file (one Dask partition a file) into text columns with their origin."""

    name = "read"
    needs = ("dask",)
    depends_on = ("sources.ipip",)

    def run(self, data: pl.DataFrame) -> StepResult:
        paths = [Path(p) for p in data["path"]]
        raws = self.dask.map(read_responses, paths) if self.dask else [read_responses(p) for p in paths]
        frames, quarantines = [], []
        for raw in raws:
            keyed = raw.keyed_at_source or self.config.keyed
            frames.append(
                raw.frame.with_columns(
                    pl.lit(keyed).alias("_keyed"),
                    pl.lit(raw.instrument, pl.Int16).alias("instrument_items"),
                )
            )
            quarantines.append(raw.malformed)
        frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        quarantine = quarantine_frame(pl.concat(quarantines), step=self.name)
        rows_in = frame.height + quarantine.height
        return StepResult(frame, Account(self.name, rows_in, frame.height, {}, quarantine.height), quarantine)


class ValidateAnswers(Step):
    """Quarantine rows with an answer that is not a whole number 0..5, or an age not a number."""

    name = "validate_answers"
    depends_on = ("pipelines.inventory",)

    def run(self, data: pl.DataFrame) -> StepResult:
        parts, bad_parts = [], []
        for n, part in _by_instrument(data):
            cols = item_columns(n) + (["age"] if "age" in part.columns else [])
            problems = [answer_problem(c) if c != "age" else _age_problem() for c in cols]
            # the messages are string work on every answer: build them only for rows that fail a
            # cheap test (0..5 as written, or blank); a row keeps its place either way
            schema = part.schema
            plain = pl.all_horizontal(
                answer_ok(c, schema[c]) if c != "age" else _age_problem().is_null() for c in cols)
            part = part.with_row_index("_i")
            checked = part.filter(~plain).with_columns(
                pl.concat_str(problems, separator="; ", ignore_nulls=True).alias("_error"),
                pl.coalesce([pl.when(p.is_not_null()).then(pl.lit(c)) for c, p in zip(cols, problems)]).alias("_field"),
            ).filter(pl.col("_field").is_not_null())
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
        firsts = (
            with_id.group_by("instrument_items", "respondent_id", maintain_order=True)
            .agg(pl.col("_file").first().alias("_first_file"), pl.col("_row").first().alias("_first_row"))
        )
        flagged = with_id.with_columns(
            pl.col("respondent_id").is_first_distinct().over("instrument_items").alias("_first")
        )
        kept = flagged.filter(pl.col("_first")).drop("_first")
        later = flagged.filter(~pl.col("_first")).join(firsts, on=["instrument_items", "respondent_id"], how="left")
        later = later.with_columns(
            pl.lit("case").alias("_field"),
            pl.format("duplicate respondent id '{}': first seen in {} row {}",
                      pl.col("respondent_id"), pl.col("_first_file"), pl.col("_first_row")).alias("_error"),
        ).drop("_first", "_first_file", "_first_row", "respondent_id")
        quarantine = _quarantine_rows(later, self.name) if later.height else empty_quarantine()
        return StepResult(kept, Account(self.name, data.height, kept.height, {}, quarantine.height), quarantine)


class ScoreConfig(StepConfig):
    min_answered_fraction: float = 0.5  # respondents below it: dropped, `insufficient_answers`


class KeyAndScore(Step):
    """Key reverse-scored items, score domains and facets, drop respondents with too few answers."""

    name = "key_and_score"
    depends_on = ("pipelines.inventory", "sources.ipip")

    def run(self, data: pl.DataFrame) -> StepResult:
        parts = []
        for n, part in _by_instrument(data):
            parts.append(score_frame(part.drop(_other_items(part, n)), load_key(n), pl.col("_keyed")))
        scored = _concat(parts, data)
        if not scored.height:
            return split_by_reason(self.name, scored, pl.lit(None, pl.String))
        frac = self.config.min_answered_fraction
        too_few = pl.col("answered") < pl.col("instrument_items") * frac
        return split_by_reason(self.name, scored, pl.when(too_few).then(pl.lit("insufficient_answers")))


# -- helpers -------------------------------------------------------------------------------------


def _by_instrument(data: pl.DataFrame):
    if "instrument_items" not in data.columns or not data.height:
        return []
    return [(int(n), data.filter(pl.col("instrument_items") == n)) for n in sorted(data["instrument_items"].unique())]


def _other_items(part: pl.DataFrame, n: int) -> list[str]:
    """Item columns beyond this instrument's (a 120-item row in a frame shared with 300-item rows)."""
    mine = set(item_columns(n))
    return [c for c in part.columns if c.startswith("i") and c[1:].isdigit() and c not in mine]


def _concat(parts: list[pl.DataFrame], like: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(parts, how="diagonal_relaxed") if parts else like.clear()


def _age_problem() -> pl.Expr:
    text = pl.col("age").cast(pl.String).str.strip_chars()
    present = text.is_not_null() & (text != "")
    return pl.when(present & text.cast(pl.Float64, strict=False).is_null()).then(
        pl.format("age: '{}' is not a number", text)
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
