"""Child processes end with the CLI, kill -9 included.

Prefect's temporary API server (a uvicorn subprocess) outlived a killed `curate run`; nothing in
the killed process can clean up, so a small watchdog process does: it notes the CLI's descendants
every half second (psutil, which Dask already needs) and, once the CLI is gone, terminates those
still running (SIGTERM, then SIGKILL after 5 s). psutil checks each process's start time, so a
recycled pid is never hit. `python -m pipelines.engine.watchdog PID`; started by `start_watchdog()`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5
GRACE_S = 5.0


def start_watchdog() -> subprocess.Popen | None:
    """Watch this process from a detached child (its own session: a Ctrl-C to the terminal's group
    does not reach it). Off with CURATE_NO_WATCHDOG=1."""
    if os.environ.get("CURATE_NO_WATCHDOG") == "1":
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.engine.watchdog", str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def watch(parent_pid: int) -> list[int]:
    """Wait for `parent_pid` to end, then end the descendants it had; the pids ended."""
    import psutil

    try:
        parent = psutil.Process(parent_pid)
    except psutil.NoSuchProcess:
        return []
    me = os.getpid()
    known: dict[int, psutil.Process] = {}
    while True:
        try:
            if parent.status() == psutil.STATUS_ZOMBIE:
                break
            for child in parent.children(recursive=True):
                if child.pid != me:
                    known.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            break
        time.sleep(POLL_S)
    alive = []
    for proc in known.values():
        try:
            for child in proc.children(recursive=True):  # what they started since, too
                if child.pid not in known and child.pid != me:
                    alive.append(child)
            alive.append(proc)
        except psutil.NoSuchProcess:
            continue
    alive = [p for p in alive if p.is_running()]  # is_running compares the start time: no reused pid
    for proc in alive:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, still = psutil.wait_procs(alive, timeout=GRACE_S)
    for proc in still:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    return [p.pid for p in alive]


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch(int(sys.argv[1]))
