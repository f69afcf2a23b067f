"""The values recipe's steps: read (files, in parallel on Dask) -> validate_weights -> validate_answers
-> distributions. Each step counts its own unit: respondents (read, validate_weights), answer cells,
one per respondent and question in the respondent's file (validate_answers), group distributions,
one per survey x wave x question x group (distributions). The card says so.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field

from pipelines.engine.steps import Account, Step, StepConfig, StepResult
from pipelines.methods.distributions import ALL, combine_stats, distributions, drop_reason, group_stats
from pipelines.methods.survey_design import Design, apply_design, design_problems
from schemas.errors import CurateError
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.survey import FilePlan, MicrodataReader, Question, SurveyPlan

KEYS = ["_survey", "_wave"]

SLICE_ROWS = 200_000


class SurveyStep(Step):
    """A step of this recipe: its provenance leaves out the codebook (it is in the card and the
    questions config; repeating it in every record would bloat the shards)."""

    def provenance_params(self) -> dict:
        params = self.params()
        return {k: v for k, v in params.items() if k not in ("plan", "questions", "files")} or {"step": self.name}


class ReadConfig(StepConfig):
    plan: SurveyPlan


class ReadMicrodata(SurveyStep):
    """Each microdata file (one Dask partition a file) as text columns with their origin."""

    name = "read"
    needs = ("dask",)
    depends_on = MicrodataReader.modules

    def run(self, data: pl.DataFrame) -> StepResult:
        reads = MicrodataReader(self.config.plan).read_all(data["path"], self.dask)
        frame = pl.concat([r.rows for r in reads], how="diagonal_relaxed")
        account = Account(self.name, frame.height, frame.height, extra={"unit": "respondents"})
        return StepResult(frame, account)


class WeightOptions(StepConfig):
    weighted: bool = True  # false: ignore the codebook's weight column, every respondent counts 1


class WeightConfig(WeightOptions):
    weight: str | None  # the codebook's weight column; None: unweighted
    design: Design | None = None  # design values are checked with the weight (pipelines/methods/survey_design.py)


class ValidateWeights(SurveyStep):
    """Quarantine respondents whose weight is missing, not a number, negative or not finite, and the
    repeats of a respondent id within one survey and wave (a respondent counted twice would weigh
    twice; the first row is kept, the repeat names it); the kept ones get `_w` (1 for every
    respondent when the run is unweighted)."""

    name = "validate_weights"
    version = "2"
    depends_on = ("pipelines.methods.survey_design",)

    def run(self, data: pl.DataFrame) -> StepResult:
        column = self.config.weight
        weighted = bool(self.config.weighted and column)
        text = pl.col("_weight")
        w = text.cast(pl.Float64, strict=False) if weighted else pl.lit(1.0)
        weight_problem = (
            (
                pl.when(text.is_null() | (text == ""))
                .then(pl.lit("weight is missing"))
                .when(w.is_null())
                .then(pl.format("weight '{}' is not a number", text))
                .when(w.is_nan() | w.is_infinite())
                .then(pl.format("weight {} is not finite", text))
                .when(w < 0)
                .then(pl.format("weight is negative ({})", text))
            )
            if weighted
            else pl.lit(None, pl.String)
        )
        design_problem, design_field = design_problems(self.config.design, data.columns)
        checked = (
            data.with_row_index("_order")
            .with_columns(
                pl.coalesce(weight_problem, design_problem, _repeated_respondent()).alias("_error"),
                pl.when(weight_problem.is_not_null())
                .then(pl.lit(column))
                .when(design_problem.is_not_null())
                .then(design_field)
                .otherwise(pl.lit("respondent_id"))
                .alias("_field"),
                w.alias("_w"),
            )
            .drop("_order")
        )
        kept = checked.filter(pl.col("_error").is_null()).drop("_error", "_field")
        bad = checked.filter(pl.col("_error").is_not_null())
        quarantine = _quarantine(bad, self.name, pl.col("_field"), _raw_row(bad)) if bad.height else empty_quarantine()
        account = Account(self.name, data.height, kept.height, {}, quarantine.height, extra={"unit": "respondents"})
        return StepResult(kept, account, quarantine)


def _repeated_respondent() -> pl.Expr:
    """For the second and later rows of a respondent id within one survey and wave (in input order,
    `_order`): a message naming the first row; null otherwise, and for rows without an id."""
    scope = ["_survey", "_wave", "_rid"]
    first = pl.col("_order").min().over(scope)
    first_row = pl.col("_row").sort_by("_order").first().over(scope)
    first_file = pl.col("_file").sort_by("_order").first().over(scope)
    again = pl.col("_rid").is_not_null() & (pl.col("_order") != first)
    return pl.when(again).then(
        pl.format(
            "respondent id '{}' repeats row {} of {} (same survey and wave)", pl.col("_rid"), first_row, first_file
        )
    )


class AnswerConfig(StepConfig):
    questions: tuple[Question, ...]
    files: tuple[FilePlan, ...]


class ValidateAnswers(SurveyStep):
    """Answer codes -> option indices (0..K-1 options, K.. refusals). A code that is neither an option
    nor a refusal of its question is quarantined with the question named; the respondent's other
    answers are kept. Counts answer cells: every respondent x question of the respondent's file."""

    name = "validate_answers"

    def run(self, data: pl.DataFrame) -> StepResult:
        present = [q for q in self.config.questions if q.var in data.columns]
        exprs, quarantines, bad_cells = [], [], 0
        for q in present:
            mapping = q.code_index()
            codes = list(mapping)
            index = pl.col(q.var).replace_strict(codes, list(mapping.values()), default=None, return_dtype=pl.Int16)
            unknown = data.filter(pl.col(q.var).is_not_null() & ~pl.col(q.var).is_in(codes))
            if unknown.height:
                bad_cells += unknown.height
                error = pl.format(
                    "code '{}' is not an option of {} in the codebook (options {}; refusals {})",
                    pl.col(q.var),
                    pl.lit(q.var),
                    pl.lit(",".join(o.code for o in q.options)),
                    pl.lit(",".join(c for c in codes if mapping[c] >= len(q.options)) or "none"),
                )
                raw = pl.struct(pl.col("_rid").alias("respondent_id"), pl.col(q.var)).struct.json_encode()
                quarantines.append(_quarantine(unknown, self.name, pl.lit(q.var), raw, error))
            exprs.append(index.alias(q.var))
        out = data.with_columns(exprs)
        asked_cells, not_asked = _cells_and_blanks(data, self.config.files)
        answered = int(sum(out[q.var].is_not_null().sum() for q in present))
        quarantine = pl.concat(quarantines) if quarantines else empty_quarantine()
        account = Account(
            self.name,
            asked_cells,
            answered,
            {"not_asked": not_asked} if not_asked else {},
            bad_cells,
            extra={"unit": "answer cells (respondent x question in the respondent's file)"},
        )
        return StepResult(out, account, quarantine)


def _raw_row(frame: pl.DataFrame) -> pl.Expr:
    """The respondent's row as JSON: id, weight as written, group values and answer codes."""
    fields = [c for c in frame.columns if not c.startswith("_")]
    return pl.struct(
        pl.col("_rid").alias("respondent_id"), pl.col("_weight").alias("weight"), *[pl.col(c) for c in fields]
    ).struct.json_encode()


def _quarantine(
    bad: pl.DataFrame, step: str, field: pl.Expr, raw: pl.Expr, error: pl.Expr | None = None
) -> pl.DataFrame:
    return quarantine_frame(
        bad.select(
            pl.lit(step).alias("step"),
            pl.col("_file").alias("source_file"),
            pl.col("_row").alias("row"),
            field.alias("field"),
            (pl.col("_error") if error is None else error).alias("error"),
            raw.alias("raw"),
        )
    )


def _cells_and_blanks(data: pl.DataFrame, files: tuple[FilePlan, ...]) -> tuple[int, int]:
    """Answer cells (respondent x question of the respondent's file) and how many of them are blank,
    counted per file: a question a file lacks is neither."""
    cells = blanks = 0
    for f in files:
        rows = data.filter(pl.col("_file") == f.name)
        cells += rows.height * len(f.questions)
        if rows.height and f.questions:
            blanks += int(rows.select(pl.sum_horizontal(pl.col(q).null_count() for q in f.questions)).item())
    return cells, blanks


class DistributionOptions(StepConfig):
    min_n: int = Field(30, ge=1)  # groups with fewer positive-weight substantive answers: `below_min_n`
    confidence: float = Field(0.95, gt=0, lt=1)  # of the Wilson interval per option
    # strata with one PSU (sources.design.Design.lonely_psu), over the codebook's design
    lonely_psu: Literal["fail", "skip", "adjust", "certainty", "combine"] | None = None


class DistributionConfig(DistributionOptions):
    questions: tuple[Question, ...]
    groups: tuple[str, ...]
    design: Design | None = None  # the codebook's survey design: design-based intervals

    @property
    def effective_design(self) -> Design | None:
        """The codebook's design with the run's `lonely_psu` when it sets one (checked again: combine
        needs the codebook's combine_strata)."""
        if self.design is None or self.lonely_psu is None or self.design.replicates:
            return self.design
        try:
            return Design(**{**self.design.model_dump(), "lonely_psu": self.lonely_psu})
        except ValueError as e:
            raise CurateError(f"lonely_psu {self.lonely_psu}: {str(e).splitlines()[-1].strip()}") from None


class ComputeDistributions(SurveyStep):
    """Weighted distributions per survey x wave x group x question (`pipelines.methods.distributions`).
    Counts group distributions: those with no answer in the group are dropped as
    `not_asked_in_group`, those with refusals only as `only_refusals`, those with fewer than min_n
    substantive answers with a positive weight as `below_min_n`, those whose weights sum to 0 as
    `zero_total_weight` (`pipelines.methods.distributions.drop_reason`). With a survey design in the codebook
    the intervals are design-based (`pipelines.methods.survey_design`)."""

    name = "distributions"
    depends_on = ("pipelines.methods.distributions", "pipelines.methods.survey_design")

    def run(self, data: pl.DataFrame) -> StepResult:
        questions = [q.var for q in self.config.questions if q.var in data.columns]
        groups = list(self.config.groups)
        # the sums add up over rows, so slices of rows bound the working memory (as the benchmark does)
        parts = [
            group_stats(part, questions, groups, weight="_w", keys=KEYS) for part in data.iter_slices(n_rows=SLICE_ROWS)
        ]
        stats = combine_stats(parts) if parts else group_stats(data, questions, groups, weight="_w", keys=KEYS)
        meta = pl.DataFrame(
            {
                "var_name": [q.var for q in self.config.questions],
                "n_options": [len(q.options) for q in self.config.questions],
                "n_refusals": [len(q.refusals) for q in self.config.questions],
            }
        )
        dists = distributions(stats, meta, confidence=self.config.confidence)
        design, lonely = self.config.effective_design, []
        if design is not None:
            n_options = {q.var: len(q.options) for q in self.config.questions if q.var in data.columns}
            dists = apply_design(dists, data, n_options, groups, KEYS, design, self.config.confidence, lonely)
        tagged = dists.with_columns(drop_reason(self.config.min_n).alias("_reason"))
        kept = tagged.filter(pl.col("_reason").is_null()).drop("_reason")
        dropped_rows = tagged.filter(pl.col("_reason").is_not_null())
        dropped = {r: int(n) for r, n in dropped_rows.group_by("_reason").len().iter_rows()}
        answers = stats.filter((pl.col("group_attr") == ALL) & pl.col("option").is_not_null())["n"].sum()
        overall = dists.filter(pl.col("group_attr") == ALL).select((pl.col("n") + pl.col("n_refused")).sum()).item()
        if (overall or 0) != (answers or 0):  # every counted answer must reach a distribution
            raise AssertionError(f"distributions lost answers: {answers} counted, {overall} in the whole-sample rows")
        extra = {
            "unit": "group distributions (survey x wave x question x group)",
            "answers_counted": int(answers or 0),
            "min_n": self.config.min_n,
            "below_min_n_groups": _small_groups(dropped_rows),
            "only_refusal_groups": dropped_rows.filter(pl.col("_reason") == "only_refusals")
            .select(
                pl.col("_survey").alias("survey"),
                pl.col("_wave").alias("wave"),
                "group_attr",
                "group_value",
                "var_name",
                "n_refused",
                "refusal_mass",
            )
            .to_dicts(),
            "missing_group_value": _missing_values(stats),
        }
        if design is not None and not design.replicates:
            extra["lonely_psu"] = {
                "option": design.lonely_psu,
                "strata": lonely,
                "zero_width_intervals": _zero_width(kept),
            }
        account = Account(self.name, dists.height, kept.height, dropped, 0, extra=extra)
        return StepResult(kept, account, dropped_rows=dropped_rows)


def _zero_width(dists: pl.DataFrame) -> int:
    """Published distributions with a proportion strictly between 0 and 1 whose design-based standard
    error is 0: a group lying wholly inside strata that contribute no variance (lonely PSUs skipped)."""
    if "se" not in dists.columns or not dists.height:
        return 0
    pairs = dists.select(pl.int_range(pl.len()).alias("_r"), "probs", "se").explode("probs", "se")
    return pairs.filter((pl.col("probs") > 0) & (pl.col("probs") < 1) & (pl.col("se") == 0))["_r"].n_unique()


def _small_groups(dropped: pl.DataFrame) -> list[dict]:
    """Per group below min n: in how many question distributions, and its largest n there, counted
    as the rule counts (`max_n`: substantive answers with a positive weight; `max_answers`: all
    substantive answers, zero weights included)."""
    small = dropped.filter(pl.col("_reason") == "below_min_n")
    summary = (
        small.group_by("_survey", "_wave", "group_attr", "group_value")
        .agg(
            pl.len().alias("questions"),
            pl.col("n_positive").max().alias("max_n"),
            pl.col("n").max().alias("max_answers"),
        )
        .sort("_survey", "_wave", "group_attr", "group_value", nulls_last=True)
    )
    return [
        {
            "survey": s,
            "wave": w,
            "group_attr": a,
            "group_value": v,
            "questions": q,
            "max_n": int(n),
            "max_answers": int(m),
        }
        for s, w, a, v, q, n, m in summary.iter_rows()
    ]


def _missing_values(stats: pl.DataFrame) -> dict[str, int]:
    """Answers per group attribute whose respondent has no value for it (left out of its groups)."""
    nulls = stats.filter(pl.col("group_value").is_null() & pl.col("option").is_not_null())
    return {a: int(n) for a, n in nulls.group_by("group_attr").agg(pl.col("n").sum()).sort("group_attr").iter_rows()}
