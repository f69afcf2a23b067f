"""The run contract from outside, through the real `curate` command: the output folder is locked
for one run at a time, an output that is a file fails before any work, the CLI's children (Prefect's
temporary server, Dask's workers) end when it is killed with SIGKILL, and URL credentials reach
neither the console nor Prefect's database."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests import personality_data as pdata
from tests.conftest import REPO, curate_bin

pytestmark = pytest.mark.integration


def run_args(inputs: list[Path], out: Path, *extra: str) -> list[str]:
    args = [str(curate_bin()), "run", "personality", "--output", str(out), *extra]
    for p in inputs:
        args += ["--input", str(p)]
    return args


@pytest.fixture
def inputs(tmp_path) -> list[Path]:
    return [pdata.write_csv(tmp_path / "r.csv")]


def pause(args: list[str], env: dict, point: str, marker: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        args,
        env={**env, "CURATE_FAULT_PAUSE_AT": point, "CURATE_FAULT_FILE": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None, f"run ended before {point}"
        assert time.time() < deadline, f"never reached {point}"
        time.sleep(0.2)
    return proc


def test_kill_9_of_the_cli_ends_its_children(tmp_path, inputs):
    # without PREFECT_API_URL (the suite's shared server), so that the CLI starts its temporary server
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(tmp_path / "prefect")}
    proc = pause(run_args(inputs, tmp_path / "out"), env, "read", tmp_path / "paused")
    cli = psutil.Process(proc.pid)
    children = [c for c in cli.children(recursive=True) if "pipelines.engine.watchdog" not in " ".join(c.cmdline())]
    assert any("uvicorn" in " ".join(c.cmdline()) or "prefect" in " ".join(c.cmdline()) for c in children), [
        c.cmdline() for c in children
    ]
    os.kill(proc.pid, signal.SIGKILL)  # the CLI alone, not its group
    proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline() for p in alive]


def test_a_second_run_into_the_same_folder_stops_with_one_line(tmp_path, inputs):
    out = tmp_path / "out"
    env = dict(os.environ)
    first = pause(run_args(inputs, out), env, "read", tmp_path / "paused")
    try:
        second = subprocess.run(run_args(inputs, out), env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another run is writing this folder" in lines[0], second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    again = subprocess.run(run_args(inputs, out), env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]  # the killed run's lock went with it


def test_an_output_that_is_a_file_fails_before_any_work(tmp_path, inputs):
    target = tmp_path / "out.txt"
    target.write_text("mine")
    done = subprocess.run(run_args(inputs, target), capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {target}: exists and is not a folder; --output must be a (new or curate-written) folder"
    ]
    assert "temporary server" not in done.stdout + done.stderr  # no flow was started
    assert target.read_text() == "mine"


def test_url_credentials_reach_neither_console_nor_prefect_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "CURATE_LLM_BASE_URL": "http://bob:s3cr3t-pw@127.0.0.1:9/v1",
        "CURATE_LLM_MODEL": "m",
    }
    samples = REPO / "sources" / "samples" / "expand"
    done = subprocess.run(
        [
            str(curate_bin()),
            "run",
            "expand",
            "-i",
            str(samples / "items.csv"),
            "-o",
            str(tmp_path / "out"),
            "-c",
            str(samples / "config.yaml"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "http://***@127.0.0.1:9/v1" in done.stderr
    assert "s3cr3t-pw" not in done.stdout + done.stderr
    stored = [p for p in (tmp_path / "prefect").rglob("*") if p.is_file()]
    assert any(p.name.startswith("prefect.db") for p in stored)
    for p in stored:
        assert b"s3cr3t-pw" not in p.read_bytes(), p
