"""Recipe `values`: survey microdata + codebook -> weighted answer distributions per question and group
(as GlobalOpinionQA, OpinionQA and KorNAT publish them).

Steps: read (files, in parallel on Dask) -> validate_weights -> validate_answers -> distributions.
Each step counts its own unit: respondents (read, validate_weights), answer cells, one per respondent
and question in the respondent's file (validate_answers), group distributions, one per survey x wave
x question x group (distributions). The card says so.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from pipelines.distributions import ALL, combine_stats, distributions, drop_reason, group_stats, kish_n_eff
from pipelines.survey_design import DESIGN_COLS, Design, apply_design, design_problems, design_section
from pipelines.errors import InputFileError
from pipelines.recipes import CardMeta, CardSection, RecipeConfig, RecipeOutput
from pipelines.runtime import RunContext, file_fingerprint
from pipelines.steps import Account, Step, StepConfig, StepResult
from schemas.envelope import envelope_columns, provenance_entry, stable_id
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.survey import (
    FilePlan, Question, SurveyPlan, country_spellings, is_codebook, load_codebook, make_plan, read_microdata,
)

NAME = "values"
DESCRIPTION = ("Survey microdata (CSV, SPSS, Stata) + codebook -> weighted answer distributions per question "
               "and group (GlobalOpinionQA/OpinionQA style)")
KEYS = ["_survey", "_wave"]
SLICE_ROWS = 200_000
ENVELOPE = ["source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at"]


class Config(RecipeConfig):
    min_n: int = Field(30, ge=1)  # groups with fewer substantive answers: dropped, `below_min_n`
    weighted: bool = True  # false: ignore the codebook's weight column, every respondent counts 1
    confidence: float = Field(0.95, gt=0, lt=1)  # of the Wilson interval per option


# -- steps ---------------------------------------------------------------------------------------


class ReadConfig(StepConfig):
    plan: SurveyPlan


class ReadMicrodata(Step):
    """Each microdata file (one Dask partition a file) as text columns with their origin."""

    name = "read"
    version = "2"  # sources/survey.py: design columns, ISO countries (the hash sees only this class)
    dask = None  # set by the recipe to the run's DaskRuntime

    def run(self, data: pl.DataFrame) -> StepResult:
        paths = [Path(p) for p in data["path"]]
        plan = self.config.plan
        if self.dask:
            frames = self.dask.map(read_microdata, paths, plan=plan)
        else:
            frames = [read_microdata(p, plan) for p in paths]
        frame = pl.concat(frames, how="diagonal_relaxed")
        account = Account(self.name, frame.height, frame.height, extra={"unit": "respondents"})
        return StepResult(frame, account)


class WeightConfig(StepConfig):
    weight: str | None  # the codebook's weight column; None: unweighted
    weighted: bool = True
    design: Design | None = None  # design values are checked with the weight (pipelines/survey_design.py)


class ValidateWeights(Step):
    """Quarantine respondents whose weight is missing, not a number, negative or not finite, and the
    repeats of a respondent id within one survey and wave (a respondent counted twice would weigh
    twice; the first row is kept, the repeat names it); the kept ones get `_w` (1 for every
    respondent when the run is unweighted)."""

    name = "validate_weights"
    version = "2"

    def run(self, data: pl.DataFrame) -> StepResult:
        column = self.config.weight
        weighted = bool(self.config.weighted and column)
        text = pl.col("_weight")
        w = text.cast(pl.Float64, strict=False) if weighted else pl.lit(1.0)
        weight_problem = (
            pl.when(text.is_null() | (text == "")).then(pl.lit("weight is missing"))
            .when(w.is_null()).then(pl.format("weight '{}' is not a number", text))
            .when(w.is_nan() | w.is_infinite()).then(pl.format("weight {} is not finite", text))
            .when(w < 0).then(pl.format("weight is negative ({})", text))
        ) if weighted else pl.lit(None, pl.String)
        design_problem, design_field = design_problems(self.config.design, data.columns)
        checked = data.with_row_index("_order").with_columns(
            pl.coalesce(weight_problem, design_problem, _repeated_respondent()).alias("_error"),
            pl.when(weight_problem.is_not_null()).then(pl.lit(column))
            .when(design_problem.is_not_null()).then(design_field)
            .otherwise(pl.lit("respondent_id")).alias("_field"),
            w.alias("_w"),
        ).drop("_order")
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
    return pl.when(again).then(pl.format("respondent id '{}' repeats row {} of {} (same survey and wave)",
                                         pl.col("_rid"), first_row, first_file))


class AnswerConfig(StepConfig):
    questions: tuple[Question, ...]
    files: tuple[FilePlan, ...]


class ValidateAnswers(Step):
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
                    pl.col(q.var), pl.lit(q.var), pl.lit(",".join(o.code for o in q.options)),
                    pl.lit(",".join(c for c in codes if mapping[c] >= len(q.options)) or "none"),
                )
                raw = pl.struct(pl.col("_rid").alias("respondent_id"), pl.col(q.var)).struct.json_encode()
                quarantines.append(_quarantine(unknown, self.name, pl.lit(q.var), raw, error))
            exprs.append(index.alias(q.var))
        out = data.with_columns(exprs)
        asked_cells, not_asked = _cells_and_blanks(data, self.config.files)
        answered = int(sum(out[q.var].is_not_null().sum() for q in present))
        quarantine = pl.concat(quarantines) if quarantines else empty_quarantine()
        account = Account(self.name, asked_cells, answered, {"not_asked": not_asked} if not_asked else {},
                          bad_cells, extra={"unit": "answer cells (respondent x question in the respondent's file)"})
        return StepResult(out, account, quarantine)


def _raw_row(frame: pl.DataFrame) -> pl.Expr:
    """The respondent's row as JSON: id, weight as written, group values and answer codes."""
    fields = [c for c in frame.columns if not c.startswith("_")]
    return pl.struct(pl.col("_rid").alias("respondent_id"), pl.col("_weight").alias("weight"),
                     *[pl.col(c) for c in fields]).struct.json_encode()


def _quarantine(bad: pl.DataFrame, step: str, field: pl.Expr, raw: pl.Expr, error: pl.Expr | None = None) -> pl.DataFrame:
    return quarantine_frame(bad.select(
        pl.lit(step).alias("step"), pl.col("_file").alias("source_file"), pl.col("_row").alias("row"),
        field.alias("field"), (pl.col("_error") if error is None else error).alias("error"), raw.alias("raw"),
    ))


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


class DistributionConfig(StepConfig):
    questions: tuple[Question, ...]
    groups: tuple[str, ...]
    min_n: int = 30
    confidence: float = 0.95
    design: Design | None = None  # the codebook's survey design: design-based intervals


class ComputeDistributions(Step):
    """Weighted distributions per survey x wave x group x question (`pipelines.distributions`).
    Counts group distributions: those with no answer in the group are dropped as
    `not_asked_in_group`, those with fewer than min_n substantive answers as `below_min_n`, those
    whose weights sum to 0 as `zero_total_weight`."""

    name = "distributions"

    def run(self, data: pl.DataFrame) -> StepResult:
        questions = [q.var for q in self.config.questions if q.var in data.columns]
        groups = list(self.config.groups)
        # the sums add up over rows, so slices of rows bound the working memory (as the benchmark does)
        parts = [group_stats(part, questions, groups, weight="_w", keys=KEYS)
                 for part in data.iter_slices(n_rows=SLICE_ROWS)]
        stats = combine_stats(parts) if parts else group_stats(data, questions, groups, weight="_w", keys=KEYS)
        meta = pl.DataFrame({
            "var_name": [q.var for q in self.config.questions],
            "n_options": [len(q.options) for q in self.config.questions],
            "n_refusals": [len(q.refusals) for q in self.config.questions],
        })
        dists = distributions(stats, meta, confidence=self.config.confidence)
        if self.config.design is not None:
            n_options = {q.var: len(q.options) for q in self.config.questions if q.var in data.columns}
            dists = apply_design(dists, data, n_options, groups, KEYS, self.config.design, self.config.confidence)
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
            "only_refusal_groups": dropped_rows.filter(pl.col("_reason") == "only_refusals").select(
                pl.col("_survey").alias("survey"), pl.col("_wave").alias("wave"), "group_attr", "group_value",
                "var_name", "n_refused", "refusal_mass").to_dicts(),
            "missing_group_value": _missing_values(stats),
        }
        account = Account(self.name, dists.height, kept.height, dropped, 0, extra=extra)
        return StepResult(kept, account, dropped_rows=dropped_rows)


def _small_groups(dropped: pl.DataFrame) -> list[dict]:
    """Per group below min n: in how many question distributions, and its largest n there."""
    small = dropped.filter(pl.col("_reason") == "below_min_n")
    summary = (
        small.group_by("_survey", "_wave", "group_attr", "group_value")
        .agg(pl.len().alias("questions"), pl.col("n").max().alias("max_n"))
        .sort("_survey", "_wave", "group_attr", "group_value", nulls_last=True)
    )
    return [
        {"survey": s, "wave": w, "group_attr": a, "group_value": v, "questions": q, "max_n": int(n)}
        for s, w, a, v, q, n in summary.iter_rows()
    ]


def _missing_values(stats: pl.DataFrame) -> dict[str, int]:
    """Answers per group attribute whose respondent has no value for it (left out of its groups)."""
    nulls = stats.filter(pl.col("group_value").is_null() & pl.col("option").is_not_null())
    return {a: int(n) for a, n in nulls.group_by("group_attr").agg(pl.col("n").sum()).sort("group_attr").iter_rows()}


# -- recipe --------------------------------------------------------------------------------------


def split_inputs(inputs: list[Path]) -> tuple[Path, list[Path]]:
    books = [p for p in inputs if is_codebook(p)]
    data = [p for p in inputs if not is_codebook(p)]
    if len(books) != 1:
        named = ", ".join(str(p) for p in books) or "none"
        raise InputFileError(inputs[0] if inputs else "--input",
                             f"the values recipe needs exactly one codebook (.yaml/.yml, or a CSV with "
                             f"role,var columns) among the inputs; found {named}")
    if not data:
        raise InputFileError(books[0], "no microdata files among the inputs (.csv, .tsv, .sav, .dta)")
    return books[0], data


def plan_inputs(inputs: list[Path]) -> SurveyPlan:
    codebook_path, data = split_inputs(inputs)
    return make_plan(load_codebook(codebook_path), codebook_path, data)


def check_inputs(inputs: list[Path], config: Config) -> None:
    """Reject a wrong file or codebook before the run starts, naming the file (metadata only)."""
    plan_inputs(inputs)


def build(ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
    codebook_path, data_paths = split_inputs(inputs)
    plan = make_plan(load_codebook(codebook_path), codebook_path, data_paths)
    book = plan.codebook
    _report_absences(ctx, plan)

    reader = ReadMicrodata(ReadConfig(plan=plan))
    reader.dask = ctx.dask
    fingerprints = "|".join(file_fingerprint(p) for p in data_paths)
    data = ctx.apply(reader, pl.DataFrame({"path": [str(p) for p in data_paths]}), inputs_hash=fingerprints)
    weights = ValidateWeights(WeightConfig(weight=book.weight, weighted=config.weighted, design=book.design))
    data = ctx.apply(weights, data)
    answers = ValidateAnswers(AnswerConfig(questions=plan.questions, files=plan.files))
    data = ctx.apply(answers, data)
    groups = tuple(g.attr for g in book.groups)
    computer = ComputeDistributions(DistributionConfig(
        questions=plan.questions, groups=groups, min_n=config.min_n, confidence=config.confidence,
        design=book.design))
    dists = ctx.apply(computer, data)
    _check_identity(ctx)
    ctx.report.facts["country_spellings"] = country_spellings(data, book)  # raw -> ISO 3166 name

    weighted = bool(config.weighted and book.weight)
    steps = [reader, weights, answers, computer]
    provenance = [provenance_entry(s.name, s.code_version(), _short_params(s)) for s in steps]
    dist_records = _distribution_records(ctx, dists, plan, config, weighted, provenance)
    question_records = _question_records(ctx, dist_records, plan, data, config, provenance)
    sections = measure(ctx, plan, data, dist_records, config, weighted)
    tables = {"distributions": dist_records, "questions": question_records}
    return RecipeOutput(tables, _card(config, plan), sections, plots=_plots(plan, data, dist_records))


def _plots(plan: SurveyPlan, data: pl.DataFrame, dists: pl.DataFrame) -> list:
    """Respondents per value of the first group attribute (often country), and the spread of the
    design effect n / n_eff and of the refusal mass over the published distributions."""
    from data_cards.plots import Plot

    plots = []
    if plan.codebook.groups:
        first = plan.codebook.groups[0].attr
        counts = data.group_by(first).len().drop_nulls().sort(first)
        plots.append(Plot("values_respondents", f"Respondents per {first}", "bars", dict(counts.iter_rows())))
    if dists.height:
        deff = dists.filter(pl.col("n_eff") > 0).select(pl.col("n") / pl.col("n_eff")).to_series().to_list()
        plots.append(Plot("values_design_effect", "Kish design effect n / n_eff per distribution", "hist",
                          {"design effect": deff}, xlabel="n / n_eff"))
        plots.append(Plot("values_refusal_mass", "Refusal mass per distribution", "hist",
                          {"refusal mass": dists["refusal_mass"].drop_nulls().to_list()}, xlabel="refusal mass"))
    return plots


def _short_params(step: Step) -> dict:
    """A step's configuration for provenance, without the codebook (it is in the card and the
    questions config; repeating it in every record would bloat the shards)."""
    params = step.params()
    return {k: v for k, v in params.items() if k not in ("plan", "questions", "files")} or {"step": step.name}


def _report_absences(ctx: RunContext, plan: SurveyPlan) -> None:
    absent = {f.name: list(f.absent_questions) for f in plan.files if f.absent_questions}
    groups = {f.name: list(f.absent_groups) for f in plan.files if f.absent_groups}
    ctx.report.facts["absent_questions"] = absent
    ctx.report.facts["absent_groups"] = groups
    ctx.report.facts["absent_everywhere"] = list(plan.absent_everywhere)
    for name, qs in absent.items():
        ctx.report.notes.append(f"{name}: codebook question(s) not in the file: {', '.join(qs)}")
        ctx.log.warning("%s: codebook question(s) not in the file: %s", name, ", ".join(qs))
    for name, gs in groups.items():
        ctx.report.notes.append(f"{name}: group column(s) not in the file (its respondents have no value "
                                f"for them): {', '.join(gs)}")
    if plan.absent_everywhere:
        ctx.report.notes.append("codebook question(s) in none of the files, not published: "
                                + ", ".join(plan.absent_everywhere))
    if plan.unused_file_specs:
        ctx.report.notes.append("codebook `files` entries for files not among the inputs (unused): "
                                + ", ".join(plan.unused_file_specs))


def _check_identity(ctx: RunContext) -> None:
    """Every kept answer cell is counted in exactly one distribution of the whole-sample group."""
    kept = ctx.report.step("validate_answers").kept
    counted = ctx.report.step("distributions").extra["answers_counted"]
    if kept != counted:
        raise AssertionError(f"validate_answers kept {kept} answers but distributions counted {counted}")


def _question_meta(plan: SurveyPlan) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "var_name": [q.var for q in plan.questions],
            "question": [q.text for q in plan.questions],
            "ordinal": [q.ordinal for q in plan.questions],
            "options": [[o.label for o in q.options] for q in plan.questions],
            "option_codes": [[o.code for o in q.options] for q in plan.questions],
            "refusal_options": [[o.label for o in q.refusals] for q in plan.questions],
            "refusal_codes": [[o.code for o in q.refusals] for q in plan.questions],
            "labels_from": [q.labels_from for q in plan.questions],
            "code_aliases": [[{"code": a, "same_as": t} for a, t in q.aliases.items()] for q in plan.questions],
        },
        schema={"var_name": pl.String, "question": pl.String, "ordinal": pl.Boolean,
                "options": pl.List(pl.String), "option_codes": pl.List(pl.String),
                "refusal_options": pl.List(pl.String), "refusal_codes": pl.List(pl.String),
                "labels_from": pl.String,
                "code_aliases": pl.List(pl.Struct({"code": pl.String, "same_as": pl.String}))},
    )


def _with_files(frame: pl.DataFrame, plan: SurveyPlan) -> pl.DataFrame:
    """Adds `file`: the files holding the record's question, in its survey and wave (or survey alone
    when waves come from a column) - the records' `source.file`."""
    rows = [(f.survey, f.wave, q, f.name) for f in plan.files for q in f.questions]
    files = pl.DataFrame(rows, schema={"survey": pl.String, "wave": pl.String, "var_name": pl.String,
                                       "file": pl.String}, orient="row")
    on = ["survey", "var_name"] if plan.codebook.wave_column else ["survey", "wave", "var_name"]
    files = files.group_by(on).agg(pl.col("file").unique().sort().str.join(", "))
    return frame.join(files, on=on, how="left", nulls_equal=True)


def _distribution_records(ctx, dists: pl.DataFrame, plan: SurveyPlan, config: Config, weighted: bool,
                          provenance: list[dict]) -> pl.DataFrame:
    base = dists.rename({"_survey": "survey", "_wave": "wave"}).join(_question_meta(plan), on="var_name", how="left")
    base = _with_files(base, plan)
    ids = [
        stable_id(NAME, s, w, v, a, g)
        for s, w, v, a, g in base.select("survey", "wave", "var_name", "group_attr", "group_value").iter_rows()
    ]
    records = base.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        pl.lit(weighted).alias("weighted"),
        *envelope_columns(
            dataset=plan.codebook.survey, license=config.license, created_at=ctx.created_at,
            provenance=provenance, file=pl.col("file"), source_id=pl.col("var_name"), lang=plan.codebook.lang,
        ),
    )
    return records.select(
        "record_id", "survey", "wave", "var_name", "question", "ordinal", "options", "refusal_options",
        "group_attr", "group_value", "probs", "ci", "refusal_probs", "refusal_mass",
        "n", "n_refused", "n_missing", "n_positive", pl.col("n_eff"), pl.col("w_sum").alias("weight_sum"), "weighted",
        *[c for c in DESIGN_COLS if c in base.columns], *ENVELOPE,
    ).sort("survey", "wave", "var_name", "group_attr", "group_value", nulls_last=True)


def _question_records(ctx, dists: pl.DataFrame, plan: SurveyPlan, data: pl.DataFrame, config: Config,
                      provenance: list[dict]) -> pl.DataFrame:
    """One record per survey x wave x question, with every published group's distribution nested
    (GlobalOpinionQA's `selections`, as columns instead of a stringified dict)."""
    pairs = pl.concat([
        pl.DataFrame({"survey": f.survey, "wave": f.wave, "var_name": list(f.questions)},
                     schema={"survey": pl.String, "wave": pl.String, "var_name": pl.String})
        for f in plan.files
    ])
    if plan.codebook.wave_column:  # waves come from the rows, not the files
        seen = data.select(pl.col("_survey").alias("survey"), pl.col("_wave").alias("wave")).unique()
        pairs = pairs.drop("wave").join(seen, on="survey").unique()
    pairs = pairs.unique().join(_question_meta(plan), on="var_name")
    nested = dists.group_by("survey", "wave", "var_name").agg(
        pl.struct("group_attr", "group_value", "probs", "ci", "refusal_mass", "n", "n_eff", "weighted")
        .sort_by("group_attr", "group_value").alias("distributions"),
    )
    out = pairs.join(nested, on=["survey", "wave", "var_name"], how="left", nulls_equal=True)
    dist_dtype = dists.select(
        pl.struct("group_attr", "group_value", "probs", "ci", "refusal_mass", "n", "n_eff", "weighted")
    ).to_series().dtype
    out = _with_files(out.with_columns(pl.col("distributions").fill_null(pl.lit([], pl.List(dist_dtype)))), plan)
    ids = [stable_id(NAME, "question", s, w, v) for s, w, v in out.select("survey", "wave", "var_name").iter_rows()]
    out = out.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        *envelope_columns(
            dataset=plan.codebook.survey, license=config.license, created_at=ctx.created_at,
            provenance=provenance, file=pl.col("file"), source_id=pl.col("var_name"), lang=plan.codebook.lang,
        ),
    )
    return out.select(
        "record_id", "survey", "wave", "var_name", "question", "options", "option_codes", "ordinal",
        "refusal_options", "refusal_codes", "code_aliases", "labels_from", "distributions", *ENVELOPE,
    ).sort("survey", "wave", "var_name", nulls_last=True)


# -- measured facts for the card ----------------------------------------------------------------


def measure(ctx: RunContext, plan: SurveyPlan, data: pl.DataFrame, dists: pl.DataFrame, config: Config,
            weighted: bool) -> list[CardSection]:
    report = ctx.report
    return [
        _questions_section(plan, dists),
        _respondents_section(report, plan, data),
        _groups_section(report, plan, data, config),
        _weighting_section(plan, data, config, weighted),
        _refusal_section(plan, dists, report),
        CardSection(*design_section(plan.codebook.design, dists)),
        CardSection("Metric definitions", METRICS),
        CardSection("Accounting units", UNITS),
    ]


def _questions_section(plan: SurveyPlan, dists: pl.DataFrame) -> CardSection:
    lines = [f"{len(plan.questions)} questions from the codebook are in the files "
             f"({sum(q.ordinal for q in plan.questions)} ordinal, "
             f"{sum(not q.ordinal for q in plan.questions)} nominal).", "",
             "| variable | question | options | refusal codes | scale | labels from |", "|---|---|---|---|---|---|"]
    for q in plan.questions[:60]:
        options = "; ".join(f"{o.code}={o.label}" for o in q.options)
        refusals = "; ".join(f"{o.code}={o.label}" for o in q.refusals) or "none"
        if q.aliases:
            refusals += " (" + "; ".join(f"{a} counts as {t}" for a, t in q.aliases.items()) + ")"
        lines.append(f"| `{q.var}` | {_md(q.text)} | {_md(options)} | {_md(refusals)} | "
                     f"{'ordinal' if q.ordinal else 'nominal'} | {q.labels_from} |")
    if len(plan.questions) > 60:
        lines.append(f"| ... | {len(plan.questions) - 60} more in the `questions` config | | | | |")
    absent = [(f.name, f.absent_questions) for f in plan.files if f.absent_questions]
    if absent or plan.absent_everywhere:
        lines.append("")
        lines.append("Codebook questions absent from a file (reported, not an error; those respondents are "
                     "neither counted nor 'not asked' for them):")
        lines += [f"- `{name}`: {', '.join(qs)}" for name, qs in absent]
        if plan.absent_everywhere:
            lines.append(f"- in no file, so not published: {', '.join(plan.absent_everywhere)}")
    return CardSection("Questions", "\n".join(lines))


def _respondents_section(report, plan: SurveyPlan, data: pl.DataFrame) -> CardSection:
    read = report.step("read").kept
    weights = report.step("validate_weights")
    used = data.group_by("_file").len()
    used_by = dict(used.iter_rows())
    lines = [f"{read} respondents read from {len(plan.files)} file(s); {weights.quarantined} quarantined for "
             f"their weight; {weights.kept} used.", "",
             "| file | format | survey | wave | respondents used | questions in file |", "|---|---|---|---|---:|---:|"]
    for f in plan.files:
        lines.append(f"| `{f.name}` | {f.format} | {_md(f.survey)} | {f.wave or ''} | {used_by.get(f.name, 0)} | "
                     f"{len(f.questions)} |")
    per_wave = data.group_by("_survey", "_wave").len().sort("_survey", "_wave", nulls_last=True)
    lines.append("")
    lines += [f"- {s}, wave {w if w is not None else '(none)'}: {n} respondents" for s, w, n in per_wave.iter_rows()]
    answers = report.step("validate_answers")
    lines.append(f"- answer cells: {answers.rows_in}; answered {answers.kept}; not asked (blank or system "
                 f"missing) {answers.dropped.get('not_asked', 0)}; code not in the codebook "
                 f"{answers.quarantined} (quarantined)")
    return CardSection("Respondents", "\n".join(lines))


def _groups_section(report, plan: SurveyPlan, data: pl.DataFrame, config: Config) -> CardSection:
    extra = report.step("distributions").extra
    lines = [f"Distributions are published for the whole sample (`group_attr` = `all`) and per value of each "
             f"group attribute, within each survey and wave. Groups with fewer than {config.min_n} substantive "
             "answers with a positive weight to a question are dropped for that question (`below_min_n` in the "
             "processing table); groups whose every answer is a refusal are dropped as `only_refusals` and listed "
             "with their refusal counts in report.json (`only_refusal_groups`).", ""]
    for g in plan.codebook.groups:
        counts = data.group_by(g.attr).len().sort(g.attr, nulls_last=True)
        values = ", ".join(f"{v} ({n})" for v, n in counts.iter_rows() if v is not None)
        missing = int(data[g.attr].null_count())
        source = f"column `{g.var}`" + (" (labels from the codebook)" if g.labels else "")
        lines.append(f"- `{g.attr}` ({source}): {values or 'no values'}"
                     + (f"; no value for {missing} respondents" if missing else ""))
        renamed = {r: v for r, v in report.facts.get("country_spellings", {}).get(g.attr, {}).items() if r != v}
        if renamed:
            lines.append("  (ISO 3166 names; as the files wrote them: "
                         + ", ".join(f"{_md(r)} -> {_md(v)}" for r, v in renamed.items()) + ")")
    small = extra.get("below_min_n_groups", [])
    if small:
        lines += ["", f"Groups below the minimum n ({config.min_n}):", "",
                  "| survey | wave | attribute | value | questions dropped | largest n |", "|---|---|---|---|---:|---:|"]
        lines += [f"| {_md(s['survey'])} | {s['wave'] or ''} | {s['group_attr']} | {_md(str(s['group_value']))} | "
                  f"{s['questions']} | {s['max_n']} |" for s in small[:40]]
        if len(small) > 40:
            lines.append(f"| ... | | | {len(small) - 40} more in report.json | | |")
    return CardSection("Groups", "\n".join(lines))


def _weighting_section(plan: SurveyPlan, data: pl.DataFrame, config: Config, weighted: bool) -> CardSection:
    if not weighted:
        why = "the codebook names no weight column" if not plan.codebook.weight else "`weighted: false` in the config"
        return CardSection("Weighting", f"Unweighted ({why}): every respondent counts 1, so n_eff = n.")
    lines = [f"Weighted by column `{plan.codebook.weight}`. Respondents whose weight is missing, not a number, "
             "negative or not finite are quarantined (`quarantine.parquet`, field = the weight column); "
             "a weight of 0 is kept and counts in n but not in the proportions.", "",
             "| survey | wave | respondents | weight sum | min | mean | max | zero weights | Kish design effect |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    summary = data.group_by("_survey", "_wave").agg(
        pl.len().alias("n"), pl.col("_w").sum().alias("s"), (pl.col("_w") ** 2).sum().alias("s2"),
        pl.col("_w").min().alias("lo"), pl.col("_w").mean().alias("mean"), pl.col("_w").max().alias("hi"),
        (pl.col("_w") == 0).sum().alias("zeros"),
    ).sort("_survey", "_wave", nulls_last=True)
    for s, w, n, total, total2, lo, mean, hi, zeros in summary.iter_rows():
        n_eff = kish_n_eff(total, total2)
        deff = n / n_eff if n_eff else float("nan")
        lines.append(f"| {_md(s)} | {w or ''} | {n} | {total:.2f} | {lo:.3f} | {mean:.3f} | {hi:.3f} | {zeros} | "
                     f"{deff:.3f} |")
    lines.append("")
    lines.append("The design effect n / n_eff is over all respondents of the wave; each distribution has its "
                 "own `n_eff` over the respondents who gave a substantive answer.")
    return CardSection("Weighting", "\n".join(lines))


def _refusal_section(plan: SurveyPlan, dists: pl.DataFrame, report) -> CardSection:
    lines = ["Refusal and \"don't know\" codes are kept apart from the options, as OpinionQA does: `probs` "
             "are over the substantive options only and sum to 1; `refusal_mass` is the weighted share of "
             "refusals among all answers (substantive + refusal), `refusal_probs` splits it by refusal code "
             "(in the order of `refusal_options`). A question not asked of a respondent (blank, system "
             "missing) counts nowhere; neither does a code quarantined as not in the codebook (both are in "
             "`n_missing`).", "",
             "Which codes are refusals: those the codebook lists under `refusal`; else those the file declares "
             "missing (SPSS user-missing values, Stata extended missing .a-.z); else those whose label matches "
             f"`{plan.codebook.refusal_pattern}`.", ""]
    overall = dists.filter(pl.col("group_attr") == ALL)
    if overall.height:
        lines += ["| survey | wave | variable | refusal codes | refusal mass (whole sample) |", "|---|---|---|---|---:|"]
        refusals = {q.var: ", ".join(c for c, i in q.code_index().items() if i >= len(q.options)) or "none"
                    for q in plan.questions}
        for s, w, v, m in overall.select("survey", "wave", "var_name", "refusal_mass").iter_rows():
            lines.append(f"| {_md(s)} | {w or ''} | `{v}` | {refusals.get(v, '')} | "
                         f"{'n/a' if m is None else f'{m:.3f}'} |")
    return CardSection("Refusal handling", "\n".join(lines))


METRICS = """\
- `probs[k]`: sum of the weights of respondents who chose option k / sum of the weights of all
  substantive answers in the group. Refusals are excluded (see "Refusal handling").
- `n`: respondents with a substantive answer (unweighted); `n_refused`: with a refusal code.
- `n_eff`: Kish's effective sample size, (sum w)^2 / sum w^2 over the substantive answers; equals `n`
  when every weight is the same.
- `ci[k]`: a 95% interval (the config's `confidence`) for `probs[k]`: Wilson's score interval with
  `n_eff` in place of n. Wilson because it stays within [0, 1] and keeps its coverage in small groups
  and near 0 or 1, where the Wald interval does not (Brown, Cai and DasGupta, 2001); `n_eff` because
  unequal weights inflate the variance by Kish's design effect n / n_eff. Without a declared design
  ("Survey design"), strata and clusters are not accounted for, so the intervals are, if anything,
  too narrow; with one, `ci` is design-based.
- Comparing a model's answer distribution p with a group's q (`pipelines.distributions`):
  `wasserstein_ordinal(p, q)`: for ordinal questions, the 1-Wasserstein distance with the K options at
  positions 0..K-1, divided by K-1 so that it lies in [0, 1] (OpinionQA; its representativeness is
  1 minus this); `js_distance(p, q)`: for nominal questions, the Jensen-Shannon distance (square root
  of the divergence, base-2 logarithms, in [0, 1]; GlobalOpinionQA's similarity is 1 minus this);
  `compare(p, record)` picks the one that fits the record's `ordinal`. Both renormalize their inputs,
  so pass the substantive options only."""

UNITS = """\
Each step counts its own unit, and for each in = kept + dropped + quarantined:
- `read`, `validate_weights`: respondents.
- `validate_answers`: answer cells, one per respondent and question present in the respondent's file;
  `not_asked` = blank or system missing; quarantined = a code that is neither an option nor a refusal.
- `distributions`: group distributions, one per survey x wave x question x group; each kept answer
  cell is counted exactly once in the whole-sample (`all`) distribution of its question (checked on
  every run)."""


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _card(config: Config, plan: SurveyPlan) -> CardMeta:
    book = plan.codebook
    return CardMeta(
        pretty_name=config.dataset_name or f"{book.survey}: answer distributions per group",
        license=config.license,
        languages=[book.lang],
        task_categories=["question-answering", "multiple-choice"],
        tags=["survey", "values", "opinions", "alignment", "pluralistic-alignment"],
        summary=(
            f"Weighted answer distributions of {book.survey} per question, for the whole sample and per "
            f"group ({', '.join(g.attr for g in book.groups) or 'no group attributes'}), with refusals kept "
            "apart, effective sample sizes and intervals: the reference distributions that language models' "
            "answers are compared with in the style of OpinionQA and GlobalOpinionQA."
        ),
        citation=(
            "Santurkar et al. (2023). Whose Opinions Do Language Models Reflect? ICML. "
            "Durmus et al. (2023). Towards Measuring the Representation of Subjective Global Opinions in "
            "Language Models. arXiv:2306.16388."
        ),
        limitations=[
            "Intervals use Kish's effective sample size only; the survey's strata and clusters are not used.",
            "A distribution describes the respondents of one survey wave as weighted; it is not a population "
            "fact beyond what the survey's weighting supports.",
            "Groups below the minimum n are left out, so smaller groups are not represented.",
        ],
        personal_information=(
            "Only aggregates are published: no respondent-level rows. Groups with fewer substantive answers "
            "than the minimum n are suppressed, which also limits disclosure about small groups."
        ),
        fields={
            "distributions": {
                "probs": "weighted share per substantive option, in the order of `options`; sums to 1",
                "ci": "Wilson interval per option with n_eff (see Metric definitions)",
                "refusal_probs": "weighted share per refusal code among all answers, in the order of `refusal_options`",
                "refusal_mass": "weighted share of refusals among all answers",
                "n": "respondents with a substantive answer (unweighted)",
                "n_refused": "respondents with a refusal code",
                "n_missing": "respondents of the group without a usable answer: not asked (blank, system missing) "
                             "or a code not in the codebook (quarantined)",
                "n_eff": "Kish effective sample size of the substantive answers",
                "weight_sum": "sum of the weights of the substantive answers",
                "group_attr": "the group attribute (`all` for the whole sample)",
            },
            "questions": {
                "distributions": "every published group's distribution of this question",
                "labels_from": "codebook, file (value labels stored in the .sav/.dta) or both",
            },
        },
    )
