"""`DaskRuntime.map` on a real LocalCluster: keyword arguments of any size, in successive maps,
give the results the same calls give in process. Handed to `Client.map` as they are, a keyword
argument over 100 kB became a graph node keyed by its name, and a second map with a large argument of
that name failed on the scheduler (the privacy step on more than 2,000 texts: `names`)."""

from __future__ import annotations

import time

import pytest

from pipelines.engine.dask_runtime import DaskRuntime


def count_known(chunk: list[str], names: frozenset, ner: bool = False, tag: str = "") -> tuple[int, str]:
    return sum(word in names for word in chunk), tag


@pytest.fixture(scope="module")
def cluster():
    with DaskRuntime(workers=2) as runtime:
        yield runtime


def test_successive_maps_with_large_keyword_arguments_of_one_name(cluster):
    chunks = [[f"w{i}" for i in range(k, k + 500)] for k in range(0, 3000, 500)]
    for column in range(3):  # the privacy step maps once per column, `names` each time
        names = frozenset(f"w{i}" for i in range(column * 7, 30_000, 3))  # over 100 kB pickled
        want = [count_known(c, names, tag=str(column)) for c in chunks]
        assert cluster.map(count_known, chunks, names=names, ner=True, tag=str(column)) == want
    assert cluster.workers_used  # it ran on the workers, not in this process


def test_scattered_arguments_are_released(cluster):
    names = frozenset(str(i) for i in range(40_000))
    cluster.map(count_known, [["1"], ["2"]], names=names)

    def held() -> set:
        return {str(k) for keys in cluster.client.has_what().values() for k in keys}

    # released, not necessarily at once: the workers drop what the scheduler forgot in their own time
    deadline = time.monotonic() + 30
    while any(k.startswith(("frozenset", "names", "count_known")) for k in held()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(k.startswith(("frozenset", "names", "count_known")) for k in held()), held()


def _worker_log_filters() -> list[str]:
    import logging

    return [type(f).__name__ for f in logging.getLogger("distributed.worker").filters]


def test_closing_our_cluster_quiets_the_workers_heartbeat_error_and_nothing_else(capfd):
    """At the end of a run a worker's heartbeat could meet a closed scheduler and print an ERROR with a
    tornado traceback on the terminal (a norms run in the display test, once). `close` installs a
    filter for that one message on our LocalCluster's workers before closing them."""
    import logging

    from pipelines.engine.dask_runtime import HEARTBEAT_FAILED, _DropHeartbeatFailure, _quiet_heartbeat_at_shutdown

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("distributed.worker", logging.ERROR, __file__, 1, msg, None, None)

    assert not _DropHeartbeatFailure().filter(record(HEARTBEAT_FAILED + "."))
    assert _DropHeartbeatFailure().filter(record("Compute Failed"))  # any other worker error still shows
    runtime = DaskRuntime(workers=1)
    try:
        assert runtime.map(len, [[1], [1, 2]]) == [1, 2]
        assert list(runtime.client.run(_worker_log_filters).values()) == [[]]
        runtime.client.run(_quiet_heartbeat_at_shutdown)
        runtime.client.run(_quiet_heartbeat_at_shutdown)  # once, however often it runs
        assert list(runtime.client.run(_worker_log_filters).values()) == [["_DropHeartbeatFailure"]]
    finally:
        runtime.close()
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_a_workers_peak_memory_is_its_own_not_its_parents():
    """A worker process is spawned (fork + exec) by the driver: getrusage's ru_maxrss survives the
    exec, so it reported the driver's peak. The peak we report is the process's own (VmHWM)."""
    import subprocess
    import sys
    from pathlib import Path

    child = (
        "import resource; from pipelines.engine.dask_runtime import _peak_rss; "
        "print(_peak_rss(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)"
    )
    parent = f"big = b'x' * 400_000_000; import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    out = subprocess.run(
        [sys.executable, "-c", parent], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1]
    )
    own, inherited = (int(x) for x in out.stdout.split())
    assert inherited >= 400_000_000  # what ru_maxrss says: the parent's peak
    assert own < 200_000_000, own
