"""Design-based variance of answer proportions: strata, primary sampling units (PSUs), finite
population correction, or replicate weights (BRR, Fay, jackknife, bootstrap), as a codebook declares
them (`design:` in the codebook, declared by `sources/design.py`).

For a group g and question q, p_k = sum_i w_i d_i y_ik / sum_i w_i d_i over the substantive answers
(d_i = 1 in the group with a substantive answer). Its variance:

- Taylor linearization (with strata and/or PSUs): the scores z_i = w_i d_i (y_ik - p_k) / W summed
  per PSU (a respondent is its own PSU when none is declared), then
  v = sum_h (1 - f_h) n_h / (n_h - 1) sum_j (z_hj - mean_h z)^2, with n_h the PSUs of stratum h in
  the whole sample (a PSU without group members has z_hj = 0: domain estimation, not a subsample);
  strata with one PSU contribute nothing (reported).
- Replicates: p_k^(r) with each replicate weight, v = sum_r c_r (p_k^(r) - centre)^2, with
  c_r = 1/R (bootstrap), 1/(R (1 - rho)^2) (BRR; rho > 0: Fay), (R - 1)/R (jackknife JK1), or the
  codebook's coefficients; centre = the mean of the replicate estimates, or the full-sample estimate
  with `mse: true`.

Interval: the logit interval p = expit(logit(p) +- t se / (p (1 - p))) with Student's t on the
design's degrees of freedom (PSUs - strata; R/2 for BRR, R - 1 for other replicates), as samplics and
R's survey (svyciprop method "logit") do; [0, 0] or [1, 1] when p is 0 or 1. Design effect: the
design variance over the variance of simple random sampling of the same n, p (1 - p) / n.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy.stats import t as student

from schemas.errors import CurateError
from sources.design import Design, Replicates  # noqa: F401 (re-exported: the declaration)

STRATUM, PSU, FPC = "_stratum", "_psu", "_fpc"


# -- the estimator ---------------------------------------------------------------------------------


def logit_interval(p: float, se: float, t: float) -> tuple[float, float]:
    if p <= 0:
        return 0.0, 0.0
    if p >= 1:
        return 1.0, 1.0
    centre, half = math.log(p / (1 - p)), t * se / (p * (1 - p))
    lo, hi = centre - half, centre + half
    return math.exp(lo) / (1 + math.exp(lo)), math.exp(hi) / (1 + math.exp(hi))


class LonelyPSU(CurateError):
    """Strata with one PSU where the design's `lonely_psu` cannot estimate their variance."""

    def __init__(self, strata: list[str], option: str):
        self.strata, self.option = strata, option
        shown = ", ".join(repr(s) for s in strata[:10]) + (f" and {len(strata) - 10} more" if len(strata) > 10 else "")
        why = {
            "fail": "",
            "certainty": " after `certainty` (it has one respondent)",
            "combine": " after `combine` (combine_strata leaves it alone)",
        }.get(option, "")
        which = f"stratum {shown} has" if len(strata) == 1 else f"strata {shown} have"
        super().__init__(
            f"survey design: {which} one PSU{why}: its variance cannot be estimated; set "
            "`lonely_psu` (codebook design, or --set lonely_psu=...) to skip, adjust, certainty or "
            "combine (with combine_strata)"
        )


class TaylorVariance:
    """The PSUs and strata of one sample (a survey wave), for the variance of any domain's scores.
    `lonely`: what a stratum with one PSU does (`sources.design.Design.lonely_psu`); its original
    label is in `lonely_strata`."""

    def __init__(
        self,
        stratum: np.ndarray | None,
        psu: np.ndarray | None,
        fpc: np.ndarray | None,
        lonely: str = "fail",
        combine: dict[str, str] | None = None,
    ):
        n = len(stratum if stratum is not None else psu if psu is not None else fpc)
        if stratum is not None and combine:  # samplics' combine: the mapped strata become one
            labels, inverse = np.unique(stratum.astype(str), return_inverse=True)
            stratum = np.array([combine.get(x, x) for x in labels])[inverse.ravel()]
        names = np.unique(stratum) if stratum is not None else np.array(["(the whole sample: no strata)"])
        strata = np.zeros(n, dtype=np.int64) if stratum is None else np.unique(stratum, return_inverse=True)[1].ravel()
        units = np.arange(n) if psu is None else np.unique(psu, return_inverse=True)[1].ravel()
        self.lonely, self.lonely_strata = lonely, []
        singles = self._layout(strata, units)
        if singles.any():
            self.lonely_strata = [str(names[h]) for h in np.flatnonzero(singles)]
            if lonely == "certainty":  # the lonely PSU's respondents are its units (no second stage given)
                inside = np.isin(strata, np.flatnonzero(singles))
                units = np.where(inside, units.max() + 1 + np.arange(n), units)
                singles = self._layout(strata, units)
            if lonely in ("fail", "certainty", "combine") and singles.any():
                raise LonelyPSU([str(names[h]) for h in np.flatnonzero(singles)], lonely)
        self.factor = np.where(self.n_units > 1, self.n_units / np.maximum(self.n_units - 1, 1), 0.0)
        keep = np.ones(self.n_strata)  # (1 - f): the finite population correction of each stratum
        if fpc is not None:
            first = np.zeros(self.n_strata)
            first[strata] = fpc
            fraction = np.where(first > 1, self.n_units / np.where(first > 1, first, 1), first)
            keep = 1 - fraction
        self.factor = self.factor * keep
        # R's adjust: a lonely PSU's total centred at the population mean of the linearized scores (0)
        self.adjust = np.where(singles, keep, 0.0) if lonely == "adjust" else np.zeros(self.n_strata)

    def _layout(self, strata: np.ndarray, units: np.ndarray) -> np.ndarray:
        """PSUs numbered across strata; returns which strata have a single PSU."""
        pairs, unit = np.unique(np.stack([strata, units]), axis=1, return_inverse=True)
        self.unit = unit.ravel()  # per respondent: its PSU (numbered across strata)
        self.unit_stratum = pairs[0]
        self.n_strata = int(strata.max()) + 1 if len(strata) else 0
        self.n_units = np.bincount(self.unit_stratum, minlength=self.n_strata)
        self.df = pairs.shape[1] - self.n_strata
        self.singletons = int((self.n_units == 1).sum())
        return self.n_units == 1

    def variance(self, scores: np.ndarray, rows: np.ndarray, domain: np.ndarray, n_domains: int) -> np.ndarray:
        """scores: (m x K) of m respondents in some domain, rows: their indices in the sample, domain:
        their domain index -> (domains x K) variances of the score totals: per domain and PSU sums,
        then per stratum the spread of the PSU sums, PSUs without a member of the domain counting 0."""
        k = scores.shape[1]
        units = len(self.unit_stratum)
        key = domain * units + self.unit[rows]
        cells, inverse = np.unique(key, return_inverse=True)
        per_unit = np.stack([np.bincount(inverse, scores[:, j], minlength=len(cells)) for j in range(k)], axis=1)
        stratum_key = (cells // units) * self.n_strata + self.unit_stratum[cells % units]
        size = n_domains * self.n_strata
        s1 = np.stack([np.bincount(stratum_key, per_unit[:, j], minlength=size) for j in range(k)], axis=1)
        s2 = np.stack([np.bincount(stratum_key, per_unit[:, j] ** 2, minlength=size) for j in range(k)], axis=1)
        n_h = np.tile(self.n_units, n_domains)[:, None]
        within = (s2 - s1**2 / n_h).reshape(n_domains, self.n_strata, k)
        lonely = s2.reshape(n_domains, self.n_strata, k)  # a lonely PSU's squared total (adjust)
        return (self.factor[None, :, None] * within + self.adjust[None, :, None] * lonely).sum(axis=1)


def domain_proportions(
    answers: np.ndarray,
    weights: np.ndarray,
    domain: np.ndarray,
    n_domains: int,
    n_options: int,
    design: Design,
    design_columns: dict[str, np.ndarray],
    confidence: float = 0.95,
    taylor: TaylorVariance | None = None,
) -> dict:
    """Design-based estimates of one question's option proportions in every domain at once.

    answers: option index per respondent of the whole sample (NaN, or >= n_options for a refusal:
    not counted); domain: the respondent's domain index 0..n_domains-1, or -1 for none. Returns
    arrays (domains x options) probs, se, low, high, deff, and n (domains), df."""
    a = np.nan_to_num(answers, nan=-1.0)
    valid = (domain >= 0) & (a >= 0) & (a < n_options)
    rows = np.flatnonzero(valid)
    g, opt, w = domain[rows], a[rows].astype(np.int64), weights[rows]
    cells = n_domains * n_options
    total = np.bincount(g, w, minlength=n_domains)
    n = np.bincount(g, minlength=n_domains)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.bincount(g * n_options + opt, w, minlength=cells).reshape(n_domains, n_options) / total[:, None]
        if design.replicates:
            reps = design_columns["replicates"]
            sums = _cell_sums(reps, rows, g * n_options + opt, cells).reshape(n_domains, n_options, reps.shape[1])
            pr = sums / sums.sum(axis=1, keepdims=True)
            spec = design.replicates
            centre = p[..., None] if spec.mse else pr.mean(axis=2, keepdims=True)
            var = ((pr - centre) ** 2 * spec.coefs(reps.shape[1])).sum(axis=2)
            df = spec.degrees_of_freedom(reps.shape[1])
        else:
            taylor = taylor or taylor_for(design, design_columns)
            onehot = (opt[:, None] == np.arange(n_options)[None, :]).astype(np.float64)
            scores = w[:, None] * (onehot - p[g]) / total[g][:, None]
            var = taylor.variance(scores, rows, g, n_domains)
            df = taylor.df
        se = np.sqrt(np.maximum(var, 0.0))
        srs = p * (1 - p) / n[:, None]
        deff = np.where(srs > 0, var / srs, np.nan)
    t = float(student.ppf(1 - (1 - confidence) / 2, df=df))
    low, high = np.full_like(p, np.nan), np.full_like(p, np.nan)
    for (d, k), pk in np.ndenumerate(p):
        if total[d] > 0:
            low[d, k], high[d, k] = logit_interval(float(pk), float(se[d, k]), t)
    return {"probs": p, "se": se, "low": low, "high": high, "deff": deff, "n": n, "df": int(df), "total": total}


def _cell_sums(values: np.ndarray, rows: np.ndarray, cell: np.ndarray, cells: int) -> np.ndarray:
    """(cells x columns) sums of `values[rows]` by `cell`, as a sparse indicator matrix times
    `values`: one pass over the rows for all the replicate columns, without copying them."""
    from scipy.sparse import csr_matrix

    indicator = csr_matrix((np.ones(len(rows)), (cell, rows)), shape=(cells, values.shape[0]))
    return np.asarray(indicator @ values)


def design_proportions(
    answers: np.ndarray,
    weights: np.ndarray,
    domain: np.ndarray,
    n_options: int,
    design: Design,
    design_columns: dict[str, np.ndarray],
    confidence: float = 0.95,
    taylor: TaylorVariance | None = None,
) -> dict:
    """`domain_proportions` for one domain (bool per respondent), as lists: probs, se, ci (list of
    (low, high)), deff, df, n; None everywhere when the domain's weights sum to 0."""
    est = domain_proportions(
        answers, weights, np.where(domain, 0, -1), 1, n_options, design, design_columns, confidence, taylor
    )
    if est["total"][0] <= 0:
        return {
            "probs": [None] * n_options,
            "se": [None] * n_options,
            "ci": [(None, None)] * n_options,
            "deff": [None] * n_options,
            "df": None,
            "n": int(est["n"][0]),
        }
    return {
        "probs": est["probs"][0].tolist(),
        "se": est["se"][0].tolist(),
        "ci": list(zip(est["low"][0].tolist(), est["high"][0].tolist())),
        "deff": [None if np.isnan(d) else float(d) for d in est["deff"][0]],
        "df": est["df"],
        "n": int(est["n"][0]),
    }


def design_arrays(frame: pl.DataFrame, design: Design) -> dict[str, np.ndarray]:
    """The design columns of `frame` (as `sources.survey.read_microdata` names them) as arrays."""
    out: dict[str, np.ndarray] = {}
    if design.replicates:
        reps = [c for c in frame.columns if c.startswith("_rep_")]
        # row-major: the estimator gathers whole rows (a respondent's replicate weights) at a time
        out["replicates"] = np.ascontiguousarray(frame.select(pl.col(c).cast(pl.Float64) for c in reps).to_numpy())
        return out
    if design.strata:
        out["strata"] = frame[STRATUM].cast(pl.String).fill_null("").to_numpy()
    if design.psu:
        out["psu"] = frame[PSU].cast(pl.String).fill_null("").to_numpy()
    if design.fpc:
        out["fpc"] = frame[FPC].cast(pl.Float64).to_numpy()
    return out


def taylor_for(design: Design, arrays: dict[str, np.ndarray]) -> TaylorVariance:
    return TaylorVariance(
        arrays.get("strata"), arrays.get("psu"), arrays.get("fpc"), design.lonely_psu, design.combine_strata
    )


def design_estimates(
    frame: pl.DataFrame,
    questions: dict[str, int],
    groups: list[str],
    keys: list[str],
    design: Design,
    confidence: float = 0.95,
    weight: str = "_w",
    lonely: list[dict] | None = None,
) -> pl.DataFrame:
    """Design-based estimates per keys x group x question, for `distributions.distributions`' rows:
    keys, group_attr, group_value, var_name, design_se, design_ci, design_deff (lists per option),
    design_df. `questions`: column -> number of substantive options (option indices as columns).
    One pass per key block, attribute and question covers all the attribute's groups."""
    from pipelines.methods.distributions import ALL

    rows = []
    for key_values, block in frame.group_by(keys, maintain_order=True) if keys else [((), frame)]:
        arrays = design_arrays(block, design)
        keyed = dict(zip(keys, key_values))
        try:
            taylor = None if design.replicates else taylor_for(design, arrays)
        except LonelyPSU as e:  # which wave, as the card and report name it
            where = ", ".join(f"{k.strip('_')} {v}" for k, v in keyed.items())
            raise CurateError(f"{where}: {e}") from None
        if taylor is not None and lonely is not None:
            lonely += [{**{k.strip("_"): v for k, v in keyed.items()}, "stratum": s} for s in taylor.lonely_strata]
        w = block[weight].cast(pl.Float64).to_numpy()
        levels = [(ALL, np.zeros(block.height, dtype=np.int64), [ALL])]
        for g in groups:
            values = block[g].cast(pl.String)
            names = values.drop_nulls().unique().sort().to_list()
            codes = values.replace_strict(names, list(range(len(names))), default=-1, return_dtype=pl.Int64)
            levels.append((g, codes.to_numpy(), names))
        for var, k in questions.items():
            if var not in block.columns:
                continue
            answers = block[var].cast(pl.Float64).to_numpy()
            for attr, codes, names in levels:
                est = domain_proportions(answers, w, codes, len(names), k, design, arrays, confidence, taylor)
                for d, value in enumerate(names):
                    rows.append(
                        {
                            **keyed,
                            "group_attr": attr,
                            "group_value": value,
                            "var_name": var,
                            "design_se": _floats(est["se"][d]),
                            "design_ci": [
                                {"low": lo, "high": hi}
                                for lo, hi in zip(_floats(est["low"][d]), _floats(est["high"][d]))
                            ],
                            "design_deff": _floats(est["deff"][d]),
                            "design_df": est["df"],
                        }
                    )
    schema = {k: pl.String for k in keys} | {
        "group_attr": pl.String,
        "group_value": pl.String,
        "var_name": pl.String,
        "design_se": pl.List(pl.Float64),
        "design_ci": pl.List(pl.Struct({"low": pl.Float64, "high": pl.Float64})),
        "design_deff": pl.List(pl.Float64),
        "design_df": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def _floats(values: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]


DESIGN_COLS = ("se", "deff", "design_df")


def apply_design(
    dists: pl.DataFrame,
    data: pl.DataFrame,
    n_options: dict[str, int],
    groups: list[str],
    keys: list[str],
    design: Design,
    confidence: float = 0.95,
    lonely: list[dict] | None = None,
) -> pl.DataFrame:
    """`distributions` rows with the design's intervals in `ci` (replacing Wilson's with n_eff), and
    `se`, `deff` (per option) and `design_df`. The point estimates are the same weighted proportions.
    `lonely` gets the strata with one PSU (and their wave) that `design.lonely_psu` handled."""
    est = design_estimates(data, n_options, groups, keys, design, confidence, lonely=lonely)
    on = [*keys, "group_attr", "group_value", "var_name"]
    out = dists.join(est, on=on, how="left", nulls_equal=True)
    return out.with_columns(
        pl.when(pl.col("design_ci").is_not_null()).then(pl.col("design_ci")).otherwise(pl.col("ci")).alias("ci"),
        pl.col("design_se").alias("se"),
        pl.col("design_deff").alias("deff"),
    ).drop("design_se", "design_ci", "design_deff")


LONELY_TEXT = {
    "fail": "a stratum with one PSU stops the run",
    "skip": "a stratum with one PSU contributes no variance (samplics' skip)",
    "adjust": "a lonely PSU's total is centred at the population mean rather than its stratum's (R survey's adjust)",
    "certainty": "a lonely PSU is taken as sampled with certainty, its respondents as the units (samplics' certainty)",
    "combine": "strata with one PSU are merged into the strata that `combine_strata` names (samplics' combine)",
}


def lonely_lines(lonely: dict | None) -> list[str]:
    """The card's account of strata with one PSU: the option, the strata it applied to, and the
    zero-width intervals that skipping left (never published without a word)."""
    if not lonely:
        return []
    strata = lonely.get("strata") or []
    where = "; ".join(
        f"{', '.join(f'{k} {v}' for k, v in s.items() if k != 'stratum')}: stratum `{s['stratum']}`"
        for s in strata[:20]
    ) + (f"; and {len(strata) - 20} more" if len(strata) > 20 else "")
    lines = [
        f"Strata with one PSU (`lonely_psu: {lonely['option']}`: {LONELY_TEXT[lonely['option']]}): "
        + (f"{len(strata)}, {where}." if strata else "none.")
    ]
    if lonely.get("zero_width_intervals"):
        lines.append(
            f"**{lonely['zero_width_intervals']} published distributions have a proportion strictly between "
            "0 and 1 with a design-based standard error of 0** (a zero-width interval): their groups lie in "
            "strata that contribute no variance. Their `ci` understates the uncertainty."
        )
    return lines


def design_section(design: Design | None, dists: pl.DataFrame, lonely: dict | None = None) -> tuple[str, str]:
    """(title, markdown) for the card: the declared design, the spread of the design effects, and
    what was done with strata of one PSU (`lonely`, the distributions step's facts)."""
    if design is None:
        return (
            "Survey design",
            "No design declared in the codebook: intervals are Wilson's with Kish's n_eff, "
            "which accounts for unequal weights but not for strata or clusters (usually too narrow for "
            "clustered samples). Declare `design:` (strata, psu, fpc, or replicate weights) for design-based "
            "intervals.",
        )
    lines = [
        f"Declared design: {design.describe()}. `ci` are design-based logit intervals on "
        "Student's t with the design's degrees of freedom (`design_df`); `se` the design-based standard "
        "errors; `deff` the design effect per option, the design variance over p (1 - p) / n."
    ]
    if "deff" in dists.columns and dists.height:
        deffs = dists.select(pl.col("deff").list.explode().drop_nulls().drop_nans()).to_series()
        if deffs.len():
            q = deffs.quantile
            lines.append(
                f"Design effects over {deffs.len()} published proportions: median {q(0.5):.2f}, "
                f"10th percentile {q(0.1):.2f}, 90th {q(0.9):.2f}, max {deffs.max():.2f}."
            )
        dfs = dists["design_df"].drop_nulls().unique().sort().to_list()
        lines.append(f"Degrees of freedom: {', '.join(str(d) for d in dfs) or 'n/a'}.")
    lines += lonely_lines(lonely)
    return ("Survey design", "\n\n".join(lines))


def design_problems(design: Design | None, columns: list[str]) -> tuple[pl.Expr, pl.Expr]:
    """(message, field) expressions for a respondent whose design values are unusable, null when
    they are fine: a missing stratum or PSU, an fpc that is not a positive number, a replicate weight
    that is missing, not a number, negative or not finite. For the weight validation step, which
    quarantines such respondents naming the codebook's column."""
    checks: list[tuple[pl.Expr, pl.Expr, str]] = []
    if design is not None and design.replicates is None:
        for alias, name in ((STRATUM, design.strata), (PSU, design.psu)):
            if name:
                text = pl.col(alias)
                checks.append((text.is_null() | (text == ""), pl.lit(f"{name} is missing"), name))
        if design.fpc:
            text = pl.col(FPC)
            value = text.cast(pl.Float64, strict=False)
            bad = value.is_null() | ~value.is_finite() | (value <= 0)
            checks.append(
                (bad, pl.format(f"{design.fpc} '{{}}' is not a positive number", text.fill_null("")), design.fpc)
            )
    elif design is not None:
        for c in (c for c in columns if c.startswith("_rep_")):
            text = pl.col(c)
            value = text.cast(pl.Float64, strict=False)
            bad = value.is_null() | ~value.is_finite() | (value < 0)
            checks.append(
                (
                    bad,
                    pl.format(
                        f"replicate weight {c[5:]} '{{}}' is missing, not a number or negative", text.fill_null("")
                    ),
                    c[5:],
                )
            )
    if not checks:
        return pl.lit(None, pl.String), pl.lit(None, pl.String)
    message = pl.when(checks[0][0]).then(checks[0][1])
    field = pl.when(checks[0][0]).then(pl.lit(checks[0][2]))
    for bad, text, name in checks[1:]:
        message = message.when(bad).then(text)
        field = field.when(bad).then(pl.lit(name))
    return message, field
