"""What Prefect's embedded default costs each `curate run`: the same tiny run with no
PREFECT_API_URL (a temporary API server started and stopped by the command) against the same run
reusing a running server (PREFECT_API_URL), measured alternately in one session (house rule: ratios
against a baseline of the same run).

    .venv/bin/python bench/prefect/bench_startup.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def timed(args: list[str], env: dict, cwd: Path) -> float:
    began = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return time.perf_counter() - began


def main() -> None:
    from pipelines.engine.prefect_server import prefect_server
    from tests import personality_data as pdata

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pdata.write_csv(work / "a.csv")
        base = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        base["CURATE_CACHE_DIR"] = str(work / "cache")
        args = [str(REPO / ".venv" / "bin" / "curate"), "run", "personality", "-i", "a.csv", "-o", "out", "--quiet"]
        timed(args, base, work)  # warm the step cache and the OS file cache: both sides then run cached steps
        embedded, reused = [], []
        with prefect_server(work / "prefect-home") as url:
            for _ in range(repeats):
                embedded.append(timed(args, {**base, "PREFECT_HOME": str(work / "ephemeral-home")}, work))
                reused.append(timed(args, {**base, "PREFECT_API_URL": url}, work))
    e, r = statistics.median(embedded), statistics.median(reused)
    print(f"embedded temporary server: {', '.join(f'{t:.1f}' for t in embedded)} s (median {e:.1f})")
    print(f"running server reused:     {', '.join(f'{t:.1f}' for t in reused)} s (median {r:.1f})")
    print(f"start-up of the embedded default: {e - r:.1f} s a command ({e / r:.2f}x the reused run)")


if __name__ == "__main__":
    main()
