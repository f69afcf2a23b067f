"""Opening input files with errors that name the file and the problem."""

from __future__ import annotations

import codecs
import csv
import errno
import io
import os
import re
import stat
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from schemas.errors import InputFileError

SAMPLES = Path(__file__).resolve().parent / "samples"  # the shipped samples (the demo's inputs)


def input_name(path: Path | str) -> str:
    """An input's name in records, quarantine rows, the card and the cache key: the path as given in
    this run (relative as typed, or absolute when typed so), normalized (`./a//b` -> `a/b`, `a/../b`
    -> `b`, `/` separators). The shipped samples, which the demo reads by absolute path, are named
    by their place in the project (`sources/samples/...`), not by where this machine keeps it."""
    text = os.fspath(path)
    name = Path(os.path.normpath(text)) if text else Path(text)
    if name.is_absolute():
        try:
            return (Path("sources/samples") / name.relative_to(SAMPLES)).as_posix()
        except ValueError:
            pass
    return name.as_posix()


def check_distinct_names(paths: list[Path]) -> None:
    """Records name an input by its path as given (`input_name`), so d1/resp.csv and d2/resp.csv
    are two inputs; one path given twice would read the same rows twice, as duplicates."""
    names = [input_name(p) for p in paths]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InputFileError(
                paths[i], f"is given twice (as {paths[names.index(name)]} and {paths[i]}); give each input once"
            )
    real = [os.path.realpath(p) for p in paths]  # two names (links, ../) of one file: its rows twice
    for i, target in enumerate(real):
        if target in real[:i]:
            first = paths[real.index(target)]
            raise InputFileError(paths[i], f"is the same file as {first} (both lead to {target}); give each input once")


def check_readable(path: Path | str, allow_empty: bool = False) -> Path:
    """The path, or one InputFileError saying why it cannot be read as an input file."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputFileError(path, "is a loop of symbolic links; give the file itself") from None
        if path.is_symlink():
            raise InputFileError(path, f"file not found (a symbolic link to {os.readlink(path)})") from None
        raise InputFileError(path, "file not found") from None
    if stat.S_ISDIR(mode):
        raise InputFileError(path, "is a directory, expected a file")
    if not stat.S_ISREG(mode):  # reading a pipe waits for a writer, a device never ends
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise InputFileError(path, f"is {kind}, not a regular file; save the data to a file first")
    if not os.access(path, os.R_OK):
        raise InputFileError(path, "permission denied: the file cannot be read")
    if path.stat().st_size == 0 and not allow_empty:
        raise InputFileError(path, "file is empty")
    return path


# -- text: UTF-8, or UTF-16/32 with a byte-order mark; never a silent U+FFFD ----------------------

BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]
ENCODINGS: dict[str, str] = {}  # file as given -> the encoding it was read in (for the card)


def text_encoding(path: Path) -> str:
    """The encoding of a text file: a byte-order mark's, else UTF-8, checked in full (a file that is
    not valid UTF-8 is an error saying where, not text with U+FFFD in it)."""
    with open(path, "rb") as f:
        head = f.read(4)
        encoding = next((enc for bom, enc in BOMS if head.startswith(bom)), "utf-8")
        if encoding == "utf-8":
            f.seek(0)
            sample = f.read(4096)
            if _utf16_without_bom(sample):
                raise InputFileError(
                    path,
                    "looks like UTF-16 text without a byte-order mark (every other byte is 0); "
                    "save it as UTF-8, or as UTF-16 with a byte-order mark",
                )
        if encoding == "utf-8":
            f.seek(0)
            decoder = codecs.getincrementaldecoder("utf-8")("strict")
            try:
                while chunk := f.read(1 << 24):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise InputFileError(path, _not_utf8(path.read_bytes())) from None
    ENCODINGS[os.path.abspath(path)] = encoding
    return encoding


def _utf16_without_bom(sample: bytes) -> bool:
    """Mostly-ASCII text in UTF-16 (LE or BE) has a NUL in every other byte: valid UTF-8, so it would
    be read as text full of NULs, and no column would match."""
    if len(sample) < 8 or b"\x00" not in sample:
        return False
    even, odd = sample[0::2], sample[1::2]
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) > 0.4


TEXT_SUFFIXES = {".csv", ".tsv", ".json", ".jsonl", ".ndjson", ".yaml", ".yml", ".txt"}


def encoding_read(path: Path | str) -> str | None:
    """The encoding of a text input of this run (checked again when a cached step did not read it);
    None for binary formats."""
    found = ENCODINGS.get(os.path.abspath(path))
    if found is None and Path(path).suffix.lower() in TEXT_SUFFIXES:
        try:
            found = text_encoding(Path(path))
        except (InputFileError, OSError):
            return None
    return found


def _not_utf8(data: bytes) -> str:
    try:
        data.decode("utf-8")
        return "not UTF-8 text"
    except UnicodeDecodeError as e:
        pos = e.start
    line = data.count(b"\n", 0, pos) + 1
    column = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    return (
        f"not UTF-8 text: byte 0x{data[pos]:02x} at line {line}, column {column} (Latin-1 or Windows-1252?); "
        "save it as UTF-8 (or UTF-16 with a byte-order mark)"
    )


def read_text(path: Path | str) -> str:
    """The whole text of a file (UTF-8, or UTF-16/32 with a byte-order mark)."""
    path = Path(path)
    encoding = text_encoding(path)
    try:
        return path.read_bytes().decode(encoding)
    except UnicodeDecodeError as e:
        raise InputFileError(path, f"not valid {encoding} text at byte {e.start}") from None


# -- YAML: strict (no duplicate keys), errors naming the file and line ---------------------------


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML lets
    the last one win, silently: a second `weight:` would change every probability)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base class reports it
                    break
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first at line {first})", key_node.start_mark
                    )
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)

    def construct_yaml_timestamp(self, node):
        """A date that does not exist (2023-02-30) is an error at its line, not a traceback."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a valid date: {e}", node.start_mark
            ) from None


StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", StrictLoader.construct_yaml_timestamp)

MAX_YAML_VALUES = 200_000  # values a config or codebook may expand to, aliases counted each time they are used


def check_expansion(node, limit: int = MAX_YAML_VALUES) -> None:
    """Aliases are references: a document can name itself (`&a [*a]`, endless when walked) or grow
    exponentially (the "billion laughs": nine levels of nine aliases). Both are refused before any
    value is built, with the line of the offending anchor."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to the node that contains it (a recursive anchor)", n.start_mark
            )
        active.add(key)
        children = (
            n.value
            if isinstance(n, yaml.SequenceNode)
            else [x for pair in n.value for x in pair]
            if isinstance(n, yaml.MappingNode)
            else []
        )
        total = 1 + sum(size(c) for c in children)
        active.discard(key)
        if total > limit:
            raise yaml.composer.ComposerError(
                None, None, f"expands to more than {limit:,} values through its aliases (an alias bomb?)", n.start_mark
            )
        sizes[key] = total
        return total

    size(node)


class TextLoader(StrictLoader):
    """StrictLoader with YAML 1.2's booleans: only true/false are booleans, so a label written `Yes`,
    `No`, `On` or `Off` stays that text (YAML 1.1, PyYAML's default, reads it as True/False and a
    codebook published "True" for "Yes")."""


TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in StrictLoader.yaml_implicit_resolvers.items()
}
TextLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml_text(text: str, loader: type = StrictLoader) -> Any:
    """YAML text read strictly (no duplicate keys, real dates), its alias expansion bounded first."""
    node = yaml.compose(text, Loader=loader)
    if node is None:
        return None
    check_expansion(node)
    return yaml.load(text, Loader=loader)


def load_yaml(path: Path, what: str = "config", loader: type = StrictLoader) -> Any:
    """A YAML file read strictly: UTF-8 (or UTF-16/32 with a BOM), no duplicate keys, dates that
    exist, aliases that expand to a bounded size; errors name the file and line."""
    text = read_text(path)
    try:
        return parse_yaml_text(text, loader)
    except (yaml.YAMLError, RecursionError) as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or (str(e).splitlines() or ["too deeply nested"])[0]
        if isinstance(e, RecursionError):
            problem = "nested too deeply"
        raise InputFileError(path, f"{what} is not valid YAML: {where}{problem}") from None


def utf8_source(path: Path) -> Path | io.BytesIO:
    """What to hand polars' readers: the file itself when it is UTF-8 with LF or CRLF line ends, else
    its text as UTF-8 bytes with LF line ends (a file of CR-only line ends, old Mac style, which polars
    and the csv module read as one line)."""
    encoding = text_encoding(path)
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    cr_only = b"\r" in head and b"\n" not in head if encoding == "utf-8" else False
    if encoding == "utf-8" and not cr_only:
        return path
    text = read_text(path)
    if cr_only or ("\r" in text[:65536] and "\n" not in text[:65536]):
        text = text.replace("\r", "\n")
    return io.BytesIO(text.encode("utf-8"))


def check_columns(path: Path, names: list[str]) -> list[str]:
    """Column names trimmed and lower-cased; two that become the same name are an error naming both."""
    seen: dict[str, str] = {}
    for name in names:
        key = name.strip().lower()
        if key in seen:
            same = "twice" if seen[key] == name else f"as {seen[key]!r} and {name!r}"
            raise InputFileError(
                path,
                f"column {key!r} appears {same} (names are matched ignoring case and surrounding spaces); rename one",
            )
        seen[key] = name
    return list(seen)


def _header(source: Path | io.BytesIO, separator: str, path: Path) -> list[str]:
    if isinstance(source, io.BytesIO):
        first = source.getvalue().split(b"\n", 1)[0]
    else:
        with open(source, "rb") as f:
            first = f.readline()
    text = first.decode("utf-8").lstrip("\ufeff").rstrip("\r\n")
    try:
        return next(csv.reader([text], delimiter=separator), [])
    except csv.Error as e:
        raise InputFileError(path, f"its header cannot be read: {e}") from None


def read_header(path: Path, separator: str = ",") -> list[str]:
    """The column names of a CSV/TSV (trimmed, lower case, checked for collisions), without its rows."""
    return check_columns(path, _header(utf8_source(path), separator, path))


def read_text_table(path: Path, separator: str = ",") -> pl.DataFrame:
    """A delimited text file with a header, every column as text (validation parses it later)."""
    source = utf8_source(path)
    names = check_columns(path, _header(source, separator, path))
    try:
        frame = pl.read_csv(source, separator=separator, infer_schema=False, encoding="utf8")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as e:
        raise InputFileError(
            path, f"not a readable {'TSV' if separator == chr(9) else 'CSV'} file: {_first_line(e)}"
        ) from None
    if len(names) != frame.width:
        raise InputFileError(path, f"the header has {len(names)} names but polars read {frame.width} columns")
    if frame.height == 0:
        raise InputFileError(path, "has a header but no data rows")
    frame.columns = names
    return frame


def short_rows(path: Path, frame: pl.DataFrame, separator: str = ",") -> dict[int, tuple[int, str]]:
    """Data rows (0-based, as in `frame` from `read_text_table`) that have fewer fields than the
    header and are not blank: a truncated line, or a foreign one (a footer, a trailing comment),
    which polars pads with nulls. Each with its field count and its text. Read again with the csv
    module only when the last column has a null (a short row always leaves it null), and only
    trusted when both readers count the same rows."""
    if frame.height == 0 or frame[:, -1].null_count() == 0:
        return {}
    source = utf8_source(path)
    # streamed, not read whole: a large file whose last item is often unanswered takes this path
    if isinstance(source, io.BytesIO):
        stream = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    else:
        stream = open(source, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed below)
    try:
        records = csv.reader(stream, delimiter=separator)
        next(records, None)  # the header
        found, count = {}, 0
        for count, fields in enumerate(records, start=1):  # noqa: B007 (count is read after the loop)
            if 0 < len(fields) < frame.width and any(f.strip() for f in fields):
                found[count - 1] = (len(fields), separator.join(fields))
    except (csv.Error, UnicodeDecodeError):
        return {}  # the csv module reads it otherwise than polars did: nothing is moved
    finally:
        stream.close()
    return found if count == frame.height else {}


def read_statistical(path: Path, kind: str) -> tuple[pl.DataFrame, object]:
    """SPSS .sav or Stata .dta through pyreadstat, with the file's metadata (labels)."""
    import pyreadstat

    reader = pyreadstat.read_sav if kind == "spss" else pyreadstat.read_dta
    try:
        frame, meta = reader(str(path), output_format="polars")
    except Exception as e:  # pyreadstat raises its own ReadstatError and plain exceptions
        label = "SPSS .sav" if kind == "spss" else "Stata .dta"
        raise InputFileError(path, f"not a readable {label} file: {_first_line(e)}") from None
    frame.columns = check_columns(path, frame.columns)
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


def yaml_mapping(path: Path, what: str, fields: str, loader: type = StrictLoader) -> dict:
    """The YAML mapping a definition file holds, read strictly (`load_yaml`: UTF-8 or a BOM, no
    duplicate keys); a file that is unreadable, not YAML or not a mapping stops the run naming it
    (`what`: "codebook"; `fields`: the keys a mapping of it has, for the message)."""
    data = load_yaml(path, what, loader)
    if not isinstance(data, dict):
        raise InputFileError(path, f"{what} must be a YAML mapping ({fields})")
    return data
