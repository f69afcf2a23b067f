"""The values recipe's published records: `distributions` and `questions`."""

from __future__ import annotations

import polars as pl

from pipelines.methods.survey_design import DESIGN_COLS
from schemas.envelope import envelope_columns, stable_id
from sources.countries import codes_of
from sources.survey import SurveyPlan

NAME = "values"
ENVELOPE = ["source", "license", "lang", "split", "parallel_id", "provenance", "review", "created_at"]


def _question_meta(plan: SurveyPlan) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "var_name": [q.var for q in plan.questions],
            "question": [q.text for q in plan.questions],
            "ordinal": [q.ordinal for q in plan.questions],
            "options": [[o.label for o in q.options] for q in plan.questions],
            "option_codes": [[o.code for o in q.options] for q in plan.questions],
            "refusal_options": [[o.label for o in q.refusals] for q in plan.questions],
            "refusal_codes": [[o.code for o in q.refusals] for q in plan.questions],
            "labels_from": [q.labels_from for q in plan.questions],
            "code_aliases": [[{"code": a, "same_as": t} for a, t in q.aliases.items()] for q in plan.questions],
        },
        schema={
            "var_name": pl.String,
            "question": pl.String,
            "ordinal": pl.Boolean,
            "options": pl.List(pl.String),
            "option_codes": pl.List(pl.String),
            "refusal_options": pl.List(pl.String),
            "refusal_codes": pl.List(pl.String),
            "labels_from": pl.String,
            "code_aliases": pl.List(pl.Struct({"code": pl.String, "same_as": pl.String})),
        },
    )


def _with_files(frame: pl.DataFrame, plan: SurveyPlan) -> pl.DataFrame:
    """Adds `file`: the files holding the record's question, in its survey and wave (or survey alone
    when waves come from a column) - the records' `source.file`."""
    rows = [(f.survey, f.wave, q, f.name) for f in plan.files for q in f.questions]
    files = pl.DataFrame(
        rows, schema={"survey": pl.String, "wave": pl.String, "var_name": pl.String, "file": pl.String}, orient="row"
    )
    on = ["survey", "var_name"] if plan.codebook.wave_column else ["survey", "wave", "var_name"]
    files = files.group_by(on).agg(pl.col("file").unique().sort().str.join(", "))
    return frame.join(files, on=on, how="left", nulls_equal=True)


def distribution_records(
    ctx, dists: pl.DataFrame, plan: SurveyPlan, config, weighted: bool, provenance: list[dict]
) -> pl.DataFrame:
    base = dists.rename({"_survey": "survey", "_wave": "wave"}).join(_question_meta(plan), on="var_name", how="left")
    base = _with_files(base, plan)
    ids = [
        stable_id(NAME, s, w, v, a, g)
        for s, w, v, a, g in base.select("survey", "wave", "var_name", "group_attr", "group_value").iter_rows()
    ]
    countries = {g.attr for g in plan.codebook.groups if g.is_country}
    values = base["group_value"].unique().to_list()
    codes = {v: codes_of(v) for v in values}
    is_country = pl.col("group_attr").is_in(list(countries))

    def code(i: int, name: str) -> pl.Expr:  # ISO codes of a country group's value, null for other groups
        mapped = pl.col("group_value").replace_strict(
            values, [codes[v][i] for v in values], default=None, return_dtype=pl.String
        )
        return pl.when(is_country).then(mapped).otherwise(None).alias(name)

    records = base.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        pl.lit(weighted).alias("weighted"),
        code(0, "group_alpha2"),
        code(1, "group_alpha3"),
        *envelope_columns(
            dataset=plan.codebook.survey,
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("file"),
            source_id=pl.col("var_name"),
            lang=plan.codebook.lang,
        ),
    )
    return records.select(
        "record_id",
        "survey",
        "wave",
        "var_name",
        "question",
        "ordinal",
        "options",
        "refusal_options",
        "group_attr",
        "group_value",
        "group_alpha2",
        "group_alpha3",
        "probs",
        "ci",
        "refusal_probs",
        "refusal_mass",
        "n",
        "n_refused",
        "n_missing",
        "n_positive",
        pl.col("n_eff"),
        pl.col("w_sum").alias("weight_sum"),
        "weighted",
        *[c for c in DESIGN_COLS if c in base.columns],
        *ENVELOPE,
    ).sort("survey", "wave", "var_name", "group_attr", "group_value", nulls_last=True)


def question_records(
    ctx, dists: pl.DataFrame, plan: SurveyPlan, data: pl.DataFrame, config, provenance: list[dict]
) -> pl.DataFrame:
    """One record per survey x wave x question, with every published group's distribution nested
    (GlobalOpinionQA's `selections`, as columns instead of a stringified dict)."""
    pairs = pl.concat(
        [
            pl.DataFrame(
                {"survey": f.survey, "wave": f.wave, "var_name": list(f.questions)},
                schema={"survey": pl.String, "wave": pl.String, "var_name": pl.String},
            )
            for f in plan.files
        ]
    )
    if plan.codebook.wave_column:  # waves come from the rows, not the files
        seen = data.select(pl.col("_survey").alias("survey"), pl.col("_wave").alias("wave")).unique()
        pairs = pairs.drop("wave").join(seen, on="survey").unique()
    pairs = pairs.unique().join(_question_meta(plan), on="var_name")
    nested = dists.group_by("survey", "wave", "var_name").agg(
        pl.struct("group_attr", "group_value", "probs", "ci", "refusal_mass", "n", "n_eff", "weighted")
        .sort_by("group_attr", "group_value")
        .alias("distributions"),
    )
    out = pairs.join(nested, on=["survey", "wave", "var_name"], how="left", nulls_equal=True)
    dist_dtype = (
        dists.select(pl.struct("group_attr", "group_value", "probs", "ci", "refusal_mass", "n", "n_eff", "weighted"))
        .to_series()
        .dtype
    )
    out = _with_files(out.with_columns(pl.col("distributions").fill_null(pl.lit([], pl.List(dist_dtype)))), plan)
    ids = [stable_id(NAME, "question", s, w, v) for s, w, v in out.select("survey", "wave", "var_name").iter_rows()]
    out = out.with_columns(
        pl.Series("record_id", ids, dtype=pl.String),
        *envelope_columns(
            dataset=plan.codebook.survey,
            license=config.license,
            created_at=ctx.created_at,
            provenance=provenance,
            file=pl.col("file"),
            source_id=pl.col("var_name"),
            lang=plan.codebook.lang,
        ),
    )
    return out.select(
        "record_id",
        "survey",
        "wave",
        "var_name",
        "question",
        "options",
        "option_codes",
        "ordinal",
        "refusal_options",
        "refusal_codes",
        "code_aliases",
        "labels_from",
        "distributions",
        *ENVELOPE,
    ).sort("survey", "wave", "var_name", nulls_last=True)
