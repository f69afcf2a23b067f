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
MAX_DEPTH = 32  # orjson writes at most 255 levels; a persona's demographics need two


def depth(value, limit: int = MAX_DEPTH + 1) -> int:
    """How deeply lists and objects nest (counting stops past `limit`)."""
    if limit <= 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((depth(v, limit - 1) for v in items), default=0)


def _id(value) -> bool:
    """An id is a non-empty string or a whole number; true and false are not ids."""
    return (isinstance(value, str) and bool(value.strip())) or (isinstance(value, int) and not isinstance(value, bool))


class PersonaPromptReader(Reader):
    what = "personas and prompts (JSON Lines)"
    modules: ClassVar[tuple[str, ...]] = ("sources.reader", "sources.jsonl", "sources.files")

    def read(self, path: Path) -> FileRead:
        name = input_name(path)
        rows, bad = [], []
        source = utf8_source(Path(path))
        with open(source, "rb") if isinstance(source, Path) else source as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                kind, record, error = classify(line)
                if error:
                    bad.append(
                        {
                            "step": None,
                            "source_file": name,
                            "row": line_no,
                            "field": kind or "line",
                            "error": error,
                            "raw": line.decode("utf-8", "replace").rstrip("\n"),
                        }
                    )
                else:
                    rows.append(
                        {"kind": kind, "payload": orjson.dumps(record).decode(), "_file": name, "_row": line_no}
                    )
        return FileRead(name, pl.DataFrame(rows, schema=ROW_SCHEMA), quarantine_frame(bad))


def classify(line: bytes) -> tuple[str | None, dict | None, str | None]:
    """(kind, the object, None) for a persona or a prompt; (field, None, the reason) for a bad line."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return None, None, f"not valid JSON: {e}"
    if not isinstance(record, dict):
        return None, None, "a line must hold a JSON object"
    if depth(record) > MAX_DEPTH:
        return (
            None,
            None,
            f"nested more than {MAX_DEPTH} levels deep (a persona or prompt is a flat object with small parts)",
        )
    if "self_description" in record:
        if not _id(record.get("persona_id")):
            return (
                "persona_id",
                None,
                f"persona_id must be a string or a whole number, not {record.get('persona_id')!r}",
            )
        ok = isinstance(record["self_description"], str) and record["self_description"].strip()
        if not ok:
            return "self_description", None, "a persona needs persona_id and a non-empty self_description"
        return _optional_fields(record, "persona", {"synthetic": (bool,), "demographics": (dict,)})
    if "prompt" in record:
        if not _id(record.get("prompt_id")):
            return "prompt_id", None, f"prompt_id must be a string or a whole number, not {record.get('prompt_id')!r}"
        ok = isinstance(record["prompt"], str) and record["prompt"].strip()
        if not ok:
            return "prompt", None, "a prompt needs prompt_id and a non-empty prompt text"
        return _optional_fields(record, "prompt", {"source": (str,)})
    return None, None, "neither a persona (self_description) nor a prompt (prompt)"


KIND_NAMES = {bool: "true or false", dict: "an object", str: "a string"}


def _optional_fields(record: dict, kind: str, types: dict) -> tuple[str | None, dict | None, str | None]:
    """The record when each optional field is absent, null or of its type; else the first field that
    is not (a struct where text belongs would otherwise be published as its JSON text, or crash)."""
    for name, allowed in types.items():
        value = record.get(name)
        if value is None:
            continue
        if not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool)):
            want = " or ".join(KIND_NAMES[t] for t in allowed)
            got = (
                type(value).__name__
                if not isinstance(value, (dict, list))
                else ("an object" if isinstance(value, dict) else "a list")
            )
            return name, None, f"{kind} field {name!r} must be {want} (or absent), not {got}: {str(value)[:80]!r}"
    return kind, record, None
