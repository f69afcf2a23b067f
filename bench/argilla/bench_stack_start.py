"""Time the local Argilla stack: cold setup in a fresh data directory, then warm restarts.

    .venv/bin/python bench/argilla/bench_stack_start.py [--warm 2] [--keep DIR]

Cold = what a fresh clone pays at first `up` (uv venv + install from uv's cache, Maven build from
~/.m2, database migration, first start). Warm = `down` then `up` with everything built.
Runs on its own ports (16900, 19201, 19301, 16380 unless set) so a developer's stack keeps running.
Prints seconds per phase; the machine's load average is printed too, since these timings are
CPU-bound on two cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

PORTS = {
    "CURATE_ARGILLA_PORT": "16900",
    "CURATE_OPENSEARCH_PORT": "19201",
    "CURATE_OPENSEARCH_TRANSPORT_PORT": "19301",
    "CURATE_REDIS_PORT": "16380",
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warm", type=int, default=2, help="number of warm restarts")
    parser.add_argument("--keep", help="data directory to use and keep (default: a temporary one)")
    args = parser.parse_args()
    for key, value in PORTS.items():
        os.environ.setdefault(key, value)
    os.environ.pop("ARGILLA_API_URL", None)

    from annotation import stack

    data_dir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="curate-stack-bench-"))
    print(f"data dir {data_dir}; load average {os.getloadavg()[0]:.1f}")
    try:
        began = time.monotonic()
        info = stack.up(data_dir, verbose=False)
        print(f"cold setup + start: {time.monotonic() - began:6.1f} s  ({info.url})")
        began = time.monotonic()
        stack.up(data_dir, verbose=False)
        print(f"up when running:    {time.monotonic() - began:6.1f} s")
        for i in range(args.warm):
            began = time.monotonic()
            stack.down(data_dir, verbose=False)
            stopped = time.monotonic() - began
            began = time.monotonic()
            stack.up(data_dir, verbose=False)
            print(f"warm start #{i + 1}:      {time.monotonic() - began:6.1f} s  (down took {stopped:.1f} s)")
    finally:
        stack.down(data_dir, verbose=False)
        if not args.keep:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
