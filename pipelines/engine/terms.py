"""A dataset's terms: its license, license name, dataset name and citation. A new version keeps the
previous version's terms unless its config changes them (`pipelines.engine.publish.plan_publish` reads them
from the repository; the run records where each came from, and publishing states every change)."""

from __future__ import annotations

import dataclasses
from typing import Any

TERMS = ("license", "license_name", "dataset_name", "citation")


def terms_facts(config, inherited: dict[str, Any], inherited_from: str | None) -> dict[str, Any]:
    """The run's terms and where each came from: "config" (the config file or --set), "inherited
    from vX.Y.Z" (the repository's latest version) or "default" (neither)."""
    values = {k: getattr(config, k, None) for k in TERMS}
    source = {}
    for key in TERMS:
        if key in inherited and values[key] == inherited[key] and inherited_from:
            source[key] = f"inherited from {inherited_from}"
        elif key in config.model_fields_set:
            source[key] = "config"
        else:
            source[key] = "default"
    return {**values, "source": source}


def with_citation(card, config):
    """The card's citation: the config's own (how to cite this dataset) first, then the sources'."""
    own = getattr(config, "citation", None)
    if not own:
        return card
    sources = f"\n\nSources:\n\n{card.citation}" if card.citation else ""
    return dataclasses.replace(card, citation=own.strip() + sources)
