"""The personality recipe's card: measured facts (scores, alpha, demographics) and card metadata."""

from __future__ import annotations

import polars as pl

from pipelines.inventory import DOMAINS, cronbach_alpha
from pipelines.recipes.base import CardMeta, CardSection
from sources.ipip import DEMOGRAPHICS, load_key

from .records import INSTRUMENT_NAMES
from .steps import _by_instrument


def measure(data: pl.DataFrame, respondents: pl.DataFrame, instruments: list[int]) -> list[CardSection]:
    sections = []
    if respondents.height == 0:
        return [CardSection("Scores", "No respondent passed the steps above.")]
    counts = respondents.group_by("instrument").len().sort("instrument")
    lines = [f"- {inst}: {n} respondents" for inst, n in counts.iter_rows()]
    sections.append(CardSection("Instruments", "\n".join(lines)))

    rows = ["| domain | mean | sd | n scored | Cronbach's alpha (complete cases) |", "|---|---:|---:|---:|---:|"]
    keyed_by_instrument = []
    for n, part in _by_instrument(data):  # keyed answers as columns k1..kN, no Python objects
        key = load_key(n)
        names = [f"k{i}" for i in key["item_no"]]
        keyed = part.select(pl.col("responses").list.to_struct(fields=names)).unnest("responses")
        keyed_by_instrument.append((n, key, keyed))
    for d in DOMAINS:
        s = respondents["domain_scores"].struct.field(d)
        alphas = []
        for n, key, keyed in keyed_by_instrument:
            items = [f"k{i}" for i in key.filter(pl.col("domain") == d)["item_no"]]
            alpha, used = cronbach_alpha(keyed, items)
            alphas.append(f"{INSTRUMENT_NAMES[n]}: {_fmt(alpha)} (n={used})")
        rows.append(f"| {d} | {_fmt(s.mean())} | {_fmt(s.std())} | {s.drop_nulls().len()} | {'; '.join(alphas)} |")
    sections.append(CardSection("Domain scores (keyed, 1..5 scale)", "\n".join(rows)))

    demo = respondents["demographics"]
    cov = []
    for f in DEMOGRAPHICS:
        col = demo.struct.field(f)
        present = col.drop_nulls()
        present = present.filter(present.cast(pl.String) != "") if present.len() else present
        cov.append(f"- {f}: given for {present.len()} of {respondents.height} respondents ({present.len() / respondents.height:.1%})")
    top = demo.struct.field("country").drop_nulls().value_counts(sort=True).head(10)
    if top.height:
        cov.append("- most frequent countries: " + ", ".join(f"{c} ({n})" for c, n in top.iter_rows()))
    sections.append(CardSection("Demographics coverage", "\n".join(cov)))
    sections.append(CardSection(
        "Items and key",
        "Item texts come from the International Personality Item Pool (public domain). The facet of each "
        "item follows Johnson's interleaving (facet f = items f, f+30, ...), and the reverse-keyed items "
        "(55 of 120, 148 of 300) follow Johnson's scoring; see `sources/data/ipip_neo/SOURCE.md`. "
        "A score is the mean of the answered items after keying, null when fewer than half were answered.",
    ))
    return sections


def card_meta(config) -> CardMeta:
    return CardMeta(
        pretty_name=config.dataset_name or "Big Five personality profiles (IPIP-NEO)",
        license=config.license,
        languages=["en"],
        task_categories=["text-classification", "tabular-classification"],
        tags=["personality", "big-five", "ipip-neo", "alignment"],
        summary=(
            "Respondents to the IPIP-NEO Big Five inventory with keyed answers and domain and facet "
            "scores, in the style of PAPI's personality alignment data; and the inventory items."
        ),
        citation=(
            "Johnson, J. A. (2014). Measuring thirty facets of the Five Factor Model with a 120-item "
            "public domain inventory. Journal of Research in Personality, 51, 78-89."
        ),
        limitations=[
            "Self-reports from volunteers of an on-line inventory are not a representative sample.",
            "Scores use the public IPIP key; they are not normed (no T-scores or percentiles).",
        ],
        personal_information="Demographics are limited to sex, age and country as given by respondents; respondent ids are the source's case numbers.",
        fields={
            "respondents": {
                "respondent_id": "the source's case number (or file:row when the file has none)",
                "responses": "keyed answers 1..5 in item order (index 0 = item 1), null when missing",
                "domain_scores": "mean keyed answer per domain N, E, O, A, C; null when under half answered",
                "facet_scores": "mean keyed answer per facet N1..C6; null when under half answered",
                "answered": "number of items answered",
            },
            "items": {"keyed": "+1 positively keyed, -1 reverse keyed", "facet_code": "N1..C6"},
        },
    )


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
