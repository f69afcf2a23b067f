"""Review outcomes as flat, typed columns of the next version, the way a model builder reads them.

Per question `q` of the record type:
- `human_<q>_answers`: each annotator's submitted answer, list<struct{annotator, value,
  accepted_suggestion}> (the last: the answer is the model's suggestion as the form pre-filled it);
- `human_<q>`: the resolved answer by the question's rule, only where the record is `resolved`
  (null when the record is unresolved or the answers tied); a free-text answer that is the
  suggestion untouched is not a correction and is left out of it;
- `human_<q>_agreement`: share of annotator pairs that gave the same answer (null below two answers);
- `human_<q>_tie`: the answers tied (a label with two top counts, a ranking with two best candidates).

Types by question kind: label -> string; rating -> int64 answers, float64 resolved (mean or median);
ranking -> list<struct{candidate, rank}> (resolved adds `mean_rank`); text -> string answers, the
distinct answers resolved. Records nobody answered have nulls, so the schema does not depend on
who answered what.

For preference pairs, `chosen`/`rejected` come from the humans where their resolved ranking has one
best candidate (`rejected`: their worst; among equally worst, the model's rejected if it is one); the model's pick stays in `model_chosen`/`model_rejected`, and
`preference_source` says which it is: `human`, `model` (no resolved human ranking), or `human_tie`
(the humans' best candidates tied: the model's pick stays, and the tie is stated).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from annotation.agreement import pair_agreement
from annotation.resolve import resolve_answers
from annotation.settings import Question, ReviewSpec

RANK = pl.Struct({"candidate": pl.String, "rank": pl.Int64})
RESOLVED_RANK = pl.Struct({"candidate": pl.String, "rank": pl.Int64, "mean_rank": pl.Float64})


def value_dtype(q: Question) -> pl.DataType:
    return {"label": pl.String, "rating": pl.Int64, "ranking": pl.List(RANK), "text": pl.String}[q.kind]


def resolved_dtype(q: Question) -> pl.DataType:
    return {"label": pl.String, "rating": pl.Float64, "ranking": pl.List(RESOLVED_RANK), "text": pl.List(pl.String)}[
        q.kind
    ]


def _value(q: Question, v: Any) -> Any:
    if v is None:
        return None
    if q.kind == "ranking":
        return [
            {"candidate": item["value"], "rank": item.get("rank")}
            for item in sorted(v, key=lambda i: (i.get("rank") or 0, i["value"]))
        ]
    if q.kind == "rating":
        return int(v)
    return str(v)


def _resolved(q: Question, v: Any) -> Any:
    if v is None:
        return None
    if q.kind == "ranking":
        return [{"candidate": item["value"], "rank": item["rank"], "mean_rank": item["mean_rank"]} for item in v]
    if q.kind == "rating":
        return float(v)
    if q.kind == "text":
        return [str(x) for x in v]
    return str(v)


@dataclass
class RecordAnswers:
    """One record's submitted answers (masked like the data), who submitted each question's model
    suggestion as it was, and the record's review status."""

    submitted: list[tuple[str, dict]]
    accepted: dict[str, list[str]] = field(default_factory=dict)
    status: str = "resolved"


def question_columns(spec: ReviewSpec, by_record: list[RecordAnswers | None]) -> list[pl.Series]:
    """The flat columns, one entry per record (None: the record was not in Argilla or unanswered).
    `human_<q>` is set only where the record is resolved (min_submitted annotators submitted, no
    required question tied) and the question's answers did not tie; a free-text answer that is the
    model's suggestion untouched is no correction, so it is left out of `human_<q>`."""
    out = []
    for q in spec.questions:
        answers, resolved, agreement, tie = [], [], [], []
        for record in by_record:
            submitted = record.submitted if record else []
            accepted = set(record.accepted.get(q.name, [])) if record else set()
            values = [(a, vals.get(q.name)) for a, vals in submitted if vals.get(q.name) not in (None, "")]
            if not values:
                answers.append(None), resolved.append(None), agreement.append(None), tie.append(None)
                continue
            counted = [v for a, v in values if not (q.kind == "text" and a in accepted)]
            value, tied = resolve_answers(q, counted)
            answers.append(
                [{"annotator": a, "value": _value(q, v), "accepted_suggestion": a in accepted} for a, v in values]
            )
            resolved.append(None if tied or record.status != "resolved" else _resolved(q, value))
            agreement.append(pair_agreement(q, [v for _, v in values]) if q.kind != "text" else None)
            tie.append(tied)
        base = f"human_{q.name}"
        out += [
            pl.Series(
                f"{base}_answers",
                answers,
                dtype=pl.List(
                    pl.Struct({"annotator": pl.String, "value": value_dtype(q), "accepted_suggestion": pl.Boolean})
                ),
            ),
            pl.Series(base, resolved, dtype=resolved_dtype(q)),
            pl.Series(f"{base}_agreement", agreement, dtype=pl.Float64),
            pl.Series(f"{base}_tie", tie, dtype=pl.Boolean),
        ]
    return out


def with_review_columns(frame: pl.DataFrame, spec: ReviewSpec, by_record: list[RecordAnswers | None]) -> pl.DataFrame:
    columns = question_columns(spec, by_record)
    frame = frame.drop([c.name for c in columns if c.name in frame.columns]).with_columns(columns)
    if spec.record_type == "PreferencePair" and {"chosen", "rejected", "candidates"} <= set(frame.columns):
        frame = human_preferences(frame, spec)
    return frame


def human_preferences(frame: pl.DataFrame, spec: ReviewSpec) -> pl.DataFrame:
    """`chosen`/`rejected` from the humans' resolved ranking where it has one best and one worst."""
    ranking = next(q for q in spec.questions if q.kind == "ranking")
    if "model_chosen" not in frame.columns:  # a second pull keeps the model's original pick
        frame = frame.with_columns(pl.col("chosen").alias("model_chosen"), pl.col("rejected").alias("model_rejected"))
    chosen, rejected, source = [], [], []
    statuses = frame["review"].struct.field("status").to_list()
    rows = frame.select(
        "model_chosen", "model_rejected", "candidates", f"human_{ranking.name}", f"human_{ranking.name}_tie"
    ).iter_rows()
    for status, (m_chosen, m_rejected, candidates, resolved, tie) in zip(statuses, rows):
        if tie:
            chosen.append(m_chosen), rejected.append(m_rejected), source.append("human_tie")
            continue
        if status != "resolved" or not resolved:
            chosen.append(m_chosen), rejected.append(m_rejected), source.append("model")
            continue
        texts = {f"candidate_{i + 1}": c.get("text") for i, c in enumerate(candidates or [])}
        ranks = [(r["rank"], r["candidate"]) for r in resolved if r["candidate"] in texts and texts[r["candidate"]]]
        best = [c for r, c in ranks if r == min(r for r, _ in ranks)]
        worst = [c for r, c in ranks if r == max(r for r, _ in ranks)]
        if len(best) == 1 and best != worst:
            # several equally worst: the model's rejected if it is one of them, else the first
            worst_texts = [texts[c] for c in worst]
            chosen.append(texts[best[0]]), source.append("human")
            rejected.append(m_rejected if m_rejected in worst_texts else worst_texts[0])
        else:
            chosen.append(m_chosen), rejected.append(m_rejected), source.append("human_tie")
    return frame.with_columns(
        pl.Series("chosen", chosen, dtype=pl.String),
        pl.Series("rejected", rejected, dtype=pl.String),
        pl.Series("preference_source", source, dtype=pl.String),
    )


def column_descriptions(spec: ReviewSpec) -> dict[str, str]:
    """Card descriptions of the columns `with_review_columns` adds."""
    out = {}
    for q in spec.questions:
        base = f"human_{q.name}"
        out[f"{base}_answers"] = (
            f'each annotator\'s submitted answer to "{q.title}" ({q.kind}); `accepted_suggestion`: '
            "the answer is the model's suggestion as the form pre-filled it"
        )
        out[base] = (
            f'the resolved answer to "{q.title}" by rule {q.resolution_rule()}, set only where the record is '
            "resolved (null: unresolved, or the answers tied)"
            + ("; a suggestion submitted untouched is no correction" if q.kind == "text" else "")
        )
        out[f"{base}_agreement"] = f'share of annotator pairs that gave the same answer to "{q.title}"'
        out[f"{base}_tie"] = f'whether the answers to "{q.title}" tied'
    if spec.record_type == "PreferencePair":
        out.update(
            {
                "model_chosen": "the LLM judge's preferred candidate (what `chosen` was before human review)",
                "model_rejected": "the LLM judge's least preferred candidate",
                "preference_source": "where chosen/rejected come from: human, model (no resolved human ranking), "
                "or human_tie (the humans' best tied; the model's pick kept)",
            }
        )
    return out
