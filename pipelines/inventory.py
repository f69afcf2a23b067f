"""Keying and scoring of Big Five inventories, vectorized.

Each item belongs to one facet and facets nest in domains, so with the answer columns laid out by
facet, a scale's sum is a few elementwise sums of contiguous int8 blocks: no Python loop over rows
and no per-column expression trees (which made an earlier polars-expression version slower than
pandas).

Scores are means of the answered items after keying, on the 1..5 scale, and null when fewer than
half of the scale's items were answered.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

DOMAINS = ["N", "E", "O", "A", "C"]
FACETS = [f"{d}{k}" for d in DOMAINS for k in range(1, 7)]
SCALE_MAX = 5


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


@lru_cache(maxsize=4)
def _layout(key_items: tuple[tuple[int, str, int], ...]) -> tuple[list[int], list[bool], int]:
    """Item numbers in "position-major" order: the first item of every facet N1..C6, then the
    second of every facet, and so on; with their reverse-keyed flags and the items per facet.
    In that order, with a (rows x items) array in Fortran order, the p-th item of every facet is one
    contiguous block of columns, and a facet's sum is the sum of `per` blocks."""
    rank = {f: i for i, f in enumerate(FACETS)}
    by_facet: dict[str, list[tuple[int, int]]] = {}
    for item_no, facet, keyed in sorted(key_items):
        by_facet.setdefault(facet, []).append((item_no, keyed))
    per = len(key_items) // len(FACETS)
    ordered = [by_facet[f][p] for p in range(per) for f in sorted(by_facet, key=rank.get)]
    return [i for i, _ in ordered], [k < 0 for _, k in ordered], per


def layout(key: pl.DataFrame) -> tuple[list[int], list[bool], int]:
    return _layout(tuple(key.select("item_no", "facet_code", "keyed").iter_rows()))


def keyed_exprs(key: pl.DataFrame, frame_schema: pl.Schema, keyed_at_source: pl.Expr) -> list[pl.Expr]:
    """Keyed answers as Int8, 0 for missing (0, blank, or text that is not a number, which
    validation reports), reverse-keyed items flipped unless the row was keyed at the source;
    in `layout` order."""
    items, reverse, _ = layout(key)
    exprs = []
    for item_no, rev in zip(items, reverse):
        # Int8: a quarter of the memory traffic of floats in the reshape-sums below
        x = _as_number(frame_schema[f"i{item_no}"], f"i{item_no}").fill_null(0).cast(pl.Int8)
        if rev:
            x = pl.when((x > 0) & ~keyed_at_source).then(SCALE_MAX + 1 - x).otherwise(x).cast(pl.Int8)
        exprs.append(x.alias(f"k{item_no}"))
    return exprs


def score_keyed(keyed: np.ndarray, per: int) -> dict:
    """Facet and domain means (NaN when fewer than half answered) and answered counts, from keyed
    answers (rows x items, `layout` order, Fortran order, 0 = missing)."""
    n, k = keyed.shape[0], len(FACETS)
    f_sum = np.zeros((n, k), dtype=np.int16, order="F")
    f_cnt = np.zeros((n, k), dtype=np.int16, order="F")
    for p in range(per):  # block p holds the p-th item of every facet: contiguous in Fortran order
        block = keyed[:, p * k:(p + 1) * k]
        f_sum += block
        f_cnt += block > 0
    # facets are ordered N1..N6, E1..E6, ...: column j of domain d is facet d*6 + j
    d_sum = sum(f_sum[:, j::6].astype(np.int32) for j in range(6))
    d_cnt = sum(f_cnt[:, j::6].astype(np.int32) for j in range(6))
    with np.errstate(invalid="ignore", divide="ignore"):
        facets = np.where(f_cnt * 2 >= per, f_sum / f_cnt, np.nan)
        domains = np.where(d_cnt * 2 >= 6 * per, d_sum / d_cnt, np.nan)
    return {"facets": facets, "domains": domains, "answered": f_cnt.sum(axis=1)}


def score_frame(
    frame: pl.DataFrame, key: pl.DataFrame, keyed_at_source: pl.Expr | bool, with_responses: bool = True
) -> pl.DataFrame:
    """`frame` with item columns i1..iN (text or numbers) -> responses (keyed, a list per row),
    domain_scores, facet_scores, answered; the item columns are left out."""
    items, _, per = layout(key)
    flag = keyed_at_source if isinstance(keyed_at_source, pl.Expr) else pl.lit(keyed_at_source)
    keyed = frame.select(keyed_exprs(key, frame.schema, flag))
    matrix = keyed.to_numpy(order="fortran")
    s = score_keyed(matrix, per)
    extra = []
    if with_responses:
        in_item_order = np.ascontiguousarray(matrix[:, np.argsort(items)])
        responses = pl.Series("responses", in_item_order).cast(pl.List(pl.Int8))
        extra.append(responses.list.eval(pl.when(pl.element() == 0).then(None).otherwise(pl.element())))
    return frame.drop([f"i{i}" for i in items]).with_columns(
        *extra,
        _struct("domain_scores", DOMAINS, s["domains"]),
        _struct("facet_scores", FACETS, s["facets"]),
        pl.Series("answered", s["answered"], dtype=pl.Int32),
    )


def _as_number(dtype: pl.DataType, col: str) -> pl.Expr:
    """Answers as Float32 (null for text that is not a number: validation reports those)."""
    if dtype.is_numeric():
        return pl.col(col).cast(pl.Float32)
    return pl.col(col).str.strip_chars().cast(pl.Float32, strict=False)


def _struct(name: str, fields: list[str], values: np.ndarray) -> pl.Series:
    frame = pl.DataFrame({f: values[:, j] for j, f in enumerate(fields)}).fill_nan(None)
    return frame.to_struct(name)


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
