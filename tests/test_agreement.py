"""Inter-annotator agreement (annotation.agreement): Krippendorff's alpha against the published
example of Krippendorff (2011), a plainly written reference, and the `krippendorff` package; ranking
units; the per-question report."""

from __future__ import annotations

import math
from itertools import permutations

import numpy as np
import pytest

from annotation.agreement import alpha, question_agreement, reliability_data, unanimous_share
from annotation.settings import Question

NAN = math.nan
# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the example of section C:
# 4 observers x 12 units; alpha nominal 0.743, ordinal 0.815, interval 0.849.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def as_answers(matrix, to_value=lambda v: v) -> list:
    return [
        (f"r{j:02d}", f"coder{i}", to_value(v))
        for i, row in enumerate(matrix)
        for j, v in enumerate(row)
        if not (isinstance(v, float) and math.isnan(v))
    ]


def nominal_alpha_reference(answers) -> float:
    """Krippendorff's nominal alpha from its coincidence matrix, written out plainly."""
    units: dict[str, list] = {}
    for unit, _coder, value in answers:
        units.setdefault(unit, []).append(value)
    coincidence: dict[tuple, float] = {}
    for values in units.values():
        m = len(values)
        if m < 2:
            continue
        for a, b in permutations(range(m), 2):
            key = (values[a], values[b])
            coincidence[key] = coincidence.get(key, 0.0) + 1.0 / (m - 1)
    n_c: dict = {}
    for (c, _k), count in coincidence.items():
        n_c[c] = n_c.get(c, 0.0) + count
    n = sum(n_c.values())
    observed = sum(count for (c, k), count in coincidence.items() if c != k)
    expected = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k) / (n - 1)
    return 1 - observed / expected


def test_alpha_matches_krippendorffs_published_example():
    rating = Question("r", "rating", "r", [1, 2, 3, 4, 5])
    answers = as_answers(KRIPPENDORFF_2011, int)
    assert alpha(rating, answers, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert alpha(rating, answers, "interval") == pytest.approx(0.849, abs=5e-4)
    label = Question("l", "label", "l", ["a", "b", "c", "d", "e"])
    labelled = as_answers(KRIPPENDORFF_2011, lambda v: "abcde"[int(v) - 1])
    assert alpha(label, labelled, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert alpha(label, labelled, "nominal") == pytest.approx(nominal_alpha_reference(labelled))


def test_nominal_alpha_equals_the_reference_on_random_labels():
    rng = np.random.default_rng(3)
    labels = ["yes", "no", "unsure"]
    q = Question("l", "label", "l", labels)
    for _ in range(5):
        answers = [
            (f"u{u}", f"a{a}", labels[rng.integers(0, 2 if u % 3 else 3)])
            for u in range(30)
            for a in range(3)
            if rng.random() < 0.8
        ]
        assert alpha(q, answers, "nominal") == pytest.approx(nominal_alpha_reference(answers))


def test_alpha_is_none_without_pairs_or_without_variation():
    q = Question("l", "label", "l", ["yes", "no"])
    assert alpha(q, [("r1", "a", "yes"), ("r2", "b", "no")], "nominal") is None  # nobody overlaps
    assert alpha(q, [("r1", "a", "yes"), ("r1", "b", "yes")], "nominal") is None  # one value only


def test_ranking_units_are_candidates_with_dense_ranks():
    q = Question("rank", "ranking", "rank", {"c1": "1", "c2": "2", "c3": "3"})
    r = lambda *order: [{"value": v, "rank": i + 1} for i, v in enumerate(order)]  # noqa: E731
    answers = [
        ("p1", "a", r("c1", "c2", "c3")),
        ("p1", "b", r("c1", "c3", "c2")),
        ("p2", "a", [{"value": "c1", "rank": 1}, {"value": "c2", "rank": 3}, {"value": "c3", "rank": 3}]),
        ("p2", "b", r("c2", "c1", "c3")),
    ]
    matrix, domain = reliability_data(q, answers)
    assert domain == [1, 2, 3]
    # units sorted (p1,c1) (p1,c2) (p1,c3) (p2,c1) (p2,c2) (p2,c3); a's tied ranks 1,3,3 become 1,2,2
    assert matrix.tolist() == [[1, 2, 3, 1, 2, 2], [1, 3, 2, 2, 1, 3]]
    import krippendorff

    assert alpha(q, answers, "ordinal") == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, value_domain=domain, level_of_measurement="ordinal")
    )
    assert unanimous_share(q, answers) == 0.0


def test_question_agreement_counts_and_unanimous_share():
    q = Question("v", "label", "v", ["YTA", "NTA"])
    answers = [("r1", "a", "YTA"), ("r1", "b", "YTA"), ("r2", "a", "YTA"), ("r2", "b", "NTA"), ("r3", "a", "NTA")]
    report = question_agreement(q, answers)
    assert (report["answers"], report["records"], report["records_multi"], report["annotators"]) == (5, 3, 2, 2)
    assert report["unanimous"] == 0.5
    assert set(report["alpha"]) == {"nominal"}
