"""Render a Hub-valid data card from a run's report and measurements of its tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import polars as pl
import yaml

TEMPLATES = Path(__file__).parent / "templates"

SIZE_BOUNDS = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
]


def size_category(n: int) -> str:
    for bound, label in SIZE_BOUNDS:
        if n < bound:
            return label
    return "100M<n<1B"


def _short_dtype(dtype: pl.DataType) -> str:
    text = str(dtype)
    return text if len(text) <= 60 else text[:57] + "..."


def header(card, configs: dict[str, pl.DataFrame], data_dir: str = "data") -> dict[str, Any]:
    total = sum(t.height for t in configs.values())
    head: dict[str, Any] = {
        "pretty_name": card.pretty_name,
        "license": card.license,
        "language": card.languages or ["en"],
        "task_categories": card.task_categories,
        "size_categories": [size_category(total)],
        "tags": card.tags or None,
        "source_datasets": card.source_datasets or None,
        "configs": [
            {
                "config_name": name,
                "data_files": [{"split": "train", "path": f"{data_dir}/{name}/*.parquet"}],
                **({"default": True} if i == 0 else {}),
            }
            for i, name in enumerate(configs)
        ],
    }
    return {k: v for k, v in head.items() if v is not None}


def render_card(
    *,
    recipe: str,
    card,
    configs: dict[str, pl.DataFrame],
    report: dict[str, Any],
    inputs: list[dict[str, Any]],
    sections: list,
    created_at: str,
    load_path: str = "PATH_OR_REPO_ID",
    plots: list[dict[str, str]] | None = None,
    annotation: str | None = None,
) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    config_views = [
        {
            "name": name,
            "rows": table.height,
            "fields": [
                {
                    "name": col,
                    "dtype": _short_dtype(dtype),
                    "description": card.fields.get(name, {}).get(col, ""),
                }
                for col, dtype in table.schema.items()
            ],
        }
        for name, table in configs.items()
    ]
    return env.get_template("card.md.j2").render(
        header_yaml=yaml.safe_dump(header(card, configs), sort_keys=False, allow_unicode=True),
        card=card,
        recipe=recipe,
        created_at=created_at,
        configs=config_views,
        load_path=load_path,
        inputs=inputs,
        steps=report["steps"],
        quarantined_total=report["quarantined_total"],
        notes=report.get("notes", []),
        sections=sections,
        plots=plots or [],
        annotation=annotation
        or "No human review has been recorded for this version. Records carry `review.status = pending`.",
    )
