"""Opening input files with errors that name the file and the problem."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from schemas.errors import InputFileError


def check_readable(path: Path | str) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a directory, expected a file")
    if not os.access(path, os.R_OK):
        raise InputFileError(path, "permission denied: the file cannot be read")
    if path.stat().st_size == 0:
        raise InputFileError(path, "file is empty")
    return path


def read_text_table(path: Path, separator: str = ",") -> pl.DataFrame:
    """A delimited text file with a header, every column as text (validation parses it later)."""
    try:
        frame = pl.read_csv(
            path,
            separator=separator,
            infer_schema=False,
            encoding="utf8-lossy",
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as e:
        raise InputFileError(path, f"not a readable {'TSV' if separator == chr(9) else 'CSV'} file: {_first_line(e)}") from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    return frame


def read_statistical(path: Path, kind: str) -> tuple[pl.DataFrame, object]:
    """SPSS .sav or Stata .dta through pyreadstat, with the file's metadata (labels)."""
    import pyreadstat

    reader = pyreadstat.read_sav if kind == "spss" else pyreadstat.read_dta
    try:
        frame, meta = reader(str(path), output_format="polars")
    except Exception as e:  # pyreadstat raises its own ReadstatError and plain exceptions
        label = "SPSS .sav" if kind == "spss" else "Stata .dta"
        raise InputFileError(path, f"not a readable {label} file: {_first_line(e)}") from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    return frame, meta


def numeric_to_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast every column to text; whole floats lose their '.0' so '3.0' reads back as '3'."""
    exprs = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_float():
            whole = col.is_not_nan() & (col == col.floor())
            col = (
                pl.when(col.is_null() | col.is_nan())
                .then(None)
                .when(whole)
                .then(col.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        else:
            col = col.cast(pl.String)
        exprs.append(col.alias(name))
    return frame.select(exprs)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
