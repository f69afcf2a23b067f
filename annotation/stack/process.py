"""Background processes tracked by pid files.

Each service runs in its own session (so it outlives the Python process that started it and
its children share one process group). The pid file holds the pid and the process start time
from /proc, so a recycled pid is never taken for our service and never signalled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(RuntimeError):
    """A step of the local Argilla stack failed; the message says what to do."""


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may contain spaces; fields after it are plain
    return stat.rsplit(")", 1)[1].split()[19]


def _pgid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[2])


def _state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _reap(pid: int, timeout: float = 10.0) -> None:
    """Collect the exit status of a service this process started (else it lingers as a zombie)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # started by another process: its parent (or init) reaps it
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    """True once a process has fully exited (zombie or vanished).

    A thread-group leader (the JVM's main thread) shows state Z while its other threads still
    run shutdown hooks and hold ports, so a zombie with live threads is not gone yet.
    """
    state = _state(pid)
    if state is None:
        return True
    if state != "Z":
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    threads = next((line.split()[1] for line in status.splitlines() if line.startswith("Threads:")), "0")
    return int(threads) <= 1


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in a process group."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if _pgid(pid) == pgid and not _gone(pid):
                members.append(pid)
    return members


@dataclass
class Service:
    name: str
    run_dir: Path
    log_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (stale pid files are removed)."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            return None
        if _start_time(pid) != started or _gone(pid):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def start(self, cmd: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.name}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                list(cmd),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started = _start_time(proc.pid)
        self.pid_file.write_text(f"{proc.pid} {started}\n")
        # We never wait() on it: it is a service, not a child we own. Python's Popen would
        # warn about that at exit, so forget the handle.
        proc.returncode = 0
        return proc.pid

    def stop(self, timeout: float = 30.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        self._signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not group_members(pid):
                break
            time.sleep(0.2)
        else:
            self._signal_group(pid, signal.SIGKILL)
            time.sleep(0.5)
        _reap(pid)
        left = group_members(pid)
        if left:
            raise StackError(f"{self.name}: processes {left} did not stop; see {self.log_file}")
        self.pid_file.unlink(missing_ok=True)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def redis_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_until(check: Callable[[], bool], service: Service, what: str, timeout: float) -> None:
    """Poll `check` until it holds; fail early, with the log's tail, if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if service.pid() is None:
            raise StackError(
                f"{service.name} exited before {what}; last lines of {service.log_file}:\n{service.tail()}"
            )
        time.sleep(0.25)
    raise StackError(
        f"{service.name}: {what} not reached after {timeout:.0f}s; last lines of {service.log_file}:\n{service.tail()}"
    )


def run_logged(
    cmd: Sequence[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    what: str = "",
    secrets: Sequence[str] = (),
) -> None:
    """Run a setup command to completion, output to a log; raise with its tail on failure.

    `secrets` are blanked out of the command line written to the log.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    shown = " ".join("***" if arg in secrets else arg for arg in cmd)
    with open(log_file, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {shown}\n".encode())
        log.flush()
        result = subprocess.run(
            list(cmd),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    if result.returncode != 0:
        tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        raise StackError(f"{what or cmd[0]} failed (exit {result.returncode}); see {log_file}:\n{tail}")
