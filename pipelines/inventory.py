"""Keying and scoring of Big Five inventories, vectorized.

Each item belongs to one facet and facets nest in domains, so with the answer columns laid out by
facet, a scale's sum is a few elementwise sums of contiguous blocks: no Python loop over rows and
no per-column expression trees (which made an earlier polars-expression version slower than
pandas). Each answer is coded as one small unsigned integer that packs the keyed value and a 1 for
"answered", so one sum gives both a facet's total and its count, and one table lookup its mean.

Scores are means of the answered items after keying, on the 1..5 scale, and null when fewer than
half of the scale's items were answered."""

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


_PLAIN_ANSWERS = pl.Series([str(v) for v in range(SCALE_MAX + 1)] + [""])


def answer_ok(col: str, dtype: pl.DataType) -> pl.Expr:
    """True where an answer is plainly valid (0..5 as written, or blank): a cheap test over every
    row, so that `answer_problem` (string work that names the problem) runs only on the rest. It
    may send valid answers such as ' 3' or '3.0' to `answer_problem`, never the reverse."""
    c = pl.col(col)
    if dtype == pl.String:
        return c.is_null() | c.is_in(_PLAIN_ANSWERS.implode())
    if dtype.is_integer():
        return c.is_null() | c.is_between(0, SCALE_MAX)
    if dtype.is_float():
        return c.is_null() | (c.is_between(0, SCALE_MAX) & (c == c.floor()))
    return pl.lit(False)


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


@lru_cache(maxsize=4)
def _packing(per: int) -> tuple[type, int, np.ndarray]:
    """How a facet's answers are packed: each answered item is coded as its keyed value plus
    `1 << shift` (0 when missing), so the sum of a facet's codes holds the sum of its values in the
    low `shift` bits and the number answered above them. Returns the code dtype, the shift, and the
    table from a packed facet sum to the facet mean (NaN when fewer than half answered)."""
    shift = (per * SCALE_MAX).bit_length()
    bits = shift + per.bit_length()
    if bits > 16:
        raise ValueError(f"{per} items per facet: too many to pack")
    dtype = np.uint8 if bits <= 8 else np.uint16
    packed = np.arange(1 << bits)
    count, total = packed >> shift, packed & ((1 << shift) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where((count * 2 >= per) & (total <= count * SCALE_MAX), total / count, np.nan)
    return dtype, shift, means


def answer_codes(frame: pl.DataFrame, key: pl.DataFrame, keyed_at_source: pl.Expr) -> np.ndarray:
    """Packed codes of the keyed answers (see `_packing`) as a (rows x items) array in `layout`
    order and Fortran order; an item is missing when its answer is 0, blank, or text that is not a
    number (validation reports those); reverse-keyed items are flipped (6 - x) unless the row was
    keyed at the source.

    The answers go to numpy as int8 and are keyed and coded there with a few whole-array operations:
    one polars expression per item (an earlier version) cost more than all the scoring."""
    items, reverse, per = layout(key)
    dtype, shift, _ = _packing(per)
    columns = [f"i{i}" for i in items]
    schema = frame.schema  # built anew on every access
    plain = all(schema[c] == pl.Int8 for c in columns) and not any(
        frame.get_column(c).null_count() for c in columns)
    raw = frame.select(columns if plain else (_as_int8(schema[c], c) for c in columns))
    answers = raw.to_numpy(order="fortran").view(np.uint8)  # int8 -> uint8: a negative is >= 128
    if answers.size and answers.max() > SCALE_MAX:
        raise ValueError("answers outside 0..5 reached scoring: validation must quarantine them")
    flip = np.asarray(reverse, dtype=bool)
    at_source = frame.select(keyed_at_source.fill_null(False)).to_series()  # one value for a literal
    one = dtype(1 << shift)

    def code(flipped: np.ndarray) -> np.ndarray:
        # answered: (1 << shift) + x, or + (6 - x) when flipped; missing: 0. In unsigned arithmetic
        # (-x wraps), a per-column sign and offset broadcast over the rows.
        sign = np.where(flipped, -1, 1).astype(dtype)
        offset = (one + np.where(flipped, SCALE_MAX + 1, 0)).astype(dtype)
        out = answers * sign
        out += offset
        out *= answers > 0
        return out

    if at_source.all():
        return code(np.zeros_like(flip))
    codes = code(flip)
    if at_source.any():  # rows keyed at the source keep their answers as given
        rows = at_source.to_numpy()
        codes[rows] = code(np.zeros_like(flip))[rows]
    return codes


def score_codes(codes: np.ndarray, per: int) -> dict:
    """Facet and domain means (NaN when fewer than half answered) and answered counts, from packed
    answer codes (rows x items, `layout` order, Fortran order)."""
    n, k = codes.shape[0], len(FACETS)
    _, shift, facet_means = _packing(per)
    packed = np.array(codes[:, :k], order="F")
    for p in range(1, per):  # block p holds the p-th item of every facet: contiguous in Fortran order
        packed += codes[:, p * k:(p + 1) * k]
    f_sum = (packed & ((1 << shift) - 1)).astype(np.int16)
    f_cnt = (packed >> shift).astype(np.int16)
    # facets are ordered N1..N6, E1..E6, ...: column j of domain d is facet d*6 + j
    d_sum = sum(f_sum[:, j::6] for j in range(6))
    d_cnt = sum(f_cnt[:, j::6] for j in range(6))
    with np.errstate(invalid="ignore", divide="ignore"):
        domains = np.where(d_cnt * 2 >= 6 * per, d_sum / d_cnt, np.nan)
    facets = np.empty((n, k), order="F")
    for j in range(k):  # a column at a time: contiguous in and out (a 2-D take writes row-major)
        facet_means.take(packed[:, j], out=facets[:, j])
    return {"facets": facets, "domains": domains, "answered": d_cnt.sum(axis=1)}


def keyed_answers(codes: np.ndarray, items: list[int], per: int) -> np.ndarray:
    """The keyed answers (0 for missing) in item order, from `answer_codes`."""
    _, shift, _ = _packing(per)
    return np.ascontiguousarray((codes & ((1 << shift) - 1)).astype(np.int8)[:, np.argsort(items)])


def score_frame(
    frame: pl.DataFrame, key: pl.DataFrame, keyed_at_source: pl.Expr | bool, with_responses: bool = True
) -> pl.DataFrame:
    """`frame` with item columns i1..iN (text or numbers) -> responses (keyed, a list per row),
    domain_scores, facet_scores, answered; the item columns are left out."""
    items, _, per = layout(key)
    flag = keyed_at_source if isinstance(keyed_at_source, pl.Expr) else pl.lit(keyed_at_source)
    codes = answer_codes(frame, key, flag)
    s = score_codes(codes, per)
    extra = []
    if with_responses:
        in_item_order = keyed_answers(codes, items, per)
        responses = pl.Series("responses", in_item_order).cast(pl.List(pl.Int8))
        extra.append(responses.list.eval(pl.when(pl.element() == 0).then(None).otherwise(pl.element())))
    return frame.drop([f"i{i}" for i in items]).with_columns(
        *extra,
        _struct("domain_scores", DOMAINS, s["domains"]),
        _struct("facet_scores", FACETS, s["facets"]),
        pl.Series("answered", s["answered"], dtype=pl.Int32),
    )


def _as_int8(dtype: pl.DataType, col: str) -> pl.Expr:
    """Answers as Int8, 0 for missing (null, or text that is not a number: validation reports
    those); integers are cast as they are, floats and text through Float32."""
    if dtype.is_integer():
        value = pl.col(col)
    elif dtype.is_numeric():
        value = pl.col(col).cast(pl.Float32)
    else:
        value = pl.col(col).str.strip_chars().cast(pl.Float32, strict=False)
    return value.fill_null(0).cast(pl.Int8)


def _struct(name: str, fields: list[str], values: np.ndarray) -> pl.Series:
    return pl.DataFrame([pl.Series(f, values[:, j], nan_to_null=True) for j, f in enumerate(fields)]).to_struct(name)


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
