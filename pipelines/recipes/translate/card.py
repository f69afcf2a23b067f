"""The translate recipe's card: translations, flags, similarity, model calls."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.hub import HubSpec
from pipelines.llm.step import usage_section
from pipelines.recipes.base import CardMeta, CardSection, read_columns

from .steps import LANGUAGES

# A story's original and its translation share a split.
HUB = HubSpec(
    source_datasets=["extended|other"],
    multilinguality="translation",
    annotations_creators=["machine-generated"],
    language_creators=["machine-generated"],
)

COLUMNS = read_columns(Path(__file__).with_name("columns.yaml"))


def sections(ctx, translations: pl.DataFrame, config) -> list[CardSection]:
    q = translations["quality"]
    n = translations.height
    flagged = int(q.struct.field("needs_review_first").sum()) if n else 0
    translate = ctx.report.step("translate")
    lines = [
        f"- {n} translations into `{config.target_lang}`; {translate.quarantined} items had no valid translation "
        "after one repair (quarantined with the raw reply)",
        f"- {flagged} of {n} flagged for review first (wrong language, length ratio outside "
        f"[{config.min_length_ratio}, {config.max_length_ratio}], or low similarity); `review_priority` 0 is the first to review",
    ]
    if n:
        lines.append(
            f"- detected language `{config.target_lang}` for "
            f"{int((q.struct.field('detected_lang') == config.target_lang).sum())} of {n}"
        )
        lines.append(f"- length ratio target/source: mean {q.struct.field('length_ratio').mean():.2f}")
        sims = q.struct.field("similarity").drop_nulls()
        lines.append(
            f"- cross-lingual similarity ({config.embedding_model}): mean {sims.mean():.3f}"
            if sims.len()
            else "- cross-lingual similarity: not measured (no `embedding_model` configured)"
        )
        changes = translations["name_changes"].list.len().sum()
        lines.append(
            f"- names adapted: {changes} replacements" if config.adapt_names else "- names kept as in the source"
        )
    return [CardSection("Translations", "\n".join(lines)), CardSection("Model calls", usage_section(ctx.report))]


def card_meta(config, translated: bool) -> CardMeta:
    langs = [config.source_lang] + ([config.target_lang] if translated else [])
    return CardMeta(
        columns=COLUMNS,
        pretty_name=config.dataset_name
        or f"Moral stories translated into {LANGUAGES.get(config.target_lang, config.target_lang)}",
        license=config.license,
        languages=[lang.split("-")[0] for lang in langs],
        task_categories=["text-classification", "text-generation"],
        tags=["moral-stories", "translation", "norms", "llm-generated"],
        source_datasets=[config.hub_dataset] if config.hub_dataset else [],
        summary=(
            f"Moral Stories-style items translated from `{config.source_lang}` into `{config.target_lang}` by an LLM with "
            "demonstrations" + (" and name adaptation" if config.adapt_names else "") + ", after Histoires Morales; "
            "every translation links to its source by `parallel_id`."
            if translated
            else "The validated source items; no translation was made in this run."
        ),
        citation="Leteno, T. et al. (2025). Histoires Morales: A French Dataset for Assessing Moral Alignment. "
        "Emelin, D. et al. (2021). Moral Stories: Situated Reasoning about Norms, Intents, Actions, and their Consequences.",
        limitations=[
            "Machine translations: until native speakers have reviewed them (review.status = pending) they may "
            "carry errors of meaning, register or culture.",
            "langdetect is unreliable on short texts; fields shorter than `min_lang_field_chars` are checked "
            "only as part of the whole item.",
        ],
        fields={
            "translations": {
                "parallel_id": "record_id of the source item in the `originals` config",
                "quality": "language detected, length ratio, similarity, confidence and the flags raised",
                "review_priority": "0 = review first (flagged, then least confident)",
                "source_text": "the source fields, for reviewers",
            }
        },
    )
