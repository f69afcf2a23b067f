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
from sources.files import _first_line, _header, check_readable, input_name, utf8_source

ROW = "_row"
FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
}


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
            frame = _read_delimited(path, "\t" if kind == "tsv" else ",")
        elif kind == "json":
            frame = pl.read_json(utf8_source(path))
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


def _read_delimited(path: Path, separator: str) -> pl.DataFrame:
    """CSV/TSV cells as text, names as written; a name given twice is an error naming it."""
    source = utf8_source(path)
    names = _header(source, separator, path)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputFileError(path, f"column {twice[0]!r} appears twice in the header; rename one")
    return pl.read_csv(source, separator=separator, infer_schema=False, encoding="utf8")


def _read_jsonl(path: Path, step: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    lines, numbers, bad = [], [], []
    source = utf8_source(path)
    with open(source, "rb") if isinstance(source, Path) else source as f:
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
                bad.append(
                    {
                        "step": step,
                        "source_file": input_name(path),
                        "row": number,
                        "field": None,
                        "error": problem,
                        "raw": raw[:10_000],
                    }
                )
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


def check_data_files(paths: list[Path]) -> None:
    """Before a run: each data file opens as what its name says (a parquet footer and schema; text in
    UTF-8 or with a byte-order mark), or one error naming the file."""
    import pyarrow.parquet as pq

    from sources.files import text_encoding

    for path in paths:
        kind = FORMATS.get(path.suffix.lower())
        if kind == "parquet":
            try:
                pq.read_schema(path)
            except Exception as e:  # pyarrow raises ArrowInvalid, OSError (thrift) for a damaged file
                raise InputFileError(path, f"not a readable parquet file: {_first_line(e)}") from None
        elif kind is not None:
            text_encoding(path)


def arrow_frame(table) -> pl.DataFrame:
    """A pyarrow table as polars, with `datasets`' JSON columns (values of mixed types, e.g. ids
    that are numbers in some rows and text in others) as text: "a1" stays a1, 7 becomes "7"."""
    import pyarrow as pa

    columns = {}
    for name, column in zip(table.column_names, table.columns):
        if isinstance(column.type, pa.BaseExtensionType) and column.type.extension_name == "arrow.json":
            storage = pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)
            texts = [None if v is None else _json_text(v) for v in storage.to_pylist()]
            columns[name] = pl.Series(name, texts, dtype=pl.String)
        else:
            columns[name] = pl.from_arrow(column)
    return pl.DataFrame(columns) if columns else pl.DataFrame()


def _json_text(value: str) -> str | None:
    decoded = orjson.loads(value)
    if decoded is None:
        return None
    return decoded if isinstance(decoded, str) else value


TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


def not_text_columns(schema, columns: list[str]) -> list[str]:
    """ "name (type)" of the `columns` that hold lists, structs or binary rather than text or numbers:
    a cast would turn them into text silently (or fail deep inside a step)."""
    out = []
    for name in columns:
        dtype = schema.get(name)
        if dtype is not None and not (
            isinstance(dtype, TEXT_TYPES) or dtype in TEXT_TYPES or dtype.is_numeric() or dtype == pl.Boolean
        ):
            out.append(f"{name} ({dtype})")
    return out


def table_columns(path: Path) -> list[str]:
    """The column names of a table file without reading its rows: a parquet file's schema, a CSV/TSV
    header, the fields of the first record of JSON Lines (every record of a JSON array)."""
    path = check_readable(Path(path))
    kind = table_format(path)
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if kind in ("csv", "tsv"):
            return _header(utf8_source(path), "\t" if kind == "tsv" else ",", path)
        if kind == "json":
            return pl.read_json(utf8_source(path)).columns
        source = utf8_source(path)
        with open(source, "rb") if isinstance(source, Path) else source as f:
            for line in f:
                if line.strip():
                    record = orjson.loads(line)
                    return list(record) if isinstance(record, dict) else []
        return []
    except InputFileError:
        raise
    except Exception as e:
        raise InputFileError(path, f"not a readable {kind} file: {_first_line(e)}") from None
