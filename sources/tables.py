"""Any table file a user hands us (parquet, CSV/TSV, JSONL, JSON), with each row's origin.

Columns keep their names and, for typed formats, their types; CSV/TSV cells stay text, so that an
id like "007" is not turned into 7. Each row gets `_row` (1-based data row, or line number for
JSONL). JSONL lines that are not JSON objects go to the quarantine table instead of failing the file.
"""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import polars as pl

from schemas.errors import InputFileError
from schemas.quarantine import empty_quarantine, quarantine_frame
from sources.files import _first_line, check_readable

ROW = "_row"
FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".json": "json"}


def table_format(path: Path) -> str:
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputFileError(path, f"unknown table format {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    return kind


def read_table(path: Path | str, step: str = "read") -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows with `_row`, quarantined rows) of a table file."""
    path = check_readable(Path(path))
    kind = table_format(path)
    quarantine = empty_quarantine()
    try:
        if kind == "parquet":
            frame = pl.read_parquet(path)
        elif kind in ("csv", "tsv"):
            frame = pl.read_csv(path, separator="\t" if kind == "tsv" else ",", infer_schema=False, encoding="utf8-lossy")
        elif kind == "json":
            frame = pl.read_json(path)
        else:
            frame, quarantine = _read_jsonl(path, step)
            return frame, quarantine
    except InputFileError:
        raise
    except Exception as e:  # polars and pyarrow raise several kinds for a malformed file
        raise InputFileError(path, f"not a readable {kind} file: {_first_line(e)}") from None
    if ROW in frame.columns:
        raise InputFileError(path, f"has a column named {ROW!r}, which is reserved for row numbers")
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64)), quarantine


def _read_jsonl(path: Path, step: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    lines, numbers, bad = [], [], []
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                ok = isinstance(orjson.loads(line), dict)
                problem = "not a JSON object"
            except orjson.JSONDecodeError as e:
                ok, problem = False, f"not valid JSON: {e}"
            if ok:
                lines.append(line.rstrip(b"\r\n"))
                numbers.append(number)
            else:
                raw = line.decode("utf-8", "replace").rstrip("\r\n")
                bad.append({"step": step, "source_file": str(path), "row": number, "field": None, "error": problem, "raw": raw[:10_000]})
    if not lines:
        if bad:
            raise InputFileError(path, f"no line is a JSON object (line {bad[0]['row']}: {bad[0]['error']})")
        raise InputFileError(path, "has no records")
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines)), infer_schema_length=None)
    except Exception as e:
        raise InputFileError(path, f"records do not form one table: {_first_line(e)}") from None
    if ROW in frame.columns:
        raise InputFileError(path, f"has a field named {ROW!r}, which is reserved for row numbers")
    frame = frame.with_columns(pl.Series(ROW, numbers, dtype=pl.Int64))
    return frame, quarantine_frame(bad) if bad else empty_quarantine()
