"""Kill -9 the real `curate run` inside each step in turn, rerun the same command, and check that
finished steps are not redone and the output equals an uninterrupted run's, without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from tests import personality_data as pdata
from tests.conftest import curate_bin

pytestmark = pytest.mark.integration

STEPS = ["read", "validate_answers", "dedupe_respondents", "key_and_score"]
KILL_POINTS = STEPS + ["write:respondents"]


def command(inputs: list[Path], out: Path) -> list[str]:
    args = [str(curate_bin()), "run", "personality", "--output", str(out)]
    for p in inputs:
        args += ["--input", str(p)]
    return args


def kill_at(point: str, args: list[str], env: dict, marker: Path) -> None:
    env = {**env, "CURATE_FAULT_PAUSE_AT": point, "CURATE_FAULT_FILE": str(marker)}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None, f"run ended before reaching {point}"
        assert time.time() < deadline, f"never reached {point}"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the flow, its Prefect server and Dask workers
    proc.wait()


def records(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "data" / "respondents" / "*.parquet").drop("created_at").sort("record_id")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("inputs")
    return [pdata.write_csv(folder / "r.csv"), pdata.write_dat(folder / "IPIP120.dat")]


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory, inputs) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("clean") / "out"
    env = {**os.environ, "CURATE_CACHE_DIR": str(tmp_path_factory.mktemp("clean-cache"))}
    subprocess.run(command(inputs, out), env=env, check=True, capture_output=True)
    return records(out)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_kill_and_resume(point, tmp_path, inputs, clean_run):
    out = tmp_path / "out"
    env = {**os.environ, "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    kill_at(point, command(inputs, out), env, tmp_path / "paused")

    rerun = subprocess.run(command(inputs, out), env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    log = rerun.stdout + rerun.stderr
    done_before = STEPS[: STEPS.index(point)] if point in STEPS else STEPS
    for step in STEPS:
        cached = f"step {step}: output found in cache" in log
        assert cached == (step in done_before), (step, "cached" if cached else "recomputed")

    got = records(out)
    assert got["record_id"].n_unique() == got.height  # no duplicates
    assert got.equals(clean_run)
    report = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in report["steps"]] == STEPS  # accounted once each


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_is_one_error_line_and_the_rerun_resumes(tmp_path, inputs, clean_run, signum):
    """Ctrl-C (SIGINT to the process) or SIGTERM inside a step: one `error:` line saying what was
    kept, exit 128 + the signal, no Prefect crash lines, no traceback, no child left; the same command
    then resumes from the cache and writes what an uninterrupted run writes."""
    import psutil

    out, marker = tmp_path / "out", tmp_path / "at-step"
    env = {**os.environ, "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    paused = {**env, "CURATE_FAULT_PAUSE_AT": "key_and_score", "CURATE_FAULT_FILE": str(marker)}
    proc = subprocess.Popen(command(inputs, out), env=paused, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not marker.exists():
        assert proc.poll() is None and time.time() < deadline, "never reached the step"
        time.sleep(0.2)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert lines == [lines[0]] and lines[0].startswith(f"error: interrupted ({name}): the output folder keeps")
    assert "Crash detected" not in err and "Traceback" not in err
    time.sleep(1)
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert not out.exists()  # nothing half-written where the dataset goes
    done = subprocess.run(command(inputs, out), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert [s["name"] for s in report["steps"]][: len(STEPS)] == STEPS
    assert records(out).equals(clean_run)
