"""Rows of a dataset config -> Argilla record payloads (the JSON of the bulk upsert endpoint).

The payloads are built directly as dicts (no SDK objects per record): the record's `external_id`
is our `record_id`, so the server matches a pushed row to the record it already holds and updates
it instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from annotation.settings import TEXT_LENGTH, ReviewSpec, agent_name, as_shown, step_model


class RecordBuilder:
    """Payloads for the rows of `frame`, batch by batch."""

    def __init__(
        self,
        spec: ReviewSpec,
        frame: pl.DataFrame,
        question_ids: dict[str, str],
        vectors: np.ndarray | list | None = None,
    ):
        self.spec = spec
        self.frame = frame
        self.question_ids = question_ids
        self.vectors = vectors
        self.meta_exprs = [m.expr.alias(m.name) for m in spec.metadata if m.expr is not None]
        self.kinds = {m.name: m.kind for m in spec.metadata}

    def __len__(self) -> int:
        return self.frame.height

    def batches(self, size: int, start: int = 0) -> Iterator[tuple[int, list[dict]]]:
        for offset in range(start, self.frame.height, size):
            yield offset, self.items(offset, min(offset + size, self.frame.height))

    def items(self, start: int, stop: int) -> list[dict]:
        chunk = self.frame.slice(start, stop - start)
        metas = chunk.select(self.meta_exprs).to_dicts() if self.meta_exprs else [{}] * chunk.height
        return [
            self.item(row, meta, start + i) for i, (row, meta) in enumerate(zip(chunk.iter_rows(named=True), metas))
        ]

    def item(self, row: dict, meta: dict, index: int) -> dict:
        fields = {f.name: f.render(row) for f in self.spec.fields}
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        item: dict[str, Any] = {"external_id": row["record_id"], "fields": {k: as_shown(v) for k, v in fields.items()}}
        meta = {k: clean_meta(v, self.kinds[k]) for k, v in meta.items()}
        if TEXT_LENGTH in self.kinds:
            meta[TEXT_LENGTH] = sum(len(v) for v in fields.values())
        item["metadata"] = {k: v for k, v in meta.items() if v is not None}
        suggestions = self.suggestions(row)
        if suggestions:
            item["suggestions"] = suggestions
        vector = self.vector(index)
        if vector is not None:
            item["vectors"] = {self.spec.vector_name: vector}
        return item

    def suggestions(self, row: dict) -> list[dict]:
        out = []
        for s in self.spec.suggestions:
            value = s.value(row)
            if value is None or s.question not in self.question_ids:
                continue
            suggestion = {"question_id": self.question_ids[s.question], "type": "model", "value": value}
            agent = agent_name(step_model(row, s.step)) or s.agent
            if agent:
                suggestion["agent"] = agent
            score = s.score(row) if s.score else None
            if score is not None:
                suggestion["score"] = float(min(1.0, max(0.0, score)))
            out.append(suggestion)
        return out

    def vector(self, index: int) -> list[float] | None:
        if self.vectors is None:
            return None
        v = self.vectors[index]
        if v is None:
            return None
        return v.tolist() if isinstance(v, np.ndarray) else list(v)


def clean_meta(value: Any, kind: str) -> Any:
    """Metadata values the server accepts: no NaN, terms as strings or lists of strings."""
    if value is None:
        return None
    if kind == "float":
        return None if value != value else float(value)  # NaN
    if kind == "integer":
        return int(value)
    if isinstance(value, list):
        return [str(v) for v in value if v is not None] or None
    return str(value)
