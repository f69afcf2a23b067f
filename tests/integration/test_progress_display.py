"""One progress display per phase, seen as a user sees it: `curate run norms` on a pseudo-terminal,
its output replayed in a terminal emulator (pyte), then the screen and its scrollback read back.
Bars are drawn by one rich display only (no tqdm bar of a library), each phase ends as one line,
log lines start at the left edge and no bar is left cut in the middle of the text; `--quiet`
shows no bar at all."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess

import pytest

from tests import reddit_dumps as fx
from tests.conftest import curate_bin

pytestmark = pytest.mark.integration

COLUMNS, ROWS = 140, 40
BAR_GLYPHS = ("━", "█", "▏", "▎", "▍", "▌", "▋", "▊", "▉")


def run_on_a_terminal(args: list[str], cwd, env: dict) -> tuple[int, bytes]:
    """Run a command with stdout and stderr on a pseudo-terminal; return its exit code and bytes."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 600)
        if not ready:
            proc.kill()
            raise AssertionError("no output for 600 s")
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks)


def screen_lines(raw: bytes) -> list[str]:
    """What the terminal shows after the run, scrollback first, trailing spaces removed."""
    import pyte

    screen = pyte.HistoryScreen(COLUMNS, ROWS, history=100_000, ratio=0.5)
    screen.set_mode(pyte.modes.LNM)  # the pty's onlcr: a newline returns the carriage as well
    stream = pyte.ByteStream(screen)
    stream.feed(raw)
    history = ["".join(line[x].data for x in range(COLUMNS)).rstrip() for line in screen.history.top]
    return history + [line.rstrip() for line in screen.display]


def test_one_display_per_phase_on_a_terminal(tmp_path):
    inputs = fx.write_pair(tmp_path / "in")
    env = {
        **os.environ,
        "CURATE_PSEUDONYM_KEY": "display-key",
        "CURATE_CACHE_DIR": str(tmp_path / "cache"),
        "TERM": "xterm-256color",
        "COLUMNS": str(COLUMNS),
        "LINES": str(ROWS),
    }
    env.pop("NO_COLOR", None)
    args = [str(curate_bin()), "run", "norms", "-o", "out"] + [a for p in inputs for a in ("-i", str(p))]
    code, raw = run_on_a_terminal(args, tmp_path, env)
    lines = screen_lines(raw)
    text = "\n".join(lines)
    assert code == 0, text[-4000:]
    assert "Traceback" not in text, text[-4000:]
    assert b"\x1b[" in raw  # a terminal: rich drew and erased its live display
    assert not re.search(r"\d+(\.\d+)?(it|B|req|rec)/s\]", text), text  # no tqdm bar of a library
    done = [line for line in lines if line.startswith("done ")]
    # each phase once: the cluster's start before the bar that waits for it (it sat at 0% meanwhile)
    phases = [re.sub(r"\(\d+ workers\)", "(N workers)", d.split(":")[0].split(" in ")[0]) for d in done]
    assert phases == ["done starting dask LocalCluster (N workers)", "done reading 2 dump file(s)"], done
    assert not re.search(r"kB B\b|MB B\b", text), text  # a byte count says its unit once
    # nothing of a live bar is left on the screen: it was never cut by a line written past it
    assert not [line for line in lines if any(g in line for g in BAR_GLYPHS)], text
    logs = [line for line in lines if re.search(r"\| (INFO|WARNING|ERROR) +\|", line)]
    assert logs, text
    assert all(re.match(r"^\d\d:\d\d:\d\d\.\d{3} \| ", line) for line in logs), [
        line for line in logs if not line[:1].isdigit()
    ]
    assert any("out: situations" in line or "situations" in line for line in lines[-20:]), text[-2000:]

    quiet_code, quiet_raw = run_on_a_terminal(
        args + ["--quiet"], tmp_path, {**env, "CURATE_CACHE_DIR": str(tmp_path / "c2")}
    )
    quiet = "\n".join(screen_lines(quiet_raw))
    assert quiet_code == 0, quiet[-4000:]
    assert not any(g in quiet for g in BAR_GLYPHS) and "done reading" not in quiet and "| INFO" not in quiet, quiet
