"""Cost of a rerun after a kill -9 in the last step, against the full run, in the same run.

    .venv/bin/python bench/resume/bench_resume.py [--rows 300000] [--texts 30000] [--scenarios personality,semantic]

Two scenarios, each timed as: the full run from scratch; a run killed inside its last step (after
the step's work, before its cache entry is saved: the worst moment) and the same command again
(the rerun); and once more with everything cached (the fixed cost of starting the command and
writing its output).

- personality: `curate run personality` on N synthetic respondents; last step key_and_score. All
  runs report to one Prefect server started by the bench, as scheduled runs do. Its steps are
  cheap next to the fixed cost, so the rerun is mostly that fixed cost.
- semantic: `curate dedup --method semantic` on real sentences (the bench/dedup corpus), the run
  whose work is model work (the embedding, on a GPU in production, here the CPU): last step
  dedup_semantic. Also killed in the middle of the embedding (after half of its cache shards) to
  show that a long step keeps what it finished.
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
    subprocess.run(
        [str(CURATE), "run", "personality", "--input", str(csv), "--output", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def run_killed(csv: Path, out: Path, env: dict, step: str, marker: Path) -> None:
    env = {**env, "CURATE_FAULT_PAUSE_AT": step, "CURATE_FAULT_FILE": str(marker)}
    proc = subprocess.Popen(
        [str(CURATE), "run", "personality", "--input", str(csv), "--output", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    while not marker.exists():
        if proc.poll() is not None:
            raise RuntimeError("the run ended before the kill point")
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="personality: respondents")
    parser.add_argument("--texts", type=int, default=30_000, help="semantic: sentences")
    parser.add_argument("--scenarios", default="personality,semantic")
    args = parser.parse_args()
    scenarios = args.scenarios.split(",")
    if "personality" in scenarios:
        personality(args.rows)
    if "semantic" in scenarios:
        semantic(args.texts)


def personality(rows: int) -> None:
    from bench.personality.bench_scoring import make_csv

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        csv = tmp / "responses.csv"
        make_csv(csv, rows)
        from pipelines.engine.prefect_server import prefect_server

        with prefect_server(tmp / "prefect") as url:
            base = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_API_URL": url}
            full, rerun, cached = measure(csv, tmp, base)
    print(f"personality: {rows} respondents (IPIP-NEO-120, CSV)")
    print(f"full run                          {full:7.1f} s")
    print(f"rerun after kill in key_and_score {rerun:7.1f} s")
    print(f"rerun with every step cached      {cached:7.1f} s  (start-up, assembly, writing)")
    print(f"rerun / full: {rerun / full:.1%} (goal < 10%)")
    print(
        f"above the all-cached floor: {(rerun - cached) / (full - cached):.1%} of the full run's step work\n",
        flush=True,
    )


def measure(csv: Path, tmp: Path, base: dict) -> tuple[float, float, float]:
    full = run(csv, tmp / "full", {**base, "CURATE_CACHE_DIR": str(tmp / "cache-full")})
    env = {**base, "CURATE_CACHE_DIR": str(tmp / "cache-resume")}
    run_killed(csv, tmp / "resume", env, "key_and_score", tmp / "paused")
    rerun = run(csv, tmp / "resume", env)
    cached = run(csv, tmp / "resume", env)
    return full, rerun, cached


def semantic(texts: int) -> None:
    sys.path.insert(0, str(REPO / "bench" / "dedup"))
    from corpus import build_corpus

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        table = tmp / "sentences.parquet"
        build_corpus(texts).select("id", "text").write_parquet(table)
        config = tmp / "dedup.yaml"
        shard = max(texts // 10, 100)  # ten embedding shards: the unit a killed run keeps
        config.write_text(f"embed:\n  shard_rows: {shard}\n")

        def cmd(cache: str, out: str) -> list[str]:
            return [
                str(CURATE),
                "dedup",
                "--input",
                str(table),
                "--text-column",
                "text",
                "--id-column",
                "id",
                "--method",
                "semantic",
                "--output",
                str(tmp / out),
                "--config",
                str(config),
                "--cache-dir",
                str(tmp / cache),
            ]

        full = timed(cmd("cache-full", "full"))
        kill_when(
            cmd("cache-last", "last"),
            {"CURATE_FAULT_PAUSE_AT": "dedup_semantic", "CURATE_FAULT_FILE": str(tmp / "paused")},
            lambda: (tmp / "paused").exists(),
        )
        rerun = timed(cmd("cache-last", "last"))
        cached = timed(cmd("cache-last", "last"))
        shards = lambda: len(list((tmp / "cache-mid").rglob("part-*.parquet")))  # noqa: E731
        kill_when(cmd("cache-mid", "mid"), {}, lambda: shards() >= 5)
        kept = shards()
        mid = timed(cmd("cache-mid", "mid"))
    print(f"semantic dedup: {texts} sentences, all-MiniLM-L6-v2 on the CPU, {shard} texts per embedding shard")
    print(f"full run                                   {full:7.1f} s")
    print(f"rerun after kill in dedup_semantic         {rerun:7.1f} s")
    print(f"rerun with every step cached               {cached:7.1f} s  (start-up, reading, writing)")
    print(f"rerun after kill mid-embedding ({kept}/10 shards kept) {mid:7.1f} s")
    print(f"rerun / full: {rerun / full:.1%} (goal < 10%); after the mid-embedding kill: {mid / full:.1%}")


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "CURATE_FAULT_PAUSE_AT": ""})
    return time.perf_counter() - start


def kill_when(cmd: list[str], env: dict, ready) -> None:
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError("the run ended before the kill point")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


if __name__ == "__main__":
    main()
