"""Times the real-size tier's runs (tests/integration/test_real_size.py): every recipe, and dedup by
each method, through `curate` on the same generated inputs, on defaults (the embedded LLM engine and
its budget). Prints one line per run: exit code and seconds, and the sum, which is what the tier
adds to `make test`. A machine's noise moves these numbers; they are for sizing CI, not for claims.

    .venv/bin/python bench/real_size/bench_real_size.py [--out /tmp/real-size]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from tests.integration.test_real_size import DEDUP_ROWS, inputs_for
    from tests.real_size_data import dedup_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="real-size-")))
    args = parser.parse_args()
    curate = ROOT / ".venv" / "bin" / "curate"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_")}
    env["CURATE_CACHE_DIR"] = str(args.out / "cache")
    runs = []
    for recipe in ("personality", "norms", "values", "expand", "preferences", "translate"):
        inputs, config, _ = inputs_for(recipe, args.out / "in" / recipe)
        cmd = [str(curate), "run", recipe, "-o", str(args.out / "out" / recipe), "-q"]
        cmd += [a for p in inputs for a in ("-i", str(p))] + (["-c", str(config)] if config else [])
        runs.append((f"run {recipe}", cmd))
    table = dedup_table(args.out / "in" / "dedup.parquet", DEDUP_ROWS)
    for method in ("exact", "near", "semantic"):
        runs.append(
            (
                f"dedup {method}",
                [
                    str(curate),
                    "dedup",
                    "-i",
                    str(table),
                    "--text-column",
                    "text",
                    "--id-column",
                    "id",
                    "--method",
                    method,
                    "-o",
                    str(args.out / "out" / f"dedup-{method}"),
                ],
            )
        )
    total = 0.0
    for name, cmd in runs:
        began = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - began
        total += seconds
        print(f"{name:22s} exit {proc.returncode}  {seconds:7.1f} s", flush=True)
    print(f"{'total':22s}         {total:7.1f} s")


if __name__ == "__main__":
    main()
