"""Where the distributed near dedup spends its time, against the single-process step on the same rows,
in one run (house rule: ratios, not absolute seconds, on a shared machine).

    nice -n 10 .venv/bin/python bench/dedup/profile_dask.py --rows 200000 [--ref /path/to/old/checkout]

Takes the first `rows` rows of the 1M-row scale chunk (sentence triples, ~330 characters a row),
runs the single-process `near` step and the Dask stages (LocalCluster, 2 workers x 4 GB) in
processes of their own, prints seconds per stage, rows/s, each worker's peak memory, and checks that
both keep the same ids with the same `duplicate_of`. With --ref, the Dask stages of another checkout
(e.g. `git archive BASE | tar -x -C DIR`) run too, interleaved, so before/after is a ratio of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTITION_ROWS = 0
REPO = HERE.parents[1]


def cpu_seconds() -> float:
    """CPU time of this process (user + system, all its threads): on a machine shared with other
    jobs, wall time measures the neighbours; CPU time measures the work."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(args) -> None:
    sys.path.insert(0, args.code)
    sys.path.insert(0, str(HERE))
    import resource

    import polars as pl

    from pipelines.methods.dedup import dedup_step, duplicates_table

    data = Path(args.data)
    step = dedup_step("near", {"id_column": "id", "examples": 0})
    out = Path(args.out)
    if args.engine == "single":
        frame = pl.read_parquet(data).select("id", "text")
        t0, c0 = time.perf_counter(), cpu_seconds()
        result = step.run(frame)
        seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        dup = duplicates_table(result.dropped_rows).select("id", "duplicate_of")
        info = {"seconds": seconds, "cpu": cpu, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    else:
        from pipelines.engine.dask_runtime import DaskRuntime
        from pipelines.methods.dedup.distributed import memory_bytes, run_distributed

        runtime = DaskRuntime(workers=2, memory_limit="4GB", local_directory=str(out / "spill"))
        try:
            _ = runtime.client  # the cluster started before the clock
            before = runtime.client.run(cpu_seconds)
            t0, c0 = time.perf_counter(), cpu_seconds()
            res = run_distributed(
                "near",
                step.config,
                data,
                out / "out",
                runtime,
                out / "stages",
                memory_limit=memory_bytes("4GB"),
                params=step.params(),
                partition_rows=args.partition_rows or None,
                cache_outputs=False,  # timed: computed every time
            )
            seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            cpu += sum(runtime.client.run(cpu_seconds).values()) - sum(before.values())
            peaks = runtime.worker_peak_memory()
        finally:
            runtime.close()
        dup = pl.read_parquet(res.duplicates).select("id", "duplicate_of")
        info = {
            "seconds": seconds,
            "cpu": cpu,
            "stages": res.seconds,
            "worker_peak_mb": sorted(round(v / 2**20) for v in peaks.values()),
            "partitions": res.stats["engine"]["partitions"],
            "shards": res.stats["engine"]["shards"],
        }
    dup.sort("id").write_parquet(out / "dup.parquet")
    print("RESULT " + json.dumps(info), flush=True)


def run(engine: str, code: str, data: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            engine,
            "--code",
            code,
            "--data",
            str(data),
            "--out",
            str(out),
            "--partition-rows",
            str(PARTITION_ROWS),
        ],
        capture_output=True,
        text=True,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{engine} ({code}) failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--ref", help="another checkout whose Dask stages run too (before/after)")
    ap.add_argument("--work", default=os.environ.get("CURATE_BENCH_WORK", "/tmp/curate-profile-dask"))
    ap.add_argument("--single", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--partition-rows", type=int, default=0, help="rows per partition [default: from the 4 GB limit]")
    ap.add_argument("--child")
    ap.add_argument("--code")
    ap.add_argument("--data")
    ap.add_argument("--out")
    args = ap.parse_args()
    global PARTITION_ROWS
    PARTITION_ROWS = args.partition_rows
    if args.child:
        args.engine = args.child
        return child(args)
    import polars as pl

    sys.path.insert(0, str(HERE))
    from corpus import build_scaled

    work = Path(args.work)
    data = work / f"rows-{args.rows}.parquet"
    if not data.exists():
        work.mkdir(parents=True, exist_ok=True)
        src = sorted(build_scaled(1_000_000).glob("*.parquet"))[0]
        pl.scan_parquet(src).head(args.rows).sink_parquet(data, row_group_size=50_000)
    runs = (
        [("dask", str(REPO))]
        + ([("dask-ref", args.ref)] if args.ref else [])
        + ([("single", str(REPO))] if args.single else [])
    )
    results = {}
    for name, code in runs:
        results[name] = r = run(name.split("-")[0], code, data, work / name)
        print(
            f"{name:9s} {args.rows:,} rows  {r['seconds']:8.1f} s  {args.rows / r['seconds']:>8,.0f} rows/s  "
            f"CPU {r['cpu']:7.1f} s (driver + workers)  load {os.getloadavg()[0]:.1f}  "
            + (
                f"workers peak MB {r['worker_peak_mb']}  partitions {r['partitions']} shards {r['shards']}  stages {r['stages']}"
                if "stages" in r
                else f"peak RSS {r['peak_mb']:.0f} MB"
            ),
            flush=True,
        )
    base = pl.read_parquet(work / runs[0][0] / "dup.parquet")
    for name, _ in runs[1:]:
        other = pl.read_parquet(work / name / "dup.parquet")
        same = base.equals(other)
        print(
            f"{name} / {runs[0][0]}: wall x{results[name]['seconds'] / results[runs[0][0]]['seconds']:.2f}, "
            f"CPU x{results[name]['cpu'] / results[runs[0][0]]['cpu']:.2f} (>1: {runs[0][0]} cheaper); "
            f"duplicates identical: {same} ({base.height:,} vs {other.height:,} rows)"
        )
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
