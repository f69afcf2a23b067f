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

import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import polars as pl
import zstandard

from schemas.errors import CurateError, InputFileError
from schemas.quarantine import QUARANTINE_SCHEMA, empty_quarantine
from sources.files import input_name
from sources.reddit.records import (  # noqa: F401  (ROW_SCHEMA and parse_block are this module's API too)
    KIND_FIELDS,
    ROW_SCHEMA,
    TEXT_FIELDS,
    _bad,
    coerce,
    parse_block,
    problems,
)

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
MAX_WINDOW = 2**31
READ_SIZE = 1 << 20  # compressed bytes per read
SLICE = 2048  # compressed bytes per decompress call: at most 64 MiB out (decompressed_chunks)
YIELD_SIZE = 16 << 20  # decompressed bytes gathered before they are passed on
BLOCK_SIZE = 8 << 20  # decompressed bytes per parsed block


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


class TooExpanded(Exception):
    """The stream decompresses to more than `max_ratio` times its size: not a dump, or a zstd bomb."""

    def __init__(self, decompressed: int, compressed: int, ratio: int):
        super().__init__(
            f"expands {decompressed // max(compressed, 1):,} times ({decompressed:,} bytes from the first "
            f"{compressed:,}): not a Reddit dump, or a zstd bomb (CURATE_MAX_ZSTD_RATIO={ratio} is the limit)"
        )


def decompressed_chunks(
    fh, on_bytes: Callable[[int], None] | None = None, max_ratio: int | None = None
) -> Iterator[bytes]:
    """Decompressed bytes of every frame in turn. Raises TruncatedStream at the end when the last
    frame is incomplete (zstandard's stream reader would stop silently there) or corrupt, and
    TooExpanded once past 64 MiB the output is over `max_ratio` times the input read.

    zstd's output per input byte is bounded (about 32,768: a 1 GiB run of one byte compresses to
    32 kB), but python-zstandard's `decompress` returns a call's whole output: the compressed bytes
    are fed SLICE at a time, so one call gives at most 64 MiB whatever the file, and the ratio is
    checked after each (a 12 kB bomb stops at 64 MiB, not after holding its 400 MB)."""
    max_ratio = max_ratio or env_limit("CURATE_MAX_ZSTD_RATIO", MAX_RATIO)
    dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
    dobj, fed = dctx.decompressobj(), False
    read = out_total = pending_size = 0
    pending: list[bytes] = []
    while chunk := fh.read(READ_SIZE):
        if on_bytes:
            on_bytes(len(chunk))
        view = memoryview(chunk)
        for start in range(0, len(view), SLICE):
            piece = view[start : start + SLICE]
            read += len(piece)
            while piece:
                try:
                    out = dobj.decompress(piece)
                except zstandard.ZstdError as e:
                    if pending:  # what came before the corrupt bytes is read
                        yield b"".join(pending)
                    raise TruncatedStream(f"corrupt zstd data: {e}") from None
                fed = True
                out_total += len(out)
                if out_total > 64 << 20 and out_total > max_ratio * read:
                    raise TooExpanded(out_total, read, max_ratio)
                if out:
                    pending.append(out)
                    pending_size += len(out)
                if dobj.eof:  # a frame ended; what follows starts the next one
                    piece = dobj.unused_data
                    dobj, fed = dctx.decompressobj(), False
                else:
                    piece = b""
                if pending and (not fed or pending_size >= YIELD_SIZE):
                    yield b"".join(pending)  # a frame's end, or enough: passed on as it came
                    pending, pending_size = [], 0
        if pending:  # the end of a read
            yield b"".join(pending)
            pending, pending_size = [], 0
    if pending:
        yield b"".join(pending)
    if fed:
        raise TruncatedStream("the file ends inside a zstd frame (truncated download?)")


# a JSON escape of half a surrogate pair with no other half: not a character. Python's json and orjson
# refuse it, polars reads it as NUL; it becomes U+FFFD (the replacement character) before parsing
LONE_SURROGATE = re.compile(
    rb"(?<!\\)\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<![\\]u[dD][89abAB][0-9a-fA-F]{2})(?<!\\)\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
OVERLONG = "\x00overlong:"  # a line_blocks problem that is not the end: an over-long line was skipped
MAX_LINE_BYTES = 16 << 20  # a Reddit item is a few kB, a submission with media metadata under 1 MB
MAX_RATIO = 1000  # zstd on Reddit NDJSON: 5-20x; a thousandfold expansion is not a dump


def env_limit(name: str, default: int) -> int:
    """A reading limit from the environment (CURATE_MAX_LINE_BYTES, CURATE_MAX_ZSTD_RATIO)."""
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError:
        raise CurateError(f"{name}={value!r}: expected a whole number") from None


def line_blocks(
    chunks: Iterator[bytes], block_size: int = BLOCK_SIZE, max_line: int | None = None
) -> Iterator[tuple[bytes, str | None]]:
    """Blocks of whole lines (each ending in a newline) as (block, None); a line longer than
    `max_line` is skipped to its end without being held, as (its first kB, OVERLONG + its length); then,
    if the stream ends without a newline or inside a frame, the remnant as (remnant, problem)."""
    max_line = max_line or env_limit("CURATE_MAX_LINE_BYTES", MAX_LINE_BYTES)
    pending: list[bytes] = []
    size = 0
    problem = None
    skipping: list | None = None  # [first kB, bytes so far] inside an over-long line
    try:
        for chunk in chunks:
            if skipping is not None:
                end = chunk.find(b"\n")
                if end < 0:
                    skipping[1] += len(chunk)
                    continue
                yield skipping[0], f"{OVERLONG}{skipping[1] + end}"
                skipping, chunk = None, chunk[end + 1 :]
                if not chunk:
                    continue
            pending.append(chunk)
            size += len(chunk)
            if size < block_size and size <= max_line:
                continue
            data = b"".join(pending)
            cut = data.rfind(b"\n") + 1
            if cut:
                yield from _within_limit(data[:cut], max_line)
            rest = data[cut:]
            if len(rest) > max_line:  # the line under way is over the limit already: skip to its end
                skipping, pending, size = [rest[:1024], len(rest)], [], 0
            else:
                pending, size = ([rest], len(rest)) if rest else ([], 0)
    except TruncatedStream as e:
        problem = str(e)
    if skipping is not None:  # the stream ended inside the over-long line
        yield skipping[0], f"{OVERLONG}{skipping[1]}"
        if problem:
            yield b"", problem
        return
    data = b"".join(pending)
    cut = data.rfind(b"\n") + 1
    if cut:
        yield from _within_limit(data[:cut], max_line)
    if cut < len(data) or problem:
        yield data[cut:], problem or "the last line has no end (truncated file?)"


def _within_limit(block: bytes, max_line: int) -> Iterator[tuple[bytes, str | None]]:
    """A block of whole lines as it is, or, when a line in it is over `max_line` (it came in one
    decompressed chunk), the runs of lines around each such line and the line as OVERLONG."""
    if len(block) <= max_line:
        yield block, None
        return
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    starts = np.r_[0, ends[:-1] + 1]
    start = 0
    for n in np.flatnonzero(ends - starts > max_line):
        if starts[n] > start:
            yield block[start : starts[n]], None
        yield block[starts[n] : starts[n] + 1024], f"{OVERLONG}{ends[n] - starts[n]}"
        start = ends[n] + 1
    if start < len(block):
        yield block[start:], None


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


def filter_reason(rows: pl.DataFrame, keep: DumpFilter) -> pl.Expr:
    """Why a typed row is left out while streaming; null when kept."""
    reason = pl.lit(None, pl.String)
    if keep.end_utc is not None:
        reason = pl.when(pl.col("created_utc") >= keep.end_utc).then(pl.lit("after_time_range")).otherwise(reason)
    if keep.start_utc is not None:
        reason = pl.when(pl.col("created_utc") < keep.start_utc).then(pl.lit("before_time_range")).otherwise(reason)
    if keep.subreddits:
        wanted = [s.lower() for s in keep.subreddits]
        reason = (
            pl.when(~pl.col("subreddit").str.to_lowercase().is_in(wanted))
            .then(pl.lit("other_subreddit"))
            .otherwise(reason)
        )
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
    with open(path, "rb") as fh:
        blocks = prefetch(line_blocks(decompressed_chunks(fh, on_bytes), block_size))
        try:
            yield from _parts(path, kind, blocks, keep, redact)
        except TooExpanded as e:
            raise InputFileError(path, str(e)) from None


def _parts(path: Path, kind: str, blocks, keep: DumpFilter, redact) -> Iterator[DumpRead]:
    line = 1
    for block, problem in blocks:
        if problem and problem.startswith(OVERLONG):  # one line skipped, quarantined by its start
            size = int(problem[len(OVERLONG) :])
            limit = env_limit("CURATE_MAX_LINE_BYTES", MAX_LINE_BYTES)
            why = f"line of {size:,} bytes, over the limit of {limit:,} (CURATE_MAX_LINE_BYTES): skipped"
            yield DumpRead(
                input_name(path), kind, pl.DataFrame(schema=ROW_SCHEMA), 1, {},
                _quarantine([_bad(line, None, why, block)], input_name(path), redact), decompressed_bytes=size,
            )  # fmt: skip
            line += 1
            continue
        if problem:  # what was decoded before the damage has been read; the remnant is lost
            yield _remnant(path, kind, line, problem, block, redact)
            return
        part = read_block(block, line, kind, input_name(path), keep, redact)
        line += part.lines
        yield part


def read_block(
    block: bytes, first_line: int, kind: str, file_name: str, keep: DumpFilter, redact: Callable[[bytes], str] | None
) -> DumpRead:
    if b"\\u" in block:  # polars' NDJSON reader turns a lone surrogate escape into NUL
        block = LONE_SURROGATE.sub(rb"\\ufffd", block)
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
    return DumpRead(
        str(file_name),
        kind,
        kept,
        block.count(b"\n"),
        dropped,
        _quarantine(bad, file_name, redact),
        decompressed_bytes=len(block),
    )


def _remnant(path: Path, kind: str, line: int, problem: str, raw: bytes, redact) -> DumpRead:
    bad = [_bad(line, None, f"truncated final frame: {problem}", raw)]
    return DumpRead(
        input_name(path), kind, pl.DataFrame(schema=ROW_SCHEMA), 1, {}, _quarantine(bad, input_name(path), redact)
    )


def _quarantine(bad: list[dict], file_name: str, redact) -> pl.DataFrame:
    if not bad:
        return empty_quarantine()
    show = redact or (lambda raw: raw.decode("utf-8", "replace"))
    rows = [
        {
            "step": None,
            "source_file": file_name,
            "row": b["row"],
            "field": b["field"],
            "error": b["error"],
            "raw": show(b["raw"]),
        }
        for b in sorted(bad, key=lambda b: b["row"])
    ]
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def read_dump(
    path: Path | str, keep: DumpFilter = DumpFilter(), redact=None, on_bytes=None, block_size: int = BLOCK_SIZE
) -> DumpRead:
    """The whole file as one DumpRead (only rows that pass `keep` are held in memory)."""
    path = Path(path)
    total = DumpRead(input_name(path), "", pl.DataFrame(schema=ROW_SCHEMA), compressed_bytes=path.stat().st_size)
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
