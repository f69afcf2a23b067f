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


def _bounds(scale) -> tuple[int, int, tuple[int, ...]]:
    """(lowest valid code, highest, missing codes) of a response scale; None: IPIP's 1..5 with 0 missing."""
    if scale is None:
        return 0, SCALE_MAX, (0,)
    codes = (scale.min, scale.max, *scale.missing)
    return min(codes), max(codes), tuple(scale.missing)


def answer_problem(col: str, scale=None) -> pl.Expr:
    """A message when the raw text of an answer is not a whole number on the response scale (or
    one of its missing codes), else null. `scale`: an instrument's `response_scale` (default the
    IPIP-NEO's 1..5, 0 = missing)."""
    lo, hi, missing = _bounds(scale)
    text = pl.col(col).cast(pl.String).str.strip_chars()
    value = text.cast(pl.Float64, strict=False)
    present = text.is_not_null() & (text != "")
    valid = ((value >= scale.min) & (value <= scale.max)) if scale is not None else value.is_between(lo, hi)
    if scale is not None and missing:
        valid = valid | value.is_in(pl.lit([float(m) for m in missing], pl.List(pl.Float64)).first())
    where = (
        (
            f"outside {scale.min}..{scale.max}"
            + (f" ({', '.join(map(str, missing))} or blank means missing)" if missing else " (blank means missing)")
        )
        if scale is not None
        else "outside 1..5 (0 or blank means missing)"
    )
    return (
        pl.when(present & value.is_null())
        .then(pl.format("{}: answer '{}' is not a number", pl.lit(col), text))
        .when(present & (value != value.floor()))
        .then(pl.format("{}: answer '{}' is not a whole number", pl.lit(col), text))
        .when(present & ~valid)
        .then(pl.format("{}: answer {} is " + where, pl.lit(col), text))
        .otherwise(None)
    )


def answer_ok(col: str, dtype: pl.DataType, scale=None) -> pl.Expr:
    """True where an answer is plainly valid (a code of the scale as written, or blank): a cheap
    test over every row, so that `answer_problem` (string work that names the problem) runs only on
    the rest. It may send valid answers such as ' 3' or '3.0' to `answer_problem`, never the reverse."""
    lo, hi, missing = _bounds(scale)
    codes = list(range(lo, hi + 1)) if scale is None else sorted({*range(scale.min, scale.max + 1), *missing})
    c = pl.col(col)
    if dtype == pl.String:
        return c.is_null() | c.is_in(pl.Series([str(v) for v in codes] + [""]).implode())
    contiguous = codes == list(range(codes[0], codes[-1] + 1))
    if dtype.is_integer():
        return c.is_null() | (
            c.is_between(codes[0], codes[-1])
            if contiguous
            else c.cast(pl.Int64).is_in(pl.Series(codes, dtype=pl.Int64).implode())
        )
    if dtype.is_float():
        return c.is_null() | (
            c.is_between(codes[0], codes[-1]) & (c == c.floor())
            if contiguous
            else c.is_in(pl.Series([float(v) for v in codes]).implode())
        )
    return pl.lit(False)


def as_instrument(key):
    """An `Instrument`, given one or (as older callers do) the IPIP-NEO key frame of `load_key`."""
    if isinstance(key, pl.DataFrame):
        from sources.instruments import instrument

        return instrument(f"ipip_neo_{key.height}")
    return key


def layout(inst) -> tuple[list[int], list[bool], int, int]:
    """Item numbers in "position-major" order: the first item of every facet (facets grouped by
    domain, in domain order), then the second of every facet, and so on; with their reverse-keyed
    flags, the items per facet and the facets per domain. In that order, with a (rows x items)
    array in Fortran order, the p-th item of every facet is one contiguous block of columns, and a
    facet's sum is the sum of `per` blocks."""
    inst = as_instrument(inst)
    held = _LAYOUTS.get(id(inst))
    if held is None or held[0] is not inst:  # per definition object: the key tuple costs per call
        held = _LAYOUTS[id(inst)] = (
            inst,
            _layout(
                tuple((i.item, inst.facet_of(i), i.keyed) for i in inst.items),
                tuple((s.code, s.parent) for s in inst.scales if s.parent),
                tuple(inst.domains),
            ),
        )
    return held[1]


_LAYOUTS: dict[int, tuple] = {}


@lru_cache(maxsize=16)
def _layout(items: tuple, facet_parents: tuple, domains: tuple) -> tuple[list[int], list[bool], int, int]:
    facets = [f for d in domains for f, p in facet_parents if p == d]
    by_facet = {f: [(no, keyed) for no, facet, keyed in items if facet == f] for f in facets}
    per = len(by_facet[facets[0]])
    ordered = [by_facet[f][p] for p in range(per) for f in facets]
    return [i for i, _ in ordered], [k < 0 for _, k in ordered], per, len(facets) // len(domains)


@lru_cache(maxsize=8)
def _packing(per: int, top: int = SCALE_MAX) -> tuple[type, int, np.ndarray]:
    """How a facet's answers (1..top) are packed: each answered item is coded as its keyed value
    plus `1 << shift` (0 when missing), so the sum of a facet's codes holds the sum of its values in
    the low `shift` bits and the number answered above them. Returns the code dtype, the shift, and
    the table from a packed facet sum to the facet mean (NaN when fewer than half answered)."""
    shift = (per * top).bit_length()
    bits = shift + per.bit_length()
    if bits > 16:
        raise ValueError(f"{per} items per facet: too many to pack")
    dtype = np.uint8 if bits <= 8 else np.uint16
    packed = np.arange(1 << bits)
    count, total = packed >> shift, packed & ((1 << shift) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where((count * 2 >= per) & (total <= count * top), total / count, np.nan)
    return dtype, shift, means


def answer_codes(frame: pl.DataFrame, key, keyed_at_source: pl.Expr) -> np.ndarray:
    """Packed codes of the keyed answers (see `_packing`) as a (rows x items) array in `layout`
    order and Fortran order; an item is missing when its answer is 0, blank, or text that is not a
    number (validation reports those); reverse-keyed items are flipped (top + 1 - x) unless the row
    was keyed at the source.

    The answers go to numpy as int8 and are keyed and coded there with a few whole-array operations:
    one polars expression per item (an earlier version) cost more than all the scoring."""
    inst = as_instrument(key)
    top = inst.response_scale.max
    items, reverse, per, _ = layout(inst)
    dtype, shift, _ = _packing(per, top)
    names = {c.lower(): c for c in frame.columns}
    columns = [names[inst.columns[i - 1]] for i in items]
    schema = frame.schema  # built anew on every access
    plain = all(schema[c] == pl.Int8 for c in columns) and not any(frame.get_column(c).null_count() for c in columns)
    raw = frame.select(columns if plain else (_as_int8(schema[c], c) for c in columns))
    answers = raw.to_numpy(order="fortran").view(np.uint8)  # int8 -> uint8: a negative is >= 128
    if answers.size and answers.max() > top:
        raise ValueError(f"answers outside 0..{top} reached scoring: validation must quarantine them")
    flip = np.asarray(reverse, dtype=bool)
    at_source = frame.select(keyed_at_source.fill_null(False)).to_series()  # one value for a literal
    one = dtype(1 << shift)

    def code(flipped: np.ndarray) -> np.ndarray:
        # answered: (1 << shift) + x, or + (top + 1 - x) when flipped; missing: 0. In unsigned
        # arithmetic (-x wraps), a per-column sign and offset broadcast over the rows.
        sign = np.where(flipped, -1, 1).astype(dtype)
        offset = (one + np.where(flipped, top + 1, 0)).astype(dtype)
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


def score_codes(codes: np.ndarray, per: int, per_domain: int = 6, top: int = SCALE_MAX) -> dict:
    """Facet and domain means (NaN when fewer than half answered) and answered counts, from packed
    answer codes (rows x items, `layout` order, Fortran order)."""
    n = codes.shape[0]
    k = codes.shape[1] // per  # facets
    _, shift, facet_means = _packing(per, top)
    packed = np.array(codes[:, :k], order="F")
    for p in range(1, per):  # block p holds the p-th item of every facet: contiguous in Fortran order
        packed += codes[:, p * k : (p + 1) * k]
    f_sum = (packed & ((1 << shift) - 1)).astype(np.int16)
    f_cnt = (packed >> shift).astype(np.int16)
    # facets are grouped by domain: column j of domain d is facet d * per_domain + j
    d_sum = sum(f_sum[:, j::per_domain] for j in range(per_domain))
    d_cnt = sum(f_cnt[:, j::per_domain] for j in range(per_domain))
    with np.errstate(invalid="ignore", divide="ignore"):
        domains = np.where(d_cnt * 2 >= per_domain * per, d_sum / d_cnt, np.nan)
    facets = np.empty((n, k), order="F")
    for j in range(k):  # a column at a time: contiguous in and out (a 2-D take writes row-major)
        facet_means.take(packed[:, j], out=facets[:, j])
    return {"facets": facets, "domains": domains, "answered": d_cnt.sum(axis=1)}


def keyed_answers(codes: np.ndarray, items: list[int], per: int, top: int = SCALE_MAX) -> np.ndarray:
    """The keyed answers (0 for missing) in item order, from `answer_codes`."""
    _, shift, _ = _packing(per, top)
    return np.ascontiguousarray((codes & ((1 << shift) - 1)).astype(np.int8)[:, np.argsort(items)])


def score_frame(frame: pl.DataFrame, key, keyed_at_source: pl.Expr | bool, with_responses: bool = True) -> pl.DataFrame:
    """The packed scorer: `frame` with the item columns (text or numbers) of an instrument that fits
    it (`packable`; the IPIP-NEO key frame of `load_key` stands for its instrument) -> responses
    (keyed, a list per row), domain_scores, facet_scores, answered; the item columns are left out."""
    inst = as_instrument(key)
    top = inst.response_scale.max
    items, _, per, per_domain = layout(inst)
    flag = keyed_at_source if isinstance(keyed_at_source, pl.Expr) else pl.lit(keyed_at_source)
    codes = answer_codes(frame, inst, flag)
    s = score_codes(codes, per, per_domain, top)
    facets = [f for d in inst.domains for f in inst.facets if inst._parent[f] == d]
    extra = []
    if with_responses:
        in_item_order = keyed_answers(codes, items, per, top)
        responses = pl.Series("responses", in_item_order).cast(pl.List(pl.Int8))
        extra.append(responses.list.eval(pl.when(pl.element() == 0).then(None).otherwise(pl.element())))
    names = {c.lower(): c for c in frame.columns}
    return frame.drop([names[c] for c in inst.columns]).with_columns(
        *extra,
        _struct("domain_scores", inst.domains, s["domains"]),
        _struct("facet_scores", facets, s["facets"]),
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


# -- any instrument (sources/instruments.py): a plain matrix scorer -------------------------------


def instrument_answers(frame: pl.DataFrame, inst) -> np.ndarray:
    """The answers to `inst`'s items as a (rows x items) float array in item order, NaN where
    missing: blank, one of the scale's missing codes, or text that is not a number (validation
    reports those)."""
    scale = inst.response_scale
    columns = {c.lower(): c for c in frame.columns}
    exprs = []
    for col in inst.columns:
        c = pl.col(columns[col])
        value = c.cast(pl.String).str.strip_chars() if frame.schema[columns[col]] == pl.String else c
        value = value.cast(pl.Float64, strict=False)
        exprs.append(
            pl.when(value.is_in(pl.lit([float(m) for m in scale.missing], pl.List(pl.Float64)).first()))
            .then(None)
            .otherwise(value)
            .alias(col)
        )
    answers = frame.select(exprs).to_numpy().astype(np.float64) if exprs else np.empty((frame.height, 0))
    bad = ~np.isnan(answers) & ((answers < scale.min) | (answers > scale.max) | (answers != np.floor(answers)))
    if bad.any():
        raise ValueError(f"answers outside {scale.min}..{scale.max} reached scoring: validation must quarantine them")
    return answers


def key_answers(answers: np.ndarray, inst, keyed_at_source: np.ndarray | bool = False) -> np.ndarray:
    """Reverse-keyed items flipped (min + max - x) unless the row was keyed at the source."""
    flip = np.array([i.keyed < 0 for i in inst.items])
    scale = inst.response_scale
    at_source = np.broadcast_to(np.asarray(keyed_at_source, dtype=bool), (answers.shape[0],))
    flips = flip[None, :] & ~at_source[:, None]
    return np.where(flips, scale.min + scale.max - answers, answers)


def _membership(inst, codes: list[str]) -> np.ndarray:
    """(items x scales) 0/1: item i counts in scale s (a domain holds its facets' items)."""
    m = np.zeros((len(inst.items), len(codes)))
    for s, code in enumerate(codes):
        for no in inst.scale_items(code):
            m[no - 1, s] = 1.0
    return m


def scale_scores(keyed: np.ndarray, inst, codes: list[str]) -> np.ndarray:
    """Scores of `codes` by the instrument's rule: `mean` of the answered items, `sum` (the mean
    times the number of items: a prorated sum), or `centered` (the mean less the respondent's mean
    over every scored item, Schwartz's correction for scale use); NaN where fewer than
    `min_answered` of the scale's items (for `centered`, also of all scored items) were answered."""
    rule, need = inst.scoring.rule, inst.scoring.min_answered
    m = _membership(inst, codes)
    answered = ~np.isnan(keyed)
    sums = np.nan_to_num(keyed) @ m
    counts = answered.astype(np.float64) @ m
    size = m.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where((counts > 0) & (counts >= need * size), sums / counts, np.nan)
        if rule == "sum":
            return means * size
        if rule == "centered":
            scored = np.array([i.scale is not None for i in inst.items])
            n_all = answered[:, scored].sum(axis=1)
            total = np.nan_to_num(keyed[:, scored]).sum(axis=1)
            centre = np.where((n_all > 0) & (n_all >= need * scored.sum()), total / n_all, np.nan)
            return means - centre[:, None]
    return means


def failed_checks(answers: np.ndarray, inst) -> np.ndarray:
    """Per row, how many catch items were answered in the failing range (a missing one fails none)."""
    failed = np.zeros(answers.shape[0], dtype=np.int16)
    for item in inst.checks:
        x = answers[:, item.item - 1]
        if item.check.fail_above is not None:
            failed += np.nan_to_num(x, nan=-np.inf) > item.check.fail_above
        if item.check.fail_below is not None:
            failed += np.nan_to_num(x, nan=np.inf) < item.check.fail_below
    return failed


def packable(inst) -> bool:
    """Whether the packed scorer above fits: 1..max answers with 0 as the only missing code, the
    mean rule with half the items, every item in a facet, facets of equal size and domains with
    equal numbers of facets, no catch items (IPIP-NEO-120/300, BFI-2)."""
    s, facets = inst.response_scale, inst.facets
    if (s.min, tuple(s.missing), inst.scoring.rule, inst.scoring.min_answered) != (1, (0,), "mean", 0.5):
        return False
    if not facets or inst.checks or any(inst.facet_of(i) is None for i in inst.items):
        return False
    sizes = {len(inst.scale_items(f)) for f in facets}
    per_domain = {sum(sc.parent == d for sc in inst.scales) for d in inst.domains}
    return len(sizes) == 1 and len(per_domain) == 1 and s.max * max(sizes) < 256


def score_instrument(
    frame: pl.DataFrame, inst, keyed_at_source: pl.Expr | bool = False, with_responses: bool = True
) -> pl.DataFrame:
    """`frame` with the instrument's item columns -> responses (keyed, item order), domain_scores,
    facet_scores (when the instrument has facets), answered and, with catch items, checks_failed;
    the item columns are left out. Instruments that fit the packed scorer use it."""
    if packable(inst):
        return score_frame(frame, inst, keyed_at_source, with_responses)
    flag = keyed_at_source if isinstance(keyed_at_source, pl.Expr) else pl.lit(keyed_at_source)
    at_source = frame.select(flag.fill_null(False).alias("k")).to_series().to_numpy()
    at_source = np.broadcast_to(at_source, (frame.height,)) if at_source.size == 1 else at_source
    answers = instrument_answers(frame, inst)
    keyed = key_answers(answers, inst, at_source)
    scored = np.array([i.scale is not None for i in inst.items])
    extra = []
    if with_responses:
        extra.append(
            pl.Series("responses", keyed.astype(np.float64))
            .cast(pl.List(pl.Float64))
            .list.eval(pl.element().fill_nan(None))
            .cast(pl.List(pl.Int8))
        )
    if inst.facets:
        extra.append(_struct("facet_scores", inst.facets, scale_scores(keyed, inst, inst.facets)))
    if inst.checks:
        extra.append(pl.Series("checks_failed", failed_checks(answers, inst), dtype=pl.Int16))
    present = {c.lower(): c for c in frame.columns}
    return frame.drop([present[c] for c in inst.columns]).with_columns(
        *extra,
        _struct("domain_scores", inst.domains, scale_scores(keyed, inst, inst.domains)),
        pl.Series("answered", (~np.isnan(answers[:, scored])).sum(axis=1), dtype=pl.Int32),
    )
