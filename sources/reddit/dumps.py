"""Reddit dump files (Pushshift, Arctic Shift): zstd-compressed NDJSON, submissions (RS_*) and
comments (RC_*), read as a stream.

The file is decompressed frame by frame with a 2 GiB window (the dumps use `--long=31`), cut into
blocks at newline bytes (a newline never occurs inside a multi-byte UTF-8 character, so a character
split across two decompressed chunks is whole again in its block), and each block is parsed by
polars' NDJSON reader with every field read as text. Type drift is then coerced with polars
expressions. A block polars cannot parse (bad JSON, a line that is not an object, blank lines) goes
through a line-by-line path that quarantines the bad lines with file and line number and keeps the
rest. Memory stays flat in the file size: one block in flight, plus the rows that pass the filters.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import polars as pl
import zstandard

from schemas.errors import InputFileError
from schemas.quarantine import QUARANTINE_SCHEMA, empty_quarantine

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_WINDOW = 2**31
READ_SIZE = 1 << 20  # compressed bytes per read
BLOCK_SIZE = 8 << 20  # decompressed bytes per parsed block
SENTINELS = ("[deleted]", "[removed]")
USERNAME = r"^[A-Za-z0-9_-]{1,40}$"  # what Reddit allows (3-20), with room for old and odd accounts

# Every field is read as text; polars writes numbers, booleans and objects as their JSON text.
TEXT_FIELDS = [
    "id", "subreddit", "author", "created_utc", "score", "title", "selftext", "body", "link_id",
    "parent_id", "num_comments", "over_18", "is_self", "stickied", "distinguished", "edited",
    "removed_by_category", "retrieved_on", "retrieved_utc", "link_flair_text", "_meta",
]
READ_SCHEMA = {name: pl.String for name in TEXT_FIELDS}
# Each kind reads only its own fields (fewer columns to build); the others are added as nulls.
KIND_FIELDS = {
    "submission": [f for f in TEXT_FIELDS if f not in ("body", "link_id", "parent_id")],
    "comment": [f for f in TEXT_FIELDS if f not in ("title", "selftext", "num_comments", "over_18", "is_self",
                                                     "link_flair_text")],
}

ROW_SCHEMA = pl.Schema({
    "kind": pl.String,  # submission | comment
    "id": pl.String,
    "subreddit": pl.String,
    "author": pl.String,  # null when absent or a sentinel
    "author_state": pl.String,  # null, "deleted", "removed" or "absent"
    "created_utc": pl.Int64,
    "score": pl.Int64,
    "title": pl.String,
    "selftext": pl.String,  # null when a sentinel
    "body": pl.String,  # null when a sentinel
    "content_state": pl.String,  # null, "deleted" or "removed" (sentinel text or a removal mark)
    "link_id": pl.String,  # always with its t3_ prefix
    "parent_id": pl.String,
    "num_comments": pl.Int64,
    "over_18": pl.Boolean,
    "is_self": pl.Boolean,
    "stickied": pl.Boolean,
    "distinguished": pl.String,
    "edited": pl.Boolean,
    "edited_utc": pl.Int64,
    "link_flair_text": pl.String,
    "retrieved_utc": pl.Int64,
    "_file": pl.String,
    "_line": pl.Int64,
})


@dataclass(frozen=True)
class DumpFilter:
    """Rows kept while streaming: subreddits (case-insensitive; empty = all) and a time range."""

    subreddits: tuple[str, ...] = ()
    start_utc: int | None = None  # inclusive
    end_utc: int | None = None  # exclusive


@dataclass
class DumpRead:
    """What one file gave: the kept rows, counts of the rest, and the quarantined lines."""

    path: str
    kind: str
    rows: pl.DataFrame
    lines: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    quarantine: pl.DataFrame = field(default_factory=empty_quarantine)
    compressed_bytes: int = 0
    decompressed_bytes: int = 0

    @property
    def quarantined(self) -> int:
        return self.quarantine.height


# -- the stream -----------------------------------------------------------------------------------


class TruncatedStream(Exception):
    """The file ended inside a zstd frame, or a frame is corrupt: what follows cannot be read."""


def decompressed_chunks(fh, on_bytes: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Decompressed bytes of every frame in turn. Raises TruncatedStream at the end when the last
    frame is incomplete (zstandard's stream reader would stop silently there) or corrupt."""
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    dobj, fed = dctx.decompressobj(), False
    while chunk := fh.read(READ_SIZE):
        if on_bytes:
            on_bytes(len(chunk))
        while chunk:
            try:
                out = dobj.decompress(chunk)
            except zstandard.ZstdError as e:
                raise TruncatedStream(f"corrupt zstd data: {e}") from None
            fed = True
            if out:
                yield out
            if dobj.eof:  # a frame ended; what follows starts the next one
                chunk = dobj.unused_data
                dobj, fed = dctx.decompressobj(), False
            else:
                chunk = b""
    if fed:
        raise TruncatedStream("the file ends inside a zstd frame (truncated download?)")


def line_blocks(chunks: Iterator[bytes], block_size: int = BLOCK_SIZE) -> Iterator[tuple[bytes, str | None]]:
    """Blocks of whole lines (each ending in a newline) as (block, None); then, if the stream ends
    without a newline or inside a frame, the remnant as (remnant, problem)."""
    pending: list[bytes] = []
    size = 0
    problem = None
    try:
        for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            if size < block_size:
                continue
            data = b"".join(pending)
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut], None
            pending, size = ([data[cut:]], len(data) - cut) if cut < len(data) else ([], 0)
    except TruncatedStream as e:
        problem = str(e)
    data = b"".join(pending)
    cut = data.rfind(b"\n") + 1
    if cut:
        yield data[:cut], None
    if cut < len(data) or problem:
        yield data[cut:], problem or "the last line has no end (truncated file?)"


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """`items` produced by a background thread, at most `depth` ahead: zstd decompression (which
    releases the GIL) overlaps with parsing the previous block, and memory stays bounded."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as e:  # handed to the consumer, raised there
            q.put((done, e))

    worker = threading.Thread(target=produce, daemon=True, name="dump-decompress")
    worker.start()
    try:
        while True:
            item, error = q.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


# -- parsing a block ------------------------------------------------------------------------------

def parse_block(block: bytes, first_line: int, schema: dict | None = None) -> tuple[pl.DataFrame, list[dict], int]:
    """Text columns of every line of `block` with its `_line` number; the lines that could not be
    read as quarantine dicts (raw bytes in `raw`); and the count of blank lines."""
    schema = schema or READ_SCHEMA
    n_lines = block.count(b"\n")
    try:
        frame = pl.read_ndjson(io.BytesIO(block), schema=schema)
    except pl.exceptions.PolarsError:
        frame = None
    # polars skips blank lines: a short frame means the block has some, and line numbers would slip
    if frame is not None and frame.height == n_lines:
        return frame.with_columns(_line_numbers(first_line, n_lines)), [], 0
    return _parse_lines(block, first_line, schema)


def _line_numbers(first: int, n: int) -> pl.Series:
    return pl.int_range(first, first + n, dtype=pl.Int64, eager=True).alias("_line")


def _parse_lines(block: bytes, first_line: int, schema: dict) -> tuple[pl.DataFrame, list[dict], int]:
    """The slow path, for blocks with a bad line: check each line, parse the good ones together."""
    good, numbers, bad, blank = [], [], [], 0
    for i, line in enumerate(block.split(b"\n")[: block.count(b"\n")]):
        number = first_line + i
        if not line.strip():
            blank += 1
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            bad.append(_bad(number, None, f"not valid JSON: {_short(e)}", line))
            continue
        if not isinstance(value, dict):
            bad.append(_bad(number, None, f"not a JSON object but {type(value).__name__}", line))
            continue
        good.append(line)
        numbers.append(number)
    frame, more_bad = _read_good_lines(good, numbers, schema)
    return frame, bad + more_bad, blank


def _read_good_lines(lines: list[bytes], numbers: list[int], schema: dict) -> tuple[pl.DataFrame, list[dict]]:
    if not lines:
        return pl.DataFrame(schema={**schema, "_line": pl.Int64}), []
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(lines) + b"\n"), schema=schema)
        return frame.with_columns(pl.Series("_line", numbers, pl.Int64)), []
    except pl.exceptions.PolarsError:
        pass
    frames, bad = [], []  # one line polars rejects although it is JSON: find it
    for line, number in zip(lines, numbers):
        try:
            frames.append(pl.read_ndjson(io.BytesIO(line), schema=schema).with_columns(
                pl.lit(number, pl.Int64).alias("_line")))
        except pl.exceptions.PolarsError as e:
            bad.append(_bad(number, None, f"unreadable record: {_short(e)}", line))
    return pl.concat(frames) if frames else _read_good_lines([], [], schema)[0], bad


def _bad(line: int, field_name: str | None, error: str, raw: bytes) -> dict:
    return {"row": line, "field": field_name, "error": error, "raw": raw}


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


# -- coercion of drifting types -------------------------------------------------------------------


def _number(name: str) -> pl.Expr:
    """A JSON number written as text ('5', '5.0', '"5"') as a float; null when absent."""
    return pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)


def _unreadable(name: str, parsed: pl.Expr) -> pl.Expr:
    text = pl.col(name)
    return text.is_not_null() & (text != "null") & parsed.is_null()


def _flag(name: str) -> pl.Expr:
    text = pl.col(name).str.to_lowercase()
    return pl.when(text.is_in(["true", "1"])).then(True).when(text.is_in(["false", "0"])).then(False)


def _meta(path: str) -> pl.Expr:
    return pl.col("_meta").str.json_path_match(f"$.{path}")


def problems() -> list[pl.Expr]:
    """`_field` and `_error` for a row whose fields cannot be coerced; null where all is well.
    Errors name the field and the kind of problem, never the value (it may be personal)."""
    checks = [
        ("id", pl.col("id").is_null() | (pl.col("id").str.strip_chars() == ""), "missing"),
        ("subreddit", pl.col("subreddit").is_null() | (pl.col("subreddit") == ""), "missing"),
        ("created_utc", pl.col("created_utc").is_null(), "missing"),
        ("created_utc", _unreadable("created_utc", _number("created_utc")), "not a number of seconds"),
        ("score", _unreadable("score", _number("score")), "not a number"),
        ("num_comments", _unreadable("num_comments", _number("num_comments")), "not a number"),
        ("edited", _unreadable("edited", pl.coalesce(_flag("edited"), _number("edited").cast(pl.Boolean))),
         "neither a boolean nor a time"),
        ("author", pl.col("author").is_not_null() & ~pl.col("author").is_in(SENTINELS)
         & ~pl.col("author").str.contains(USERNAME), "not a Reddit user name"),
    ] + [(f, _unreadable(f, _flag(f)), "not a boolean") for f in ("over_18", "is_self", "stickied")]
    field_expr = pl.coalesce([pl.when(cond).then(pl.lit(name)) for name, cond, _ in checks])
    error_expr = pl.coalesce([pl.when(cond).then(pl.lit(f"{name}: {what}")) for name, cond, what in checks])
    return [field_expr.alias("_field"), error_expr.alias("_error")]


def coerce(kind: str, file_name: str) -> list[pl.Expr]:
    """Expressions that turn the text columns into typed rows of ROW_SCHEMA."""
    author = pl.col("author")
    text_col = "selftext" if kind == "submission" else "body"
    text = pl.col(text_col)
    removal = pl.coalesce(pl.col("removed_by_category"), _meta("removal_type"))
    content_state = (
        pl.when(text == "[removed]").then(pl.lit("removed"))
        .when(text == "[deleted]").then(pl.lit("deleted"))
        .when(removal.is_in(["deleted", "author"])).then(pl.lit("deleted"))
        .when(removal.is_not_null()).then(pl.lit("removed"))
    )
    edited_time = _number("edited")
    link = pl.col("link_id")
    return [
        pl.lit(kind).alias("kind"),
        pl.col("id").str.strip_chars(),
        pl.col("subreddit"),
        pl.when(author.is_in(SENTINELS)).then(None).otherwise(author).alias("author"),
        pl.when(author.is_null()).then(pl.lit("absent"))
        .when(author == "[deleted]").then(pl.lit("deleted"))
        .when(author == "[removed]").then(pl.lit("removed")).alias("author_state"),
        _number("created_utc").cast(pl.Int64).alias("created_utc"),
        _number("score").cast(pl.Int64).alias("score"),
        pl.col("title"),
        pl.when(pl.col("selftext").is_in(SENTINELS)).then(None).otherwise(pl.col("selftext")).alias("selftext"),
        pl.when(pl.col("body").is_in(SENTINELS)).then(None).otherwise(pl.col("body")).alias("body"),
        content_state.alias("content_state"),
        pl.when(link.is_null() | link.str.starts_with("t3_")).then(link).otherwise("t3_" + link).alias("link_id"),
        pl.col("parent_id"),
        _number("num_comments").cast(pl.Int64).alias("num_comments"),
        _flag("over_18").alias("over_18"),
        _flag("is_self").alias("is_self"),
        _flag("stickied").alias("stickied"),
        pl.col("distinguished"),
        (pl.coalesce(_flag("edited"), edited_time > 0).fill_null(False)).alias("edited"),
        pl.when(edited_time > 1).then(edited_time).cast(pl.Int64).alias("edited_utc"),
        pl.col("link_flair_text"),
        pl.coalesce(_number("retrieved_utc"), _number("retrieved_on"),
                    _meta("retrieved_2nd_on").cast(pl.Float64, strict=False)).cast(pl.Int64).alias("retrieved_utc"),
        pl.lit(file_name).alias("_file"),
        pl.col("_line"),
    ]


def filter_reason(rows: pl.DataFrame, keep: DumpFilter) -> pl.Expr:
    """Why a typed row is left out while streaming; null when kept."""
    reason = pl.lit(None, pl.String)
    if keep.end_utc is not None:
        reason = pl.when(pl.col("created_utc") >= keep.end_utc).then(pl.lit("after_time_range")).otherwise(reason)
    if keep.start_utc is not None:
        reason = pl.when(pl.col("created_utc") < keep.start_utc).then(pl.lit("before_time_range")).otherwise(reason)
    if keep.subreddits:
        wanted = [s.lower() for s in keep.subreddits]
        reason = pl.when(~pl.col("subreddit").str.to_lowercase().is_in(wanted)).then(
            pl.lit("other_subreddit")).otherwise(reason)
    return reason


# -- one file -------------------------------------------------------------------------------------


def dump_kind(path: Path) -> str:
    """`submission` for RS_* files, `comment` for RC_* (the dumps' naming), else by the first line."""
    name = path.name.upper()
    if name.startswith("RS_") or "SUBMISSIONS" in name:
        return "submission"
    if name.startswith("RC_") or "COMMENTS" in name:
        return "comment"
    try:
        with open(path, "rb") as fh:
            first = next(line_blocks(decompressed_chunks(fh), block_size=1))[0].split(b"\n", 1)[0]
        value = orjson.loads(first)
    except (StopIteration, orjson.JSONDecodeError, OSError):
        value = {}
    if isinstance(value, dict) and "link_id" in value:
        return "comment"
    if isinstance(value, dict) and "title" in value:
        return "submission"
    raise InputFileError(path, "cannot tell submissions from comments: name the file RS_* or RC_*")


def check_dump(path: Path) -> None:
    """A fast check before a run: the file starts with a zstd frame."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head != ZSTD_MAGIC:
        raise InputFileError(path, "not a zstd-compressed Reddit dump (no zstd frame at the start)")
    dump_kind(path)


def iter_dump(
    path: Path | str,
    keep: DumpFilter = DumpFilter(),
    redact: Callable[[bytes], str] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    block_size: int = BLOCK_SIZE,
) -> Iterator[DumpRead]:
    """The file as a stream of DumpReads, one per block: kept rows, counts, quarantined lines.
    `redact` turns a raw line into the text stored in the quarantine (lines hold personal data)."""
    path = Path(path)
    kind = dump_kind(path)
    line = 1
    with open(path, "rb") as fh:
        for block, problem in prefetch(line_blocks(decompressed_chunks(fh, on_bytes), block_size)):
            if problem:  # what was decoded before the damage has been read; the remnant is lost
                yield _remnant(path, kind, line, problem, block, redact)
                return
            part = read_block(block, line, kind, path.name, keep, redact)
            line += part.lines
            yield part


def read_block(block: bytes, first_line: int, kind: str, file_name: str, keep: DumpFilter,
               redact: Callable[[bytes], str] | None) -> DumpRead:
    text, bad, blank = parse_block(block, first_line, {f: pl.String for f in KIND_FIELDS[kind]})
    missing = [pl.lit(None, pl.String).alias(f) for f in TEXT_FIELDS if f not in text.columns]
    typed = text.lazy().with_columns(missing).select(*coerce(kind, file_name), *problems()).collect()
    broken = typed["_field"].is_not_null()
    if broken.any():
        lines = block.split(b"\n")
        for number, fld, err in typed.filter(broken).select("_line", "_field", "_error").iter_rows():
            bad.append(_bad(number, fld, err, lines[number - first_line]))
        typed = typed.filter(~broken)
    rows = typed.drop("_field", "_error")
    reason = filter_reason(rows, keep)
    tagged = rows.with_columns(reason.alias("_reason"))
    dropped = {r: n for r, n in tagged.filter(pl.col("_reason").is_not_null()).group_by("_reason").len().iter_rows()}
    if blank:
        dropped["blank_line"] = blank
    kept = tagged.filter(pl.col("_reason").is_null()).drop("_reason")
    return DumpRead(str(file_name), kind, kept, block.count(b"\n"), dropped,
                    _quarantine(bad, file_name, redact), decompressed_bytes=len(block))


def _remnant(path: Path, kind: str, line: int, problem: str, raw: bytes, redact) -> DumpRead:
    bad = [_bad(line, None, f"truncated final frame: {problem}", raw)]
    return DumpRead(path.name, kind, pl.DataFrame(schema=ROW_SCHEMA), 1, {}, _quarantine(bad, path.name, redact))


def _quarantine(bad: list[dict], file_name: str, redact) -> pl.DataFrame:
    if not bad:
        return empty_quarantine()
    show = redact or (lambda raw: raw.decode("utf-8", "replace"))
    rows = [{"step": None, "source_file": file_name, "row": b["row"], "field": b["field"],
             "error": b["error"], "raw": show(b["raw"])} for b in sorted(bad, key=lambda b: b["row"])]
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def read_dump(path: Path | str, keep: DumpFilter = DumpFilter(), redact=None, on_bytes=None,
              block_size: int = BLOCK_SIZE) -> DumpRead:
    """The whole file as one DumpRead (only rows that pass `keep` are held in memory)."""
    path = Path(path)
    total = DumpRead(path.name, "", pl.DataFrame(schema=ROW_SCHEMA), compressed_bytes=path.stat().st_size)
    rows, quarantines = [], []
    for part in iter_dump(path, keep, redact, on_bytes, block_size):
        total.kind = part.kind
        total.lines += part.lines
        total.decompressed_bytes += part.decompressed_bytes
        for reason, n in part.dropped.items():
            total.dropped[reason] = total.dropped.get(reason, 0) + n
        if part.rows.height:
            rows.append(part.rows)
        if part.quarantine.height:
            quarantines.append(part.quarantine)
    total.rows = pl.concat(rows) if rows else total.rows
    total.quarantine = pl.concat(quarantines) if quarantines else empty_quarantine()
    return total
