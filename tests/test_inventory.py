"""The vectorized scorer (packed answer codes, block sums) against a plain loop over the key, on
random answers: both instruments, rows keyed at the source mixed with rows that are not, and the
column types the readers produce (int8, int64 with nulls, text)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from pipelines.methods.inventory import DOMAINS, FACETS, score_frame
from sources.ipip import load_key


def reference(answers: np.ndarray, at_source: np.ndarray, key: pl.DataFrame) -> list[dict]:
    rows = []
    facet_of = dict(zip(key["item_no"], key["facet_code"]))
    reverse = dict(zip(key["item_no"], key["keyed"]))
    for row, keyed_already in zip(answers, at_source):
        keyed = {}
        for item_no in facet_of:
            x = int(row[item_no - 1])
            keyed[item_no] = None if x == 0 else (6 - x if reverse[item_no] < 0 and not keyed_already else x)

        def mean(items):
            got = [keyed[i] for i in items if keyed[i] is not None]  # noqa: B023  (called within the iteration)
            return sum(got) / len(got) if len(got) * 2 >= len(items) else None

        facets = {f: mean([i for i in facet_of if facet_of[i] == f]) for f in FACETS}
        domains = {d: mean([i for i in facet_of if facet_of[i][0] == d]) for d in DOMAINS}
        rows.append(
            {
                "responses": [keyed[i] for i in sorted(keyed)],
                "facets": facets,
                "domains": domains,
                "answered": sum(v is not None for v in keyed.values()),
            }
        )
    return rows


def random_answers(n_items: int, rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    answers = rng.integers(1, 6, size=(rows, n_items))
    # every missing rate from none to all, so scores fall on both sides of the half-answered rule
    missing = rng.random((rows, n_items)) < np.linspace(0, 1, rows)[:, None]
    return np.where(missing, 0, answers)


def assert_matches(got: pl.DataFrame, expected: list[dict]) -> None:
    assert got.height == len(expected)
    for row, want in zip(got.iter_rows(named=True), expected):
        assert row["responses"] == want["responses"]
        assert row["answered"] == want["answered"]
        for name, field in (("facets", "facet_scores"), ("domains", "domain_scores")):
            for scale, value in want[name].items():
                assert row[field][scale] == pytest.approx(value), (scale, row[field][scale], value)


@pytest.mark.parametrize("n_items", [120, 300])
def test_scores_match_a_plain_loop_over_the_key(n_items):
    key = load_key(n_items)
    answers = random_answers(n_items, 60, seed=n_items)
    at_source = np.arange(60) % 3 == 0  # some rows keyed at collection time, as .dat files are
    frame = pl.DataFrame(
        {f"i{i}": pl.Series(answers[:, i - 1], dtype=pl.Int8) for i in range(1, n_items + 1)}
    ).with_columns(pl.Series("_keyed", at_source))
    got = score_frame(frame, key, pl.col("_keyed"))
    assert_matches(got, reference(answers, at_source, key))
    # one flag for every row
    for flag in (False, True):
        got = score_frame(frame, key, flag)
        assert_matches(got, reference(answers, np.full(60, flag), key))


def test_integer_nulls_and_text_answers_are_scored_like_int8():
    key = load_key(120)
    answers = random_answers(120, 40, seed=3)
    ints = pl.DataFrame({f"i{i}": pl.Series(answers[:, i - 1], dtype=pl.Int64) for i in range(1, 121)})
    # a blank is missing like a 0: null in the integer columns, "" or spaces in text columns
    with_nulls = ints.with_columns(
        pl.when(pl.col(c) == 0).then(None).otherwise(pl.col(c)).alias(c) for c in ints.columns
    )
    text = ints.with_columns(
        pl.when(pl.col(c) == 0).then(pl.lit(" ")).otherwise(pl.col(c).cast(pl.String) + " ").alias(c)
        for c in ints.columns
    )
    expected = reference(answers, np.zeros(40, dtype=bool), key)
    for frame in (ints, with_nulls, text):
        assert_matches(score_frame(frame, key, False), expected)


def test_an_answer_out_of_range_is_refused_not_scored():
    key = load_key(120)
    frame = pl.DataFrame({f"i{i}": pl.Series([3], dtype=pl.Int8) for i in range(1, 121)})
    with pytest.raises(ValueError, match="outside 0..5"):
        score_frame(frame.with_columns(pl.lit(7, pl.Int8).alias("i9")), key, False)
    with pytest.raises(ValueError, match="outside 0..5"):
        score_frame(frame.with_columns(pl.lit(-1, pl.Int8).alias("i9")), key, False)


@pytest.mark.parametrize(
    "values, dtype",
    [
        (["0", "3", "5", "", None, " 3", "3.0", "2.5", "7", "-1", "x", "03"], pl.String),
        ([0, 3, 5, None, 6, -1, 127], pl.Int8),
        ([0.0, 3.0, 5.0, None, 2.5, 7.0, -1.0, float("nan")], pl.Float64),
    ],
)
def test_the_cheap_answer_test_never_passes_what_validation_would_quarantine(values, dtype):
    from pipelines.methods.inventory import answer_ok, answer_problem

    frame = pl.DataFrame({"i1": pl.Series(values, dtype=dtype)})
    got = frame.select(ok=answer_ok("i1", dtype), problem=answer_problem("i1"))
    for value, ok, problem in zip(values, got["ok"], got["problem"]):
        assert not (ok and problem), (value, problem)  # ok implies no problem
    plain = {"0", "3", "5", "", None, 0, 3, 5}
    assert [v for v, ok in zip(values, got["ok"]) if ok] == [v for v in values if v in plain]
    # what the cheap test leaves to answer_problem is still judged by it: ' 3' and '3.0' are fine
    if dtype == pl.String:
        assert dict(zip(values, got["problem"]))[" 3"] is None
        assert dict(zip(values, got["problem"]))["3.0"] is None
        assert "not a whole number" in dict(zip(values, got["problem"]))["2.5"]
