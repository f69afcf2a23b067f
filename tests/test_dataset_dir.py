"""The dataset folder is written whole or not at all, by one run at a time, and keeps what it did
not write (pipelines/engine/dataset_dir.py). Children running the real `write_dataset_dir` are killed with
SIGKILL at every write point (fault points) and at random moments; `datasets.load_dataset` must then
read the old dataset or the new one, whole."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.engine.dataset_dir import MANIFEST, claim_output, lock_file
from schemas.errors import CurateError
from tests.conftest import REPO
from tests.dataset_writer import CONFIGS, shard_by_rows, write

OLD, NEW = ("old", 1000), ("new", 1500)
SHARD_ROWS = "500"  # 2 shards per config for the old dataset, 3 for the new one
FAULT_POINTS = [f"write:{c}" for c in CONFIGS] + ["dataset:staged", "dataset:swapped"]


def child(out: Path, rows: int, tag: str, plot_cache: Path, *extra: str, env: dict | None = None):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.dataset_writer", str(out), str(rows), tag, str(plot_cache), *extra],
        cwd=REPO,
        env={**os.environ, "TEST_SHARD_ROWS": SHARD_ROWS, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at(point: str, out: Path, tmp: Path, *extra: str) -> None:
    marker = tmp / f"paused-{point.replace(':', '_')}"
    proc = child(
        out,
        NEW[1],
        NEW[0],
        tmp / "plots",
        *extra,
        env={"CURATE_FAULT_PAUSE_AT": point, "CURATE_FAULT_FILE": str(marker)},
    )
    deadline = time.time() + 120
    while not marker.exists():
        assert proc.poll() is None, f"writer ended before {point}: {proc.stderr.read()[-2000:]}"
        assert time.time() < deadline, f"never reached {point}"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def read_whole(out: Path, cache: Path) -> str:
    """The tag of the dataset `load_dataset` reads, after checking that every config, the report and
    the card are of that same dataset and complete."""
    import datasets

    sizes = dict([OLD, NEW])
    tags = set()
    for config in CONFIGS:
        ds = datasets.load_dataset(
            str(out), config, split="train", cache_dir=str(cache / config), download_mode="force_redownload"
        )
        got = set(ds["tag"])
        assert len(got) == 1, f"{config} mixes datasets: {got}"
        tag = got.pop()
        assert len(ds) == sizes[tag], f"{config}: {len(ds)} rows of the {tag} dataset of {sizes[tag]}"
        assert sorted(ds["id"]) == list(range(sizes[tag]))
        tags.add(tag)
    assert json.loads((out / "report.json").read_text())["facts"]["tag"] in tags
    assert f"pretty_name: Test {tags.pop() if len(tags) == 1 else tags}" in (out / "README.md").read_text()
    return json.loads((out / "report.json").read_text())["facts"]["tag"]


def leftovers(parent: Path, out: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{out.name}.curate-"))


@pytest.fixture
def old_dataset(tmp_path) -> Path:
    out = tmp_path / "ds"
    proc = child(out, OLD[1], OLD[0], tmp_path / "plots")
    assert proc.wait() == 0, proc.stderr.read()
    return out


@pytest.mark.integration  # children killed with SIGKILL: seconds each
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_killed_at_each_write_point_leaves_old_or_new_whole(point, old_dataset, tmp_path):
    kill_at(point, old_dataset, tmp_path)
    expected = "new" if point == "dataset:swapped" else "old"
    assert read_whole(old_dataset, tmp_path / "hf") == expected
    # the next run cleans what the killed one left and writes the new dataset
    proc = child(old_dataset, NEW[1], NEW[0], tmp_path / "plots")
    assert proc.wait() == 0, proc.stderr.read()
    assert leftovers(tmp_path, old_dataset) == []
    assert read_whole(old_dataset, tmp_path / "hf2") == "new"


@pytest.mark.integration  # children killed with SIGKILL: seconds each
def test_killed_between_the_renames_of_the_fallback_swap(old_dataset, tmp_path):
    """Without renameat2 the swap is two renames; a kill between them leaves no folder for an
    instant, which the next claim of the folder repairs before anything else."""
    kill_at("dataset:between-renames", old_dataset, tmp_path, "--no-exchange")
    assert not old_dataset.exists()
    with claim_output(old_dataset):
        pass
    assert read_whole(old_dataset, tmp_path / "hf") == "old"
    proc = child(old_dataset, NEW[1], NEW[0], tmp_path / "plots", "--no-exchange")
    assert proc.wait() == 0, proc.stderr.read()
    assert read_whole(old_dataset, tmp_path / "hf2") == "new"
    assert leftovers(tmp_path, old_dataset) == []


@pytest.mark.integration  # children killed with SIGKILL: seconds each
def test_killed_at_random_moments(old_dataset, tmp_path):
    rng = random.Random(15)
    seen = set()
    for trial in range(4):
        proc = child(old_dataset, NEW[1], NEW[0], tmp_path / "plots")
        time.sleep(rng.uniform(0.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen.add(read_whole(old_dataset, tmp_path / f"hf{trial}"))
    assert seen <= {"old", "new"}


def test_a_second_run_into_a_locked_folder_stops_with_one_line(old_dataset, tmp_path):
    marker = tmp_path / "paused"
    proc = child(
        old_dataset,
        NEW[1],
        NEW[0],
        tmp_path / "plots",
        env={"CURATE_FAULT_PAUSE_AT": "write:alpha", "CURATE_FAULT_FILE": str(marker)},
    )
    try:
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        with pytest.raises(CurateError, match="another run is writing this folder") as e:
            with claim_output(old_dataset):
                pass
        assert "\n" not in str(e.value)
        started = time.monotonic()
        with pytest.raises(CurateError, match="another run"):
            with claim_output(old_dataset, lock_timeout=1.0):
                pass
        assert time.monotonic() - started >= 0.9  # it waited
    finally:
        proc.kill()
        proc.wait()
    assert read_whole(old_dataset, tmp_path / "hf") == "old"


@pytest.mark.integration  # children killed with SIGKILL: seconds each
def test_a_waiting_run_writes_after_the_first(old_dataset, tmp_path):
    marker = tmp_path / "paused"
    first = child(
        old_dataset,
        NEW[1],
        NEW[0],
        tmp_path / "plots",
        env={"CURATE_FAULT_PAUSE_AT": "write:alpha", "CURATE_FAULT_FILE": str(marker), "CURATE_FAULT_SECONDS": "2"},
    )
    while not marker.exists():
        assert first.poll() is None, first.stderr.read()
        time.sleep(0.05)
    with claim_output(old_dataset, lock_timeout=120):
        # the lock came free when the first run had swapped its dataset in
        assert read_whole(old_dataset, tmp_path / "hf-first") == "new"
        write(old_dataset, OLD[1], OLD[0], tmp_path / "plots")
    assert first.wait(timeout=60) == 0, first.stderr.read()
    assert read_whole(old_dataset, tmp_path / "hf") == "old"


CONTENDER = """
import os, sys, time
from pipelines.engine.dataset_dir import claim_output
out, log = sys.argv[1], sys.argv[2]
for _ in range(5):
    with claim_output(out, lock_timeout=120):
        with open(log, "a") as f:
            f.write(f"in {os.getpid()}\\n")
            f.flush()
            time.sleep(0.01)
            f.write(f"out {os.getpid()}\\n")
"""


def test_the_lock_file_is_removed_and_runs_never_overlap(tmp_path):
    """The lock file goes when a run ends (removed while still held); four processes claiming one
    folder 5 times each, with waiters queued on unlinked lock files, never hold it together."""
    out, log = tmp_path / "ds", tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", CONTENDER, str(out), str(log)], cwd=REPO) for _ in range(4)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    lines = log.read_text().splitlines()
    assert len(lines) == 40
    for enter, leave in zip(lines[::2], lines[1::2]):  # each "in" is followed by its own "out"
        assert enter.startswith("in ") and leave == "out " + enter[3:], lines
    assert not lock_file(out).exists()
    with claim_output(out):
        assert lock_file(out).exists()  # only while a run holds it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log"]


def test_user_files_are_kept_and_ours_replaced(tmp_path):
    out = tmp_path / "ds"
    write(out, 10, "first")
    (out / "data" / "mine").mkdir()
    (out / "data" / "mine" / "train.parquet").write_bytes(b"user data")
    (out / "plots" / "mine.png").write_bytes(b"user plot")
    (out / "NOTES.md").write_text("my notes")
    (out / "empty").mkdir()
    write(out, 20, "second")
    assert (out / "data" / "mine" / "train.parquet").read_bytes() == b"user data"
    assert (out / "plots" / "mine.png").read_bytes() == b"user plot"
    assert (out / "NOTES.md").read_text() == "my notes"
    assert (out / "empty").is_dir()
    assert "Test second" in (out / "README.md").read_text()
    manifest = json.loads((out / MANIFEST).read_text())["files"]
    assert "NOTES.md" not in manifest and "plots/funnel.png" in manifest


def test_a_user_file_where_we_would_write_is_not_overwritten(tmp_path):
    out = tmp_path / "ds"
    write(out, 10, "first")
    (out / "data" / "gamma").mkdir()
    (out / "data" / "alpha" / "train-00000-of-00002.parquet").write_bytes(b"user")  # not ours
    from data_cards import hub

    by_bytes = hub.shards
    shard_by_rows(5)
    try:
        with pytest.raises(CurateError, match="a file curate did not write"):
            write(out, 10, "second")
    finally:
        hub.shards = by_bytes
    assert (out / "data" / "alpha" / "train-00000-of-00002.parquet").read_bytes() == b"user"
    assert "Test first" in (out / "README.md").read_text()
    assert leftovers(tmp_path, out) == []


def test_a_foreign_folder_is_refused_unless_allowed(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "README.md").write_text("my project")
    (out / "data").mkdir()
    (out / "data" / "x.csv").write_text("a\n1\n")
    with pytest.raises(CurateError, match="is not a dataset folder written by curate"):
        with claim_output(out):
            pass
    with claim_output(out, allow_foreign=True):
        write(out, 10, "adopted")
    assert (out / "data" / "x.csv").read_text() == "a\n1\n"
    assert "Test adopted" in (out / "README.md").read_text()  # replaced, as the flag allows
    with claim_output(out):  # now it is ours
        write(out, 12, "again")
    assert (out / "data" / "x.csv").read_text() == "a\n1\n"


def test_an_output_that_is_a_file_fails_before_any_work(tmp_path):
    target = tmp_path / "out.parquet"
    target.write_bytes(b"x")
    with pytest.raises(CurateError, match="exists and is not a folder"):
        with claim_output(target):
            raise AssertionError("no work may start")
    assert target.read_bytes() == b"x"


def test_a_folder_from_before_manifests_is_recognised(tmp_path):
    out = tmp_path / "ds"
    write(out, 10, "legacy")
    (out / MANIFEST).unlink()
    (out / "mine.txt").write_text("keep")
    write(out, 11, "now")
    assert (out / "mine.txt").read_text() == "keep"
    assert "Test now" in (out / "README.md").read_text()


def test_the_cli_options_travel_in_the_run_request(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import main as cli

    seen = []
    monkeypatch.setattr(cli, "run_one", lambda request, checked=False: seen.append(request) or {})
    monkeypatch.setattr(cli, "_print_summary", lambda summary: None)
    from tests import personality_data as pdata

    # a real input: `run` checks the inputs before anything starts (run_one is what it then calls)
    args = ["run", "personality", "-i", str(pdata.write_csv(tmp_path / "x.csv")), "-o", str(tmp_path / "o")]
    assert CliRunner().invoke(cli.app, args).exit_code == 0
    assert CliRunner().invoke(cli.app, [*args, "--allow-existing", "--lock-timeout", "2.5"]).exit_code == 0
    assert [(r.allow_existing, r.lock_timeout) for r in seen] == [(False, 0.0), (True, 2.5)]


def test_the_flow_claims_the_output_before_any_work(tmp_path):
    """A run that reaches the flow without `curate run` (a schedule) gets the same check and lock."""
    from pipelines.engine.request import RunRequest
    from pipelines.flows.run import _run

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    request = RunRequest(recipe="no-such-recipe", inputs=(), output=str(out))
    with pytest.raises(CurateError, match="is not a dataset folder written by curate"):
        _run(request)  # refused before the recipe is even looked up
    with pytest.raises(CurateError, match="unknown recipe"):
        _run(request.model_copy(update={"allow_existing": True}))  # allowed: on to the recipe
    ours = tmp_path / "ours"
    code = (
        "from pipelines.flows.run import _run; from pipelines.engine.request import RunRequest; "
        f"_run(RunRequest(recipe='x', inputs=(), output={str(ours)!r}))"
    )
    with claim_output(ours):  # another process holds the folder
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert "another run is writing this folder" in done.stderr, done.stderr


def test_an_output_where_no_file_can_be_made_is_not_said_to_be_locked():
    """Under /proc no lock file can be created: filelock retried until its timeout, and the message
    was "another run is writing this folder"; it names the lock file and the system's reason."""
    from pipelines.engine.dataset_dir import claim_output
    from schemas.errors import CurateError

    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    with pytest.raises(
        CurateError, match=r"/proc/\.curate-x\.curate\.lock: cannot create the output folder's lock file: "
    ):
        with claim_output("/proc/curate-x"):
            pass
