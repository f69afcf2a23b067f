"""Dask for partition-parallel steps: a LocalCluster sized to the machine, or any scheduler given."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Any

from pipelines.engine.redaction import redact

log = logging.getLogger(__name__)


def local_cluster_size() -> tuple[int, int]:
    """(workers, threads per worker): one single-threaded worker process per core, since our
    partition work (parsing, polars, numpy) releases the GIL poorly in pure-Python parts."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores), 1


class DaskRuntime:
    """Starts its client on first use, so runs that need no parallel step start no cluster."""

    def __init__(
        self,
        address: str | None = None,
        inline: bool = False,
        workers: int | None = None,
        memory_limit: str | int | None = None,
        local_directory: str | None = None,
    ):
        self.address = address or os.environ.get("CURATE_DASK_ADDRESS") or None
        self.inline = inline  # run partitions in this process (unit tests, tiny inputs)
        # LocalCluster only: worker count (default: one per core), memory per worker ("4GB"; dask
        # spills to local_directory at 60% of it and restarts a worker past 95%)
        self.workers = workers
        self.memory_limit = memory_limit
        self.local_directory = local_directory
        self._client = None
        self._cluster = None
        self._log_level = logging.NOTSET
        self.workers_used: set[str] = set()

    @property
    def client(self):
        if self._client is None:
            from distributed import Client, LocalCluster

            if self.address:
                log.info("dask: connecting to scheduler %s", redact(self.address))
                self._client = Client(self.address)
            else:
                workers, threads = local_cluster_size()
                workers = self.workers or workers
                log.info("dask: starting LocalCluster, %d workers x %d thread", workers, threads)
                from schemas.progress import status

                with status(f"starting dask LocalCluster ({workers} workers)"):  # closed if the start fails too
                    # the in-process scheduler and nannies log every start and stop at INFO (a hundred
                    # lines a run in the console); warnings and errors still show
                    quiet = logging.getLogger("distributed")
                    self._log_level = quiet.level
                    quiet.setLevel(logging.WARNING)
                    self._cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=threads,
                        processes=True,
                        # the dashboard (bokeh) on a free port of loopback, or where CURATE_DASK_DASHBOARD says
                        dashboard_address=os.environ.get("CURATE_DASK_DASHBOARD", "127.0.0.1:0"),
                        silence_logs=logging.WARNING,
                        memory_limit=self.memory_limit if self.memory_limit is not None else "auto",
                        local_directory=self.local_directory,
                    )
                    self._client = Client(self._cluster)
            self.announce_dashboard()
        return self._client

    @property
    def dashboard_link(self) -> str | None:
        try:
            return self._client.dashboard_link if self._client is not None else None
        except Exception:  # a scheduler without a dashboard
            return None

    def announce_dashboard(self) -> None:
        """Print where the cluster's dashboard is (task stream, progress, memory per worker)."""
        link = self.dashboard_link
        if link:
            import sys

            from pipelines.engine.logs import run_logger

            run_logger().info("dask dashboard: %s", link)
            if not os.environ.get("CURATE_QUIET"):
                print(f"dask dashboard: {link}", file=sys.stderr, flush=True)

    def map(self, fn: Callable[..., Any], items: Iterable[Any], **kwargs: Any) -> list[Any]:
        """`fn(item, **kwargs)` for each item on the cluster, results in input order.
        A single item runs in this process: a cluster would only add its start-up time.

        The keyword arguments are scattered once each under a key of their own. Handed to
        `Client.map` as they are, one over 100 kB becomes a graph node keyed by the argument's *name*
        (distributed 2025's `_MapLayer`), so the next map with a large argument of the same name (the
        privacy step's `names`, once per column) collided with the first on the scheduler:
        `AssertionError(<TaskState 'names' processing>)`."""
        items = list(items)
        if self.inline or (len(items) <= 1 and not self.address):
            return [fn(item, **kwargs) for item in items]
        # in a list of one: `scatter` of a set or list would scatter each element on its own
        shared = {k: self.client.scatter([v], hash=False)[0] if not _scalar(v) else v for k, v in kwargs.items()}
        futures = self.client.map(fn, items, pure=False, **shared)
        try:
            results = self.client.gather(futures)
            # where the partitions ran, for the report (provenance of a run on a shared cluster)
            for addresses in self.client.who_has(futures).values():
                self.workers_used.update(addresses)
        finally:
            # the results first (gathered: their keys would keep the scattered arguments they depend on
            # wanted), then the arguments; each `cancel` returns once the scheduler has forgotten them
            self.client.cancel(futures)
            self.client.cancel([v for v in shared.values() if not _scalar(v)])
        return results

    def worker_peak_memory(self) -> dict[str, int]:
        """Peak resident memory (bytes) of each worker process so far, by address."""
        if self.inline or self._client is None:
            return {}
        return self.client.run(_peak_rss)

    def close(self) -> None:
        if self._client is not None and self._cluster is not None:
            try:  # our own workers only (a user's scheduler keeps its logging as it is)
                self._client.run(_quiet_heartbeat_at_shutdown)
            except Exception:  # a worker already gone: closing goes on
                pass
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            logging.getLogger("distributed").setLevel(self._log_level)
        self._client = self._cluster = None

    def __enter__(self) -> DaskRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, bytes))


def _peak_rss() -> int:
    """This process's own peak resident memory: Linux's VmHWM, which starts afresh with the process.
    (getrusage's ru_maxrss survives execve, so a worker spawned by a driver that had peaked at 1.9 GB
    reported 1.9 GB whatever it used; elsewhere it is the fallback.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


HEARTBEAT_FAILED = "Failed to communicate with scheduler during heartbeat"


class _DropHeartbeatFailure(logging.Filter):
    """Drops the worker's heartbeat error: at the end of a run the scheduler may close its side while
    a worker's heartbeat is in flight, and the worker printed an ERROR with a tornado traceback on the
    user's terminal (seen once in a full test run). Only installed on our LocalCluster's workers,
    right before closing them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(HEARTBEAT_FAILED)


def _quiet_heartbeat_at_shutdown() -> None:
    worker_log = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _DropHeartbeatFailure) for f in worker_log.filters):
        worker_log.addFilter(_DropHeartbeatFailure())
