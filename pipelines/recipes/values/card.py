"""The values recipe's card: questions, respondents, groups, weighting, refusals, metrics, plots."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from data_cards.hub import HubSpec
from pipelines.engine.runtime import RunContext
from pipelines.methods.distributions import ALL, kish_n_eff
from pipelines.methods.survey_design import design_section
from pipelines.recipes.base import CardMeta, CardSection, read_columns
from sources.survey import SurveyPlan

# A question's distributions and its question row share a split.
HUB = HubSpec(
    language_creators=["expert-generated"],
)

COLUMNS = read_columns(Path(__file__).with_name("columns.yaml"))


def measure(
    ctx: RunContext, plan: SurveyPlan, data: pl.DataFrame, dists: pl.DataFrame, config, weighted: bool
) -> list[CardSection]:
    report = ctx.report
    return [
        _questions_section(plan, dists),
        _respondents_section(report, plan, data),
        _groups_section(report, plan, data, config),
        _weighting_section(plan, data, config, weighted),
        _refusal_section(plan, dists, report),
        CardSection(*design_section(plan.codebook.design, dists, report.step("distributions").extra.get("lonely_psu"))),
        CardSection("Metric definitions", METRICS),
        CardSection("Accounting units", UNITS),
    ]


def _questions_section(plan: SurveyPlan, dists: pl.DataFrame) -> CardSection:
    lines = [
        f"{len(plan.questions)} questions from the codebook are in the files "
        f"({sum(q.ordinal for q in plan.questions)} ordinal, "
        f"{sum(not q.ordinal for q in plan.questions)} nominal).",
        "",
        "| variable | question | options | refusal codes | scale | labels from |",
        "|---|---|---|---|---|---|",
    ]
    for q in plan.questions[:60]:
        options = "; ".join(f"{o.code}={o.label}" for o in q.options)
        refusals = "; ".join(f"{o.code}={o.label}" for o in q.refusals) or "none"
        if q.aliases:
            refusals += " (" + "; ".join(f"{a} counts as {t}" for a, t in q.aliases.items()) + ")"
        lines.append(
            f"| `{q.var}` | {_md(q.text)} | {_md(options)} | {_md(refusals)} | "
            f"{'ordinal' if q.ordinal else 'nominal'} | {q.labels_from} |"
        )
    if len(plan.questions) > 60:
        lines.append(f"| ... | {len(plan.questions) - 60} more in the `questions` config | | | | |")
    absent = [(f.name, f.absent_questions) for f in plan.files if f.absent_questions]
    if absent or plan.absent_everywhere:
        lines.append("")
        lines.append(
            "Codebook questions absent from a file (reported, not an error; those respondents are "
            "neither counted nor 'not asked' for them):"
        )
        lines += [f"- `{name}`: {', '.join(qs)}" for name, qs in absent]
        if plan.absent_everywhere:
            lines.append(f"- in no file, so not published: {', '.join(plan.absent_everywhere)}")
    return CardSection("Questions", "\n".join(lines))


def _respondents_section(report, plan: SurveyPlan, data: pl.DataFrame) -> CardSection:
    read = report.step("read").kept
    weights = report.step("validate_weights")
    used = data.group_by("_file").len()
    used_by = dict(used.iter_rows())
    lines = [
        f"{read} respondents read from {len(plan.files)} file(s); {weights.quarantined} quarantined for "
        f"their weight; {weights.kept} used.",
        "",
        "| file | format | survey | wave | respondents used | questions in file |",
        "|---|---|---|---|---:|---:|",
    ]
    for f in plan.files:
        lines.append(
            f"| `{f.name}` | {f.format} | {_md(f.survey)} | {f.wave or ''} | {used_by.get(f.name, 0)} | "
            f"{len(f.questions)} |"
        )
    per_wave = data.group_by("_survey", "_wave").len().sort("_survey", "_wave", nulls_last=True)
    lines.append("")
    lines += [f"- {s}, wave {w if w is not None else '(none)'}: {n} respondents" for s, w, n in per_wave.iter_rows()]
    answers = report.step("validate_answers")
    lines.append(
        f"- answer cells: {answers.rows_in}; answered {answers.kept}; not asked (blank or system "
        f"missing) {answers.dropped.get('not_asked', 0)}; code not in the codebook "
        f"{answers.quarantined} (quarantined)"
    )
    return CardSection("Respondents", "\n".join(lines))


def _groups_section(report, plan: SurveyPlan, data: pl.DataFrame, config) -> CardSection:
    extra = report.step("distributions").extra
    lines = [
        f"Distributions are published for the whole sample (`group_attr` = `all`) and per value of each "
        f"group attribute, within each survey and wave. Groups with fewer than {config.min_n} substantive "
        "answers with a positive weight to a question are dropped for that question (`below_min_n` in the "
        "processing table); groups whose every answer is a refusal are dropped as `only_refusals` and listed "
        "with their refusal counts in report.json (`only_refusal_groups`).",
        "",
    ]
    for g in plan.codebook.groups:
        counts = data.group_by(g.attr).len().sort(g.attr, nulls_last=True)
        values = ", ".join(f"{v} ({n})" for v, n in counts.iter_rows() if v is not None)
        missing = int(data[g.attr].null_count())
        source = f"column `{g.var}`" + (" (labels from the codebook)" if g.labels else "")
        lines.append(
            f"- `{g.attr}` ({source}): {values or 'no values'}"
            + (f"; no value for {missing} respondents" if missing else "")
        )
        renamed = {r: v for r, v in report.facts.get("country_spellings", {}).get(g.attr, {}).items() if r != v}
        if renamed:
            lines.append(
                "  (ISO 3166 names; as the files wrote them: "
                + ", ".join(f"{_md(r)} -> {_md(v)}" for r, v in renamed.items())
                + ")"
            )
        strange = report.facts.get("unrecognised_countries", {}).get(g.attr, [])
        if strange:
            lines.append(
                "  **Not recognised as a country** (kept as written, no ISO code): "
                + ", ".join(_md(v) for v in strange[:30])
                + (f", and {len(strange) - 30} more" if len(strange) > 30 else "")
            )
    small = extra.get("below_min_n_groups", [])
    if small:
        lines += [
            "",
            f"Groups below the minimum n ({config.min_n}):",
            "",
            "| survey | wave | attribute | value | questions dropped | largest n (positive weight) |",
            "|---|---|---|---|---:|---:|",
        ]
        lines += [
            f"| {_md(s['survey'])} | {s['wave'] or ''} | {s['group_attr']} | {_md(str(s['group_value']))} | "
            f"{s['questions']} | {s['max_n']} |"
            for s in small[:40]
        ]
        if len(small) > 40:
            lines.append(f"| ... | | | {len(small) - 40} more in report.json | | |")
    return CardSection("Groups", "\n".join(lines))


def _weighting_section(plan: SurveyPlan, data: pl.DataFrame, config, weighted: bool) -> CardSection:
    if not weighted:
        why = "the codebook names no weight column" if not plan.codebook.weight else "`weighted: false` in the config"
        return CardSection("Weighting", f"Unweighted ({why}): every respondent counts 1, so n_eff = n.")
    lines = [
        f"Weighted by column `{plan.codebook.weight}`. Respondents whose weight is missing, not a number, "
        "negative or not finite are quarantined (`quarantine.parquet`, field = the weight column); "
        "a weight of 0 is kept and counts in n but not in the proportions.",
        "",
        "| survey | wave | respondents | weight sum | min | mean | max | zero weights | Kish design effect |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    summary = (
        data.group_by("_survey", "_wave")
        .agg(
            pl.len().alias("n"),
            pl.col("_w").sum().alias("s"),
            (pl.col("_w") ** 2).sum().alias("s2"),
            pl.col("_w").min().alias("lo"),
            pl.col("_w").mean().alias("mean"),
            pl.col("_w").max().alias("hi"),
            (pl.col("_w") == 0).sum().alias("zeros"),
        )
        .sort("_survey", "_wave", nulls_last=True)
    )
    for s, w, n, total, total2, lo, mean, hi, zeros in summary.iter_rows():
        n_eff = kish_n_eff(total, total2)
        deff = n / n_eff if n_eff else float("nan")
        lines.append(
            f"| {_md(s)} | {w or ''} | {n} | {total:.2f} | {lo:.3f} | {mean:.3f} | {hi:.3f} | {zeros} | {deff:.3f} |"
        )
    lines.append("")
    lines.append(
        "The design effect n / n_eff is over all respondents of the wave; each distribution has its "
        "own `n_eff` over the respondents who gave a substantive answer."
    )
    return CardSection("Weighting", "\n".join(lines))


def _refusal_section(plan: SurveyPlan, dists: pl.DataFrame, report) -> CardSection:
    lines = [
        'Refusal and "don\'t know" codes are kept apart from the options, as OpinionQA does: `probs` '
        "are over the substantive options only and sum to 1; `refusal_mass` is the weighted share of "
        "refusals among all answers (substantive + refusal), `refusal_probs` splits it by refusal code "
        "(in the order of `refusal_options`). A question not asked of a respondent (blank, system "
        "missing) counts nowhere; neither does a code quarantined as not in the codebook (both are in "
        "`n_missing`).",
        "",
        "Which codes are refusals: those the codebook lists under `refusal`; else those the file declares "
        "missing (SPSS user-missing values, Stata extended missing .a-.z); else those whose label matches "
        f"`{plan.codebook.refusal_pattern}`.",
        "",
    ]
    overall = dists.filter(pl.col("group_attr") == ALL)
    if overall.height:
        lines += [
            "| survey | wave | variable | refusal codes | refusal mass (whole sample) |",
            "|---|---|---|---|---:|",
        ]
        refusals = {
            q.var: ", ".join(c for c, i in q.code_index().items() if i >= len(q.options)) or "none"
            for q in plan.questions
        }
        for s, w, v, m in overall.select("survey", "wave", "var_name", "refusal_mass").iter_rows():
            lines.append(
                f"| {_md(s)} | {w or ''} | `{v}` | {refusals.get(v, '')} | {'n/a' if m is None else f'{m:.3f}'} |"
            )
    return CardSection("Refusal handling", "\n".join(lines))


METRICS = """\
- `probs[k]`: sum of the weights of respondents who chose option k / sum of the weights of all
  substantive answers in the group. Refusals are excluded (see "Refusal handling").
- `n`: respondents with a substantive answer (unweighted); `n_refused`: with a refusal code.
- `n_eff`: Kish's effective sample size, (sum w)^2 / sum w^2 over the substantive answers; equals `n`
  when every weight is the same.
- `ci[k]`: a 95% interval (the config's `confidence`) for `probs[k]`: Wilson's score interval with
  `n_eff` in place of n. Wilson because it stays within [0, 1] and keeps its coverage in small groups
  and near 0 or 1, where the Wald interval does not (Brown, Cai and DasGupta, 2001); `n_eff` because
  unequal weights inflate the variance by Kish's design effect n / n_eff. Without a declared design
  ("Survey design"), strata and clusters are not accounted for, so the intervals are, if anything,
  too narrow; with one, `ci` is design-based.
- Comparing a model's answer distribution p with a group's q (`pipelines.methods.distributions`):
  `wasserstein_ordinal(p, q)`: for ordinal questions, the 1-Wasserstein distance with the K options at
  positions 0..K-1, divided by K-1 so that it lies in [0, 1] (OpinionQA; its representativeness is
  1 minus this); `js_distance(p, q)`: for nominal questions, the Jensen-Shannon distance (square root
  of the divergence, base-2 logarithms, in [0, 1]; GlobalOpinionQA's similarity is 1 minus this);
  `compare(p, record)` picks the one that fits the record's `ordinal`. Both renormalize their inputs,
  so pass the substantive options only."""

UNITS = """\
Each step counts its own unit, and for each in = kept + dropped + quarantined:
- `read`, `validate_weights`: respondents.
- `validate_answers`: answer cells, one per respondent and question present in the respondent's file;
  `not_asked` = blank or system missing; quarantined = a code that is neither an option nor a refusal.
- `distributions`: group distributions, one per survey x wave x question x group; each kept answer
  cell is counted exactly once in the whole-sample (`all`) distribution of its question (checked on
  every run)."""


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def card_meta(config, plan: SurveyPlan) -> CardMeta:
    book = plan.codebook
    return CardMeta(
        columns=COLUMNS,
        pretty_name=config.dataset_name or f"{book.survey}: answer distributions per group",
        license=config.license,
        languages=[book.lang],
        task_categories=["question-answering", "multiple-choice"],
        tags=["survey", "values", "opinions", "alignment", "pluralistic-alignment"],
        summary=(
            f"Weighted answer distributions of {book.survey} per question, for the whole sample and per "
            f"group ({', '.join(g.attr for g in book.groups) or 'no group attributes'}), with refusals kept "
            "apart, effective sample sizes and intervals: the reference distributions that language models' "
            "answers are compared with in the style of OpinionQA and GlobalOpinionQA."
        ),
        citation=(
            "Santurkar et al. (2023). Whose Opinions Do Language Models Reflect? ICML. "
            "Durmus et al. (2023). Towards Measuring the Representation of Subjective Global Opinions in "
            "Language Models. arXiv:2306.16388."
        ),
        limitations=[
            (
                "Intervals are design-based (" + book.design.describe() + ") for the design the codebook declares."
                if book.design
                else "Intervals use Kish's effective sample size only; the survey's strata and clusters are not used."
            ),
            "A distribution describes the respondents of one survey wave as weighted; it is not a population "
            "fact beyond what the survey's weighting supports.",
            "Groups below the minimum n are left out, so smaller groups are not represented.",
        ],
        personal_information=(
            "Only aggregates are published: no respondent-level rows. Groups with fewer substantive answers "
            "than the minimum n are suppressed, which also limits disclosure about small groups."
        ),
        fields={
            "distributions": {
                "probs": "weighted share per substantive option, in the order of `options`; sums to 1",
                "ci": (
                    "design-based logit interval per option (see Survey design)"
                    if book.design
                    else "Wilson interval per option with n_eff (see Metric definitions)"
                ),
                "refusal_probs": "weighted share per refusal code among all answers, in the order of `refusal_options`",
                "refusal_mass": "weighted share of refusals among all answers",
                "n": "respondents with a substantive answer (unweighted)",
                "n_refused": "respondents with a refusal code",
                "n_missing": "respondents of the group without a usable answer: not asked (blank, system missing) "
                "or a code not in the codebook (quarantined)",
                "n_positive": "substantive answers with a positive weight (what min_n counts)",
                "n_eff": "Kish effective sample size of the substantive answers",
                "se": "design-based standard error per option",
                "deff": "design effect per option: the design variance over p (1 - p) / n",
                "design_df": "degrees of freedom of the design-based interval",
                "weight_sum": "sum of the weights of the substantive answers",
                "group_attr": "the group attribute (`all` for the whole sample)",
                "group_value": "the group; for a country attribute its ISO 3166-1 English short name (pycountry), "
                "or the value as written when it names no country",
                "group_alpha2": "ISO 3166-1 alpha-2 code of a country group (XK: Kosovo); null for other groups and "
                "unrecognised values",
                "group_alpha3": "ISO 3166-1 alpha-3 code of a country group (XKX: Kosovo); null likewise",
            },
            "questions": {
                "distributions": "every published group's distribution of this question",
                "labels_from": "codebook, file (value labels stored in the .sav/.dta) or both",
            },
        },
    )


def plots(plan: SurveyPlan, data: pl.DataFrame, dists: pl.DataFrame) -> list:
    """Respondents per value of the first group attribute (often country), and the spread of the
    design effect n / n_eff and of the refusal mass over the published distributions."""
    from data_cards.plots import Plot

    plots = []
    if plan.codebook.groups:
        first = plan.codebook.groups[0].attr
        counts = data.group_by(first).len().drop_nulls().sort(first)
        plots.append(Plot("values_respondents", f"Respondents per {first}", "bars", dict(counts.iter_rows())))
    if dists.height:
        deff = dists.filter(pl.col("n_eff") > 0).select(pl.col("n") / pl.col("n_eff")).to_series().to_list()
        plots.append(
            Plot(
                "values_design_effect",
                "Kish design effect n / n_eff per distribution",
                "hist",
                {"design effect": deff},
                xlabel="n / n_eff",
            )
        )
        plots.append(
            Plot(
                "values_refusal_mass",
                "Refusal mass per distribution",
                "hist",
                {"refusal mass": dists["refusal_mass"].drop_nulls().to_list()},
                xlabel="refusal mass",
            )
        )
    return plots
