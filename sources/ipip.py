"""IPIP-NEO responses (Johnson's data, as used by PAPI): CSV, fixed-width .dat, SPSS and Stata.

Yields raw rows, every value as text, with their origin (`_file`, `_row`). Knows nothing of scoring
beyond what the file format says: Johnson's fixed-width files hold answers keyed at collection time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from schemas.errors import InputFileError
from sources.countries import harmonize_column
from sources.files import (
    check_readable,
    input_name,
    numeric_to_text,
    read_header,
    read_statistical,
    read_text_table,
    short_rows,
)
from sources.reader import FileRead, Reader

KEY_DIR = Path(__file__).parent / "data" / "ipip_neo"
INSTRUMENTS = (120, 300)
DEMOGRAPHICS = ("sex", "age", "country")

# Johnson's fixed-width layout (1-based columns): CASE 1-6, SEX 7, AGE 8-9, SEC, MIN, HOUR, DAY,
# MONTH 2 each, YEAR 3 (years since 1900), COUNTRY 9, then one character per item.
FIXED_FIELDS = [
    ("case", 6),
    ("sex", 1),
    ("age", 2),
    ("sec", 2),
    ("min", 2),
    ("hour", 2),
    ("day", 2),
    ("month", 2),
    ("year", 3),
    ("country", 9),
]
FIXED_PREFIX = sum(w for _, w in FIXED_FIELDS)  # 31
JOHNSON_SEX = {"1": "male", "2": "female"}

FORMATS = {".csv": "csv", ".tsv": "tsv", ".dat": "fixed", ".sav": "spss", ".zsav": "spss", ".dta": "stata"}


@dataclass
class RawResponses:
    path: Path
    format: str
    instrument: int | str  # 120 or 300 (IPIP-NEO, i1..iN), else the id of another shipped instrument
    keyed_at_source: bool
    frame: pl.DataFrame  # text columns: respondent fields, i1..iN, plus _file, _row; country harmonized
    # to ISO 3166 (sources/countries.py) with country_code and country_raw (as the file wrote it)
    malformed: pl.DataFrame  # quarantine rows for lines that could not be split into fields


@cache
def load_key(instrument: int) -> pl.DataFrame:
    """The scoring key: item_no, text, domain, facet_code, facet_name, keyed (+1/-1)."""
    if instrument not in INSTRUMENTS:
        raise ValueError(f"no key for a {instrument}-item IPIP-NEO")
    return pl.read_csv(
        KEY_DIR / f"ipip_neo_{instrument}.csv",
        schema={
            "item_no": pl.Int64,
            "text": pl.String,
            "domain": pl.String,
            "facet_code": pl.String,
            "facet_name": pl.String,
            "keyed": pl.Int8,
        },
    )


def definition(instrument: int | str):
    """The instrument definition (sources/instruments.py) for 120, 300 or an instrument id."""
    from sources.instruments import instrument as by_id

    return by_id(f"ipip_neo_{instrument}" if isinstance(instrument, int) else instrument)


def item_columns(instrument: int | str) -> list[str]:
    if isinstance(instrument, str):
        from sources.instruments import instrument as definition

        return definition(instrument).columns
    return [f"i{n}" for n in range(1, instrument + 1)]


def detect_instrument(path: Path, columns: list[str]) -> int | str:
    """120 or 300 for the IPIP-NEO's i1..iN; else the id of the shipped instrument (sources/instruments.py)
    whose item columns the file has (e.g. EXT1..OPN10: the IPIP-FFM open data)."""
    items = {c for c in columns if c.startswith("i") and c[1:].isdigit()}
    for n in INSTRUMENTS:
        if items == set(item_columns(n)):
            return n
    if not items:
        from sources.instruments import detect, shipped

        others = {k: v for k, v in shipped().items() if not k.startswith("ipip_neo_")}
        found = detect(columns, others)
        if found:
            return found[0].id
        raise InputFileError(
            path,
            "no item columns found: expected i1..i120 or i1..i300, or the item columns "
            "of a shipped instrument ("
            + ", ".join(f"{i.id}: {i.columns[0]}..{i.columns[-1]}" for i in others.values())
            + ")",
        )
    numbers = sorted(int(c[1:]) for c in items)
    raise InputFileError(
        path,
        f"item columns i{numbers[0]}..i{numbers[-1]} ({len(numbers)} columns) match neither the "
        "120- nor the 300-item IPIP-NEO: expected exactly i1..i120 or i1..i300",
    )


def read_responses(path: Path | str) -> RawResponses:
    path = check_readable(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            path, f"unsupported format {path.suffix!r}: expected .csv, .tsv, .dat (Johnson's fixed width), .sav or .dta"
        )
    if fmt == "fixed":
        return _read_fixed(path)
    from schemas.quarantine import empty_quarantine, quarantine_frame

    short: dict[int, tuple[int, str]] = {}
    if fmt in ("csv", "tsv"):
        separator = _separator(path, fmt)
        frame = read_text_table(path, separator)
        short = short_rows(path, frame, separator)
    else:
        frame, _meta = read_statistical(path, fmt)
        frame = numeric_to_text(frame)
    instrument = detect_instrument(path, frame.columns)
    keep = [c for c in ("case", *DEMOGRAPHICS) if c in frame.columns] + item_columns(instrument)
    width = frame.width
    frame = frame.select(keep).with_columns(
        pl.lit(input_name(path)).alias("_file"), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row")
    )
    malformed = empty_quarantine()
    if short:  # a truncated or foreign line: quarantined as it is, not scored as a respondent with gaps
        frame = frame.filter(~pl.col("_row").is_in([i + 1 for i in short]))
        malformed = quarantine_frame(
            [
                {
                    "step": None,
                    "source_file": input_name(path),
                    "row": i + 1,
                    "field": "line",
                    "error": f"row has {n} field{'s' if n != 1 else ''}, the header has {width}: a truncated or "
                    "foreign line",
                    "raw": raw,
                }
                for i, (n, raw) in sorted(short.items())
            ]
        )
    return RawResponses(path, fmt, instrument, False, harmonize_column(frame), malformed)


def _read_fixed(path: Path) -> RawResponses:
    from schemas.quarantine import quarantine_frame

    try:
        lines = pl.read_csv(
            path,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"line": pl.String},
            encoding="utf8-lossy",
        )
    except pl.exceptions.ComputeError as e:
        raise InputFileError(path, f"not a readable fixed-width file: {e}") from None
    lines = lines.with_columns(
        pl.col("line").str.strip_chars_end("\r\n "),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_row"),
    ).filter(pl.col("line").str.len_chars() > 0)
    lengths = lines["line"].str.len_chars()
    instrument = _fixed_instrument(path, lengths)
    width = FIXED_PREFIX + instrument
    good = lines.filter(pl.col("line").str.len_chars() == width)
    bad = lines.filter(pl.col("line").str.len_chars() != width)
    malformed = quarantine_frame(
        bad.select(
            pl.lit(None, pl.String).alias("step"),
            pl.lit(input_name(path)).alias("source_file"),
            pl.col("_row").alias("row"),
            pl.lit("line").alias("field"),
            pl.format(
                "line has {} characters, expected {} ({}-item IPIP-NEO)",
                pl.col("line").str.len_chars(),
                pl.lit(width),
                pl.lit(instrument),
            ).alias("error"),
            pl.col("line").alias("raw"),
        )
    )
    fields, start = [], 0
    for name, w in FIXED_FIELDS:
        fields.append(pl.col("line").str.slice(start, w).str.strip_chars().alias(name))
        start += w
    for n in range(1, instrument + 1):
        fields.append(pl.col("line").str.slice(FIXED_PREFIX + n - 1, 1).alias(f"i{n}"))
    frame = good.select(*fields, pl.col("_row")).with_columns(
        pl.col("sex").replace(JOHNSON_SEX),
        pl.lit(input_name(path)).alias("_file"),
    )
    frame = frame.select(
        [
            "case",
            *DEMOGRAPHICS,
            "year",
            "month",
            "day",
            "hour",
            "min",
            "sec",
            *item_columns(instrument),
            "_file",
            "_row",
        ]
    )
    return RawResponses(path, "fixed", instrument, True, harmonize_column(frame), malformed)


def _fixed_instrument(path: Path, lengths: pl.Series) -> int:
    if lengths.len() == 0:
        raise InputFileError(path, "no data lines")
    common = int(lengths.mode().sort()[-1])
    for n in INSTRUMENTS:
        if common == FIXED_PREFIX + n:
            return n
    raise InputFileError(
        path,
        f"lines are {common} characters long; Johnson's IPIP-NEO files have {FIXED_PREFIX + 120} "
        f"(120 items) or {FIXED_PREFIX + 300} (300 items)",
    )


def sniff(path: Path | str) -> tuple[str, int]:
    """(format, instrument) from a cheap look at the file: header, first line or metadata only.
    Lets the command line reject a wrong file before any work starts."""
    path = check_readable(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(
            path, f"unsupported format {path.suffix!r}: expected .csv, .tsv, .dat (Johnson's fixed width), .sav or .dta"
        )
    if fmt == "fixed":
        with open(path, "rb") as f:
            first = f.readline().decode("utf-8", "replace").rstrip("\r\n ")
        return fmt, _fixed_instrument(path, pl.Series([len(first)]))
    if fmt in ("csv", "tsv"):
        columns = read_header(path, _separator(path, fmt))  # UTF-8/BOM checked, names too
    else:
        import pyreadstat

        reader = pyreadstat.read_sav if fmt == "spss" else pyreadstat.read_dta
        try:
            _, meta = reader(str(path), metadataonly=True)
        except Exception as e:
            label = "SPSS .sav" if fmt == "spss" else "Stata .dta"
            raise InputFileError(path, f"not a readable {label} file: {e}") from None
        columns = [c.strip().lower() for c in meta.column_names]
    return fmt, detect_instrument(path, columns)


def _separator(path: Path, fmt: str) -> str:
    """Tab for .tsv, and for a .csv whose header line has tabs and no commas (Open Psychometrics
    publishes its tab-separated IPIP-FFM data as data-final.csv)."""
    if fmt == "tsv":
        return "\t"
    with open(path, "rb") as f:
        head = f.readline()
    return "\t" if b"\t" in head and b"," not in head else ","


class ResponsesReader(Reader):
    """Inventory answers, one respondent a row (`read_responses`); facts: format, instrument,
    keyed_at_source. `check` is `sniff`: the header or first line only."""

    what = "inventory answers"
    modules = ("sources.reader", "sources.ipip", "sources.instruments", "sources.countries", "sources.files")

    def check(self, path: Path) -> None:
        sniff(path)

    def read(self, path: Path) -> FileRead:
        raw = read_responses(path)
        return FileRead(
            input_name(raw.path),
            raw.frame,
            raw.malformed,
            facts={"format": raw.format, "instrument": raw.instrument, "keyed_at_source": raw.keyed_at_source},
        )
