"""Resolution: one answer per question and record from the annotators' submitted answers.

Rules (per question; defaults in annotation/settings.py, overridable in the review settings file):
- majority: the most frequent answer; a tie for the top resolves to nothing (`ties` names it);
- mean / median: of the ratings;
- mean_rank: candidates ordered by their mean rank (equal means share a rank; equal means for the
  best place are a tie);
- all: every distinct answer (texts: the corrections proposed), in annotator order.

A record is `resolved` once at least `min_submitted` annotators submitted and no required question
ended in a tie; with fewer submissions (or a tie) it stays `submitted`; with only discarded
responses it is `discarded`; without responses it stays `pending`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

import orjson

from annotation.agreement import canonical, dense_ranks, pair_agreement
from annotation.settings import Question, ReviewSpec, ranks_from_scores
from pipelines.methods.privacy import mask_text_answers

RULES_BY_KIND = {
    "label": ("majority",),
    "rating": ("mean", "median", "majority"),
    "ranking": ("mean_rank", "majority"),
    "text": ("all", "majority"),
}


def resolve_answers(question: Question, values: list[Any]) -> tuple[Any, bool]:
    """(resolved value, tie) for one question's answers on one record."""
    rule = question.resolution_rule()
    values = [v for v in values if v is not None and v != ""]
    if not values:
        return None, False
    if rule == "majority":
        counts = Counter(canonical(question, v) for v in values).most_common()
        if len(counts) > 1 and counts[0][1] == counts[1][1]:
            return None, True
        top = counts[0][0]
        return next(v for v in values if canonical(question, v) == top), False
    if rule == "mean":
        return statistics.fmean(float(v) for v in values), False
    if rule == "median":
        return float(statistics.median(float(v) for v in values)), False
    if rule == "mean_rank":
        ranking = mean_rank(values)
        # a split ranking (mean ranks 1.5 / 1.5) has no best candidate: a tie, stated as such
        return ranking, sum(1 for item in ranking if item["rank"] == 1) > 1
    distinct: dict[Any, Any] = {}
    for v in values:
        distinct.setdefault(canonical(question, v), v)
    return list(distinct.values()), False


def mean_rank(rankings: list[list[dict]]) -> list[dict]:
    ranks: dict[str, list[int]] = {}
    for ranking in rankings:
        for candidate, rank in dense_ranks(ranking).items():
            ranks.setdefault(candidate, []).append(rank)
    names = list(ranks)
    means = [statistics.fmean(ranks[n]) for n in names]
    order = ranks_from_scores([-m for m in means])  # lower mean rank = better
    return sorted(
        ({"value": n, "rank": r, "mean_rank": m} for n, r, m in zip(names, order, means)),
        key=lambda item: (item["rank"], item["value"]),
    )


def accepted_suggestion(question: Question, value: Any, suggestion: Any) -> bool:
    """The answer is the model's suggestion as the UI pre-filled it (submitted untouched, or set back)."""
    if value is None or suggestion is None:
        return False
    try:
        return canonical(question, value) == canonical(question, suggestion)
    except (KeyError, TypeError):
        return False


def resolve_record(
    spec: ReviewSpec,
    submitted: list[tuple[str, dict]],
    discarded: list[str],
    min_submitted: int,
    context: dict | None = None,
    suggestions: dict[str, Any] | None = None,
) -> dict:
    """The record's `review` struct from its submitted [(annotator, {question: value})] responses;
    `suggestions`: question -> the model's suggested value pushed with the record."""
    suggestions = suggestions or {}
    accepted = {
        q.name: [a for a, answers in submitted if accepted_suggestion(q, answers.get(q.name), suggestions.get(q.name))]
        for q in spec.questions
    }
    accepted = {q: who for q, who in accepted.items() if who}
    plain = submitted  # compared with the suggestions before masking: the suggestion is the published text
    submitted = mask_text_answers(spec, submitted)  # reviewers' free text is published: masked like the data
    annotators = [a for a, _ in submitted]
    if not submitted:
        status = "discarded" if discarded else "pending"
        payload = {"submitted": [], "discarded": discarded, **(context or {})} if discarded else None
        return {"status": status, "annotators": [], "responses": _json(payload), "agreement": None}
    resolution, ties, agreements = {}, [], []
    for q in spec.questions:
        values = [answers.get(q.name) for _, answers in submitted if answers.get(q.name) is not None]
        if q.kind == "text":  # masked answers, less those that were the suggestion untouched
            kept = {a for a, answers in plain if answers.get(q.name) is not None} - set(accepted.get(q.name, []))
            values = [answers.get(q.name) for a, answers in submitted if a in kept and answers.get(q.name) is not None]
        value, tie = resolve_answers(q, values)
        resolution[q.name] = value
        if tie:
            ties.append(q.name)
        if q.kind != "text":
            agreement = pair_agreement(q, values)
            if agreement is not None:
                agreements.append(agreement)
    done = len(submitted) >= min_submitted and not [t for t in ties if spec.question(t).required]
    payload = {
        "submitted": [{"annotator": a, "values": v} for a, v in submitted],
        "discarded": discarded,
        "resolution": resolution,
        "rules": {q.name: q.resolution_rule() for q in spec.questions},
        "ties": ties,
        "accepted_suggestion": accepted,  # question -> annotators who submitted the model's suggestion as it was
        "min_submitted": min_submitted,
        **(context or {}),
    }
    return {
        "status": "resolved" if done else "submitted",
        "annotators": annotators,
        "responses": _json(payload),
        "agreement": statistics.fmean(agreements) if agreements else None,
    }


def _json(payload: dict | None) -> str | None:
    return None if payload is None else orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
