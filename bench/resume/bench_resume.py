"""Cost of a rerun after a kill -9 in the last step, against the full run, in the same run.

    .venv/bin/python bench/resume/bench_resume.py [--rows 300000]

Runs `curate run personality` on N synthetic respondents: once from scratch (full), once killed
inside its last step (key_and_score, after its work and before its cache entry is saved), then
the same command again (rerun), and once more with every step cached (the fixed cost of starting
the CLI and writing the dataset). All runs report to one Prefect server started by the bench, as
scheduled runs do (an ephemeral server per CLI call would add its start-up to every run).
Goal: rerun < 10% of the full run.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
CURATE = REPO / ".venv" / "bin" / "curate"


def run(csv: Path, out: Path, env: dict) -> float:
    start = time.perf_counter()
    subprocess.run([str(CURATE), "run", "personality", "--input", str(csv), "--output", str(out)],
                   env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def run_killed(csv: Path, out: Path, env: dict, step: str, marker: Path) -> None:
    env = {**env, "CURATE_FAULT_PAUSE_AT": step, "CURATE_FAULT_FILE": str(marker)}
    proc = subprocess.Popen([str(CURATE), "run", "personality", "--input", str(csv), "--output", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while not marker.exists():
        if proc.poll() is not None:
            raise RuntimeError("the run ended before the kill point")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    args = parser.parse_args()
    from bench.personality.bench_scoring import make_csv

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "responses.csv"
        make_csv(csv, args.rows)
        from pipelines.prefect_server import prefect_server

        with prefect_server(tmp / "prefect") as url:
            base = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": url}
            full, rerun, cached = measure(csv, tmp, base)
    print(f"{args.rows} respondents (IPIP-NEO-120, CSV)")
    print(f"full run                          {full:7.1f} s")
    print(f"rerun after kill in key_and_score {rerun:7.1f} s")
    print(f"rerun with every step cached      {cached:7.1f} s  (start-up, assembly, writing)")
    print(f"rerun / full: {rerun / full:.1%} (goal < 10%)")
    print(f"above the all-cached floor: {(rerun - cached) / (full - cached):.1%} of the full run's step work")


def measure(csv: Path, tmp: Path, base: dict) -> tuple[float, float, float]:
    full = run(csv, tmp / "full", {**base, "CURATE_CACHE_DIR": str(tmp / "cache-full")})
    env = {**base, "CURATE_CACHE_DIR": str(tmp / "cache-resume")}
    run_killed(csv, tmp / "resume", env, "key_and_score", tmp / "paused")
    rerun = run(csv, tmp / "resume", env)
    cached = run(csv, tmp / "resume", env)
    return full, rerun, cached


if __name__ == "__main__":
    main()
