"""Argilla dataset settings from a review spec: what annotators see, what they answer, and how.

Each recipe states the review of its configs (`pipelines/recipes/<name>/review.py`, built from the
types in `schemas.review`): fields rendered from a row, questions with their level of measurement
and resolution rule, metadata, suggestions (LLM output with the model as agent) and the text to
embed for similarity search. This module is the generic part, for any recipe:
- `spec_for(recipe, config, frame)` picks the recipe's spec, or a generic accept/reject review of
  the text columns, and adds the metadata every spec carries (source, file, language, text length,
  LLM model, dedup cluster);
- `argilla_settings(spec, ...)` turns a spec into `rg.Settings`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import polars as pl

from schemas.review import (  # noqa: F401  (re-exported: the review types' old home)
    DEFAULT_LEVELS,
    DEFAULT_RULES,
    Field,
    Kind,
    Level,
    Meta,
    Question,
    ReviewSpec,
    Row,
    Rule,
    Suggestion,
    note,
    ranks_from_scores,
)

TEXT_LENGTH = "text_length"  # characters of the fields shown, for filtering long items

DEDUP_COLUMNS = ("dedup_cluster", "_dedup_cluster", "cluster_id")

AGENT_BAD = re.compile(r"[^a-zA-Z0-9\-_:./\s]")


def as_shown(text: str) -> str:
    """Field text as sent to Argilla. Its UI puts field text into the page as HTML (plain fields
    through Vue's v-html, markdown fields through its markdown renderer), so a `<tag>` in a Reddit
    post, a prompt injection or an LLM output would vanish from what annotators see, or act as markup.
    With `&` and `<` escaped, every character shows as written (markdown syntax needs neither)."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


def agent_name(model: str | None) -> str | None:
    if not model:
        return None
    return AGENT_BAD.sub("_", model)[:200]


def step_model(row: Row, step: str | None) -> str | None:
    """The model a step recorded in the row's provenance (the last LLM step when `step` is None)."""
    models = [
        p.get("model") for p in row.get("provenance") or [] if p.get("model") and (step is None or p["step"] == step)
    ]
    return models[-1] if models else None


# -- metadata every spec carries ---------------------------------------------------------------


def common_metadata(frame: pl.DataFrame) -> list[Meta]:
    meta = []
    if "source" in frame.columns:
        meta += [
            Meta("source", "terms", pl.col("source").struct.field("dataset"), "Source"),
            Meta("source_file", "terms", pl.col("source").struct.field("file"), "Source file"),
        ]
    if "lang" in frame.columns:
        meta.append(Meta("language", "terms", pl.col("lang"), "Language"))
    if "provenance" in frame.columns:
        models = (
            pl.col("provenance")
            .list.eval(pl.element().struct.field("model"))
            .list.drop_nulls()
            .list.unique(maintain_order=True)
        )
        if frame.select(models.list.len().max()).item():
            meta.append(Meta("llm_model", "terms", models, "LLM model"))
    for name in DEDUP_COLUMNS:
        if name in frame.columns:
            meta.append(Meta("dedup_cluster", "terms", pl.col(name).cast(pl.String), "Dedup cluster"))
            break
    return meta


# -- anything else -----------------------------------------------------------------------------

ENVELOPE = {"record_id", "license", "lang", "split", "parallel_id", "created_at", "source", "provenance", "review"}


def generic_spec(frame: pl.DataFrame) -> ReviewSpec:
    texts = [c for c, t in frame.schema.items() if t == pl.String and c not in ENVELOPE][:8]
    if not texts:
        texts = [c for c in frame.columns if c not in ENVELOPE][:1]

    def show(c: str) -> Callable[[Row], str | None]:
        return lambda r: (
            None if r.get(c) is None else (r[c] if isinstance(r[c], str) else json.dumps(r[c], default=str))
        )

    return ReviewSpec(
        "Record",
        fields=[Field(c, c, show(c), required=False) for c in texts],
        questions=[Question("accept", "label", "Keep this record?", ["accept", "reject"]), note()],
        embed_text=show(texts[0]) if texts else None,
        guidelines="Accept records that are correct and fit the dataset; reject the others.",
    )


def review_specs() -> dict[tuple[str, str], Callable[[pl.DataFrame], ReviewSpec]]:
    """(recipe, config) -> spec builder, for every recipe found (`pipelines.recipes.available`)."""
    from pipelines.recipes import available, get_recipe

    return {
        (name, config): builder for name in available() for config, builder in get_recipe(name).review_specs().items()
    }


def _recipe(name: str | None):
    from pipelines.recipes import available, get_recipe

    return get_recipe(name) if name in available() else None


def spec_for(recipe: str | None, config: str, frame: pl.DataFrame) -> ReviewSpec:
    """The review of `config`: the recipe's spec (generic without one), with the recipe folder's
    Markdown guidelines for its record type, and the metadata the frame has columns for."""
    found = _recipe(recipe)
    builder = (found.review_specs() if found else {}).get(config, generic_spec)
    spec = builder(frame)
    spec.guidelines = (found.guidelines(spec.record_type) if found else None) or spec.guidelines
    known = {m.name for m in spec.metadata}
    spec.metadata = [m for m in spec.metadata if _has_columns(frame, m.expr)]
    spec.metadata += [m for m in common_metadata(frame) if m.name not in known]
    spec.metadata.append(Meta(TEXT_LENGTH, "integer", None, "Text length (characters)"))
    taken = {f.name for f in spec.fields} | {q.name for q in spec.questions}
    for m in spec.metadata:  # Argilla wants one name space for fields, questions and metadata
        if m.name in taken:
            m.name = f"{m.name}_meta"
    return spec


def _has_columns(frame: pl.DataFrame, expr: pl.Expr) -> bool:
    return set(expr.meta.root_names()) <= set(frame.columns)


# -- rg.Settings -------------------------------------------------------------------------------


def argilla_question(q: Question, client):
    import argilla as rg

    common = dict(name=q.name, title=q.title, description=q.description, required=q.required, client=client)
    if q.kind == "label":
        return rg.LabelQuestion(labels=q.options, **common)
    if q.kind == "rating":
        return rg.RatingQuestion(values=list(q.options), **common)
    if q.kind == "ranking":
        return rg.RankingQuestion(values=q.options, **common)
    return rg.TextQuestion(use_markdown=False, **common)


def argilla_settings(spec: ReviewSpec, *, min_submitted: int, vector_dims: int | None, client):
    """The `rg.Settings` of a dataset for `spec`; `vector_dims` None: no vector field."""
    import argilla as rg

    meta_types = {
        "terms": rg.TermsMetadataProperty,
        "integer": rg.IntegerMetadataProperty,
        "float": rg.FloatMetadataProperty,
    }
    return rg.Settings(
        fields=[
            rg.TextField(name=f.name, title=f.title, use_markdown=f.markdown, required=f.required, client=client)
            for f in spec.fields
        ],
        questions=[argilla_question(q, client) for q in spec.questions],
        metadata=[
            meta_types[m.kind](
                name=m.name,
                title=m.title or m.name.replace("_", " "),
                visible_for_annotators=not m.hidden,
                client=client,
            )
            for m in spec.metadata
        ],
        vectors=[rg.VectorField(name=spec.vector_name, dimensions=vector_dims, _client=client)] if vector_dims else [],
        guidelines=spec.guidelines or None,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
        allow_extra_metadata=False,
    )
