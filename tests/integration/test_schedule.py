"""`curate schedule` against a real Prefect server: the deployment carries its cron schedule, and
runs it executes pick up new input files and publish the next version."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pandas as pd
import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment

from pipelines.publish import versions
from tests import personality_data as pdata
from tests.conftest import curate_bin

pytestmark = pytest.mark.integration


async def read_deployment(name: str):
    async with get_client() as client:
        return await client.read_deployment_by_name(name)


def wait_for_deployment(name: str, proc, timeout: float = 180):
    import asyncio

    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, "curate schedule exited"
        try:
            return asyncio.run(read_deployment(name))
        except Exception:
            time.sleep(1)
    raise AssertionError(f"deployment {name} never appeared")


def test_scheduled_deployment_runs_and_publishes(tmp_path, prefect_server):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    pdata.write_csv(inbox / "wave1.csv")
    out, repo = tmp_path / "out", tmp_path / "repo"
    proc = subprocess.Popen(
        [str(curate_bin()), "schedule", "personality", "--cron", "0 3 * * *", "--name", "nightly-test",
         "--input", str(inbox / "*.csv"), "--output", str(out), "--publish-to", str(repo)],
        env={**os.environ, "CURATE_CACHE_DIR": str(tmp_path / "cache")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deployment = wait_for_deployment("curate-scheduled-run/nightly-test", proc)
        assert [s.schedule.cron for s in deployment.schedules] == ["0 3 * * *"]

        first = run_deployment("curate-scheduled-run/nightly-test", timeout=600)
        assert first.state.is_completed(), first.state
        assert versions(repo) == ["v1.0.0"]

        extra = pdata.frame_120()
        extra["case"] = extra["case"] + 1000
        extra.to_csv(inbox / "wave2.csv", index=False)  # a new file arrives
        second = run_deployment("curate-scheduled-run/nightly-test", timeout=600)
        assert second.state.is_completed(), second.state
        assert versions(repo) == ["v1.0.0", "v1.0.1"]
        rows = pd.read_parquet(repo / "data" / "respondents")
        assert len(rows) == 8 and rows["respondent_id"].is_unique
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
