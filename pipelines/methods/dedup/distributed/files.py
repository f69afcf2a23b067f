"""The distributed dedup's plan and its files: input partitions, the plan every task receives, and
the atomic writes that make each stage resumable (a file present means its task is done)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.methods.dedup.config import DedupConfig

POS, GID = "_pos", "_gid"  # input position (0-based, over all files), global number (id order)
METHODS = ("exact", "near", "semantic")


@dataclass(frozen=True)
class Part:
    index: int
    file: str
    offset: int
    rows: int
    start: int  # input position of its first row


@dataclass
class Plan:
    """Everything a task needs, sent to the workers (small: no data)."""

    method: str
    cfg: DedupConfig
    parts: list[Part]
    work: str
    shards: int
    id_column: str
    columns: list[str]
    source: str
    batch_rows: int
    columns_all: list[str] = field(default_factory=list)  # every input column (for the kept rows)
    sample_rows: int = 200_000  # semantic: k-means training sample
    facts: dict = field(default_factory=dict)

    def dir(self, *names: str) -> Path:
        return Path(self.work).joinpath(*names)


_TUNED = False


def tune_allocator() -> None:
    """Once per worker process: glibc's adaptive thresholds back. Dask's nanny starts workers with
    MALLOC_TRIM_THRESHOLD_=65536, and setting any malloc threshold turns glibc's adaptive mmap
    threshold off, so every numpy temporary over 128 kB becomes a fresh mmap, zeroed page by page and
    unmapped after use (the shingle and signature arrays are tens of MB, made many times per batch).
    32 MB mmap / 256 MB trim thresholds are what the adaptive scheme reaches; on the signature work
    of 20,000 rows they cut page faults from ~123,000 to ~75,000 (those of a process without the
    variable). Memory stays bounded: freed blocks are reused by the next batch, and the partition
    size, not the allocator, sets the peak."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to undo
        pass


def stage(fn):
    """A task of the distributed dedup: tunes the worker's allocator before its first task."""
    import functools

    @functools.wraps(fn)
    def run(*args, **kwargs):
        tune_allocator()
        return fn(*args, **kwargs)

    return run


def memory_bytes(value: str | int | None) -> int | None:
    """'4GB', '512MiB', 4e9 -> bytes (dask's parser); None stays None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    from dask.utils import parse_bytes

    return int(parse_bytes(value))


def rows_per_partition(memory_limit: int | None, avg_chars: float) -> int:
    """Rows per partition so that what a signature task keeps for the whole partition (the text, its
    shingle set at 4 bytes a character, band keys, polars copies: about 12 bytes a character and
    2.5 kB a row) takes at most a quarter of a worker's memory; a second quarter is for the batch
    being shingled (`batch_rows_for`), the rest for the worker itself and the shuffle's buffers."""
    budget = (memory_limit or 4 * 2**30) // 4
    per_row = 12 * max(avg_chars, 16) + 2_500
    return int(min(1_000_000, max(5_000, budget // per_row)))


def batch_rows_for(memory_limit: int | None, avg_chars: float, configured: int) -> int:
    """Rows shingled at a time: about 60 bytes a character while shingling, within a quarter of the
    worker's memory, and never more than the step's own batch_rows."""
    budget = (memory_limit or 4 * 2**30) // 4
    return int(max(1_000, min(configured, budget // (60 * max(avg_chars, 16)))))


def parquet_parts(files: list[Path], partition_rows: int) -> list[Part]:
    import pyarrow.parquet as pq

    parts, start = [], 0
    for f in files:
        n = pq.ParquetFile(f).metadata.num_rows
        for off in range(0, n, partition_rows):
            rows = min(partition_rows, n - off)
            parts.append(Part(len(parts), str(f), off, rows, start + off))
        start += n
    return parts


def input_files(path: Path) -> list[Path]:
    """A parquet file, or a folder of them (a dataset: files in name order)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith((".", "_")))
        if not files:
            raise FileNotFoundError(f"{path}: no .parquet files in the folder")
        return files
    return [path]


def fingerprint(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def read_part(part: Part, columns: list[str]) -> pl.DataFrame:
    return pl.scan_parquet(part.file).slice(part.offset, part.rows).select(columns).collect()


def write_parquet(frame: pl.DataFrame, path: Path, scratch: bool = False) -> None:
    """Atomic: a task killed mid-write leaves no file, so a rerun redoes exactly the missing ones.
    scratch: a file read once by the next stage (the band shuffle: random 64-bit keys that zstd
    cannot shrink) is written with lz4, which costs a fraction of zstd's time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.write_parquet(tmp, compression="lz4" if scratch else "zstd")
    os.replace(tmp, path)


def save_npz(path: Path, **arrays) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def write_json(info: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info))
    os.replace(tmp, path)


def save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def done(path: Path) -> bool:
    return path.exists()
