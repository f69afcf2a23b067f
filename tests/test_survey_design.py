"""Design-based proportions, standard errors and intervals against samplics (an independent
implementation), on the real microdata samplics ships: NHANES II (strata `stratid`, PSUs `psuid`,
weight `finalwgt`; 10,337 respondents), its BRR (1,347 respondents, 32 replicates) and jackknife (887 respondents, 62 replicates)
subsamples, and NMIHS (603 births) with bootstrap replicate weights."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from pipelines.methods.survey_design import Design, Replicates, design_estimates, design_proportions

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import samplics
    from samplics import PopParam, ReplicateEstimator, RepMethod, TaylorEstimator

TOL = 1e-9


def build_values(tmp_path, inputs, **config):
    """The values recipe in-process (inline Dask, no cache): (context, output)."""
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.engine.runtime import RunContext
    from pipelines.recipes import values

    ctx = RunContext(recipe="values", output=tmp_path / "out", cache=None, dask=DaskRuntime(inline=True))
    return ctx, values.build(ctx, inputs, values.Config(**config))


def nhanes2() -> pl.DataFrame:
    return pl.from_pandas(samplics.load_nhanes2()["data"])


def compare(ours: dict, est, categories, domain=None) -> None:
    point = est.point_est if domain is None else est.point_est[domain]
    se = est.stderror if domain is None else est.stderror[domain]
    lo = est.lower_ci if domain is None else est.lower_ci[domain]
    hi = est.upper_ci if domain is None else est.upper_ci[domain]
    for k, cat in enumerate(categories):
        assert ours["probs"][k] == pytest.approx(point[cat], abs=TOL)
        assert ours["se"][k] == pytest.approx(se[cat], abs=TOL)
        assert ours["ci"][k][0] == pytest.approx(lo[cat], abs=TOL)
        assert ours["ci"][k][1] == pytest.approx(hi[cat], abs=TOL)


@pytest.mark.parametrize("with_fpc", [False, True])
def test_taylor_stratified_clustered_domain_proportions_match_samplics(with_fpc):
    data = nhanes2()
    race = data["race"].to_numpy().astype(float)  # 1, 2, 3 -> options 0..2
    answers = race - 1
    w = data["finalwgt"].to_numpy().astype(float)
    stratum, psu = data["stratid"].to_numpy(), data["psuid"].to_numpy()
    design = Design(strata="stratid", psu="psuid", fpc="fpc" if with_fpc else None)
    columns = {"strata": stratum, "psu": psu}
    fpc_arg = 1.0
    if with_fpc:  # a population of 40 PSUs in every stratum (NHANES II has 2 sampled per stratum)
        columns["fpc"] = np.full(len(w), 40.0)
        n_h = {s: len(np.unique(psu[stratum == s])) for s in np.unique(stratum)}
        fpc_arg = {s: 1 - n_h[s] / 40 for s in np.unique(stratum)}
    highbp = data["highbp"].to_numpy()
    for value in (0, 1):
        ours = design_proportions(answers, w, highbp == value, 3, design, columns)
        est = TaylorEstimator(PopParam.prop)
        est.estimate(y=race, samp_weight=w, stratum=stratum, psu=psu, domain=highbp, fpc=fpc_arg)
        compare(ours, est, [1, 2, 3], domain=value)
        assert ours["df"] == est.degree_of_freedom == 31
    whole = design_proportions(answers, w, np.ones(len(w), bool), 3, design, columns)
    est = TaylorEstimator(PopParam.prop)
    est.estimate(y=race, samp_weight=w, stratum=stratum, psu=psu, fpc=fpc_arg)
    compare(whole, est, [1, 2, 3])
    assert all(d > 1 for d in whole["deff"])  # clustering inflates the variance of race shares


def test_strata_without_psus_and_unstratified_match_samplics():
    data = nhanes2()
    y = data["diabetes"].to_numpy().astype(float)
    keep = ~np.isnan(y)
    y, w = y[keep], data["finalwgt"].to_numpy().astype(float)[keep]
    stratum = data["stratid"].to_numpy()[keep]
    ours = design_proportions(y, w, np.ones(len(y), bool), 2, Design(strata="stratid"), {"strata": stratum})
    est = TaylorEstimator(PopParam.prop)
    est.estimate(y=y, samp_weight=w, stratum=stratum)
    compare(ours, est, [0.0, 1.0])
    psu_only = Design(psu="psuid")
    psu = data["psuid"].to_numpy()[keep] * 100 + stratum  # PSUs labelled uniquely
    ours = design_proportions(y, w, np.ones(len(y), bool), 2, psu_only, {"psu": psu})
    est = TaylorEstimator(PopParam.prop)
    est.estimate(y=y, samp_weight=w, psu=psu)
    compare(ours, est, [0.0, 1.0])


def _replicate_case(loader, prefix, method, fay=0.0, mse=False):
    frame = loader()["data"]
    reps = frame[[c for c in frame.columns if c.startswith(prefix)]].to_numpy().astype(float)
    w = frame["finalwgt"].to_numpy().astype(float)
    value = frame.iloc[:, 1 if loader is samplics.load_nmihs else 0].to_numpy()
    y = (value > np.median(value)).astype(float)  # a real binary answer: above the median height/birth weight
    domain = np.arange(len(y)) % 2 == 0  # half the sample, to exercise domains
    ours = design_proportions(
        y,
        w,
        domain,
        2,
        Design(replicates=Replicates(method=method, prefix=prefix, fay=fay, mse=mse)),
        {"replicates": reps},
    )
    est = ReplicateEstimator(
        RepMethod.brr if method in ("brr", "fay") else getattr(RepMethod, method), PopParam.prop, fay_coef=fay or None
    )
    est.estimate(y=y, samp_weight=w, rep_weights=reps, domain=domain.astype(int), conservative=mse)
    compare(ours, est, [0.0, 1.0], domain=1)


@pytest.mark.parametrize("mse", [False, True])
def test_replicate_weights_match_samplics(mse):
    _replicate_case(samplics.load_nhanes2brr, "brr_", "brr", mse=mse)
    _replicate_case(samplics.load_nhanes2brr, "brr_", "fay", fay=0.3, mse=mse)
    _replicate_case(samplics.load_nhanes2jk, "jkw_", "jackknife", mse=mse)
    _replicate_case(samplics.load_nmihs, "bsrw", "bootstrap", mse=mse)


def test_design_estimates_per_group_and_question():
    data = nhanes2().with_columns(
        (pl.col("race") - 1).alias("q_race"),
        pl.col("finalwgt").alias("_w"),
        pl.col("stratid").alias("_stratum"),
        pl.col("psuid").alias("_psu"),
        pl.col("highbp").cast(pl.String).alias("highbp"),
    )
    out = design_estimates(data, {"q_race": 3}, ["highbp"], [], Design(strata="stratid", psu="psuid"))
    assert out.height == 3  # all, highbp 0, highbp 1
    est = TaylorEstimator(PopParam.prop)
    est.estimate(
        y=data["race"].to_numpy(),
        samp_weight=data["_w"].to_numpy(),
        stratum=data["stratid"].to_numpy(),
        psu=data["psuid"].to_numpy(),
        domain=data["highbp"].to_numpy(),
    )
    whole = TaylorEstimator(PopParam.prop)
    whole.estimate(
        y=data["race"].to_numpy(),
        samp_weight=data["_w"].to_numpy(),
        stratum=data["stratid"].to_numpy(),
        psu=data["psuid"].to_numpy(),
    )
    for value, se, low, high in (
        ("0", est.stderror["0"], est.lower_ci["0"], est.upper_ci["0"]),
        ("1", est.stderror["1"], est.lower_ci["1"], est.upper_ci["1"]),
        ("all", whole.stderror, whole.lower_ci, whole.upper_ci),
    ):
        row = out.filter(pl.col("group_value") == value).row(0, named=True)
        for k, cat in enumerate([1, 2, 3]):  # every group of the attribute from one pass
            assert row["design_se"][k] == pytest.approx(se[cat], abs=TOL)
            assert row["design_ci"][k]["low"] == pytest.approx(low[cat], abs=TOL)
            assert row["design_ci"][k]["high"] == pytest.approx(high[cat], abs=TOL)


def test_min_n_counts_positive_weights_and_all_refusal_groups_have_their_own_reason():
    from pipelines.methods.distributions import distributions, drop_reason, group_stats

    # group a: 30 answers, 29 of them with weight 0; group b: 40 refusals (option 2 of a 2-option question)
    frame = pl.DataFrame(
        {
            "g": ["a"] * 30 + ["b"] * 40 + ["c"] * 30,
            "_w": [1.0] + [0.0] * 29 + [1.0] * 40 + [1.0] * 30,
            "q": [0] * 30 + [2] * 40 + [1] * 30,
        },
        schema_overrides={"q": pl.Int16},
    )
    stats = group_stats(frame, ["q"], ["g"], weight="_w")
    meta = pl.DataFrame({"var_name": ["q"], "n_options": [2], "n_refusals": [1]})
    out = distributions(stats, meta).with_columns(drop_reason(30).alias("reason")).sort("group_attr", "group_value")
    got = {v: (r, n, npos) for v, r, n, npos in out.select("group_value", "reason", "n", "n_positive").iter_rows()}
    assert got["a"] == ("below_min_n", 30, 1)
    assert got["b"] == ("only_refusals", 0, 0)
    assert got["c"] == (None, 30, 30)
    b = out.filter(pl.col("group_value") == "b").row(0, named=True)
    assert b["refusal_mass"] == 1.0 and b["n_refused"] == 40


def test_values_recipe_publishes_design_based_intervals(tmp_path):
    """A codebook with `design:` over NHANES II as survey microdata: the published intervals are
    samplics' (stratified, clustered, per group)."""
    from sources.codebook import load_codebook

    data = nhanes2().with_row_index("id")
    path = tmp_path / "nhanes.csv"
    data.write_csv(path)
    book = tmp_path / "codebook.yaml"
    book.write_text(
        "survey: NHANES II\nweight: finalwgt\nrespondent_id: id\ngroups: [highbp]\n"
        "design: {strata: stratid, psu: psuid}\n"
        "questions:\n  - {var: race, options: {1: White, 2: Black, 3: Other}}\n"
    )
    assert load_codebook(book).design.psu == "psuid"
    _, out = build_values(tmp_path, [path, book], min_n=30)
    records = out.tables["distributions"]
    assert any(s.title == "Survey design" and "Taylor linearization" in s.body for s in out.sections)
    assert out.card.limitations[0].startswith("Intervals are design-based (Taylor linearization with strata")
    assert out.card.fields["distributions"]["ci"].startswith("design-based logit interval")
    row = records.filter((pl.col("group_attr") == "highbp") & (pl.col("group_value") == "1")).row(0, named=True)
    est = TaylorEstimator(PopParam.prop)
    est.estimate(
        y=data["race"].to_numpy(),
        samp_weight=data["finalwgt"].to_numpy(),
        stratum=data["stratid"].to_numpy(),
        psu=data["psuid"].to_numpy(),
        domain=data["highbp"].to_numpy(),
    )
    for k, cat in enumerate([1, 2, 3]):
        assert row["probs"][k] == pytest.approx(est.point_est[1][cat], abs=TOL)
        assert row["ci"][k]["low"] == pytest.approx(est.lower_ci[1][cat], abs=TOL)
        assert row["ci"][k]["high"] == pytest.approx(est.upper_ci[1][cat], abs=TOL)
        assert row["se"][k] == pytest.approx(est.stderror[1][cat], abs=TOL)
    assert row["design_df"] == 31


@pytest.mark.parametrize("kind", ["taylor", "replicates"])
def test_bad_design_values_are_quarantined_naming_the_column(tmp_path, kind):
    n = 40
    rows = [{"id": i, "w": 1.0, "q": 1 + i % 2, "st": i % 2, "cl": i % 4, "r1": 1.0, "r2": 2.0} for i in range(n)]
    rows[3]["cl"] = None  # no PSU
    rows[5]["r2"] = -1.0  # a negative replicate weight
    path = tmp_path / "d.csv"
    pl.DataFrame(rows).write_csv(path)
    design = "{strata: st, psu: cl}" if kind == "taylor" else "{replicates: {method: jackknife, columns: [r1, r2]}}"
    book = tmp_path / "codebook.yaml"
    book.write_text(
        f"survey: S\nweight: w\nrespondent_id: id\ndesign: {design}\n"
        "questions:\n  - {var: q, options: {1: Yes, 2: No}}\n"
    )
    ctx, out = build_values(tmp_path, [path, book], min_n=1)
    q = ctx.report.step("validate_weights")
    assert q.quarantined == 1
    bad = ctx.report.quarantine.row(0, named=True)
    if kind == "taylor":
        assert (bad["row"], bad["field"], bad["error"]) == (4, "cl", "cl is missing")
    else:
        assert (bad["row"], bad["field"]) == (6, "r2")
        assert "'-1.0' is missing, not a number or negative" in bad["error"]
    whole = out.tables["distributions"].filter(pl.col("group_attr") == "all").row(0, named=True)
    assert whole["n"] == n - 1 and whole["se"] is not None and whole["design_df"] is not None


def test_values_recipe_reports_an_all_refusal_group_with_its_refusal_mass(tmp_path):
    rows = (
        ["id,region,w,q"]
        + [f"{i},north,1,{1 + i % 2}" for i in range(40)]
        + [f"{100 + i},south,1,9" for i in range(35)]
    )
    rows += [f"{200 + i},east,{1 if i == 0 else 0},1" for i in range(30)]  # 30 answers, 29 of them weight 0
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    book = tmp_path / "codebook.yaml"
    book.write_text(
        "survey: S\nweight: w\nrespondent_id: id\ngroups: [region]\n"
        "questions:\n  - {var: q, options: {1: Yes, 2: No}, refusal: {9: Refused}}\n"
    )
    ctx, out = build_values(tmp_path, [path, book], min_n=30)
    step = ctx.report.step("distributions")
    assert step.dropped == {"only_refusals": 1, "below_min_n": 1}
    assert step.extra["only_refusal_groups"] == [
        {
            "survey": "S",
            "wave": None,
            "group_attr": "region",
            "group_value": "south",
            "var_name": "q",
            "n_refused": 35,
            "refusal_mass": 1.0,
        }
    ]
    assert sorted(out.tables["distributions"]["group_value"]) == ["all", "north"]


# -- strata with one PSU ---------------------------------------------------------------------------


def lonely_nhanes():
    """NHANES II with stratum 1's two PSUs made one (a lonely PSU) and a race answer per respondent."""
    data = nhanes2()
    stratum, psu = data["stratid"].to_numpy(), data["psuid"].to_numpy().copy()
    psu[stratum == 1] = 1
    race = data["race"].to_numpy().astype(float)
    return race, data["finalwgt"].to_numpy().astype(float), stratum, psu, data["highbp"].to_numpy()


def test_a_lonely_psu_fails_by_default_naming_the_stratum():
    from schemas.errors import CurateError

    race, w, stratum, psu, _ = lonely_nhanes()
    with pytest.raises(CurateError, match=r"stratum '1' has one PSU.*set `lonely_psu`"):
        design_proportions(
            race - 1, w, np.ones(len(w), bool), 3, Design(strata="s", psu="p"), {"strata": stratum, "psu": psu}
        )
    with pytest.raises(ValueError, match="combine needs combine_strata"):
        Design(strata="s", psu="p", lonely_psu="combine")


@pytest.mark.parametrize("option", ["skip", "certainty", "combine"])
def test_lonely_psu_options_match_samplics_single_psu(option):
    from samplics import SinglePSUEst

    race, w, stratum, psu, highbp = lonely_nhanes()
    combine = {"1": "2"} if option == "combine" else None
    design = Design(strata="s", psu="p", lonely_psu=option, combine_strata=combine)
    columns = {"strata": stratum.astype(str), "psu": psu.astype(str)}
    extra = {"strata_comb": {1: 2}} if option == "combine" else {}
    for domain in (None, 0, 1):
        mask = np.ones(len(w), bool) if domain is None else highbp == domain
        ours = design_proportions(race - 1, w, mask, 3, design, columns)
        est = TaylorEstimator(PopParam.prop)
        est.estimate(
            y=race,
            samp_weight=w,
            stratum=stratum,
            psu=psu,
            single_psu=getattr(SinglePSUEst, option),
            **({"domain": highbp} if domain is not None else {}),
            **extra,
        )
        compare(ours, est, [1.0, 2.0, 3.0], domain=domain)
        assert ours["df"] == est.degree_of_freedom


def test_lonely_psu_adjust_is_r_surveys_adjust():
    """R's survey `options(survey.lonely.psu = "adjust")`: the lonely PSU's total of the linearized
    scores is centred at the population mean (0) instead of its stratum's, scale factor 1. Written
    here as a plain loop over strata, against the estimator's vectorized form."""
    race, w, stratum, psu, highbp = lonely_nhanes()
    design = Design(strata="s", psu="p", lonely_psu="adjust")
    columns = {"strata": stratum, "psu": psu}
    for mask in (np.ones(len(w), bool), highbp == 1):
        ours = design_proportions(race - 1, w, mask, 3, design, columns)
        total = w[mask].sum()
        for k, cat in enumerate((1.0, 2.0, 3.0)):
            p = (w[mask] * (race[mask] == cat)).sum() / total
            z = np.where(mask, w * ((race == cat) - p) / total, 0.0)
            var = 0.0
            for h in np.unique(stratum):
                totals = np.array([z[(stratum == h) & (psu == j)].sum() for j in np.unique(psu[stratum == h])])
                if len(totals) == 1:
                    var += totals[0] ** 2
                else:
                    var += len(totals) / (len(totals) - 1) * ((totals - totals.mean()) ** 2).sum()
            assert ours["probs"][k] == pytest.approx(p, abs=TOL)
            assert ours["se"][k] == pytest.approx(np.sqrt(var), abs=TOL)
        skipped = design_proportions(race - 1, w, mask, 3, Design(strata="s", psu="p", lonely_psu="skip"), columns)
        assert all(a > b for a, b in zip(ours["se"], skipped["se"]))  # the lonely stratum adds its variance


def test_values_recipe_with_a_lonely_psu(tmp_path):
    """Through the recipe: by default one line naming the stratum and the wave; `lonely_psu: skip`
    publishes, and the card says that a group lying wholly in the lonely stratum got zero-width
    intervals; `adjust` gives that group a variance; the card and report name the option."""
    from schemas.errors import CurateError

    race, w, stratum, psu, _ = lonely_nhanes()
    data = pl.DataFrame(
        {
            "id": np.arange(len(w)),
            "w": w,
            "st": stratum,
            "cl": psu,
            "race": race.astype(int),
            "site": np.where(stratum == 1, "lonely", "other"),
        }
    )
    path = tmp_path / "nhanes.csv"
    data.write_csv(path)
    book = tmp_path / "codebook.yaml"
    book.write_text(
        "survey: NHANES II\nweight: w\nrespondent_id: id\ngroups: [site]\ndesign: {strata: st, psu: cl}\n"
        "questions:\n  - {var: race, options: {1: White, 2: Black, 3: Other}}\n"
    )
    with pytest.raises(CurateError, match=r"stratum '1' has one PSU") as err:
        build_values(tmp_path, [path, book], min_n=30)
    assert "\n" not in str(err.value)
    ctx, out = build_values(tmp_path, [path, book], min_n=30, lonely_psu="skip")
    lonely = ctx.report.step("distributions").extra["lonely_psu"]
    assert lonely["option"] == "skip" and [s["stratum"] for s in lonely["strata"]] == ["1"]
    assert lonely["zero_width_intervals"] == 1
    inside = out.tables["distributions"].filter(pl.col("group_value") == "lonely").row(0, named=True)
    assert any(s == 0 and 0 < p < 1 for s, p in zip(inside["se"], inside["probs"]))  # zero-width, and said so
    body = next(s.body for s in out.sections if s.title == "Survey design")
    assert "`lonely_psu: skip`" in body and "stratum `1`" in body and "1 published distributions" in body
    _, adjusted = build_values(tmp_path, [path, book], min_n=30, lonely_psu="adjust")
    row = adjusted.tables["distributions"].filter(pl.col("group_value") == "lonely").row(0, named=True)
    assert all(s > 0 for s, p in zip(row["se"], row["probs"]) if 0 < p < 1)
    assert "`lonely_psu: adjust`" in next(s.body for s in adjusted.sections if s.title == "Survey design")


def test_a_zero_weight_group_reports_the_n_the_rule_counts(tmp_path):
    """`below_min_n` counts answers with a positive weight: a group of 40 answers, all of weight 0,
    reports max_n 0 (and its 40 answers apart), not 40."""
    rows = (
        ["id,region,w,q"] + [f"{i},north,1,{1 + i % 2}" for i in range(40)] + [f"{100 + i},west,0,1" for i in range(40)]
    )
    path = tmp_path / "d.csv"
    path.write_text("\n".join(rows) + "\n")
    book = tmp_path / "codebook.yaml"
    book.write_text(
        "survey: S\nweight: w\nrespondent_id: id\ngroups: [region]\n"
        "questions:\n  - {var: q, options: {1: Yes, 2: No}}\n"
    )
    ctx, _ = build_values(tmp_path, [path, book], min_n=30)
    (west,) = ctx.report.step("distributions").extra["below_min_n_groups"]
    assert (west["group_value"], west["max_n"], west["max_answers"]) == ("west", 0, 40)
