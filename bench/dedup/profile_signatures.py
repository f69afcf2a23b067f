"""The signatures stage of the Dask near dedup alone (after ids and ranks), on the alike chunks of
the respun scale corpus (`bench_dedup.py --dask-scale ... --respin 0.3 --alike-chunks` builds them):
the workers' user and system CPU (/proc/<pid>/stat), the disk's writes and the kernel's reclaim.

    .venv/bin/python bench/dedup/profile_signatures.py 1000000,10000000

Environment variables reach the LocalCluster's workers (e.g. NUMPY_MADVISE_HUGEPAGE=0). Linux only.
"""

import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def stat(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return int(f[11]) / tck, int(f[12]) / tck  # utime, stime


def vm():
    d = dict(line.split() for line in open("/proc/vmstat"))
    return {
        k: int(d.get(k, 0))
        for k in (
            "pgsteal_kswapd",
            "pgsteal_direct",
            "nr_written",
            "pgmajfault",
            "allocstall_normal",
            "allocstall_movable",
        )
    }


def disk():
    """Writes and reads of the machine's disks (those in /sys/block, loop and ram devices left out)."""
    disks = {d for d in os.listdir("/sys/block") if not d.startswith(("loop", "ram"))}
    total = {"MB_written": 0.0, "write_ms": 0, "MB_read": 0.0}
    for line in open("/proc/diskstats"):
        f = line.split()
        if f[2] in disks:
            total["MB_written"] += int(f[9]) * 512 / 2**20
            total["write_ms"] += int(f[10])
            total["MB_read"] += int(f[5]) * 512 / 2**20
    return total


def cpu_iowait():
    f = open("/proc/stat").readline().split()
    return int(f[5]) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.methods.dedup import dedup_step
    from pipelines.methods.dedup.distributed import memory_bytes
    from pipelines.methods.dedup.distributed.driver import input_files, plan_for
    from pipelines.methods.dedup.distributed.stages import stage_ids, stage_ranks, stage_signatures

    for rows in [int(x) for x in sys.argv[1].split(",")]:
        folder = Path.home() / f".cache/curate-bench/scaled-v1-{rows}-1000000-respin0.3-alike"
        step = dedup_step("near", {"id_column": "id", "examples": 0})
        work = Path.home() / ".cache" / "curate-bench" / "work-signatures"
        shutil.rmtree(work, ignore_errors=True)
        plan = plan_for("near", step.config, input_files(folder), work, None, memory_bytes("4GB"), None, str(folder))
        rt = DaskRuntime(workers=2, memory_limit="4GB", local_directory=str(work / "spill"))
        try:
            _ = rt.client
            pids = list(rt.client.run(os.getpid).values())
            rt.map(stage_ids, plan.parts, plan=plan)
            rt.map(stage_ranks, [len(plan.parts)], plan=plan)
            s0, v0, d0, w0, t0 = [stat(p) for p in pids], vm(), disk(), cpu_iowait(), time.perf_counter()
            rt.map(stage_signatures, plan.parts, plan=plan)
            s1, v1, d1, w1, t1 = [stat(p) for p in pids], vm(), disk(), cpu_iowait(), time.perf_counter()
        finally:
            rt.close()
        n = len(plan.parts)
        user = sum(b[0] - a[0] for a, b in zip(s0, s1))
        system = sum(b[1] - a[1] for a, b in zip(s0, s1))
        print(
            f"rows {rows:,} partitions {n} shards {plan.shards}: wall {t1 - t0:.1f} s; workers user {user:.1f} s ({user / n:.2f} a partition), "
            f"system {system:.1f} s ({system / n:.2f} a partition); iowait (machine) {w1 - w0:.1f} s; "
            f"disk {', '.join(f'{k} {d1[k] - d0[k]:.0f}' for k in d0)}; vm {', '.join(f'{k} {v1[k] - v0[k]}' for k in v0)}",
            flush=True,
        )
        out = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**30
        print(f"  stage files {out:.1f} GiB", flush=True)
        shutil.rmtree(work, ignore_errors=True)
