"""How a record type is reviewed by people, as data: the fields annotators see, the questions
they answer (with the level of measurement of each answer and the rule that resolves it), metadata
to filter on, suggestions and the text to embed. A recipe states the review of each of its configs
with these (`pipelines/recipes/<name>/review.py`); `annotation` turns them into Argilla settings and
resolves the answers, for any recipe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

Row = dict[str, Any]
Kind = Literal["label", "rating", "text", "ranking"]
Level = Literal["nominal", "ordinal", "interval"]
Rule = Literal["majority", "mean", "median", "mean_rank", "all"]

DEFAULT_RULES: dict[str, Rule] = {"label": "majority", "rating": "mean", "ranking": "mean_rank", "text": "all"}

DEFAULT_LEVELS: dict[str, tuple[Level, ...]] = {
    "label": ("nominal",),
    "rating": ("ordinal", "interval"),
    "ranking": ("ordinal",),
    "text": (),
}


@dataclass
class Field:
    name: str
    title: str
    render: Callable[[Row], str | None]
    markdown: bool = False
    required: bool = True


@dataclass
class Question:
    name: str
    kind: Kind
    title: str
    options: list | dict | None = None  # labels, rating values, or ranking values (value -> text)
    required: bool = True
    description: str | None = None
    rule: Rule | None = None  # None: DEFAULT_RULES[kind]
    levels: tuple[Level, ...] | None = None  # None: DEFAULT_LEVELS[kind]

    @property
    def values(self) -> list:
        """The options' values in order (labels, ratings, ranking values)."""
        return list(self.options) if self.options is not None else []

    def resolution_rule(self) -> Rule:
        return self.rule or DEFAULT_RULES[self.kind]

    def agreement_levels(self) -> tuple[Level, ...]:
        return self.levels if self.levels is not None else DEFAULT_LEVELS[self.kind]


@dataclass
class Meta:
    name: str
    kind: Literal["terms", "integer", "float"]
    expr: pl.Expr | None  # None: computed from the rendered fields (text_length)
    title: str | None = None
    hidden: bool = False  # not shown to annotators (what they must judge before seeing); owners and admins see it


@dataclass
class Suggestion:
    """A pre-filled answer to `question` from `value(row)`; the agent is the model that `step`
    recorded in the row's provenance (or `agent` when the value is not a model's)."""

    question: str
    value: Callable[[Row], Any]
    step: str | None = None
    agent: str | None = None
    score: Callable[[Row], Any] | None = None


@dataclass
class ReviewSpec:
    record_type: str
    fields: list[Field]
    questions: list[Question]
    metadata: list[Meta] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    embed_text: Callable[[Row], str | None] | None = None  # text for MiniLM vectors
    vector_column: str | None = None  # a column of the data that already holds vectors
    vector_name: str = "embedding"
    guidelines: str = ""

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(name)


# -- small renderers ---------------------------------------------------------------------------


def col(name: str) -> Callable[[Row], str | None]:
    return lambda row: None if row.get(name) is None else str(row[name])


def lines(*pairs: tuple[str, str]) -> Callable[[Row], str]:
    """`**Title:** value` lines for the columns given, skipping empty ones."""

    def render(row: Row) -> str:
        return "\n\n".join(f"**{title}:** {row[c]}" for title, c in pairs if row.get(c) not in (None, "", []))

    return render


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


# -- metadata and questions many specs use -----------------------------------------------------


def terms(name: str, column: str | None = None, title: str | None = None, hidden: bool = False) -> Meta:
    return Meta(name, "terms", pl.col(column or name).cast(pl.String), title, hidden)


def integer(name: str, column: str | None = None, title: str | None = None) -> Meta:
    return Meta(name, "integer", pl.col(column or name).cast(pl.Int64), title)


def number(name: str, column: str | None = None, title: str | None = None) -> Meta:
    return Meta(name, "float", pl.col(column or name).cast(pl.Float64), title)


def note() -> Question:  # new objects per spec: review settings may change a question's rule
    return Question("note", "text", "Notes (optional)", required=False)


def clarity() -> Question:
    return Question("clarity", "rating", "How clear is it? (1 = unclear, 5 = perfectly clear)", [1, 2, 3, 4, 5])


def ranks_from_scores(scores: list[float]) -> list[int]:
    """Rank 1 for the highest score; equal scores share a rank (competition ranking)."""
    return [1 + sum(1 for t in scores if t > s) for s in scores]
