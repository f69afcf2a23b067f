"""One progress display for the whole process, in the bottom layer so that every layer's long work
(reading dumps, embedding, model calls, MinHash, pushing to Argilla) reports to it.

One rich `Progress` is live while at least one bar is open: each phase is one bar in it, and when a
phase ends its bar leaves the live area and is printed once, finished, above it. Log records of
Prefect's console handler and of plain stream handlers on stderr are printed through the same
console while the display is live, so a log line never cuts a bar. Libraries' own tqdm bars are
silenced by the command line (`silence_library_bars`); `--quiet` (CURATE_QUIET=1) shows no bars, and
where stderr is not a terminal no bar is drawn either (logs stay plain lines).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_lock = threading.RLock()
_console: Console | None = None
_live: dict[str, Any] = {"progress": None, "open": 0, "swapped": []}


def console() -> Console:
    global _console
    if _console is None:
        _console = Console(stderr=True)
    return _console


def enabled() -> bool:
    return os.environ.get("CURATE_QUIET") != "1" and console().is_terminal


def silence_library_bars() -> None:
    """Libraries draw their own tqdm bars (datasets, huggingface_hub, transformers); in a curate
    command only this module's display draws. Read by those libraries from the environment."""
    os.environ["TQDM_DISABLE"] = "1"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    for name in ("datasets", "huggingface_hub"):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "disable_progress_bars"):
            module.disable_progress_bars()


class Bar:
    """A tqdm-like bar (`update`, `close`, iteration, a context manager) in the process's display."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        total: float | None = None,
        desc: str = "",
        unit: str = "it",
        unit_scale: bool = False,
        disable: bool | None = None,
        **_: Any,
    ):
        self.iterable, self.desc, self.unit = iterable, desc, unit
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.n, self.began, self.task = total, 0, time.monotonic(), None
        self.bytes = unit == "B" and unit_scale
        if not disable and enabled():  # disable=None: as tqdm, shown on a terminal only
            with _lock:  # bytes: the amount column says kB/MB itself, so no unit after it
                self.task = _start().add_task(
                    desc, total=total, unit="" if self.bytes else unit, bytes=self.bytes, note=""
                )

    def update(self, n: float = 1) -> None:
        self.n += n
        if self.task is not None:
            _live["progress"].advance(self.task, n)

    def set_note(self, text: str) -> None:
        """A short status beside the bar (a rate the bar's own columns do not show: tokens/s)."""
        if self.task is not None:
            _live["progress"].update(self.task, note=text)

    def refresh(self) -> None:
        """Show `n` as it is now (after `n` was set directly, as with tqdm)."""
        if self.task is not None:
            _live["progress"].update(self.task, completed=self.n)

    def close(self) -> None:
        if self.task is None:
            return
        with _lock:
            task, self.task = self.task, None
            progress = _live["progress"]
            progress.remove_task(task)
            amount = (
                f"{self.n / 1e6:.1f} MB" if self.bytes else f"{self.n:g}" + (f"/{self.total:g}" if self.total else "")
            )
            what = f": {amount} {'' if self.bytes else self.unit}" if self.total is not None or self.n else ""
            progress.console.print(
                f"[green]done[/] {self.desc}{what} in {time.monotonic() - self.began:.1f}s", highlight=False
            )
            _stop_if_idle()

    def __iter__(self) -> Iterator:
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return len(self.iterable)

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def bar(iterable: Iterable | None = None, **kwargs: Any) -> Bar:
    return Bar(iterable, **kwargs)


def status(desc: str) -> Bar:
    """A phase of unknown length (starting a cluster, loading a model): a pulsing bar while it lasts,
    then its `done` line with the time it took. Use as a context manager."""
    return Bar(total=None, desc=desc, unit="")


class _Amount(TextColumn):
    def __init__(self) -> None:
        super().__init__("")
        self.count, self.download = MofNCompleteColumn(), DownloadColumn()

    def render(self, task):
        return self.download.render(task) if task.fields.get("bytes") else self.count.render(task)


def _start() -> Progress:
    _live["open"] += 1
    if _live["progress"] is None:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            _Amount(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=console(),
            transient=True,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        progress.start()
        _live["progress"] = progress
        _route_logs(progress.console)
    return _live["progress"]


def _stop_if_idle() -> None:
    _live["open"] -= 1
    if _live["open"] == 0 and _live["progress"] is not None:
        _live["progress"].stop()
        _live["progress"] = None
        for handler, attr, old in _live["swapped"]:
            setattr(handler, attr, old) if attr == "console" else handler.setStream(old)
        _live["swapped"] = []


def _route_logs(target: Console) -> None:
    """While bars are live, log handlers that write to the terminal print through the display's
    console (Prefect's handler holds a rich Console of its own; a StreamHandler holds the stream it
    was given), so their lines go above the bars instead of through them."""
    loggers = [logging.getLogger()] + [
        logger for logger in logging.Logger.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    seen = set()
    for log in loggers:
        for handler in log.handlers:
            if id(handler) in seen:
                continue
            seen.add(id(handler))
            inner = getattr(handler, "console", None)
            if isinstance(inner, Console) and inner is not target:
                _live["swapped"].append((handler, "console", inner))
                handler.console = target
            elif isinstance(handler, logging.StreamHandler) and handler.stream in (sys.__stderr__, sys.__stdout__):
                _live["swapped"].append((handler, "stream", handler.setStream(sys.stderr)))
