"""Render a Hub-valid data card from a run's report and measurements of its tables."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from typing import Any

from data_cards.licenses import OTHER

TEMPLATES = Path(__file__).parent / "templates"


def license_text(license: str) -> str:
    """One sentence for the card's body: the license of this version's data."""
    if license == "unknown":
        return (
            "The license of this data is not stated (`unknown`): set `license` (a Hub license id) in the "
            "recipe's config before sharing it."
        )
    if license.startswith(OTHER):
        return f"This version's data is published under {md_text(license[len(OTHER) :])} (`license: other`)."
    return f"This version's data is published under `{license}`."


def md_text(text: str) -> str:
    """User text made inert in a Markdown body: one line (a name cannot open a `---` block or a
    heading), no HTML (<script>), no code spans, links or table cells of its own."""
    one_line = " ".join(str(text).split())
    for ch in "\\`[]|":
        one_line = one_line.replace(ch, "\\" + ch)
    return html.escape(one_line, quote=False)


ENVELOPE_FIELDS = {
    "record_id": "stable content hash of the record (the key the version diff and Argilla use)",
    "source": "where the record came from: dataset, file, id in the source, URL",
    "license": "license of the record's data (SPDX-style id)",
    "lang": "language of the record's text (ISO 639-1)",
    "split": "train, validation or test, by a hash of the config's grouping key (see Splits)",
    "parallel_id": "record_id of the record this one is parallel to (a translation's original); null otherwise",
    "provenance": "the steps applied, in order: step, code version, configuration (JSON), model, template hash, seed",
    "review": "human review: status (pending, submitted, resolved, discarded), annotators, responses (JSON), agreement",
    "created_at": "when this run wrote the record (UTC)",
}


def feature_type(feature) -> str:
    """A datasets feature as a reader would write it: string, int8, list<int8>, ClassLabel(YTA, NTA...),
    struct{sex: string, age: int32}; a struct of many fields of one type is shown as a range."""
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return f"ClassLabel({', '.join(feature.names)})"
    if isinstance(feature, datasets.Value):
        return feature.dtype
    if isinstance(feature, (datasets.List, datasets.LargeList)):
        return f"list<{feature_type(feature.feature)}>"
    if isinstance(feature, datasets.Sequence):
        return f"list<{feature_type(feature.feature)}>"
    if isinstance(feature, (dict, datasets.Features)):
        items = [(k, feature_type(v)) for k, v in feature.items()]
        kinds = {t for _, t in items}
        if len(items) > 6 and len(kinds) == 1:
            return f"struct{{{items[0][0]}..{items[-1][0]}: {kinds.pop()}}} ({len(items)} fields)"
        return "struct{" + ", ".join(f"{k}: {t}" for k, t in items) + "}"
    if isinstance(feature, list) and feature:
        return f"list<{feature_type(feature[0])}>"
    return type(feature).__name__


def load_snippet(configs: list[str], repo: str | None = None, version: str | None = None, local: bool = False) -> str:
    """How to load this dataset: the Hub id and `revision` once published (a local repository through
    `load_version`, since `datasets` ignores `revision` for folders); before that, the run folder."""
    first = configs[0] if configs else "default"
    if repo is None:
        return (
            "Not published yet: `curate publish DIR --repo REPO --version X.Y.Z` names the repository and\n"
            "version here. The run folder itself loads with\n\n"
            f'```python\nfrom datasets import load_dataset\nds = load_dataset("path/to/this/folder", "{first}")\n```'
        )
    if local:
        return (
            "```python\nfrom pipelines.engine.publish import load_version\n"
            + "\n".join(f'{c} = load_version("{repo}", "{c}", "{version.lstrip("v")}", split="train")' for c in configs)
            + "\n```\n\nOn the Hub the same tags are revisions: "
            f'`load_dataset("ORG/NAME", "{first}", revision="{version}")`.'
        )
    return (
        "```python\nfrom datasets import load_dataset\n"
        + "\n".join(f'{c} = load_dataset("{repo}", "{c}", revision="{version}")' for c in configs)
        + "\n```"
    )


LOAD_BEGIN, LOAD_END = "<!-- curate:load -->", "<!-- /curate:load -->"


def with_load_snippet(text: str, snippet: str) -> str:
    if LOAD_BEGIN in text and LOAD_END in text:
        head, _, rest = text.partition(LOAD_BEGIN)
        _, _, tail = rest.partition(LOAD_END)
        return f"{head}{LOAD_BEGIN}\n{snippet}\n{LOAD_END}{tail}"
    return text


def render_card(
    *,
    recipe: str,
    card,
    views: dict[str, dict[str, Any]],
    spec,
    report: dict[str, Any],
    inputs: list[dict[str, Any]],
    sections: list,
    created_at: str,
    plots: list[dict[str, str]] | None = None,
    annotation: str | None = None,
    data_dir: str = "data",
    command: str | None = None,
) -> str:
    """The card through huggingface_hub's DatasetCard: DatasetCardData (with datasets' `configs` and
    `dataset_info`) as the header, the body from `templates/card.md.j2`. `views`: config -> what
    `pipelines.engine.layout.write_config` wrote (splits with rows and bytes, features)."""
    from huggingface_hub import DatasetCard

    from data_cards.hub import card_metadata

    rows = {name: sum(n for n, _ in view["splits"].values()) for name, view in views.items()}
    data = card_metadata(card, spec, views, sum(rows.values()), data_dir)
    config_views = [
        {
            "name": name,
            "rows": rows[name],
            "splits": {s: n for s, (n, _) in views[name]["splits"].items()},
            "key": spec.split_keys.get(name),
            "fields": [
                {
                    "name": col,
                    "dtype": feature_type(feature),
                    "description": card.fields.get(name, {}).get(col)
                    or ENVELOPE_FIELDS.get(col)
                    or card.columns.get(col, ""),
                }
                for col, feature in views[name]["features"].items()
            ],
        }
        for name in views
    ]
    # the body shows user text (dataset_name, file names) escaped; the header is YAML, safe as it is
    card = dataclasses.replace(card, pretty_name=md_text(card.pretty_name))
    inputs = [{**s, "name": md_text(s["name"])} for s in inputs]
    rendered = DatasetCard.from_template(
        data,
        template_path=str(TEMPLATES / "card.md.j2"),
        card=card,
        recipe=recipe,
        command=command or f"curate run {recipe}",
        created_at=created_at,
        configs=config_views,
        load_snippet=load_snippet(list(views)),
        inputs=inputs,
        steps=report["steps"],
        quarantined_total=report["quarantined_total"],
        notes=report.get("notes", []),
        sections=sections,
        plots=plots or [],
        license_text=license_text(card.license),
        annotation=annotation
        or "No human review has been recorded for this version. Records carry `review.status = pending`.",
    )
    return str(rendered).rstrip("\n") + "\n"
