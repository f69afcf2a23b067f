"""Weighted answer distributions per question and group, and distances between distributions.

How a distribution is computed (the card of the `values` recipe states the same):

- Answers are option indices: 0..K-1 the substantive options in their order, K..K+R-1 the refusal
  codes (refused, don't know), null when the question was not asked (not counted anywhere).
- `probs[k]` = sum of weights of respondents answering k / sum of weights of substantive answers:
  refusals are kept apart, as OpinionQA does, and `refusal_mass` = refusal weight / weight of all
  answers (substantive + refusal); `refusal_probs` splits it by refusal code.
- `n` = respondents with a substantive answer (unweighted), `n_refused` = with a refusal;
  `n_positive` = substantive answers with a positive weight, which `min_n` counts (`drop_reason`).
- `n_eff` = Kish's effective sample size (sum w)^2 / sum w^2 over the substantive answers.
- `ci[k]` = the Wilson score interval for probs[k] with n_eff in place of n. Wilson because it stays
  inside [0, 1] and keeps its coverage for small groups and for proportions near 0 or 1, where the
  Wald interval fails (Brown, Cai and DasGupta 2001); n_eff because unequal weights inflate the
  variance by Kish's design effect n / n_eff. Clustering and stratification are not in public
  microdata's columns and are not accounted for.

The sums behind all of these (n, sum w, sum w^2 per group x question x option) add up over
respondents, so they are computed per partition of rows (`group_stats`), added (`combine_stats`)
and only then turned into distributions (`distributions`): memory stays bounded by the partition.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import polars as pl

ALL = "all"  # group_attr and group_value of the whole sample
ID_COLS = ("group_attr", "group_value", "var_name")
STAT_COLS = ("n", "n_pos", "w_sum", "w2_sum")  # n_pos: answers with a positive weight
# Above this many distinct joint cells (groups crossed) per partition, each attribute gets its own
# pass instead of a roll-up from the joint cells (see `group_stats`).
MAX_JOINT_CELLS = 50_000


def z_value(confidence: float = 0.95) -> float:
    return NormalDist().inv_cdf(1 - (1 - confidence) / 2)


# -- sufficient statistics ---------------------------------------------------------------------


def group_stats(
    frame: pl.DataFrame,
    questions: Sequence[str],
    groups: Sequence[str],
    *,
    weight: str | None = None,
    keys: Sequence[str] = (),
    overall: bool = True,
    chunk: int = 32,
    strategy: str = "auto",
) -> pl.DataFrame:
    """n, sum w and sum w^2 per keys x (group_attr, group_value) x question x option.

    `questions` are integer columns of option indices (null: not asked); `groups` are the columns
    whose values define groups; `keys` (e.g. survey, wave) split every group. With `overall`, the
    whole sample is one more group (`all`/`all`). Rows whose group value is null form a group with
    a null `group_value` (callers count them and leave them out).

    `strategy`: "joint" groups each question once by the cells of all attributes crossed, then rolls
    the result up to each attribute; "per_attribute" groups each question once per attribute; "auto"
    (the default) crosses attributes into as few passes as keep each pass's cells well below the
    number of rows, so that the roll-ups stay small next to the group-bys.
    """
    keys, groups = list(keys), list(groups)
    w = pl.col(weight).cast(pl.Float64) if weight else pl.lit(1.0, pl.Float64)
    base = frame.select(*keys, *groups, w.alias("_w"), *questions).with_columns(
        (pl.col("_w") * pl.col("_w")).alias("_w2")
    )
    # option slots 0..top, and one more for the respondents not asked (null)
    top = base.select(pl.max_horizontal(pl.col(q).max() for q in questions)).item() if questions else 0
    stride = int(top or 0) + 2
    if strategy == "joint":
        passes = [groups]
    elif strategy == "per_attribute":
        passes = [[g] for g in groups] or [[]]
    else:
        passes = _attribute_passes(base, keys, groups, stride)
    parts = [
        _pass_stats(base, questions, keys, attrs, overall and i == 0, chunk, stride) for i, attrs in enumerate(passes)
    ]
    return pl.concat(parts, how="vertical") if parts else _empty_stats(keys)


def _attribute_passes(base: pl.DataFrame, keys: list[str], groups: list[str], stride: int) -> list[list[str]]:
    """Attributes packed into passes (first fit, largest first) so that each pass's crossed cells
    times option slots stay under a sixteenth of the rows: fewer passes mean fewer group-bys, and
    small cells keep the roll-ups cheap."""
    if not groups:
        return [[]]
    key_cells = base.select(pl.struct(keys).n_unique()).item() if keys else 1
    sizes = base.select(pl.col(g).n_unique() for g in groups).row(0)
    budget = max(base.height // 16, 1)
    passes: list[tuple[list[str], int]] = []
    for g, size in sorted(zip(groups, sizes), key=lambda t: -t[1]):
        for i, (attrs, cells) in enumerate(passes):
            if cells * size * stride <= budget and cells * size <= MAX_JOINT_CELLS:
                passes[i] = (attrs + [g], cells * size)
                break
        else:
            passes.append(([g], key_cells * size))
    return [attrs for attrs, _ in passes]


def _dense_code(columns: Sequence[str]) -> pl.Expr:
    """0..k-1 for the distinct combinations of `columns` (nulls are a value like any other)."""
    if not columns:
        return pl.lit(0, pl.Int64)
    return (pl.struct(columns).rank("dense") - 1).cast(pl.Int64)


def _pass_stats(base: pl.DataFrame, questions, keys, attrs, overall: bool, chunk: int, stride: int) -> pl.DataFrame:
    """Stats per joint cell of `keys + attrs` and question, then rolled up to each attribute (and
    `all`). Every group-by has one integer key, (cell or group, question, option) folded into it:
    one-column integer group-bys are the fastest polars has."""
    cell_cols = keys + attrs
    with_cell = base.with_columns(_dense_code(cell_cols).alias("_cell"))
    cells = with_cell.select("_cell", *cell_cols).unique("_cell").sort("_cell")  # row i is cell i
    levels = [(a, keys + [a]) for a in attrs] + ([(ALL, keys)] if overall else [])
    level_codes = {name: cells.with_columns(_dense_code(cols).alias("_c"))["_c"] for name, cols in levels}
    level_values = {
        name: cells.with_columns(level_codes[name].alias("_code")).unique("_code").sort("_code").select(cols)
        for name, cols in levels
    }
    cell = with_cell["_cell"].to_numpy()
    weights = {
        "n_pos": (with_cell["_w"].fill_null(0.0) > 0).to_numpy().astype(np.float64),
        "w_sum": with_cell["_w"].fill_null(0.0).to_numpy(),
        "w2_sum": with_cell["_w2"].fill_null(0.0).to_numpy(),
    }
    size = len(cells) * stride
    rolled = []
    for start in range(0, len(questions), chunk):
        names = pl.Series(list(questions[start : start + chunk]), dtype=pl.String)
        per_q = []
        for i, q in enumerate(names):
            codes = with_cell[q].cast(pl.Int64).fill_null(stride - 1).to_numpy()
            if len(codes) and codes.min() < 0:
                raise ValueError(f"question {q}: option indices must be 0 or more")
            per_q.append(
                _bincount_stats(cell * stride + codes, size, weights).with_columns(pl.lit(i, pl.Int64).alias("_q"))
            )
        per_cell = pl.concat(per_q, how="vertical")
        cell_of, slot = per_cell["_k"] // stride, per_cell["_k"] % stride
        for name, _cols in levels:
            key = ((level_codes[name].gather(cell_of) * len(names) + per_cell["_q"]) * stride + slot).to_numpy()
            sums = _bincount_stats(
                key,
                int(key.max()) + 1 if len(key) else 0,
                {c: per_cell[c].to_numpy().astype(np.float64) for c in STAT_COLS if c != "n"},
                per_cell["n"].to_numpy().astype(np.float64),
            )
            rolled.append(_decode(sums, stride, names, level_values[name], keys, name))
    return pl.concat(rolled, how="vertical") if rolled else _empty_stats(keys)


def _bincount_stats(key: np.ndarray, size: int, sums: dict[str, np.ndarray], counts: np.ndarray | None = None):
    """n and the weighted sums per integer key, added in row order (np.bincount): the same bits
    whatever the threads. Polars' parallel group-by sums add partial sums in any order, so two runs on
    the same data differed in the last bits (260.7223 and 260.72229999999996) and a recomputed run was
    published as a new version with "changed" rows."""
    n = np.bincount(key, weights=counts, minlength=size)
    found = np.flatnonzero(n)
    out = {"_k": found, "n": n[found].astype(np.int64)}
    for column, values in sums.items():
        total = np.bincount(key, weights=values, minlength=size)[found]
        out[column] = total.astype(np.int64) if column == "n_pos" else total
    return pl.DataFrame(out).select("_k", *STAT_COLS)


def _decode(sums: pl.DataFrame, stride: int, names: pl.Series, values: pl.DataFrame, keys, attr) -> pl.DataFrame:
    k = sums["_k"]
    slot, rest = k % stride, k // stride
    row = values[rest // len(names)] if values.width else values  # `all` without keys: no columns
    group_value = row[attr] if attr != ALL else pl.Series([ALL] * sums.height)
    return pl.DataFrame(
        {
            **{c: row[c].cast(pl.String) for c in keys},
            "group_attr": pl.Series([attr] * sums.height, dtype=pl.String),
            "group_value": group_value.cast(pl.String),
            "var_name": names.gather(rest % len(names)),
            "option": pl.Series(slot, dtype=pl.Int16).set(slot == stride - 1, None),
            **{c: sums[c] for c in STAT_COLS},
        }
    )


def _empty_stats(keys: Sequence[str]) -> pl.DataFrame:
    schema = {k: pl.String for k in keys} | {
        "group_attr": pl.String,
        "group_value": pl.String,
        "var_name": pl.String,
        "option": pl.Int16,
        "n": pl.Int64,
        "n_pos": pl.Int64,
        "w_sum": pl.Float64,
        "w2_sum": pl.Float64,
    }
    return pl.DataFrame(schema=schema)


def fsum(expr: pl.Expr) -> pl.Expr:
    """A float sum that does not depend on how polars' threads split the group or order its rows: the
    values sorted, then added one after the other. Polars' parallel sums add partial sums in any
    order, so two runs on the same data differed in the last bits (260.7223 and 260.72229999999996)
    and a recomputed run was published as a new version with "changed" rows. (`sort().sum()` is not
    enough in a lazy query: the optimizer drops a sort before an order-free sum; a running sum keeps it.)"""
    return expr.sort().cum_sum().last().fill_null(0.0)


def stat_sum(column: str) -> pl.Expr:
    return fsum(pl.col(column)) if column in ("w_sum", "w2_sum") else pl.col(column).sum()


def combine_stats(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The stats of row partitions added up: the stats of their union."""
    frame = pl.concat(list(parts), how="vertical")
    ids = [c for c in frame.columns if c not in STAT_COLS]
    return frame.group_by(ids).agg(stat_sum(c) for c in STAT_COLS)


# -- distributions -----------------------------------------------------------------------------


def distributions(stats: pl.DataFrame, questions: pl.DataFrame, *, confidence: float = 0.95) -> pl.DataFrame:
    """One row per keys x group x question from `group_stats` output.

    `questions`: `var_name`, `n_options` (K), `n_refusals` (R). Groups with a null value are left
    out. Columns: keys, group_attr, group_value, var_name, probs, ci (list of {low, high}),
    refusal_probs, refusal_mass, n, n_refused, n_missing (null answers), w_sum, n_eff.
    """
    keys = [c for c in stats.columns if c not in (*ID_COLS, "option", *STAT_COLS)]
    ids = keys + list(ID_COLS)
    stats = stats.filter(pl.col("group_value").is_not_null())
    meta = questions.select("var_name", pl.col("n_options").cast(pl.Int16), pl.col("n_refusals").cast(pl.Int16))
    # every option of every question in every group, answered or not (a 0 is a measurement)
    grid = (
        stats.select(ids)
        .unique()
        .join(meta, on="var_name")
        .with_columns(pl.int_ranges(0, pl.col("n_options") + pl.col("n_refusals"), dtype=pl.Int16).alias("option"))
        .explode("option")
    )
    asked = stats.filter(pl.col("option").is_not_null())
    # keys may be null (a survey without waves): nulls must match nulls
    long = grid.join(asked, on=[*ids, "option"], how="left", nulls_equal=True).with_columns(
        pl.col(c).fill_null(0) for c in STAT_COLS
    )
    substantive = pl.col("option") < pl.col("n_options")
    totals = (
        long.group_by(ids)
        .agg(
            fsum(pl.col("w_sum").filter(substantive)).alias("_W"),
            fsum(pl.col("w2_sum").filter(substantive)).alias("_W2"),
            fsum(pl.col("w_sum").filter(~substantive)).alias("_Wr"),
            pl.col("n").filter(substantive).sum().alias("_n"),
            pl.col("n").filter(~substantive).sum().alias("_nr"),
            pl.col("n_pos").filter(substantive).sum().alias("_np"),
            pl.col("n_pos").filter(~substantive).sum().alias("_npr"),
        )
        .with_columns(kish_n_eff(pl.col("_W"), pl.col("_W2")).alias("_neff"))
    )
    z = z_value(confidence)
    long = long.join(totals, on=ids, nulls_equal=True).with_columns(
        pl.when(substantive)
        .then(_ratio(pl.col("w_sum"), pl.col("_W")))
        .otherwise(_ratio(pl.col("w_sum"), pl.col("_W") + pl.col("_Wr")))
        .alias("_p")
    )
    low, high = wilson_interval(pl.col("_p"), pl.col("_neff"), z)
    # sorted, so that the per-group lists below are in option order
    long = long.with_columns(pl.struct(low.alias("low"), high.alias("high")).alias("_ci")).sort([*ids, "option"])
    missing = stats.filter(pl.col("option").is_null()).group_by(ids).agg(pl.col("n").sum().alias("n_missing"))
    out = long.group_by(ids, maintain_order=True).agg(
        pl.col("_p").filter(substantive).alias("probs"),
        pl.col("_ci").filter(substantive).alias("ci"),
        pl.col("_p").filter(~substantive).alias("refusal_probs"),
        _ratio(pl.col("_Wr").first(), pl.col("_W").first() + pl.col("_Wr").first()).alias("refusal_mass"),
        pl.col("_n").first().alias("n"),
        pl.col("_nr").first().alias("n_refused"),
        pl.col("_np").first().alias("n_positive"),
        pl.col("_npr").first().alias("n_refused_positive"),
        pl.col("_W").first().alias("w_sum"),
        pl.col("_neff").first().alias("n_eff"),
    )
    out = out.join(missing, on=ids, how="left", nulls_equal=True).with_columns(pl.col("n_missing").fill_null(0))
    return out.select(
        *ids,
        "probs",
        "ci",
        "refusal_probs",
        "refusal_mass",
        "n",
        "n_refused",
        "n_missing",
        "n_positive",
        "n_refused_positive",
        "w_sum",
        "n_eff",
    )


def drop_reason(min_n: int) -> pl.Expr:
    """Why a distribution is not published, null when it is: `not_asked_in_group` (no answer at all),
    `only_refusals` (refusals, with a positive weight, and no substantive answer: the group's refusal
    mass is 1, reported on its own rather than hidden under below_min_n), `below_min_n` (fewer than
    min_n substantive answers with a positive weight: a zero weight is not an answer the proportions
    can see), `zero_total_weight`."""
    return (
        pl.when(pl.col("n") + pl.col("n_refused") == 0)
        .then(pl.lit("not_asked_in_group"))
        .when((pl.col("n_positive") == 0) & (pl.col("n_refused_positive") > 0))
        .then(pl.lit("only_refusals"))
        .when(pl.col("n_positive") < min_n)
        .then(pl.lit("below_min_n"))
        .when(pl.col("w_sum") <= 0)
        .then(pl.lit("zero_total_weight"))
    )


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)


def kish_n_eff(w_sum, w2_sum):
    """Kish's effective sample size (sum w)^2 / sum w^2; works on numbers and polars expressions."""
    if isinstance(w_sum, pl.Expr):
        return pl.when(w2_sum > 0).then(w_sum * w_sum / w2_sum).otherwise(0.0)
    return w_sum * w_sum / w2_sum if w2_sum > 0 else 0.0


def wilson_interval(p, n, z: float = 1.959963984540054):
    """Wilson's score interval for a proportion p over n (here Kish's n_eff): (low, high).

    Works on numbers and on polars expressions; null (None) where n is 0 or p is undefined."""
    if isinstance(p, pl.Expr):
        ok = (n > 0) & p.is_not_null()
        denom = 1 + z * z / n
        center = (p + z * z / (2 * n)) / denom
        half = z / denom * (p * (1 - p) / n + z * z / (4 * n * n)).sqrt()
        low = pl.when(ok).then((center - half).clip(0.0, 1.0))
        high = pl.when(ok).then((center + half).clip(0.0, 1.0))
        return low, high
    if p is None or not n or n <= 0:
        return None, None
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


# -- comparing a model's distribution with a group's ----------------------------------------------


def _as_probs(x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim not in (1, 2) or arr.shape[-1] < 1:
        raise ValueError("a distribution is a 1-D array of option probabilities (or a 2-D batch of them)")
    if (arr < 0).any() or not np.isfinite(arr).all():
        raise ValueError("probabilities must be finite and non-negative")
    total = arr.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise ValueError("a distribution needs some mass")
    return arr / total


def wasserstein_ordinal(p, q):
    """1-Wasserstein distance between two distributions over the same K ordered options, with the
    options at positions 0..K-1 and the distance divided by K-1 (OpinionQA), so it lies in [0, 1].

    Inputs are renormalized to sum to 1: pass the substantive options only (no refusals). Accepts
    1-D arrays or 2-D batches (one distribution per row); returns a float or an array."""
    p, q = _as_probs(p), _as_probs(q)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"different numbers of options: {p.shape[-1]} and {q.shape[-1]}")
    k = p.shape[-1]
    if k == 1:
        return np.zeros(p.shape[:-1]) if p.ndim == 2 else 0.0
    # on a line with unit spacing, W1 is the L1 distance between the cumulative distributions
    d = np.abs(np.cumsum(p, axis=-1) - np.cumsum(q, axis=-1))[..., :-1].sum(axis=-1) / (k - 1)
    return d if np.ndim(d) else float(d)


def js_distance(p, q, base: float = 2.0):
    """Jensen-Shannon distance (the square root of the divergence) with logarithms in `base`; with
    base 2 it lies in [0, 1]. For nominal options, where order means nothing. Inputs renormalized."""
    p, q = _as_probs(p), _as_probs(q)
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"different numbers of options: {p.shape[-1]} and {q.shape[-1]}")
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log(a / b), 0.0)
        return terms.sum(axis=-1)

    div = (kl(p, m) + kl(q, m)) / 2 / math.log(base)
    d = np.sqrt(np.clip(div, 0.0, None))
    return d if np.ndim(d) else float(d)


def distance(model, group, ordinal: bool):
    """The distance OpinionQA and GlobalOpinionQA use for a question of this kind: normalized W1 for
    ordinal options, Jensen-Shannon distance (base 2) for nominal ones. 0 = the same distribution."""
    return wasserstein_ordinal(model, group) if ordinal else js_distance(model, group)


def compare(model_probs, record: dict) -> float:
    """Distance between a model's answer distribution and one record of the `distributions` config
    (uses its `probs` and `ordinal`)."""
    return distance(model_probs, record["probs"], bool(record["ordinal"]))
