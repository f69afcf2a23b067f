"""Agreement between annotators, per question: Krippendorff's alpha and the share of unanimous items.

Answers are (record_id, annotator, value) triples of submitted responses to one question.
- labels: alpha at the nominal level over the label codes;
- ratings: alpha at the ordinal and the interval level over the rating scale;
- rankings: every (record, candidate) is a unit and its rank is the value; alpha at the ordinal
  level over ranks 1..n. Each annotator's ranks are first made dense (1, 2, ...) over the
  candidates of the record, so that a missing candidate does not shift the others.
Alpha uses every unit with at least two answers (the `krippendorff` package drops the others);
it is None when no unit has two answers, or when every answer is the same value (alpha is then
undefined: no disagreement is expected either). Texts get the unanimous share only.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from typing import Any

import numpy as np

from annotation.settings import Question

Answer = tuple[str, str, Any]  # record_id, annotator, value


def canonical(question: Question, value: Any) -> Any:
    """A hashable, comparable form of an answer (rankings as a tuple of (value, rank))."""
    if question.kind == "ranking":
        return tuple(sorted((item["value"], item["rank"]) for item in value))
    if question.kind == "text":
        return " ".join(str(value).split())
    return value


def dense_ranks(value: list[dict]) -> dict[str, int]:
    """{candidate: rank} with ranks renumbered 1, 2, ... in order (ties keep sharing a rank)."""
    distinct = sorted({item["rank"] for item in value if item.get("rank") is not None})
    position = {r: i + 1 for i, r in enumerate(distinct)}
    return {item["value"]: position[item["rank"]] for item in value if item.get("rank") is not None}


def reliability_data(question: Question, answers: list[Answer]) -> tuple[np.ndarray, list]:
    """(raters x units matrix with NaN for missing, value domain) for `krippendorff.alpha`."""
    raters = sorted({a for _, a, _ in answers})
    cells: dict[tuple, dict[str, float]] = defaultdict(dict)
    if question.kind == "ranking":
        for record, annotator, value in answers:
            for candidate, rank in dense_ranks(value).items():
                cells[(record, candidate)][annotator] = rank
        domain = list(range(1, max(len(question.values), 2) + 1))
    elif question.kind == "label":
        codes = {label: i for i, label in enumerate(question.values)}
        for record, annotator, value in answers:
            cells[(record,)][annotator] = codes.setdefault(value, len(codes))
        domain = sorted(codes.values())
    else:
        for record, annotator, value in answers:
            cells[(record,)][annotator] = float(value)
        domain = sorted({float(v) for v in question.values} | {v for c in cells.values() for v in c.values()})
    units = sorted(cells)
    matrix = np.full((len(raters), len(units)), np.nan)
    for j, unit in enumerate(units):
        for i, rater in enumerate(raters):
            if rater in cells[unit]:
                matrix[i, j] = cells[unit][rater]
    return matrix, domain


def alpha(question: Question, answers: list[Answer], level: str) -> float | None:
    import krippendorff

    matrix, domain = reliability_data(question, answers)
    pairable = (~np.isnan(matrix)).sum(axis=0) >= 2
    if not pairable.any():
        return None
    values = matrix[:, pairable]
    if np.unique(values[~np.isnan(values)]).size < 2:
        return None
    return float(krippendorff.alpha(reliability_data=values, value_domain=domain, level_of_measurement=level))


def by_record(answers: list[Answer]) -> dict[str, list[tuple[str, Any]]]:
    grouped: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for record, annotator, value in answers:
        grouped[record].append((annotator, value))
    return grouped


def unanimous_share(question: Question, answers: list[Answer]) -> float | None:
    """Of the records with two or more answers, the share where all answers are the same."""
    multi = [vals for vals in by_record(answers).values() if len(vals) >= 2]
    if not multi:
        return None
    same = sum(1 for vals in multi if len({canonical(question, v) for _, v in vals}) == 1)
    return same / len(multi)


def pair_agreement(question: Question, values: list[Any]) -> float | None:
    """Share of annotator pairs that gave the same answer on one record (None below two)."""
    if len(values) < 2:
        return None
    forms = [canonical(question, v) for v in values]
    pairs = list(combinations(forms, 2))
    return sum(1 for a, b in pairs if a == b) / len(pairs)


def question_agreement(question: Question, answers: list[Answer]) -> dict:
    """What the card reports for one question."""
    grouped = by_record(answers)
    report = {
        "question": question.name,
        "kind": question.kind,
        "answers": len(answers),
        "records": len(grouped),
        "records_multi": sum(1 for v in grouped.values() if len(v) >= 2),
        "annotators": len({a for _, a, _ in answers}),
        "unanimous": unanimous_share(question, answers),
        "alpha": {level: alpha(question, answers, level) for level in question.agreement_levels()},
    }
    return report
