"""Recipe `personality`: IPIP-NEO responses -> keyed answers and Big Five scores (after PAPI).

Steps: read (files, in parallel on Dask) -> validate_answers -> dedupe_respondents -> key_and_score.
A persona text per respondent (PAPI's LLM step) plugs in after key_and_score; see `persona_hook`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.plots import Plot
from pipelines.inventory import answer_ok, answer_problem, cronbach_alpha, score_instrument
from pipelines.recipes import CardMeta, CardSection, RecipeConfig, RecipeOutput
from pipelines.runtime import RunContext, file_fingerprint
from pipelines.steps import Account, Step, StepConfig, StepResult, split_by_reason
from schemas.envelope import envelope_columns, provenance_entry, stable_id
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.instruments import Instrument
from sources.ipip import DEMOGRAPHICS, definition, read_responses

NAME = "personality"
DESCRIPTION = ("inventory responses (IPIP-NEO, IPIP-FFM, BFI-2, HEXACO-60, MFQ-30, PVQ, SD3; CSV, Johnson's .dat, "
               "SPSS, Stata) -> domain and facet scores")
INTERNAL = ("_file", "_row", "_keyed", "instrument_items", "_instrument")


class Config(RecipeConfig):
    keyed: bool = False  # CSV/SPSS/Stata answers already keyed (Johnson's .dat always are)
    min_answered_fraction: float = 0.5  # respondents below it: dropped, `insufficient_answers`


# -- steps ---------------------------------------------------------------------------------------


class ReadConfig(StepConfig):
    keyed: bool = False


class ReadResponses(Step):
    """Parse each input file (one Dask partition a file) into text columns with their origin."""

    name = "read"
    version = "2"  # sources/ipip.py: any shipped instrument, ISO countries (the hash sees only this class)
    dask = None  # set by the recipe to the run's DaskRuntime

    def run(self, data: pl.DataFrame) -> StepResult:
        paths = [Path(p) for p in data["path"]]
        raws = self.dask.map(read_responses, paths) if self.dask else [read_responses(p) for p in paths]
        frames, quarantines = [], []
        for raw in raws:
            keyed = raw.keyed_at_source or self.config.keyed
            frames.append(
                raw.frame.with_columns(
                    pl.lit(keyed).alias("_keyed"),
                    pl.lit(len(definition(raw.instrument).items), pl.Int16).alias("instrument_items"),
                    pl.lit(definition(raw.instrument).id).alias("_instrument"),
                )
            )
            quarantines.append(raw.malformed)
        frame = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        quarantine = quarantine_frame(pl.concat(quarantines), step=self.name)
        rows_in = frame.height + quarantine.height
        return StepResult(frame, Account(self.name, rows_in, frame.height, {}, quarantine.height), quarantine)


class ValidateAnswers(Step):
    """Quarantine rows with an answer that is not a whole number 0..5, or an age not a number."""

    name = "validate_answers"

    def run(self, data: pl.DataFrame) -> StepResult:
        parts, bad_parts = [], []
        for inst, part in _by_instrument(data):
            scale = inst.response_scale
            cols = inst.columns + (["age"] if "age" in part.columns else [])
            problems = [answer_problem(c, scale) if c != "age" else _age_problem() for c in cols]
            # the messages are string work on every answer: build them only for rows that fail a
            # cheap test (0..5 as written, or blank); a row keeps its place either way
            schema = part.schema
            plain = pl.all_horizontal(
                answer_ok(c, schema[c], scale) if c != "age" else _age_problem().is_null() for c in cols)
            part = part.with_row_index("_i")
            checked = part.filter(~plain).with_columns(
                pl.concat_str(problems, separator="; ", ignore_nulls=True).alias("_error"),
                pl.coalesce([pl.when(p.is_not_null()).then(pl.lit(c)) for c, p in zip(cols, problems)]).alias("_field"),
            ).filter(pl.col("_field").is_not_null())
            parts.append(part.filter(~pl.col("_i").is_in(checked["_i"].implode())).drop("_i"))
            bad_parts.append(checked.drop("_i"))
        kept = _concat(parts, data)
        bad = pl.concat(bad_parts, how="diagonal_relaxed") if bad_parts else pl.DataFrame()
        quarantine = _quarantine_rows(bad, self.name) if bad.height else empty_quarantine()
        account = Account(self.name, data.height, kept.height, {}, quarantine.height)
        return StepResult(kept, account, quarantine)


class DedupeRespondents(Step):
    """A repeated respondent id (per instrument) keeps its first row; later ones are quarantined."""

    name = "dedupe_respondents"

    def run(self, data: pl.DataFrame) -> StepResult:
        with_id = data.with_columns(_respondent_id_expr(data.columns).alias("respondent_id"))
        firsts = (
            with_id.group_by("_instrument", "respondent_id", maintain_order=True)
            .agg(pl.col("_file").first().alias("_first_file"), pl.col("_row").first().alias("_first_row"))
        )
        flagged = with_id.with_columns(
            pl.col("respondent_id").is_first_distinct().over("_instrument").alias("_first")
        )
        kept = flagged.filter(pl.col("_first")).drop("_first")
        later = flagged.filter(~pl.col("_first")).join(firsts, on=["_instrument", "respondent_id"], how="left")
        later = later.with_columns(
            pl.lit("case").alias("_field"),
            pl.format("duplicate respondent id '{}': first seen in {} row {}",
                      pl.col("respondent_id"), pl.col("_first_file"), pl.col("_first_row")).alias("_error"),
        ).drop("_first", "_first_file", "_first_row", "respondent_id")
        quarantine = _quarantine_rows(later, self.name) if later.height else empty_quarantine()
        return StepResult(kept, Account(self.name, data.height, kept.height, {}, quarantine.height), quarantine)


class ScoreConfig(StepConfig):
    min_answered_fraction: float = 0.5


class KeyAndScore(Step):
    """Key reverse-scored items, score domains and facets, drop respondents with too few answers
    (`insufficient_answers`) or a failed catch item (`failed_check`, MFQ-30)."""

    name = "key_and_score"
    version = "2"  # pipelines/inventory.py: any instrument (the hash sees only this class)

    def run(self, data: pl.DataFrame) -> StepResult:
        parts, scored_items = [], {}
        for inst, part in _by_instrument(data):
            scored_items[inst.id] = sum(i.scale is not None for i in inst.items)
            parts.append(score_instrument(part.drop(_other_items(part, inst)), inst, pl.col("_keyed")))
        scored = _concat(parts, data)
        if not scored.height:
            return split_by_reason(self.name, scored, pl.lit(None, pl.String))
        frac = self.config.min_answered_fraction
        too_few = pl.col("answered") < pl.col("_instrument").replace_strict(scored_items, return_dtype=pl.Float64) * frac
        failed = (pl.col("checks_failed") > 0) if "checks_failed" in scored.columns else pl.lit(False)
        reason = pl.when(too_few).then(pl.lit("insufficient_answers")).when(failed.fill_null(False)).then(
            pl.lit("failed_check"))
        return split_by_reason(self.name, scored, reason)


# -- recipe --------------------------------------------------------------------------------------


def build(ctx: RunContext, inputs: list[Path], config: Config) -> RecipeOutput:
    paths = pl.DataFrame({"path": [str(p) for p in inputs]})
    reader = ReadResponses(ReadConfig(keyed=config.keyed))
    reader.dask = ctx.dask
    fingerprints = "|".join(file_fingerprint(p) for p in inputs)
    scorer = KeyAndScore(ScoreConfig(min_answered_fraction=config.min_answered_fraction))
    data = ctx.chain([reader, ValidateAnswers(), DedupeRespondents(), scorer], paths, inputs_hash=fingerprints)
    data = persona_hook(ctx, data, config)

    steps = [reader, ValidateAnswers(), DedupeRespondents(), scorer]
    respondents = _respondent_records(ctx, data, config, steps)
    instruments = [definition(i) for i in sorted(set(data["_instrument"].to_list()))] if "_instrument" in data.columns else []
    items = _item_records(ctx, instruments)
    sections = measure(data, respondents, instruments)
    fields = [f.name for f in respondents["domain_scores"].dtype.fields] if respondents.height else []
    plots = [Plot("domain_scores", "Domain scores (keyed)", "hist",
                  {d: respondents["domain_scores"].struct.field(d).to_numpy() for d in fields}, "score")]
    tables = {"respondents": respondents, "items": items}
    if "persona_description" in data.columns:  # PAPI's persona texts, when an LLM was configured
        from pipelines.llm.persona import persona_records

        tables["personas"] = persona_records(ctx, respondents, data, config.license)
    return RecipeOutput(tables, _card(config), sections, plots)


def persona_hook(ctx: RunContext, data: pl.DataFrame, config: Config) -> pl.DataFrame:
    """PAPI's LLM persona step (pipelines/llm/persona.py): a `persona_description` per respondent when
    an LLM endpoint is configured; otherwise a note in the report says why there is none."""
    from pipelines.llm.persona import add_personas

    return add_personas(ctx, data)


def _respondent_records(ctx, data: pl.DataFrame, config: Config, steps: list[Step]) -> pl.DataFrame:
    provenance = [provenance_entry(s.name, s.code_version(), s.params()) for s in steps]
    demo = [pl.col(c).cast(pl.String) if c in data.columns else pl.lit(None, pl.String).alias(c) for c in DEMOGRAPHICS]
    age = demo[1].cast(pl.Float64, strict=False).cast(pl.Int32).alias("age")
    ids = [  # IPIP-NEO ids as before (by item count), other instruments by their id
        stable_id(NAME, int(n) if i.startswith("ipip_neo_") else i, rid)
        for n, i, rid in data.select("instrument_items", "_instrument", "respondent_id").iter_rows()
    ]
    records = data.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        pl.col("_instrument").replace_strict({i: definition(i).name for i in data["_instrument"].unique()},
                                             return_dtype=pl.String).alias("instrument"),
        pl.struct(demo[0].alias("sex"), age, demo[2].alias("country"),
                  *(pl.col(c).cast(pl.String) if c in data.columns else pl.lit(None, pl.String).alias(c)
                    for c in ("country_code", "country_raw"))).alias("demographics"),
        pl.col("responses").cast(pl.List(pl.Int8)),
        pl.lit(True).alias("responses_keyed"),
        *envelope_columns(
            dataset="personality-inventory", license=config.license, created_at=ctx.created_at,
            provenance=provenance, file=pl.col("_file"), source_id=pl.col("respondent_id"), lang="en",
        ),
    )
    return records.select(
        "record_id", "respondent_id", "instrument", "demographics", "responses", "responses_keyed",
        "domain_scores", "facet_scores", "answered", *(["checks_failed"] if "checks_failed" in records.columns else []),
        "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at",
    )


def _item_records(ctx, instruments: list[Instrument]) -> pl.DataFrame:
    frames = []
    for inst in instruments:
        key = inst.key_frame()
        labels = ", ".join(f"{k} = {v}" for k, v in inst.response_scale.labels.items())
        file = f"sources/data/instruments/{inst.id}.yaml"
        frames.append(
            key.with_columns(
                pl.lit(inst.name).alias("instrument"),
                pl.lit(f"{inst.response_scale.min}-{inst.response_scale.max}: {labels}").alias("scale"),
                pl.col("item_no").map_elements(
                    lambda i, inst=inst: stable_id("ipip-item", int(inst.id.removeprefix("ipip_neo_")), i)
                    if inst.id.startswith("ipip_neo_") else stable_id("instrument-item", inst.id, i),
                    return_dtype=pl.String).alias("record_id"),
                *envelope_columns(
                    dataset=f"{inst.id}-key", license=inst.key.license if not inst.texts.shipped else inst.texts.license,
                    created_at=ctx.created_at, provenance=[provenance_entry("key", "1", {"file": file})],
                    file=f"{inst.id}.yaml", source_id=pl.col("item_no").cast(pl.String), lang="en",
                ),
            )
        )
    if not frames:
        return pl.DataFrame()
    cols = ["record_id", "instrument", "item_no", "text", "domain", "facet_code", "facet_name", "keyed", "scale",
            "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at"]
    return pl.concat(frames, how="diagonal_relaxed").select(cols)


# -- measured facts for the card ----------------------------------------------------------------


def measure(data: pl.DataFrame, respondents: pl.DataFrame, instruments: list[Instrument]) -> list[CardSection]:
    sections = []
    if respondents.height == 0:
        return [CardSection("Scores", "No respondent passed the steps above.")]
    counts = respondents.group_by("instrument").len().sort("instrument")
    lines = [f"- {inst}: {n} respondents" for inst, n in counts.iter_rows()]
    sections.append(CardSection("Instruments", "\n".join(lines)))

    rows = ["| instrument | domain | mean | sd | n scored | Cronbach's alpha (complete cases) |",
            "|---|---|---:|---:|---:|---:|"]
    for inst, part in _by_instrument(data):  # keyed answers as columns k1..kN, no Python objects
        names = [f"k{i.item}" for i in inst.items]
        keyed = part.select(pl.col("responses").list.to_struct(fields=names)).unnest("responses")
        scores = respondents.filter(pl.col("instrument") == inst.name)["domain_scores"]
        for d in inst.domains:
            sc = scores.struct.field(d)
            alpha, used = cronbach_alpha(keyed, [f"k{no}" for no in inst.scale_items(d)])
            rows.append(f"| {inst.name} | {d} | {_fmt(sc.mean())} | {_fmt(sc.std())} | {sc.drop_nulls().len()} | "
                        f"{_fmt(alpha)} (n={used}) |")
    sections.append(CardSection("Domain scores (keyed; `centered` scales are deviations from the respondent's mean)",
                                "\n".join(rows)))

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
    sections.append(CardSection("Items and key", "\n".join(
        f"- {inst.name} (`sources/data/instruments/{inst.id}.yaml`): {inst.reference} Key: {inst.key.source} "
        f"(licence: {inst.key.license}). Item texts: "
        + (f"shipped ({inst.texts.license})." if inst.texts.shipped else f"not shipped ({inst.texts.license}).")
        + f" Scoring: {inst.scoring.rule} of the answered items after keying, null when fewer than "
          f"{inst.scoring.min_answered:.0%} of a scale's items were answered."
        for inst in instruments)))
    return sections


def _card(config: Config) -> CardMeta:
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
                "responses": "keyed answers in item order (index 0 = item 1), null when missing",
                "domain_scores": "per domain of the row's `instrument` (IPIP-NEO: N, E, O, A, C): the mean keyed "
                                 "answer (PVQ: less the respondent's mean); null when under half answered",
                "facet_scores": "per facet (IPIP-NEO: N1..C6; BFI-2, HEXACO-60: DOMAIN_facet); null when under "
                                "half answered",
                "answered": "number of scored items answered",
                "checks_failed": "catch items failed (MFQ-30); such respondents are dropped",
            },
            "items": {"keyed": "+1 positively keyed, -1 reverse keyed", "facet_code": "the instrument's facet code",
                      "text": "null where the instrument's licence keeps the text out (key only)"},
        },
    )


# -- helpers -------------------------------------------------------------------------------------


def _by_instrument(data: pl.DataFrame) -> list[tuple[Instrument, pl.DataFrame]]:
    if "_instrument" not in data.columns or not data.height:
        return []
    return [(definition(i), data.filter(pl.col("_instrument") == i)) for i in sorted(data["_instrument"].unique())]


def _other_items(part: pl.DataFrame, inst: Instrument) -> list[str]:
    """Item columns of other instruments (a 120-item row in a frame shared with 300-item rows)."""
    from sources.instruments import shipped

    mine = set(inst.columns)
    others = {c for other in shipped().values() for c in other.columns} - mine
    return [c for c in part.columns if c in others]


def _concat(parts: list[pl.DataFrame], like: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(parts, how="diagonal_relaxed") if parts else like.clear()


def _age_problem() -> pl.Expr:
    text = pl.col("age").cast(pl.String).str.strip_chars()
    present = text.is_not_null() & (text != "")
    return pl.when(present & text.cast(pl.Float64, strict=False).is_null()).then(
        pl.format("age: '{}' is not a number", text)
    )


def _respondent_id_expr(columns: list[str]) -> pl.Expr:
    """The file's case number; `file:row` for files without one."""
    fallback = pl.format("{}:{}", pl.col("_file"), pl.col("_row"))
    if "case" not in columns:
        return fallback
    case = pl.col("case").cast(pl.String).str.strip_chars()
    return pl.when(case.is_not_null() & (case != "")).then(case).otherwise(fallback)


def _quarantine_rows(bad: pl.DataFrame, step: str) -> pl.DataFrame:
    raw_cols = [c for c in bad.columns if not c.startswith("_") and c not in ("instrument_items",)]
    return quarantine_frame(
        bad.select(
            pl.lit(step).alias("step"),
            pl.col("_file").alias("source_file"),
            pl.col("_row").alias("row"),
            pl.col("_field").alias("field"),
            pl.col("_error").alias("error"),
            pl.struct([pl.col(c) for c in raw_cols]).struct.json_encode().alias("raw"),
        )
    )


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def check_inputs(inputs: list[Path], config: Config) -> None:
    """Reject a wrong file before the run starts (format, instrument), naming the file."""
    from sources.ipip import sniff

    for path in inputs:
        sniff(path)
