"""Many dump files at once: one Dask partition per file, and one progress bar over compressed bytes.

Workers report the bytes they have read as Dask events (`Worker.log_event`); the client adds them to
a progress bar (schemas/progress.py). A file read in this process (a single input) feeds the bar directly.
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

from schemas.progress import Bar
from schemas.progress import bar as progress_bar
from sources.reader import FileRead, Reader
from sources.reddit.dumps import DumpFilter, DumpRead, check_dump, read_dump

REPORT_EVERY = 16 << 20  # compressed bytes between two progress events

_LOCAL_BARS: dict[str, Bar] = {}  # topic -> bar, for files read in this process


class _Reporter:
    """Batches byte counts into events, so a 10 GB file sends hundreds of events, not thousands."""

    def __init__(self, topic: str):
        self.topic, self.pending = topic, 0

    def __call__(self, nbytes: int) -> None:
        self.pending += nbytes
        if self.pending >= REPORT_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        bar = _LOCAL_BARS.get(self.topic)
        if bar is not None:
            bar.update(self.pending)
        else:
            try:
                from distributed import get_worker

                get_worker().log_event(self.topic, self.pending)
            except ValueError:  # neither a local bar nor a worker: nobody is watching
                pass
        self.pending = 0


def read_one(path: str, keep: DumpFilter, redact, topic: str) -> DumpRead:
    """One partition: a whole file (dumps are single zstd streams; a byte range cannot be decoded
    without the frames before it, so files are the unit of parallel work)."""
    reporter = _Reporter(topic)
    result = read_dump(path, keep, redact, on_bytes=reporter)
    reporter.flush()
    return result


def read_dumps(paths: list[Path], keep: DumpFilter, dask=None, redact=None) -> list[DumpRead]:
    """Every file, in parallel on `dask` (a DaskRuntime) when there are several; input order kept."""
    total = sum(Path(p).stat().st_size for p in paths)
    topic = f"curate-reddit-bytes-{uuid.uuid4().hex[:8]}"
    parallel = dask is not None and not dask.inline and (len(paths) > 1 or dask.address)
    if parallel:
        _ = dask.client  # the cluster starts before the bar (which would sit at 0% meanwhile), with a status of its own
    bar = progress_bar(total=total, unit="B", unit_scale=True, desc=f"reading {len(paths)} dump file(s)")
    lock = threading.Lock()
    try:
        if parallel:

            def on_event(event):
                with lock:
                    bar.update(event[1])

            dask.client.subscribe_topic(topic, on_event)
            try:
                results = dask.map(read_one, [str(p) for p in paths], keep=keep, redact=redact, topic=topic)
            finally:
                dask.client.unsubscribe_topic(topic)
        else:
            _LOCAL_BARS[topic] = bar
            try:
                results = [read_one(str(p), keep, redact, topic) for p in paths]
            finally:
                _LOCAL_BARS.pop(topic, None)
        bar.n = total  # events may still be in flight; the files are read
        bar.refresh()
    finally:
        bar.close()
    return results


class DumpReader(Reader):
    """Reddit dump files (`read_dump`), keeping the rows `keep` lets through (the others counted as
    dropped by reason), malformed lines quarantined with their raw text passed through `redact`;
    facts: kind, lines, compressed_bytes, decompressed_bytes. `read_all` is `read_dumps` (one
    progress bar over the compressed bytes)."""

    what = "Reddit dump files"
    modules = ("sources.reader", "sources.reddit.dumps", "sources.reddit.records", "sources.reddit.parallel")

    def __init__(self, keep: DumpFilter = DumpFilter(), redact=None):
        self.keep, self.redact = keep, redact

    def check(self, path: Path) -> None:
        check_dump(path)

    def read(self, path: Path) -> FileRead:
        return _file_read(read_dump(path, self.keep, self.redact))

    def read_all(self, paths: list[Path], dask=None) -> list[FileRead]:
        return [_file_read(r) for r in read_dumps([Path(p) for p in paths], self.keep, dask, self.redact)]


def _file_read(r: DumpRead) -> FileRead:
    return FileRead(
        r.path,
        r.rows,
        r.quarantine,
        r.dropped,
        {
            "kind": r.kind,
            "lines": r.lines,
            "compressed_bytes": r.compressed_bytes,
            "decompressed_bytes": r.decompressed_bytes,
        },
    )
