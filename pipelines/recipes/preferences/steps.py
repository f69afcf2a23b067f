"""The preferences recipe's steps: read -> candidates (LLM, per prompt) -> judge (LLM, per persona x
prompt), and the records the model must return."""

from __future__ import annotations

import orjson
import polars as pl
from pydantic import BaseModel, Field, model_validator

from pipelines.engine.steps import Account, Step, StepConfig, StepResult, split_by_reason
from pipelines.llm.prompts import load_template
from pipelines.llm.step import LLMStep, LLMStepConfig
from pipelines.llm.structured import Outcome, complete_structured, complete_text, structured_request, words_token_budget
from pipelines.llm.types import ChatRequest
from pipelines.methods.privacy import CODE_MODULES as PRIVACY_MODULES
from pipelines.methods.privacy import masker
from schemas.quarantine import quarantine_frame
from sources.jsonl import ROW_SCHEMA, PersonaPromptReader


class CandidateScore(BaseModel):
    candidate: int = Field(ge=1)
    score: float = Field(ge=1, le=10)


def judgement_model(n: int) -> type[BaseModel]:
    class Judgement(BaseModel):
        scores: list[CandidateScore]
        rationale: str = Field(min_length=1, max_length=2000)

        @model_validator(mode="after")
        def _one_each(self):
            seen = sorted(s.candidate for s in self.scores)
            if seen != list(range(1, n + 1)):
                raise ValueError(f"scores must rate candidates 1..{n} once each, got {seen}")
            return self

    return Judgement


# -- reading -------------------------------------------------------------------------------------


class ReadRecords(Step):
    """JSON Lines -> personas and prompts (`sources.jsonl`); a line that is not JSON, or neither, is
    quarantined, its raw text masked as published text is (a line that failed to parse still holds the
    e-mail or the name its persona would have had masked)."""

    name = "read"
    depends_on = (*PersonaPromptReader.modules, *PRIVACY_MODULES)

    def run(self, data: pl.DataFrame) -> StepResult:
        reads = PersonaPromptReader().read_all(list(data["path"]))
        frame = pl.concat([r.rows for r in reads]) if reads else pl.DataFrame(schema=ROW_SCHEMA)
        quarantine = quarantine_frame(pl.concat([r.quarantine for r in reads]) if reads else [], step=self.name)
        if quarantine.height:
            raw = quarantine["raw"].fill_null("").to_list()
            masked, _found = masker(True).mask(raw, set())
            quarantine = quarantine.with_columns(
                pl.when(pl.col("raw").is_null()).then(None).otherwise(pl.Series("raw", masked)).alias("raw")
            )
        return StepResult(
            frame, Account(self.name, frame.height + quarantine.height, frame.height, {}, quarantine.height), quarantine
        )


def _table(frame: pl.DataFrame, kind: str) -> list[dict]:
    return [
        {**orjson.loads(p), "_file": f, "_row": r}
        for p, f, r in frame.filter(pl.col("kind") == kind).select("payload", "_file", "_row").iter_rows()
    ]


# -- LLM steps -----------------------------------------------------------------------------------


class CandidateOptions(StepConfig):
    candidates_per_prompt: int = Field(default=2, ge=2, le=8)
    max_words: int = Field(default=120, ge=10)


class CandidateConfig(LLMStepConfig, CandidateOptions):
    pass


class GenerateCandidates(LLMStep):
    """`candidates_per_prompt` answers per prompt, each with its own seed; a prompt with fewer than two usable
    answers is quarantined."""

    name = "candidates"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        c = self.config
        template = load_template("preference_response")
        requests = []
        budget = min(int(c.params.get("max_tokens", 1024)), words_token_budget(c.max_words))  # max_words, in tokens
        for prompt in data["prompt"]:
            messages = template.render(prompt=prompt, max_words=c.max_words)
            for k in range(c.candidates_per_prompt):
                params = {**c.params, "seed": c.params["seed"] + k, "max_tokens": budget}
                requests.append(ChatRequest.make(messages, params, template_hash=template.hash))
        outcomes, usage = complete_text(self.client, requests, desc="candidates")
        lists, failed = [], []
        for i in range(data.height):
            mine = outcomes[i * c.candidates_per_prompt : (i + 1) * c.candidates_per_prompt]
            good = [
                {"text": o.value, "model": self.client.model, "seed": c.params["seed"] + k}
                for k, o in enumerate(mine)
                if o.value is not None
            ]
            lists.append(good)
            if len(good) < 2:
                errors = "; ".join(o.error for o in mine if o.error)
                failed.append((i, Outcome(None, None, f"{len(good)} usable candidates: {errors}", "candidates")))
        keep = [i for i in range(data.height) if len(lists[i]) >= 2]
        frame = data[keep].with_columns(
            pl.Series(
                "candidates",
                [lists[i] for i in keep],
                pl.List(pl.Struct({"text": pl.String, "model": pl.String, "seed": pl.Int64})),
            )
        )
        return StepResult(
            frame,
            self.account(data.height, frame.height, usage, quarantined=len(failed)),
            self.quarantine(data, failed),
        )


class JudgeOptions(StepConfig):
    min_margin: float = Field(default=1.0, ge=0)  # score points between chosen and rejected


class JudgeConfig(LLMStepConfig, JudgeOptions):
    pass


class JudgePairs(LLMStep):
    """Scores every candidate as the persona would; chosen = best, rejected = worst, margin = the
    score difference; pairs under `min_margin` are dropped as `tie`."""

    name = "judge"
    needs = ("client",)

    def run(self, data: pl.DataFrame) -> StepResult:
        template = load_template("preference_judge")
        requests, models = [], {}
        for row in data.iter_rows(named=True):
            n = len(row["candidates"])
            models.setdefault(n, judgement_model(n))
            requests.append(
                structured_request(
                    template,
                    {
                        "persona": row["persona_text"],
                        "prompt": row["prompt"],
                        "candidates": [c["text"] for c in row["candidates"]],
                    },
                    models[n],
                    self.config.params,
                )
            )
        outcomes = [None] * data.height
        usage = None
        for n, model in models.items():  # one batch per candidate count (its own schema)
            idx = [i for i, r in enumerate(data["candidates"]) if len(r) == n]
            got, u = complete_structured(self.client, [requests[i] for i in idx], model, desc="judge")
            for i, o in zip(idx, got):
                outcomes[i] = o
            usage = u if usage is None else (usage.add(u) or usage)
        scores, rationale = [], []
        for o in outcomes:
            scores.append(
                [s.score for s in sorted(o.value.scores, key=lambda s: s.candidate)] if o and o.value else None
            )
            rationale.append(o.value.rationale if o and o.value else None)
        judged = data.with_columns(
            pl.Series("scores", scores, pl.List(pl.Float64)), pl.Series("rationale", rationale, pl.String)
        )
        failed = [(i, o) for i, o in enumerate(outcomes) if o is not None and o.value is None]
        ok = judged.filter(pl.col("scores").is_not_null()).with_columns(
            (pl.col("scores").list.max() - pl.col("scores").list.min()).alias("margin")
        )
        result = split_by_reason(
            self.name,
            ok,
            pl.when(pl.col("margin") < self.config.min_margin).then(pl.lit("tie")),
            self.quarantine(data, failed),
            len(failed),
        )
        if usage is not None:
            result.account.extra = {"llm": usage.as_dict()}
        return result
