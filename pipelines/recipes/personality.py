"""Recipe `personality`: IPIP-NEO responses -> keyed answers and Big Five scores (after PAPI).

Steps: read (files, in parallel on Dask) -> validate_answers -> dedupe_respondents -> key_and_score.
A persona text per respondent (PAPI's LLM step) plugs in after key_and_score; see `persona_hook`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from pydantic import Field

from data_cards.plots import Plot
from pipelines.inventory import DOMAINS, answer_ok, answer_problem, cronbach_alpha, score_frame
from pipelines.recipes import CardMeta, CardSection, RecipeConfig, RecipeOutput
from pipelines.runtime import RunContext, file_fingerprint
from pipelines.steps import Account, Step, StepConfig, StepResult, split_by_reason
from schemas.envelope import envelope_columns, provenance_entry, stable_id
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.ipip import DEMOGRAPHICS, item_columns, load_key, read_responses

NAME = "personality"
DESCRIPTION = "IPIP-NEO-120/300 responses (CSV, Johnson's .dat, SPSS, Stata) -> Big Five domain and facet scores"
INSTRUMENT_NAMES = {120: "IPIP-NEO-120", 300: "IPIP-NEO-300"}
MAX_AGE = 130  # an age above it (1e9, inf) is quarantined, not published
INTERNAL = ("_file", "_row", "_keyed", "instrument_items")


class Config(RecipeConfig):
    keyed: bool = False  # CSV/SPSS/Stata answers already keyed (Johnson's .dat always are)
    min_answered_fraction: float = Field(0.5, ge=0, le=1)  # respondents below it: dropped, `insufficient_answers`


# -- steps ---------------------------------------------------------------------------------------


class ReadConfig(StepConfig):
    keyed: bool = False


class ReadResponses(Step):
    """Parse each input file (one Dask partition a file) into text columns with their origin."""

    name = "read"
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
                    pl.lit(raw.instrument, pl.Int16).alias("instrument_items"),
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
        for n, part in _by_instrument(data):
            cols = item_columns(n) + (["age"] if "age" in part.columns else [])
            problems = [answer_problem(c) if c != "age" else _age_problem() for c in cols]
            # the messages are string work on every answer: build them only for rows that fail a
            # cheap test (0..5 as written, or blank); a row keeps its place either way
            schema = part.schema
            plain = pl.all_horizontal(
                answer_ok(c, schema[c]) if c != "age" else _age_problem().is_null() for c in cols)
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
            with_id.group_by("instrument_items", "respondent_id", maintain_order=True)
            .agg(pl.col("_file").first().alias("_first_file"), pl.col("_row").first().alias("_first_row"))
        )
        flagged = with_id.with_columns(
            pl.col("respondent_id").is_first_distinct().over("instrument_items").alias("_first")
        )
        kept = flagged.filter(pl.col("_first")).drop("_first")
        later = flagged.filter(~pl.col("_first")).join(firsts, on=["instrument_items", "respondent_id"], how="left")
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
    """Key reverse-scored items, score domains and facets, drop respondents with too few answers."""

    name = "key_and_score"

    def run(self, data: pl.DataFrame) -> StepResult:
        parts = []
        for n, part in _by_instrument(data):
            parts.append(score_frame(part.drop(_other_items(part, n)), load_key(n), pl.col("_keyed")))
        scored = _concat(parts, data)
        if not scored.height:
            return split_by_reason(self.name, scored, pl.lit(None, pl.String))
        frac = self.config.min_answered_fraction
        too_few = pl.col("answered") < pl.col("instrument_items") * frac
        return split_by_reason(self.name, scored, pl.when(too_few).then(pl.lit("insufficient_answers")))


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
    instruments = sorted(set(data["instrument_items"].to_list())) or sorted(
        set(ctx.report.facts.get("instruments_seen", [])))
    items = _item_records(ctx, instruments)
    sections = measure(data, respondents, instruments)
    plots = [Plot("domain_scores", "Domain scores (keyed, 1..5)", "hist",
                  {d: respondents["domain_scores"].struct.field(d).to_numpy() for d in DOMAINS}, "score")]
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
    ids = [
        stable_id(NAME, int(n), rid)
        for n, rid in data.select("instrument_items", "respondent_id").iter_rows()
    ]
    records = data.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        pl.col("instrument_items").replace_strict(INSTRUMENT_NAMES, return_dtype=pl.String).alias("instrument"),
        pl.struct(demo[0].alias("sex"), age, demo[2].alias("country")).alias("demographics"),
        pl.col("responses").cast(pl.List(pl.Int8)),
        pl.lit(True).alias("responses_keyed"),
        *envelope_columns(
            dataset="ipip-neo", license=config.license, created_at=ctx.created_at,
            provenance=provenance, file=pl.col("_file"), source_id=pl.col("respondent_id"), lang="en",
        ),
    )
    return records.select(
        "record_id", "respondent_id", "instrument", "demographics", "responses", "responses_keyed",
        "domain_scores", "facet_scores", "answered",
        "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at",
    )


def _item_records(ctx, instruments: list[int]) -> pl.DataFrame:
    frames = []
    for n in instruments:
        key = load_key(n)
        frames.append(
            key.with_columns(
                pl.lit(INSTRUMENT_NAMES[n]).alias("instrument"),
                pl.lit("1-5: very inaccurate, moderately inaccurate, neither, moderately accurate, very accurate").alias("scale"),
                pl.col("item_no").map_elements(lambda i, n=n: stable_id("ipip-item", n, i), return_dtype=pl.String).alias("record_id"),
                pl.col("item_no").cast(pl.String).alias("_sid"),
                *envelope_columns(
                    dataset=f"ipip-neo-{n}-key", license="public-domain", created_at=ctx.created_at,
                    provenance=[provenance_entry("key", "1", {"file": f"sources/data/ipip_neo/ipip_neo_{n}.csv"})],
                    file=f"ipip_neo_{n}.csv", source_id=pl.col("item_no").cast(pl.String), lang="en",
                ),
            ).drop("_sid")
        )
    if not frames:
        return pl.DataFrame()
    cols = ["record_id", "instrument", "item_no", "text", "domain", "facet_code", "facet_name", "keyed", "scale",
            "source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at"]
    return pl.concat(frames).select(cols)


# -- measured facts for the card ----------------------------------------------------------------


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
                "responses": "keyed answers 1..5 in item order (index 0 = item 1), null when missing",
                "domain_scores": "mean keyed answer per domain N, E, O, A, C; null when under half answered",
                "facet_scores": "mean keyed answer per facet N1..C6; null when under half answered",
                "answered": "number of items answered",
            },
            "items": {"keyed": "+1 positively keyed, -1 reverse keyed", "facet_code": "N1..C6"},
        },
    )


# -- helpers -------------------------------------------------------------------------------------


def _by_instrument(data: pl.DataFrame):
    if "instrument_items" not in data.columns or not data.height:
        return []
    return [(int(n), data.filter(pl.col("instrument_items") == n)) for n in sorted(data["instrument_items"].unique())]


def _other_items(part: pl.DataFrame, n: int) -> list[str]:
    """Item columns beyond this instrument's (a 120-item row in a frame shared with 300-item rows)."""
    mine = set(item_columns(n))
    return [c for c in part.columns if c.startswith("i") and c[1:].isdigit() and c not in mine]


def _concat(parts: list[pl.DataFrame], like: pl.DataFrame) -> pl.DataFrame:
    return pl.concat(parts, how="diagonal_relaxed") if parts else like.clear()


def _age_problem() -> pl.Expr:
    text = pl.col("age").cast(pl.String).str.strip_chars()
    present = text.is_not_null() & (text != "")
    years = text.cast(pl.Float64, strict=False)
    return pl.when(present & years.is_null()).then(
        pl.format("age: '{}' is not a number", text)
    ).when(present & ~(years.is_finite() & (years >= 0) & (years <= MAX_AGE)).fill_null(False)).then(
        pl.format("age: '{}' is not an age in years (0 to {})", text, pl.lit(MAX_AGE))
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
