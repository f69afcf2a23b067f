"""The rule-of-thumb step of Social Chemistry 101 (Forbes et al., 2020) for the norms recipe: from each
situation, rules of thumb with their attributes (judgment, the action and how it is judged, how many
people would agree, moral foundations, categories), written by an LLM as *suggestions* for people to
review in Argilla (every record starts with review.status = pending).

Social Chemistry's annotation scheme, kept in its own words where it has them:
- rot-agree: nobody (<1%), rare (5-25%), controversial (~50%), common (75-90%), universal (>99%);
- action-moral-judgment: very bad, bad, expected (OK), good, very good;
- rot-moral-foundations: care-harm, fairness-cheating, loyalty-betrayal, authority-subversion,
  sanctity-degradation;
- rot-categorization: morality-ethics, social-norms, advice, description.

A situation whose reply stays invalid after one repair is quarantined with the raw reply; the
situations themselves are never dropped by this step.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import BaseModel, Field, conlist

from pipelines.engine.steps import StepResult
from pipelines.llm.budget import OverBudget
from pipelines.llm.prompts import load_template
from pipelines.llm.step import LLMStep, LLMStepConfig, llm_step_config, skipped_over_budget
from schemas.envelope import envelope_columns, stable_id
from schemas.review import Field as ShownField
from schemas.review import Question, ReviewSpec, Suggestion, col, lines, terms

AGREEMENT = ("nobody", "rare", "controversial", "common", "universal")
ACTION_JUDGMENT = ("very bad", "bad", "expected", "good", "very good")
FOUNDATIONS = ("care-harm", "fairness-cheating", "loyalty-betrayal", "authority-subversion", "sanctity-degradation")
CATEGORIES = ("morality-ethics", "social-norms", "advice", "description")
MAX_SITUATION_CHARS = 1500  # title and the start of the post: enough for a norm, short for a small model


class RuleOfThumb(BaseModel):
    rule: str = Field(min_length=10, max_length=200)
    judgment: str = Field(min_length=2, max_length=40)
    action: str = Field(min_length=2, max_length=120)
    action_judgment: Literal[ACTION_JUDGMENT]
    agreement: Literal[AGREEMENT]
    moral_foundations: conlist(Literal[FOUNDATIONS], max_length=2) = []
    categories: conlist(Literal[CATEGORIES], min_length=1, max_length=2)


def rules_model(max_rules: int) -> type[BaseModel]:
    class RulesOfThumb(BaseModel):
        rules: conlist(RuleOfThumb, min_length=1, max_length=max_rules)

    return RulesOfThumb


class RuleConfig(LLMStepConfig):
    max_rules: int = 2


RULE_SCHEMA = pl.Schema(
    {
        "situation_record_id": pl.String,
        "rule_no": pl.Int32,
        "rule": pl.String,
        "judgment": pl.String,
        "action": pl.String,
        "action_judgment": pl.String,
        "agreement": pl.String,
        "moral_foundations": pl.List(pl.String),
        "categories": pl.List(pl.String),
        "repaired": pl.Boolean,
        "_file": pl.String,
        "lang": pl.String,
    }
)


class RulesOfThumbStep(LLMStep):
    name = "rules_of_thumb"
    version = "1"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        n = self.config.max_rules
        rows, outcomes, usage = self.ask_each(
            data,
            "rule_of_thumb",
            rules_model(n),
            lambda r: {
                "situation": r["situation"],
                "background": (r.get("background") or "")[:MAX_SITUATION_CHARS],
                "max_rules": n,
            },
        )
        out = []
        for row, outcome in zip(rows, outcomes):
            for k, rot in enumerate(outcome.value.rules if outcome.value else [], start=1):
                out.append(
                    {
                        "situation_record_id": row["record_id"],
                        "rule_no": k,
                        **rot.model_dump(),
                        "repaired": outcome.repaired,
                        "_file": row.get("_file"),
                        "lang": row.get("lang"),
                    }
                )
        failed = [(i, o) for i, o in enumerate(outcomes) if o.value is None]
        frame = pl.DataFrame(out, schema=RULE_SCHEMA)
        account = self.account(data.height, data.height - len(failed), usage, quarantined=len(failed))
        account.extra["rules_out"] = frame.height
        return StepResult(frame, account, self.quarantine(data, failed, what="situation"))


def rules_of_thumb(recipe, ctx, situations: pl.DataFrame, license: str, max_rules: int = 2) -> pl.DataFrame | None:
    """The `rules_of_thumb` config of the norms recipe, or None when no model is configured (then
    `recipe.llm_client` put the one note in the report that says why). `situations` are the
    published situation records."""
    client, _ = recipe.llm_client(
        ctx,
        None,
        steps=("rules_of_thumb",),
        missing="rules of thumb",
        published="The situations and threads are published without them.",
    )
    if client is None:
        return None
    step = RulesOfThumbStep(
        llm_step_config(client, load_template("rule_of_thumb").hash, RuleConfig, max_rules=max_rules)
    )
    projection = situations.select(
        "record_id",
        "situation",
        pl.col("context").struct.field("background").alias("background"),
        "lang",
        pl.col("source").struct.field("file").alias("_file"),
    )
    try:
        rules = ctx.apply(step, projection)
    except OverBudget as over:  # an enrichment: the situations are published without it, and the note says why
        skipped_over_budget(ctx, over, "rules of thumb", "The situations and threads are published without them.")
        return None
    ids = [
        stable_id("norms", "rule_of_thumb", s, k, r)
        for s, k, r in rules.select("situation_record_id", "rule_no", "rule").iter_rows()
    ]
    return rules.select(
        pl.Series("record_id", ids, pl.String),
        *[c for c in RULE_SCHEMA.names() if not c.startswith("_") and c != "lang"],
        *envelope_columns(
            dataset="reddit",
            license=license,
            created_at=ctx.created_at,
            provenance=ctx.lineage(rules),
            file=pl.col("_file"),
            source_id=pl.col("situation_record_id"),
            lang=pl.col("lang"),
        ),
    )


def rule_of_thumb_spec(frame: pl.DataFrame):
    """Argilla review of the rules of thumb (the norms recipe's `rules_of_thumb` config): the LLM's
    attributes are suggestions, people decide."""

    def ask(name, title, options):
        return Question(name, "label", title, list(options))

    return ReviewSpec(
        "RuleOfThumb",
        fields=[
            ShownField("rule", "Rule of thumb", col("rule")),
            ShownField(
                "action", "Action and judgment", lines(("Action", "action"), ("Judgment", "judgment")), markdown=True
            ),
        ],
        questions=[
            ask("rule_ok", "Is this a sensible rule of thumb for the situation?", ["yes", "no", "unsure"]),
            ask("action_judgment", "How is the action judged?", ACTION_JUDGMENT),
            ask("agreement", "How many people would agree?", AGREEMENT),
            Question("correction", "text", "Corrected rule of thumb (optional)", required=False),
        ],
        metadata=[terms("agreement"), terms("action_judgment")],
        suggestions=[
            Suggestion("action_judgment", col("action_judgment"), step="rules_of_thumb"),
            Suggestion("agreement", col("agreement"), step="rules_of_thumb"),
        ],
        embed_text=col("rule"),
        guidelines="A small LLM wrote these rules of thumb and their attributes (Social Chemistry 101 scheme); "
        "its attributes are suggested, not decided.",
    )
