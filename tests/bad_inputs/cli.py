"""Run `curate ARGS...` in this process as the console script does (`pipelines.cli.main.main`: its
error handling, its one `error:` line, its exit codes), with a time bound and the peak memory it
added; the flow's body runs without Prefect's server and Dask inline (tests/bad_inputs/runner.py).
Used by the hostile corpus of round two (tests/bad_inputs/round2.py)."""

from __future__ import annotations

import contextlib
import io
import resource
import signal
import sys
import time
from dataclasses import dataclass
from unittest import mock

from tests.bad_inputs import runner


class CaseTimeout(BaseException):
    """Past the case's bound (a BaseException: `main()` turns an Exception into the bug report)."""


@dataclass
class Outcome:
    code: int | str  # 0, 2 (an expected error), 1 (a bug: traceback), "timeout"
    stderr: str
    stdout: str
    seconds: float
    grew_mb: float  # how far the process's peak memory rose during the run

    @property
    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    @property
    def traceback(self) -> bool:
        return self.code == 1 or "Traceback (most recent call last)" in self.stderr


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def curate(args: list[str], bound_s: float) -> Outcome:
    from pipelines.cli import main as cli

    err, out = io.StringIO(), io.StringIO()

    def stop(*_):
        raise CaseTimeout

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, bound_s)
    began, peak, code = time.monotonic(), peak_mb(), 0
    try:
        with (
            mock.patch.object(sys, "argv", ["curate", *args]),
            mock.patch.object(cli, "CHILD_COMMANDS", set()),  # no watchdog process, no signal handlers
            mock.patch("pipelines.flows.run.run_recipe", runner._flow_body),
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(out),
        ):
            try:
                cli.main()
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    except CaseTimeout:
        code = "timeout"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return Outcome(code, err.getvalue(), out.getvalue(), time.monotonic() - began, peak_mb() - peak)
