"""The folder `curate dedup --output` writes is a dataset like every other command's: configs `kept`
(the rows kept, every input column as read) and `duplicates` (one row per removed row), a card,
report.json and quarantine.parquet; `datasets.load_dataset(DIR, "kept")` reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

DUPLICATE_FIELDS = {
    "id": "the removed row's id (the id column of the input)",
    "duplicate_of": "the id of the kept row it duplicates",
    "method": "the method that linked them: exact, near or semantic",
    "similarity": "exact: 1; near: Jaccard similarity of their shingle sets; semantic: cosine similarity of their embeddings",
}


def sample_languages(kept: Path, text_column: str, rows: int = 200) -> list[str]:
    """ISO 639-1 codes of the languages of at least a tenth of a sample of kept texts (langdetect,
    seeded), most frequent first; ["en"] when none is detected (the Hub's header needs one)."""
    from collections import Counter

    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0
    files = sorted(kept.glob("*.parquet"))
    texts = (
        pl.scan_parquet(files).select(pl.col(text_column).cast(pl.String)).head(rows).collect().to_series()
        if files
        else pl.Series([], dtype=pl.String)
    )
    found = Counter()
    for text in texts.drop_nulls().to_list():
        try:
            found[detect(text).split("-")[0]] += 1
        except LangDetectException:
            continue
    total = sum(found.values())
    return [lang for lang, n in found.most_common() if n >= 0.1 * total] or ["en"]


def dedup_section(stats: dict[str, Any], method: str) -> str:
    sizes = ", ".join(f"{k}: {v}" for k, v in stats.get("cluster_sizes", {}).items())
    sim = stats.get("similarity") or {}
    lines = [
        f"Method `{method}` with {', '.join(f'`{k}` {v}' for k, v in (stats.get('params') or {}).items()) or 'its defaults'}.",
        "",
        f"- {stats['rows']} rows compared, {stats['kept']} kept, {stats['removed']} removed "
        f"({stats['removed_fraction']:.2%}) in {stats['clusters']} clusters of two or more rows "
        f"(largest {stats['largest_cluster']}; sizes {sizes or '-'}).",
    ]
    if sim:
        lines.append(
            f"- Similarity of each removed row to its kept row: min {sim.get('p0')}, median {sim.get('p50')}, "
            f"mean {sim.get('mean')}."
        )
    return "\n".join(lines)


def write_dedup_card(
    stage: Path,
    *,
    views: dict[str, dict[str, Any]],
    report,
    input: Path,
    method: str,
    cfg,
    plot_cache: Path | None = None,
) -> None:
    """The card, report.json and figures of a dedup folder whose configs are written (`views`)."""
    from data_cards.hub import HubSpec
    from data_cards.meta import CardMeta, CardSection
    from pipelines.engine.layout import DATA_DIR, finish_dataset
    from sources.files import input_name

    stats = report.facts["dedup"]
    card = CardMeta(
        pretty_name=f"{input_name(input)}, deduplicated ({method})",
        license="unknown",
        languages=sample_languages(stage / DATA_DIR / "kept", cfg.text_column),
        task_categories=["other"],
        summary=(
            f"The rows of `{input_name(input)}` that {method} deduplication on column `{cfg.text_column}` kept "
            "(config `kept`, every input column as read) and one row per removed row (config `duplicates`). "
            "The license is the input's own: this card cannot know it."
        ),
        fields={"duplicates": DUPLICATE_FIELDS},
        limitations=["Languages in the header are detected by langdetect on a sample of 200 kept texts."],
    )
    created = datetime.now(UTC).isoformat(timespec="seconds")
    finish_dataset(
        stage,
        recipe="dedup",
        card=card,
        views=views,
        spec=HubSpec(),
        report=report,
        inputs=[input] if input.is_file() else [],
        sections=[CardSection("Deduplication", dedup_section(stats, method))],
        created_at=created,
        plot_cache=plot_cache,
        plots=[],
        command=f"curate dedup --method {method}",
    )
