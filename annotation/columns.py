"""Review outcomes as flat, typed columns of the next version, the way a model builder reads them.

Per question `q` of the record type:
- `human_<q>_answers`: each annotator's submitted answer, list<struct{annotator, value}>;
- `human_<q>`: the resolved answer by the question's rule (null when unresolved or tied);
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
    return {"label": pl.String, "rating": pl.Float64, "ranking": pl.List(RESOLVED_RANK), "text": pl.List(pl.String)}[q.kind]


def _value(q: Question, v: Any) -> Any:
    if v is None:
        return None
    if q.kind == "ranking":
        return [{"candidate": item["value"], "rank": item.get("rank")} for item in sorted(v, key=lambda i: (i.get("rank") or 0, i["value"]))]
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


def question_columns(spec: ReviewSpec, submitted_by_record: list[list[tuple[str, dict]] | None]) -> list[pl.Series]:
    """The flat columns, one entry per record (None: the record was not in Argilla or unanswered)."""
    out = []
    for q in spec.questions:
        answers, resolved, agreement, tie = [], [], [], []
        for submitted in submitted_by_record:
            values = [(a, vals.get(q.name)) for a, vals in submitted or [] if vals.get(q.name) not in (None, "")]
            if not values:
                answers.append(None), resolved.append(None), agreement.append(None), tie.append(None)
                continue
            value, tied = resolve_answers(q, [v for _, v in values])
            answers.append([{"annotator": a, "value": _value(q, v)} for a, v in values])
            resolved.append(None if tied else _resolved(q, value))
            agreement.append(pair_agreement(q, [v for _, v in values]) if q.kind != "text" else None)
            tie.append(tied)
        base = f"human_{q.name}"
        out += [
            pl.Series(f"{base}_answers", answers, dtype=pl.List(pl.Struct({"annotator": pl.String, "value": value_dtype(q)}))),
            pl.Series(base, resolved, dtype=resolved_dtype(q)),
            pl.Series(f"{base}_agreement", agreement, dtype=pl.Float64),
            pl.Series(f"{base}_tie", tie, dtype=pl.Boolean),
        ]
    return out


def with_review_columns(frame: pl.DataFrame, spec: ReviewSpec, submitted_by_record: list) -> pl.DataFrame:
    columns = question_columns(spec, submitted_by_record)
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
    rows = frame.select("model_chosen", "model_rejected", "candidates", f"human_{ranking.name}",
                        f"human_{ranking.name}_tie").iter_rows()
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
    return frame.with_columns(pl.Series("chosen", chosen, dtype=pl.String), pl.Series("rejected", rejected, dtype=pl.String),
                              pl.Series("preference_source", source, dtype=pl.String))


def column_descriptions(spec: ReviewSpec) -> dict[str, str]:
    """Card descriptions of the columns `with_review_columns` adds."""
    out = {}
    for q in spec.questions:
        base = f"human_{q.name}"
        out[f"{base}_answers"] = f"each annotator's submitted answer to \"{q.title}\" ({q.kind})"
        out[base] = f"the resolved answer to \"{q.title}\" by rule {q.resolution_rule()} (null: unresolved or tied)"
        out[f"{base}_agreement"] = f"share of annotator pairs that gave the same answer to \"{q.title}\""
        out[f"{base}_tie"] = f"whether the answers to \"{q.title}\" tied"
    if spec.record_type == "PreferencePair":
        out.update({
            "model_chosen": "the LLM judge's preferred candidate (what `chosen` was before human review)",
            "model_rejected": "the LLM judge's least preferred candidate",
            "preference_source": "where chosen/rejected come from: human, model (no resolved human ranking), "
                                 "or human_tie (the humans' best tied; the model's pick kept)",
        })
    return out
