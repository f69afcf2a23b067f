"""Personas and prompts in JSON Lines (the preferences recipe's input): each non-blank line is one
JSON object, a persona (`persona_id`, non-empty `self_description`) or a prompt (`prompt_id`,
non-empty `prompt`). A line that is not JSON, not an object, or neither kind is quarantined with the
reason and the line as written; blank lines are not rows. UTF-8 is required (said where not); UTF-16
with a BOM is read.

Rows: `kind` (persona | prompt), `payload` (the object as JSON text), `_file`, `_row` (the line).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import orjson
import polars as pl

from schemas.quarantine import quarantine_frame
from sources.files import input_name, utf8_source
from sources.reader import FileRead, Reader

ROW_SCHEMA = {"kind": pl.String, "payload": pl.String, "_file": pl.String, "_row": pl.Int64}


class PersonaPromptReader(Reader):
    what = "personas and prompts (JSON Lines)"
    modules: ClassVar[tuple[str, ...]] = ("sources.reader", "sources.jsonl", "sources.files")

    def read(self, path: Path) -> FileRead:
        name = input_name(path)
        rows, bad = [], []
        source = utf8_source(Path(path))
        with (open(source, "rb") if isinstance(source, Path) else source) as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                kind, record, error = classify(line)
                if error:
                    bad.append({"step": None, "source_file": name, "row": line_no, "field": kind or "line",
                                "error": error, "raw": line.decode("utf-8", "replace").rstrip("\n")})
                else:
                    rows.append({"kind": kind, "payload": orjson.dumps(record).decode(), "_file": name, "_row": line_no})
        return FileRead(name, pl.DataFrame(rows, schema=ROW_SCHEMA), quarantine_frame(bad))


def classify(line: bytes) -> tuple[str | None, dict | None, str | None]:
    """(kind, the object, None) for a persona or a prompt; (field, None, the reason) for a bad line."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return None, None, f"not valid JSON: {e}"
    if not isinstance(record, dict):
        return None, None, "a line must hold a JSON object"
    if "self_description" in record:
        ok = isinstance(record.get("persona_id"), (str, int)) and isinstance(record["self_description"], str) \
            and record["self_description"].strip()
        return ("persona", record, None) if ok else ("self_description", None, "a persona needs persona_id and a non-empty self_description")
    if "prompt" in record:
        ok = isinstance(record.get("prompt_id"), (str, int)) and isinstance(record["prompt"], str) and record["prompt"].strip()
        return ("prompt", record, None) if ok else ("prompt", None, "a prompt needs prompt_id and a non-empty prompt text")
    return None, None, "neither a persona (self_description) nor a prompt (prompt)"
