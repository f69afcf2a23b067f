"""The `persona` step of the personality recipe: a first-person persona description per respondent
from their keyed answers, as PAPI did with Llama-3-70B.

The step runs on a projection of the scored respondents; the recipe's rows are never dropped for
a failed description: a respondent whose reply stayed invalid after one repair is quarantined in
this step's account (with the raw reply) and gets a null description.
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, Field

from pipelines.engine.steps import StepResult
from pipelines.llm.budget import OverBudget
from pipelines.llm.prompts import load_template
from pipelines.llm.step import LLMStep, LLMStepConfig, llm_step_config, skipped_over_budget
from schemas.envelope import envelope_columns, stable_id
from sources.ipip import definition, load_key

from .steps import own_scores

ANSWER_WORDS = {
    1: "very inaccurate",
    2: "moderately inaccurate",
    3: "neither accurate nor inaccurate",
    4: "moderately accurate",
    5: "very accurate",
}
PROJECTION = [
    "_instrument",
    "instrument_items",
    "respondent_id",
    "sex",
    "age",
    "country",
    "responses",
    "domain_scores",
    "_file",
    "_row",
]


class PersonaText(BaseModel):
    self_description: str = Field(min_length=40, max_length=1200)  # 150 words: ~900 characters


class PersonaConfig(LLMStepConfig):
    min_words: int = 60
    max_words: int = 150


def persona_variables(row: dict, min_words: int, max_words: int) -> dict:
    """The prompt's variables: demographics, domain scores and every answered statement with the
    respondent's own (un-keyed) answer, so that a reverse-keyed statement reads the way they said it.
    For an instrument whose statements we do not ship (a key without texts, another scale), the prompt
    has the scores and demographics only."""
    answers = []
    for text, raw in answered_statements(row):
        answers.append({"text": text, "answer": ANSWER_WORDS[raw]})
    scores = {d: (round(s, 2) if s is not None else None) for d, s in own_scores(row).items()}
    return {
        "sex": row.get("sex"),
        "age": row.get("age"),
        "country": row.get("country"),
        "domain_scores": scores,
        "answers": answers,
        "min_words": min_words,
        "max_words": max_words,
    }


def answered_statements(row: dict) -> list[tuple[str, int]]:
    """(statement, the respondent's own 1..5 answer) for each answered item of an IPIP-NEO key; none
    for any other instrument (its texts and scale are not known here)."""
    try:
        key = load_key(int(row["instrument_items"]))
    except (TypeError, ValueError):  # not an IPIP-NEO length, or an instrument named by a string
        return []
    out = []
    for (text, sign), keyed in zip(key.select("text", "keyed").iter_rows(), row["responses"] or []):
        if keyed is not None and text:
            raw = int(keyed if sign > 0 else 6 - keyed)
            if raw in ANSWER_WORDS:
                out.append((text, raw))
    return out


def row_key(data: pl.DataFrame) -> list[str]:
    """What names one respondent: the instrument's id (BFI-2 and HEXACO-60 both have 60 items) and the
    respondent id; the item count where rows carry no instrument id."""
    return ["_instrument" if "_instrument" in data.columns else "instrument_items", "respondent_id"]


class PersonaStep(LLMStep):
    name = "persona"
    version = "1"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        _, outcomes, usage = self.ask_each(
            data, "persona", PersonaText, lambda r: persona_variables(r, c.min_words, c.max_words)
        )
        good = [i for i, o in enumerate(outcomes) if o.value is not None]
        kept = (
            data[good]
            .select(*row_key(data))
            .with_columns(
                pl.Series("persona_description", [outcomes[i].value.self_description for i in good], pl.String),
                pl.Series("persona_repaired", [outcomes[i].repaired for i in good], pl.Boolean),
            )
        )
        failed = [(i, o) for i, o in enumerate(outcomes) if o.value is None]
        quarantine = self.quarantine(data, failed)
        return StepResult(kept, self.account(data.height, kept.height, usage, quarantined=len(failed)), quarantine)


def add_personas(recipe, ctx, data: pl.DataFrame) -> pl.DataFrame:
    """Run the persona step when a model is configured; else `recipe.llm_client` says plainly in
    the report why not."""
    client, _ = recipe.llm_client(
        ctx, None, steps=("persona",), missing="persona texts", published="The respondents are published without them."
    )
    if client is None:
        return data
    if data.height == 0:
        return data
    step = PersonaStep(llm_step_config(client, load_template("persona").hash, PersonaConfig))
    projection = data.select(
        [
            c if c in data.columns else pl.lit(None, pl.String).alias(c)
            for c in PROJECTION
            if c in data.columns or c not in row_key(data)
        ]
    )
    try:
        personas = ctx.apply(step, projection)
    except OverBudget as over:  # an enrichment: the respondents are published without it, and the note says why
        skipped_over_budget(ctx, over, "persona texts", "The respondents are published without them.")
        return data
    ctx.report.facts["persona_provenance"] = step.provenance()
    ctx.report.notes.append(
        f"Persona texts: {personas.height} of {data.height} respondents described by `{client.model}` "
        f"(template `{step.config.template}`); see the `persona` step's account for token usage."
    )
    return data.join(personas, on=row_key(data), how="left")


def persona_records(ctx, respondents: pl.DataFrame, data: pl.DataFrame, license: str) -> pl.DataFrame:
    """Persona records (DESIGN.md type 6) for the respondents that got a description: persona_id is
    the respondent's record_id, so a persona links back to its answers."""
    if "persona_description" not in data.columns:
        return pl.DataFrame()
    key = row_key(data)[0]
    texts = data.select(key, "respondent_id", "persona_description").filter(pl.col("persona_description").is_not_null())
    names = {i: definition(i).name for i in texts[key].unique()}  # the respondents' `instrument`
    joined = respondents.join(
        texts.with_columns(pl.col(key).replace_strict(names, return_dtype=pl.String).alias("instrument")),
        on=["instrument", "respondent_id"],
        how="inner",
    )
    provenance = [*respondents["provenance"][0], ctx.report.facts["persona_provenance"]] if joined.height else []
    ids = [
        stable_id("persona", rid, text) for rid, text in joined.select("record_id", "persona_description").iter_rows()
    ]
    return joined.select(
        pl.Series("record_id", ids, pl.String),
        pl.col("record_id").alias("persona_id"),
        pl.lit(False).alias("synthetic"),
        "demographics",
        pl.col("persona_description").alias("self_description"),
        pl.col("domain_scores").alias("trait_scores"),
        *envelope_columns(
            dataset="ipip-neo",
            license=license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("source").struct.field("file"),
            source_id=pl.col("respondent_id"),
            lang="en",
        ),
    )
