"""The personality recipe's card: measured facts (scores, alpha, demographics) and card metadata."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.card import md_text
from data_cards.hub import HubSpec
from pipelines.methods.inventory import cronbach_alpha
from pipelines.recipes.base import CardMeta, CardSection, read_columns
from sources.countries import unrecognised
from sources.instruments import Instrument
from sources.ipip import DEMOGRAPHICS

from .steps import _by_instrument

# How the folder is published: a respondent stays in one split; items are a reference table (train).
HUB = HubSpec(
    # no ClassLabel for `domain`: its codes depend on the instrument (IPIP-NEO's E is not HEXACO's E)
    language_creators=["expert-generated"],
)

COLUMNS = read_columns(Path(__file__).with_name("columns.yaml"))


def measure(data: pl.DataFrame, respondents: pl.DataFrame, instruments: list[Instrument]) -> list[CardSection]:
    sections = []
    if respondents.height == 0:
        return [CardSection("Scores", "No respondent passed the steps above.")]
    counts = respondents.group_by("instrument").len().sort("instrument")
    lines = [f"- {inst}: {n} respondents" for inst, n in counts.iter_rows()]
    sections.append(CardSection("Instruments", "\n".join(lines)))

    rows = [
        "| instrument | domain | mean | sd | n scored | Cronbach's alpha (complete cases) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for inst, part in _by_instrument(data):  # keyed answers as columns k1..kN, no Python objects
        names = [f"k{i.item}" for i in inst.items]
        keyed = part.select(pl.col("responses").list.to_struct(fields=names)).unnest("responses")
        scores = respondents.filter(pl.col("instrument_id") == inst.id)["domain_scores"].struct.field(inst.id)
        for d in inst.domains:
            sc = scores.struct.field(d)
            alpha, used = cronbach_alpha(keyed, [f"k{no}" for no in inst.scale_items(d)])
            rows.append(
                f"| {inst.name} | {d} | {_fmt(sc.mean())} | {_fmt(sc.std())} | {sc.drop_nulls().len()} | "
                f"{_fmt(alpha)} (n={used}) |"
            )
    sections.append(
        CardSection(
            "Domain scores (keyed; `centered` scales are deviations from the respondent's mean)", "\n".join(rows)
        )
    )

    demo = respondents["demographics"]
    cov = []
    for f in DEMOGRAPHICS:
        col = demo.struct.field(f)
        present = col.drop_nulls()
        present = present.filter(present.cast(pl.String) != "") if present.len() else present
        cov.append(
            f"- {f}: given for {present.len()} of {respondents.height} respondents ({present.len() / respondents.height:.1%})"
        )
    top = demo.struct.field("country").drop_nulls().value_counts(sort=True).head(10)
    if top.height:
        cov.append("- most frequent countries: " + ", ".join(f"{c} ({n})" for c, n in top.iter_rows()))
    strange = (
        unrecognised(demo.struct.field("country_raw").drop_nulls().unique().to_list())
        if "country_raw" in demo.struct.fields
        else []
    )
    if strange:
        cov.append(
            "- **not recognised as a country** (kept as written in `country`, no ISO code): "
            + ", ".join(md_text(v) for v in strange[:30])
            + (f", and {len(strange) - 30} more" if len(strange) > 30 else "")
        )
    cov.append(
        "- countries are ISO 3166-1 English short names (pycountry) with `country_code` (alpha-2) and "
        "`country_alpha3`, recognized by countrynames in any spelling; `country_raw` is the value as written"
    )
    sections.append(CardSection("Demographics coverage", "\n".join(cov)))
    sections.append(
        CardSection(
            "Items and key",
            "\n".join(
                f"- {inst.name} (`sources/data/instruments/{inst.id}.yaml`): {inst.reference} Key: {inst.key.source} "
                f"(licence: {inst.key.license}). Item texts: "
                + (f"shipped ({inst.texts.license})." if inst.texts.shipped else f"not shipped ({inst.texts.license}).")
                + f" Scoring: {inst.scoring.rule} of the answered items after keying, null when fewer than "
                f"{inst.scoring.min_answered:.0%} of a scale's items were answered."
                for inst in instruments
            ),
        )
    )
    return sections


def card_meta(config) -> CardMeta:
    return CardMeta(
        columns=COLUMNS,
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
                "responses": "keyed answers in item order (index 0 = item 1), null when missing",
                "instrument_id": "the instrument's id (sources/data/instruments/<id>.yaml): the key of `domain_scores` "
                "and `facet_scores`",
                "domain_scores": "keyed by instrument id, then per domain: `domain_scores.<instrument_id>.<domain>` "
                "(IPIP-NEO: N, E, O, A, C) is the mean keyed answer (PVQ: less the respondent's mean), "
                "null when under half answered; other instruments' fields are null on the row, so one "
                "field never holds two constructs (BFI-2's E is Extraversion, HEXACO-60's Emotionality)",
                "facet_scores": "keyed by instrument id, then per facet (IPIP-NEO: N1..C6; BFI-2, HEXACO-60: "
                "DOMAIN_facet); null when under half answered; present when an instrument of the run "
                "has facets",
                "answered": "number of scored items answered",
                "checks_failed": "catch items failed (MFQ-30); such respondents are dropped",
            },
            "items": {
                "keyed": "+1 positively keyed, -1 reverse keyed",
                "facet_code": "the instrument's facet code",
                "text": "null where the instrument's licence keeps the text out (key only)",
            },
        },
    )


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
