"""Render a Hub-valid data card from a run's report and measurements of its tables."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

import jinja2
import polars as pl
import yaml

TEMPLATES = Path(__file__).parent / "templates"

# The license ids the Hugging Face Hub accepts in a card's `license:` (huggingface.co/docs/hub/
# repositories-licenses); any other license is `other` with its name in `license_name`.
HUB_LICENSES = frozenset("""
apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0
bigcode-openrail-m afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear
c-uda cc cc0-1.0 cc-by-2.0 cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0
cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0
cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 cdla-permissive-1.0 cdla-permissive-2.0 wtfpl
ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl gpl gpl-2.0 gpl-3.0 lgpl
lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr mpl-2.0
odc-by odbl openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr
deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3
llama4 gemma unknown other
""".split())
OTHER = "other:"  # a license outside the list, as carried in records: "other:<its name>"


def check_license(license: str, name: str | None = None) -> str:
    """The Hub license id for the card (lower case), or "other:<name>"; ValueError otherwise."""
    value = license.strip().lower()
    if value == "other" or value.startswith(OTHER):
        name = (name or license.strip()[len(OTHER):]).strip() if value != "other" or name else ""
        if not name or any(c in name for c in "\r\n"):
            raise ValueError("license: other needs the license's name on one line (license_name: NAME)")
        return OTHER + name
    if name:
        raise ValueError(f"license_name is only for license: other (license is {license!r})")
    if value not in HUB_LICENSES:
        raise ValueError(f"{license!r} is not a Hugging Face Hub license id (e.g. cc-by-4.0, cc0-1.0, mit, "
                         "apache-2.0, unknown); for another license: license: other, license_name: NAME")
    return value


def md_text(text: str) -> str:
    """User text made inert in a Markdown body: one line (a name cannot open a `---` block or a
    heading), no HTML (<script>), no code spans, links or table cells of its own."""
    one_line = " ".join(str(text).split())
    for ch in "\\`[]|":
        one_line = one_line.replace(ch, "\\" + ch)
    return html.escape(one_line, quote=False)

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
    license, license_name = (("other", card.license[len(OTHER):]) if card.license.startswith(OTHER)
                             else (card.license, None))
    head: dict[str, Any] = {
        "pretty_name": " ".join(card.pretty_name.split()),
        "license": license,
        "license_name": license_name,
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
    head = yaml.safe_dump(header(card, configs), sort_keys=False, allow_unicode=True)
    # the body shows user text (dataset_name, file names) escaped; the header is YAML, safe as it is
    card = dataclasses.replace(card, pretty_name=md_text(card.pretty_name))
    inputs = [{**s, "name": md_text(s["name"])} for s in inputs]
    return env.get_template("card.md.j2").render(
        header_yaml=head,
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
