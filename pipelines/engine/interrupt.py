"""Ctrl-C (SIGINT) or SIGTERM during `curate run`, `demo` or `dedup`: one `error:` line, the child
processes ended, exit 130 / 143 at once.

Raised as KeyboardInterrupt, the signal could land in a weakref callback (ignored: the run went on
and exited 0) or in Prefect's engine (its "Crash detected!" lines, then a traceback). Stopping at once
is as safe as kill -9, which leaves every output whole (datasets are staged and swapped in) and the
step cache resumable (tests/integration/test_resume.py). Prefect's flow engine installs its own
SIGTERM handler when a flow starts, so the flow body installs this one again (`again`).
"""

from __future__ import annotations

import os
import signal
import threading

MESSAGE = (
    "error: interrupted ({name}): the output folder keeps what it held before this run (a dataset is swapped "
    "in whole once complete) and nothing was published; the steps that finished are in the step cache, so "
    "the same command resumes after them\n"
)
_installed = False


def _stop(signum, _frame) -> None:
    os.write(2, MESSAGE.format(name=signal.Signals(signum).name).encode())
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                child.terminate()
            except psutil.Error:
                pass
    finally:
        os._exit(128 + signum)


def stop_on_interrupt() -> None:
    global _installed
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    _installed = True


def again() -> None:
    """In the flow body: take the signals back from Prefect's engine, where the CLI asked for them."""
    if _installed and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
