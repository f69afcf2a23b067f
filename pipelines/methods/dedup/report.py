"""The dedup part of a data card, written from a dedup step's account (its cluster statistics)."""

from __future__ import annotations

from data_cards.meta import CardSection
from pipelines.engine.steps import Account


def card_section(account: Account) -> CardSection:
    """A card section: what was removed, how clusters are sized, and removed pairs as examples."""
    s = account.extra
    method = s.get("method", account.name)
    lines = [
        f"- method: {method}; {s['rows']} rows in, {s['kept']} kept, {s['removed']} removed "
        f"({s['removed_fraction']:.2%}) in {s['clusters']} clusters of duplicates "
        f"(largest: {s['largest_cluster']} rows).",
        "- cluster sizes: " + ", ".join(f"{k}: {v}" for k, v in s["cluster_sizes"].items()),
    ]
    if s.get("similarity"):
        sim = s["similarity"]
        lines.append(
            f"- similarity of removed rows to the kept row: min {sim['p0']}, median {sim['p50']}, mean {sim['mean']}"
        )
    params = s.get("params", {})
    shown = {
        k: params[k]
        for k in ("threshold", "shingle", "ngram", "num_perm", "lsh_bands", "lsh_rows", "keep")
        if k in params
    }
    if shown:
        lines.append("- parameters: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if s.get("examples"):
        lines += ["", "| removed | kept | similarity |", "|---|---|---:|"]
        for ex in s["examples"]:
            lines.append(f"| {_cell(ex['text'])} | {_cell(ex['kept_text'])} | {ex['similarity']:.3f} |")
    return CardSection(f"Deduplication ({method})", "\n".join(lines))


def _cell(text) -> str:
    return "" if text is None else str(text).replace("|", "\\|").replace("\n", " ")
