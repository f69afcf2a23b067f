"""The expand recipe's steps: read_items -> validate_items -> generate_scenarios (LLM) ->
judge_scenarios (LLM), and the records the model must return."""

from __future__ import annotations

import hashlib
from typing import Literal

import polars as pl
from pydantic import BaseModel, Field, conlist, create_model, model_validator

from pipelines.engine.steps import Account, Step, StepConfig, StepResult, split_by_reason
from pipelines.llm.prompts import load_template
from pipelines.llm.step import LLMStep, LLMStepConfig
from pipelines.llm.structured import complete_structured, structured_request
from schemas.quarantine import quarantine_frame
from sources.instruments import ITEM_COLUMNS, ItemTableReader

TRAITS = {
    "N": "Neuroticism",
    "E": "Extraversion",
    "O": "Openness to experience",
    "A": "Agreeableness",
    "C": "Conscientiousness",
}

LABELS = "ABCDEFGHIJ"


# -- records the model must return ---------------------------------------------------------------


class Option(BaseModel):
    text: str = Field(min_length=2, max_length=600)
    keyed: Literal["high", "low"]


def scenario_set_model(n: int, per_pole: int) -> type[BaseModel]:
    """`ScenarioSet` with exactly n scenarios of 2 x per_pole options, per_pole keyed each way."""

    class Scenario(BaseModel):
        question: str = Field(min_length=10, max_length=1500)
        options: conlist(Option, min_length=2 * per_pole, max_length=2 * per_pole)

        @model_validator(mode="after")
        def _balanced(self):
            highs = sum(o.keyed == "high" for o in self.options)
            if highs != per_pole:
                raise ValueError(f"{highs} options keyed high, expected {per_pole} high and {per_pole} low")
            return self

    return create_model("ScenarioSet", scenarios=(conlist(Scenario, min_length=n, max_length=n), ...))


class Rating(BaseModel):
    label: str = Field(min_length=1, max_length=2)
    pole: Literal["high", "low", "neither"]


class Judgement(BaseModel):
    ratings: list[Rating]
    differ: bool
    rationale: str = Field(default="", max_length=2000)


# -- steps ---------------------------------------------------------------------------------------


class ReadItems(Step):
    name = "read_items"
    depends_on = ItemTableReader.modules

    def run(self, data: pl.DataFrame) -> StepResult:
        frame = pl.concat([r.rows for r in ItemTableReader().read_all(data["path"])], how="diagonal_relaxed")
        for col in ITEM_COLUMNS:
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(None, pl.String).alias(col))
        return StepResult(frame, Account(self.name, frame.height, frame.height))


class ValidateItems(Step):
    """Quarantine items without text, without a trait, or with a key other than +1/-1."""

    name = "validate_items"

    def run(self, data: pl.DataFrame) -> StepResult:
        text = pl.col("text").str.strip_chars()
        keyed = pl.col("keyed").str.strip_chars().str.replace(r"^\+", "")
        problem = (
            pl.when(text.is_null() | (text == ""))
            .then(pl.lit("text|empty item text"))
            .when(pl.col("domain").str.strip_chars().fill_null("") == "")
            .then(pl.lit("domain|no trait (domain) given"))
            .when(~keyed.is_in(["1", "-1"]) | keyed.is_null())
            .then(pl.format("keyed|key '{}' is not +1 or -1", pl.col("keyed").fill_null("")))
        )
        tagged = data.with_columns(problem.alias("_problem"))
        bad = tagged.filter(pl.col("_problem").is_not_null())
        quarantine = quarantine_frame(
            bad.select(
                pl.lit(self.name).alias("step"),
                pl.col("_file").alias("source_file"),
                pl.col("_row").alias("row"),
                pl.col("_problem").str.split("|").list.first().alias("field"),
                pl.col("_problem").str.split("|").list.last().alias("error"),
                pl.struct(ITEM_COLUMNS).struct.json_encode().alias("raw"),
            )
        )
        good = (
            tagged.filter(pl.col("_problem").is_null())
            .drop("_problem")
            .with_columns(
                keyed.cast(pl.Int8).alias("keyed"),
                text.alias("text"),
                pl.col("domain").str.strip_chars().alias("domain"),
            )
        )
        return split_by_reason(self.name, good, pl.lit(None, pl.String), quarantine, bad.height)


class ExpandOptions(StepConfig):
    scenarios_per_item: int = Field(default=3, ge=1, le=20)
    options_per_pole: int = Field(default=2, ge=1, le=5)  # TRAIT: 2 high + 2 low


class ExpandConfig(LLMStepConfig, ExpandOptions):
    pass


class GenerateScenarios(LLMStep):
    """One request per item; its scenarios become rows, options shuffled into labelled order (so the
    judge cannot read the keying from the position)."""

    name = "generate_scenarios"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        output = scenario_set_model(c.scenarios_per_item, c.options_per_pole)
        template = load_template("expand")
        rows = list(data.iter_rows(named=True))
        requests = [
            structured_request(
                template,
                {
                    "trait": trait_name(r["domain"]),
                    "facet": r.get("facet_name"),
                    "keyed": r["keyed"],
                    "text": r["text"],
                    "n": c.scenarios_per_item,
                    "per_pole": c.options_per_pole,
                },
                output,
                c.params,
            )
            for r in rows
        ]
        outcomes, usage = complete_structured(self.client, requests, output, desc="generate_scenarios")
        out_rows = []
        for row, outcome in zip(rows, outcomes):
            if outcome.value is None:
                continue
            for k, scenario in enumerate(outcome.value.scenarios, start=1):
                out_rows.append(
                    {
                        **row,
                        "scenario_no": k,
                        "question": scenario.question,
                        "options": _labelled(scenario.options, row["text"], k),
                        "generation_repaired": outcome.repaired,
                    }
                )
        failed = [(i, o) for i, o in enumerate(outcomes) if o.value is None]
        frame = (
            pl.DataFrame(out_rows, schema=_scenario_schema(data.schema))
            if out_rows
            else pl.DataFrame(schema=_scenario_schema(data.schema))
        )
        account = self.account(data.height, data.height - len(failed), usage, quarantined=len(failed))
        account.extra["scenarios_out"] = frame.height
        return StepResult(frame, account, self.quarantine(data, failed))


class JudgeScenarios(LLMStep):
    """The judge rates each option high, low or neither on the trait, blind to the keying; a scenario
    is kept when the judge says the options differ and keys at least `min_judge_agreement` of them alike."""

    name = "judge_scenarios"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        template = load_template("expand_judge")
        rows = list(data.iter_rows(named=True))
        requests = [
            structured_request(
                template,
                {
                    "trait": trait_name(r["domain"]),
                    "facet": r.get("facet_name"),
                    "question": r["question"],
                    "options": r["options"],
                },
                Judgement,
                self.config.params,
            )
            for r in rows
        ]
        outcomes, usage = complete_structured(self.client, requests, Judgement, desc="judge_scenarios")
        agreement, differ, rationale = [], [], []
        for row, outcome in zip(rows, outcomes):
            j = outcome.value
            agreement.append(_agreement(row["options"], j) if j else None)
            differ.append(j.differ if j else None)
            rationale.append(j.rationale if j else None)
        judged = data.with_columns(
            pl.Series("judge_agreement", agreement, pl.Float64),
            pl.Series("judge_differ", differ, pl.Boolean),
            pl.Series("judge_rationale", rationale, pl.String),
        )
        failed = [(i, o) for i, o in enumerate(outcomes) if o.value is None]
        ok = judged.filter(pl.col("judge_differ").is_not_null())
        reason = (
            pl.when(~pl.col("judge_differ"))
            .then(pl.lit("options_do_not_differ"))
            .when(pl.col("judge_agreement") < self.config.min_judge_agreement)
            .then(pl.lit("judge_disagrees_with_keying"))
        )
        result = split_by_reason(self.name, ok, reason, self.quarantine(data, failed), len(failed))
        result.account.extra = {"llm": usage.as_dict()}
        return result


class JudgeOptions(StepConfig):
    min_judge_agreement: float = Field(default=0.75, ge=0, le=1)  # share of options the judge keys alike


class JudgeConfig(LLMStepConfig, JudgeOptions):
    pass


# -- helpers -------------------------------------------------------------------------------------


def trait_name(domain: str) -> str:
    return TRAITS.get(domain, domain)


def _labelled(options, item_text: str, k: int) -> list[dict]:
    """Options in a deterministic shuffled order (by a hash of item, scenario and text), labelled A..."""
    ordered = sorted(
        options, key=lambda o: hashlib.blake2b(f"{item_text}|{k}|{o.text}".encode(), digest_size=4).digest()
    )
    return [{"label": LABELS[i], "text": o.text, "keyed": o.keyed} for i, o in enumerate(ordered)]


def _agreement(options: list[dict], judgement: Judgement) -> float:
    poles = {r.label.strip().upper(): r.pole for r in judgement.ratings}
    return sum(poles.get(o["label"]) == o["keyed"] for o in options) / len(options)


OPTION_DTYPE = pl.List(pl.Struct({"label": pl.String, "text": pl.String, "keyed": pl.String}))


def _scenario_schema(items: pl.Schema) -> pl.Schema:
    return pl.Schema(
        {
            **items,
            "scenario_no": pl.Int32,
            "question": pl.String,
            "options": OPTION_DTYPE,
            "generation_repaired": pl.Boolean,
        }
    )
