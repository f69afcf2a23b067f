"""Streaming a Reddit dump: our reader against `zstandard` + `json.loads` line by line.

    .venv/bin/python bench/reddit/bench_stream.py              # 1 GB uncompressed (the closing note)
    .venv/bin/python bench/reddit/bench_stream.py --size-mb 128  # a quick run

Generates a comment dump shaped like Pushshift's (about 1 KB a line, ~40 fields, type drift in
created_utc, score and edited) in the real format (zstd, 2 GiB window), then times, each in a fresh
process so that peak memory is its own:
- baseline: zstandard's stream reader, io.TextIOWrapper, json.loads per line (the usual script);
- ours: `sources.reddit.iter_dump`, every line parsed and coerced to typed columns, rows dropped;
- ours, filtered: the same keeping one subreddit in twenty (rows kept, as the recipe does);
- ours at a quarter of the size, to show that peak memory does not grow with the file.
Prints MB/s of uncompressed data, the ratio to the baseline, and peak RSS. Goal: >= 2x, flat memory.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

SUBREDDITS = ["AmItheAsshole"] + [f"sub{i}" for i in range(19)]


def generate(path: Path, size_mb: int, window_log: int) -> int:
    import numpy as np

    from scripts.reddit_synthetic import bench_lines
    from sources.reddit.writer import write_stream

    limit = size_mb * 1_000_000
    lines = bench_lines(np.random.default_rng(0), SUBREDDITS)

    def until_size():
        total = 0
        for line in lines:
            if total >= limit:
                return
            total += len(line)
            yield line

    return write_stream(path, until_size(), window_log=window_log)


def baseline(path: Path) -> int:
    import zstandard

    n = 0
    with open(path, "rb") as fh:
        reader = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(fh, read_across_frames=True)
        for line in io.TextIOWrapper(reader, encoding="utf-8"):
            json.loads(line)
            n += 1
    return n


def ours(path: Path, subreddit: str | None = None) -> int:
    from sources.reddit.dumps import DumpFilter, iter_dump

    keep = DumpFilter((subreddit,)) if subreddit else DumpFilter()
    n, kept = 0, []
    for part in iter_dump(path, keep):
        n += part.lines
        if subreddit:
            kept.append(part.rows)  # the recipe holds the rows it keeps
    return n


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM starts anew at exec; ru_maxrss would carry the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(method: str, path: Path) -> None:
    """Run in a child process: time one method, print a JSON line."""
    import zstandard  # noqa: F401  imports are not what is measured

    if method != "baseline":
        import sources.reddit.dumps  # noqa: F401
    start = time.perf_counter()
    cpu = time.process_time()
    if method == "baseline":
        lines = baseline(path)
    elif method == "ours":
        lines = ours(path)
    else:
        lines = ours(path, "AmItheAsshole")
    out = {
        "method": method,
        "lines": lines,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(out))


def child(method: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--measure", method, "--file", str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1000, help="uncompressed size of the generated dump (MB)")
    ap.add_argument(
        "--window-log",
        type=int,
        default=31,
        help="zstd window of the generated dump: 31 as the real dumps (the decoder then holds up to "
        "2 GiB of history, in every reader); 27 to see the reader's own memory",
    )
    ap.add_argument("--dir", type=Path, default=REPO / ".cache" / "bench-reddit")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        return measure(args.measure, args.file)

    args.dir.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for size in (args.size_mb, max(1, args.size_mb // 4)):
        path = args.dir / f"RC_bench_{size}MB_w{args.window_log}.zst"
        if not path.exists():
            t = time.perf_counter()
            generate(path, size, args.window_log)
            print(
                f"generated {path.name}: {path.stat().st_size / 1e6:.1f} MB compressed in {time.perf_counter() - t:.0f}s"
            )
        sizes[size] = path
    big, small = sizes[args.size_mb], sizes[max(1, args.size_mb // 4)]
    raw_mb = args.size_mb

    runs = [("baseline", big), ("ours", big), ("ours-filtered", big), ("ours", small)]
    results = []
    for method, path in runs:
        r = child(method, path)
        r["mb"] = raw_mb if path == big else max(1, args.size_mb // 4)
        results.append(r)
    base = results[0]
    base_rate = base["mb"] / base["seconds"]
    base_cpu = base["mb"] / base["cpu_seconds"]
    print(
        f"\nReddit dump streaming, {raw_mb} MB uncompressed ({big.stat().st_size / 1e6:.1f} MB zstd, "
        f"window 2^{args.window_log}), {base['lines']} lines, {os.cpu_count()} cores"
    )
    print(
        f"{'method':28s} {'MB/s':>8s} {'vs baseline':>12s} {'cpu s':>7s} {'MB/cpu-s vs base':>17s} {'peak RSS MB':>12s}"
    )
    for r in results:
        rate = r["mb"] / r["seconds"]
        label = f"{r['method']} ({r['mb']} MB)"
        print(
            f"{label:28s} {rate:8.1f} {rate / base_rate:11.2f}x {r['cpu_seconds']:7.1f} "
            f"{r['mb'] / r['cpu_seconds'] / base_cpu:16.2f}x {r['peak_rss_mb']:12.0f}"
        )
    grow = results[1]["peak_rss_mb"] / results[3]["peak_rss_mb"]
    print(
        f"\npeak memory, ours at {raw_mb} MB vs {max(1, args.size_mb // 4)} MB: {grow:.2f}x "
        f"(flat means ~1x while the file is 4x); baseline at {raw_mb} MB: {base['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
