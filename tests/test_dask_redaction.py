"""`--dask-address` with credentials (tls://user:password@host) is shown and stored redacted: in the
RunRequest (a Prefect parameter, kept in Prefect's database), a schedule's deployment parameters, the
report and the logs; the real value is revealed only to connect, in this process and the processes it
starts (Prefect's runner of scheduled runs, which inherits the environment). Issue 15."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.redaction import reveal
from pipelines.engine.request import RunRequest
from schemas.errors import CurateError
from tests.conftest import REPO

SECRET = "tls://alice:s3cret-pw@dask.example:8786"
SHOWN = "tls://***@dask.example:8786"
SAMPLE = REPO / "sources" / "samples" / "personality" / "ipip120_responses.csv"


def test_the_request_carries_the_address_redacted_and_reveals_it_to_connect_only():
    from fastapi.encoders import jsonable_encoder

    from pipelines.flows.run import run_recipe

    request = RunRequest(recipe="personality", inputs=(), output="o", dask_address=SECRET)
    assert request.dask_address == SHOWN
    stored = run_recipe.serialize_parameters({"request": request})  # what Prefect sends to its database
    assert "s3cret" not in repr(stored) and "s3cret" not in request.model_dump_json()
    assert SHOWN in repr(jsonable_encoder(request))
    assert reveal(request.dask_address) == SECRET
    child = subprocess.run(
        [sys.executable, "-c", f"from pipelines.engine.redaction import reveal; print(reveal({SHOWN!r}))"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert child.stdout.strip() == SECRET  # a process started by this one (Prefect's runner) can connect
    with pytest.raises(CurateError, match="does not know the credentials"):
        reveal("tls://***@elsewhere:1")
    assert reveal("tcp://10.0.0.1:8786") == "tcp://10.0.0.1:8786"


def test_the_flow_connects_with_the_real_address_and_reports_the_redacted_one(tmp_path, monkeypatch):
    import json

    from pipelines.flows import run as flow

    connected = []

    class Recorder(DaskRuntime):
        def __init__(self, address=None, **_):
            connected.append(address)
            super().__init__(address, inline=True)
            self.workers_used = {"tls://10.0.0.2:40000"}

    monkeypatch.setattr(flow, "DaskRuntime", Recorder)
    out = tmp_path / "out"
    flow._run(RunRequest(recipe="personality", inputs=(str(SAMPLE),), output=str(out), dask_address=SECRET))
    assert connected == [SECRET]
    report = json.loads((out / "report.json").read_text())
    assert report["facts"]["dask"]["scheduler"] == SHOWN
    for path in out.rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), path


def test_a_schedule_stores_the_address_redacted(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import main as cli
    from pipelines.flows import schedule

    seen = {}
    monkeypatch.setattr(schedule, "serve_schedule", lambda name, cron, parameters, tz=None: seen.update(parameters))
    args = [
        "schedule",
        "personality",
        "--cron",
        "0 3 * * *",
        "-i",
        str(SAMPLE),
        "-o",
        str(tmp_path / "o"),
        "--dask-address",
        "tls://bob:hunter2@dask.example:8786",
    ]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert seen["dask_address"] == SHOWN and "hunter2" not in repr(seen)
    assert reveal(seen["dask_address"]) == "tls://bob:hunter2@dask.example:8786"
    assert "hunter2" not in result.output


@pytest.mark.integration
def test_prefects_database_never_holds_the_credentials(tmp_path, monkeypatch):
    """The real flow on Prefect's temporary server; its stored flow run parameters are read back."""
    import asyncio

    from prefect.client.orchestration import get_client

    from pipelines.flows import run as flow

    monkeypatch.setattr(flow, "DaskRuntime", lambda address=None: DaskRuntime(address, inline=True))
    monkeypatch.setenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "300")  # as `curate` sets it: a busy CI
    request = RunRequest(recipe="personality", inputs=(str(SAMPLE),), output=str(tmp_path / "out"), dask_address=SECRET)
    state = flow.run_recipe(request, return_state=True)
    assert not state.is_failed(), state.message

    async def stored():
        async with get_client() as client:
            run = await client.read_flow_run(state.state_details.flow_run_id)
            logs, offset = [], 0
            while True:  # limit and offset given: Prefect 3.8.8's server refuses the client's nulls (HTTP 422)
                page = await client.read_logs(limit=200, offset=offset)
                logs += page
                offset += len(page)
                if len(page) < 200:
                    break
            return run.parameters, [entry.message for entry in logs]

    parameters, logs = asyncio.run(stored())
    assert parameters["request"]["dask_address"] == SHOWN
    assert "s3cret" not in repr(parameters) and not [m for m in logs if "s3cret" in m]
