"""The privacy step partitioned on a Dask LocalCluster (the pipeline's `DaskRuntime`), against the
regex step it replaced on the same cluster, in the same run: comments/s on the workers, comments per
worker CPU-second, and the time projected for a month of r/AmItheAsshole comments (about 2M).

Called by `bench_privacy.py --dask N` (N comments: the benchmark's planted comments, then PII-free
comments of the same host prose). The masker goes through `mask_columns`, the function the
`privacy` step calls, in its chunks; the baseline through the same `DaskRuntime.map`, in chunks of
the same size. Each worker loads its masker once (a warm-up chunk, timed apart); the workers' CPU
time is read from each worker process before and after, so the projection holds on a shared
machine whose wall clock depends on the neighbours.
"""

from __future__ import annotations

import resource
import time

MONTH = 2_000_000


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _workers_cpu(dask) -> float:
    return sum(dask.client.run(_cpu_seconds).values())


def baseline_chunk(texts: list[str], names: frozenset[str]) -> list[str]:
    """The regex step on one partition (runs in a worker)."""
    from bench.privacy import baseline

    return baseline.mask(texts, set(names))


def _timed(dask, fn) -> tuple[float, float]:
    cpu, start = _workers_cpu(dask), time.perf_counter()
    fn()
    return time.perf_counter() - start, _workers_cpu(dask) - cpu


def run(texts: list[str], names: set[str], workers: int = 2, memory_limit: str = "3GB", chunk: int = 2000) -> dict:
    """Times both maskers on `workers` single-threaded worker processes; returns the measures."""
    import polars as pl

    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.methods.privacy import mask_columns

    frame = pl.DataFrame({"body": texts}, schema={"body": pl.String})
    names = frozenset(names)
    chunks = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    out: dict = {"comments": len(texts), "workers": workers, "memory_limit": memory_limit, "chunk": chunk}
    with DaskRuntime(workers=workers, memory_limit=memory_limit) as dask:
        start = time.perf_counter()
        # one small chunk per worker loads each worker's masker (spaCy, Presidio, lexicons)
        warm = pl.DataFrame({"body": texts[: workers * 4]}, schema={"body": pl.String})
        mask_columns(warm, ["body"], names, dask=dask, chunk=4)
        out["startup_s"] = time.perf_counter() - start
        out["regex"] = _timed(dask, lambda: dask.map(baseline_chunk, chunks, names=names))
        masked: dict = {}
        out["privacy"] = _timed(
            dask, lambda: masked.update(counts=mask_columns(frame, ["body"], names, dask=dask, chunk=chunk)[1])
        )
        out["masked"] = masked["counts"]
        out["worker_peak_rss"] = dask.worker_peak_memory()
    return out


def report(m: dict) -> None:
    n, workers = m["comments"], m["workers"]
    print(
        f"\nPartitioned on Dask: LocalCluster, {workers} single-threaded worker processes "
        f"(memory limit {m['memory_limit']} each), {n} comments in chunks of {m['chunk']}; "
        f"cluster start and masker load {m['startup_s']:.1f}s (not counted below)\n"
    )
    print("| | regex (before) | presidio + spaCy NER (privacy step) |")
    print("|---|---:|---:|")
    (rw, rc), (pw, pc) = m["regex"], m["privacy"]
    print(f"| wall seconds | {rw:.2f} | {pw:.2f} |")
    print(f"| comments/s on {workers} workers (wall) | {n / rw:.0f} | {n / pw:.0f} |")
    print(f"| ratio to the regex step (wall) | 1.000 | {rw / pw:.3f} |")
    print(f"| workers' CPU seconds | {rc:.2f} | {pc:.2f} |")
    print(f"| comments per worker CPU-second | {n / rc:.0f} | {n / pc:.0f} |")
    print(
        f"| 2M comments on {workers} cores, minutes (wall rate) | {MONTH / (n / rw) / 60:.1f} | "
        f"{MONTH / (n / pw) / 60:.1f} |"
    )
    print(
        f"| 2M comments on {workers} cores, minutes (CPU-time rate) | {MONTH / (workers * n / rc) / 60:.1f} | "
        f"{MONTH / (workers * n / pc) / 60:.1f} |"
    )
    peaks = ", ".join(f"{v / 2**20:.0f} MiB" for v in m["worker_peak_rss"].values())
    print(f"\nmasks written: {m['masked']}; workers' peak RSS: {peaks}")
