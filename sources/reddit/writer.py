"""Write NDJSON records as a dump file in the real format: zstd with a 2 GiB window (as
`zstd --long=31` writes the Pushshift and Arctic Shift dumps), optionally in several frames.

Used by the live source (its output is read by the same reader as the dumps), the shipped samples,
the tests and the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
import zstandard

WINDOW_LOG = 31  # readers need max_window_size=2**31, as for the real dumps


def compressor(level: int = 3, window_log: int = WINDOW_LOG) -> zstandard.ZstdCompressor:
    params = zstandard.ZstdCompressionParameters.from_level(
        level, window_log=window_log, enable_ldm=True, write_content_size=False, write_checksum=True
    )
    return zstandard.ZstdCompressor(compression_params=params)


def encode_lines(records: Iterable[dict | bytes | str]) -> list[bytes]:
    """Records as NDJSON lines (bytes and str are taken as the line itself, for malformed lines)."""
    out = []
    for r in records:
        if isinstance(r, bytes):
            out.append(r)
        elif isinstance(r, str):
            out.append(r.encode())
        else:
            out.append(orjson.dumps(r))
    return out


def write_dump(
    path: Path, records: Iterable[dict | bytes | str], frame_lines: int | None = None, level: int = 3
) -> Path:
    """One frame for the whole file, or a new frame every `frame_lines` lines."""
    lines = encode_lines(records)
    step = frame_lines or max(1, len(lines))
    frames = [b"".join(line + b"\n" for line in lines[i : i + step]) for i in range(0, len(lines), step)]
    return write_frames(path, frames, level)


def write_frames(path: Path, frames: Iterable[bytes], level: int = 3) -> Path:
    """Each byte string as its own zstd frame, in order. Frames are streamed (size unknown to the
    compressor), so their headers keep the 2 GiB window as the real dumps' do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    cctx = compressor(level)
    with open(tmp, "wb") as fh:
        for frame in frames:
            writer = cctx.stream_writer(fh, closefd=False)
            writer.write(frame)
            writer.flush(zstandard.FLUSH_FRAME)
    tmp.replace(path)
    return path


def write_stream(path: Path, lines: Iterable[bytes], level: int = 3, window_log: int = WINDOW_LOG) -> int:
    """Stream newline-terminated lines into one frame without holding them (the benchmark's
    gigabyte); returns the uncompressed size."""
    size = 0
    with open(path, "wb") as fh, compressor(level, window_log).stream_writer(fh, closefd=False) as writer:
        for line in lines:
            writer.write(line)
            size += len(line)
    return size
