"""Partitioned steps on an existing Dask cluster: a real `distributed` scheduler and two workers
started as separate processes on loopback, reached with --dask-address."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from distributed import Client

from pipelines.engine.prefect_server import free_port
from tests import personality_data as pdata
from tests.conftest import REPO, curate_bin

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = REPO / ".venv" / "bin"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--dashboard-address",
                ":0",
            ],
            env=env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--host",
                    "127.0.0.1",
                    "--name",
                    f"w{i}",
                    "--local-directory",
                    str(tmp_path / f"w{i}"),
                ],
                env=env,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    deadline = time.time() + 120
    while True:
        try:
            with Client(address, timeout=5) as client:
                workers = client.scheduler_info()["workers"]
                if len(workers) == 2:
                    break
        except OSError:
            pass
        assert time.time() < deadline, "external dask cluster did not come up"
        time.sleep(1)
    yield address, sorted(workers)
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(timeout=30)


def test_run_on_an_external_scheduler(cluster, tmp_path):
    address, workers = cluster
    inputs = [
        pdata.write_csv(tmp_path / "a.csv"),
        pdata.write_dat(tmp_path / "IPIP120.dat"),
        pdata.write_sav(tmp_path / "b.sav"),
        pdata.write_dta(tmp_path / "c.dta"),
    ]
    out = tmp_path / "out"
    args = [str(curate_bin()), "run", "personality", "--output", str(out), "--dask-address", address]
    for p in inputs:
        args += ["--input", str(p)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "report.json").read_text())
    assert report["facts"]["dask"]["scheduler"] == address
    used = set(report["facts"]["dask"]["workers"])
    assert used and used <= set(workers)  # the partitions ran on the external workers
    assert report["steps"][0]["kept"] == 20  # 4 files x 5 respondents, parsed on the cluster
    with Client(address) as client:  # and the cluster is still there for others
        assert len(client.scheduler_info()["workers"]) == 2


def test_the_local_cluster_dashboard_works_and_its_link_is_printed(tmp_path):
    """The LocalCluster's dashboard page is bokeh's (not distributed's "pip install bokeh" notice),
    and `curate run` prints its link."""
    import httpx

    from pipelines.engine.dask_runtime import DaskRuntime

    with DaskRuntime() as dask:
        assert dask.map(abs, [-1, -2, 3]) == [1, 2, 3]
        link = dask.dashboard_link
        page = httpx.get(link, timeout=60, follow_redirects=True)
        assert page.status_code == 200 and "bokeh" in page.text.lower() and "pip install" not in page.text.lower()
    inputs = [pdata.write_csv(tmp_path / "a.csv"), pdata.write_sav(tmp_path / "b.sav")]  # two files: a cluster starts
    proc = subprocess.run(
        [
            str(curate_bin()),
            "run",
            "personality",
            "-i",
            str(inputs[0]),
            "-i",
            str(inputs[1]),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "dask dashboard: http://127.0.0.1:" in proc.stderr
