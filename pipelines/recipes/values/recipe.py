"""Recipe `values`: survey microdata + codebook -> weighted answer distributions per question and group
(as GlobalOpinionQA, OpinionQA and KorNAT publish them).

Steps: read (files, in parallel on Dask) -> validate_weights -> validate_answers -> distributions
(see steps.py for the unit each step counts).
"""

from __future__ import annotations

from pathlib import Path

from pipelines.engine.runtime import RunContext
from pipelines.recipes.base import Recipe, RecipeConfig, RecipeOutput, step_options
from schemas.errors import InputFileError
from sources.survey import (
    SurveyPlan,
    country_spellings,
    is_codebook,
    load_codebook,
    make_plan,
    unrecognised_countries,
)

from .card import HUB, card_meta, measure, plots
from .records import distribution_records, question_records
from .steps import (
    AnswerConfig,
    ComputeDistributions,
    DistributionConfig,
    DistributionOptions,
    ReadConfig,
    ReadMicrodata,
    ValidateAnswers,
    ValidateWeights,
    WeightConfig,
    WeightOptions,
)


class Config(RecipeConfig, WeightOptions, DistributionOptions):
    """license, dataset_name; weighted (WeightOptions); min_n, confidence (DistributionOptions)."""


class Values(Recipe):
    Config = Config
    demo_inputs = (("values/*.csv", "values/*.dta", "values/*.sav"), "values/codebook.yaml")
    hub = HUB

    def check_inputs(self, inputs: list[Path], config: Config) -> None:
        """Reject a wrong file or codebook before the run starts, naming the file (metadata only)."""
        plan_inputs(inputs)

    def build(self, ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
        codebook_path, data_paths = split_inputs(inputs)
        plan = make_plan(load_codebook(codebook_path), codebook_path, data_paths)
        book = plan.codebook
        _report_absences(ctx, plan)

        data = ctx.read(ReadMicrodata(ReadConfig(plan=plan)), data_paths)
        data = ctx.apply(
            ValidateWeights(step_options(config, WeightConfig, weight=book.weight, design=book.design)), data
        )
        data = ctx.apply(ValidateAnswers(AnswerConfig(questions=plan.questions, files=plan.files)), data)
        groups = tuple(g.attr for g in book.groups)
        dists = ctx.apply(
            ComputeDistributions(
                step_options(config, DistributionConfig, questions=plan.questions, groups=groups, design=book.design)
            ),
            data,
        )
        _check_identity(ctx)
        ctx.report.facts["country_spellings"] = country_spellings(data, book)  # raw -> ISO 3166 name
        ctx.report.facts["unrecognised_countries"] = unrecognised_countries(data, book)  # kept as written, no code

        weighted = bool(config.weighted and book.weight)
        provenance = ctx.lineage(dists)
        dist_records = distribution_records(ctx, dists, plan, config, weighted, provenance)
        questions = question_records(ctx, dist_records, plan, data, config, provenance)
        sections = measure(ctx, plan, data, dist_records, config, weighted)
        tables = {"distributions": dist_records, "questions": questions}
        return RecipeOutput(tables, card_meta(config, plan), sections, plots=plots(plan, data, dist_records))


def split_inputs(inputs: list[Path]) -> tuple[Path, list[Path]]:
    books = [p for p in inputs if is_codebook(p)]
    data = [p for p in inputs if not is_codebook(p)]
    if len(books) != 1:
        named = ", ".join(str(p) for p in books) or "none"
        raise InputFileError(
            inputs[0] if inputs else "--input",
            f"the values recipe needs exactly one codebook (.yaml/.yml, or a CSV with "
            f"role,var columns) among the inputs; found {named}",
        )
    if not data:
        raise InputFileError(books[0], "no microdata files among the inputs (.csv, .tsv, .sav, .dta)")
    return books[0], data


def plan_inputs(inputs: list[Path]) -> SurveyPlan:
    codebook_path, data = split_inputs(inputs)
    return make_plan(load_codebook(codebook_path), codebook_path, data)


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
        ctx.report.notes.append(
            f"{name}: group column(s) not in the file (its respondents have no value for them): {', '.join(gs)}"
        )
    if plan.absent_everywhere:
        ctx.report.notes.append(
            "codebook question(s) in none of the files, not published: " + ", ".join(plan.absent_everywhere)
        )
    if plan.unused_file_specs:
        ctx.report.notes.append(
            "codebook `files` entries for files not among the inputs (unused): " + ", ".join(plan.unused_file_specs)
        )


def _check_identity(ctx: RunContext) -> None:
    """Every kept answer cell is counted in exactly one distribution of the whole-sample group."""
    kept = ctx.report.step("validate_answers").kept
    counted = ctx.report.step("distributions").extra["answers_counted"]
    if kept != counted:
        raise AssertionError(f"validate_answers kept {kept} answers but distributions counted {counted}")
