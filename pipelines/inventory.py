"""Keying and scoring of Big Five inventories as polars expressions (one pass, no Python loops
over rows), so the same code scores a sample in the recipe and a million rows in bench/.

Scores are means of the answered items after keying, on the 1..5 scale, and null when fewer than
half of the scale's items were answered.
"""

from __future__ import annotations

import polars as pl

DOMAINS = ["N", "E", "O", "A", "C"]
FACETS = [f"{d}{k}" for d in DOMAINS for k in range(1, 7)]
SCALE_MAX = 5


def parsed_answer(col: str) -> pl.Expr:
    """An answer as a number: null for blank or 0 (missing), else the value as Float64
    (non-numbers become null here; `answer_problem` reports them)."""
    text = pl.col(col).cast(pl.String).str.strip_chars()
    value = text.cast(pl.Float64, strict=False)
    return pl.when(value == 0).then(None).otherwise(value)


def answer_problem(col: str) -> pl.Expr:
    """A message when the raw text of an answer is not a whole number 0..5, else null."""
    text = pl.col(col).cast(pl.String).str.strip_chars()
    value = text.cast(pl.Float64, strict=False)
    present = text.is_not_null() & (text != "")
    return (
        pl.when(present & value.is_null())
        .then(pl.format("{}: answer '{}' is not a number", pl.lit(col), text))
        .when(present & (value != value.floor()))
        .then(pl.format("{}: answer '{}' is not a whole number", pl.lit(col), text))
        .when(present & ((value < 0) | (value > SCALE_MAX)))
        .then(pl.format("{}: answer {} is outside 1..5 (0 or blank means missing)", pl.lit(col), text))
        .otherwise(None)
    )


def keyed_items(key: pl.DataFrame, keyed_at_source: pl.Expr | bool) -> list[pl.Expr]:
    """Keyed answers `k{n}` (Int8, null when missing): reverse-keyed items become 6 - x unless the
    row's answers were keyed at the source."""
    flag = keyed_at_source if isinstance(keyed_at_source, pl.Expr) else pl.lit(keyed_at_source)
    exprs = []
    for item_no, sign in key.select("item_no", "keyed").iter_rows():
        x = parsed_answer(f"i{item_no}")
        if sign < 0:
            x = pl.when(flag).then(x).otherwise(SCALE_MAX + 1 - x)
        exprs.append(x.cast(pl.Int8).alias(f"k{item_no}"))
    return exprs


def scale_score(items: list[str]) -> pl.Expr:
    cols = [pl.col(c).cast(pl.Float64) for c in items]  # Int8 sums would overflow past 127
    answered = pl.sum_horizontal([c.is_not_null().cast(pl.Int32) for c in cols])
    return pl.when(answered * 2 >= len(items)).then(pl.mean_horizontal(cols)).otherwise(None)


def score_exprs(key: pl.DataFrame) -> list[pl.Expr]:
    """domain_scores (struct N, E, O, A, C), facet_scores (struct N1..C6), answered count;
    to apply after `keyed_items`."""
    by_domain = {d: [f"k{n}" for n in key.filter(pl.col("domain") == d)["item_no"]] for d in DOMAINS}
    by_facet = {f: [f"k{n}" for n in key.filter(pl.col("facet_code") == f)["item_no"]] for f in FACETS}
    all_items = [f"k{n}" for n in key["item_no"]]
    return [
        pl.struct([scale_score(by_domain[d]).alias(d) for d in DOMAINS]).alias("domain_scores"),
        pl.struct([scale_score(by_facet[f]).alias(f) for f in FACETS]).alias("facet_scores"),
        pl.sum_horizontal([pl.col(c).is_not_null().cast(pl.Int32) for c in all_items]).alias("answered"),
        pl.concat_list([pl.col(c) for c in all_items]).alias("responses"),
    ]


def cronbach_alpha(keyed: pl.DataFrame, items: list[str]) -> tuple[float | None, int]:
    """Cronbach's alpha over the rows that answered every item of the scale: (alpha, rows used)."""
    complete = keyed.select(items).drop_nulls()
    k, n = len(items), complete.height
    if k < 2 or n < 2:
        return None, n
    item_var = complete.select(pl.all().cast(pl.Float64).var()).row(0)
    total_var = complete.select(pl.sum_horizontal(pl.all().cast(pl.Float64)).var()).item()
    if not total_var:
        return None, n
    return k / (k - 1) * (1 - sum(item_var) / total_var), n
