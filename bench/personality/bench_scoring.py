"""Score N synthetic IPIP-NEO-120 respondents: the recipe's scorer (polars' CSV reader, streaming
batches, numpy block sums; from CSV to parquet) against a plain pandas implementation, measured in
the same run.

    .venv/bin/python bench/personality/bench_scoring.py [--rows 1000000]

Prints respondents/s, peak memory (max RSS of each run's own process), CPU time and the time of each
stage, the ratios, and polars' CSV reader alone (the floor under the streaming run's time).
Goal: >= 10x pandas' speed, with memory bounded (streaming, never the whole file as Python objects).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def make_csv(path: Path, rows: int, seed: int = 7) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    chunk = 200_000
    with open(path, "wb") as f:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            answers = rng.integers(0, 6, size=(n, 120), dtype=np.int8)  # 0 = missing
            frame = pl.DataFrame(answers, schema=[f"i{i}" for i in range(1, 121)])
            frame = frame.with_columns(pl.int_range(start, start + n).alias("case")).select(
                "case", *[f"i{i}" for i in range(1, 121)]
            )
            frame.write_csv(f, include_header=start == 0)


def polars_batches(csv: Path):
    """polars' streaming CSV reader, item columns parsed as Int8 (a value that is not an integer
    would fail the read), in batches of 100,000 rows."""
    import polars as pl

    items = {f"i{i}": pl.Int8 for i in range(1, 121)}
    return pl.scan_csv(csv, schema_overrides=items).collect_batches(chunk_size=100_000)


def run_polars(csv: Path, out: Path) -> dict:
    import pyarrow.parquet as pq

    from pipelines.methods.inventory import score_frame
    from sources.instruments import instrument

    key = instrument("ipip_neo_120")  # the definition, read once (as the recipe does per run)
    # The recipe's `score_frame`, batch by batch so memory stays flat in the file size.
    # Stages: this thread's wall time; the reader's threads parse ahead while it scores and writes.
    writer, stages = None, dict.fromkeys(("wait for parse", "score", "write"), 0.0)
    batches = iter(polars_batches(csv))
    while True:
        clock = time.perf_counter()
        batch = next(batches, None)
        stages["wait for parse"] += time.perf_counter() - clock
        if batch is None:
            break
        clock = time.perf_counter()
        # the same outputs as the pandas baseline: scores and answered count
        table = score_frame(batch, key, False, with_responses=False).to_arrow()
        stages["score"] += time.perf_counter() - clock
        clock = time.perf_counter()
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
        stages["write"] += time.perf_counter() - clock
    writer.close()
    return stages


def run_parse(csv: Path, out: Path) -> dict:
    """polars' CSV reader alone, as the polars run uses it: the floor under its time."""
    return {"rows": sum(batch.height for batch in polars_batches(csv))}


def run_pandas(csv: Path, out: Path) -> dict:
    import numpy as np
    import pandas as pd

    from sources.ipip import load_key

    key = load_key(120).to_pandas()
    clock = time.perf_counter()
    df = pd.read_csv(csv)
    stages = {"parse": time.perf_counter() - clock}
    clock = time.perf_counter()
    items = df[[f"i{i}" for i in key["item_no"]]].replace(0, np.nan)
    rev = [f"i{i}" for i in key.loc[key["keyed"] < 0, "item_no"]]
    items[rev] = 6 - items[rev]
    result = pd.DataFrame({"case": df["case"]})

    def scale(cols):
        part = items[cols]
        return part.mean(axis=1).where(part.notna().sum(axis=1) * 2 >= len(cols))

    for d, group in key.groupby("domain"):
        result[d] = scale([f"i{i}" for i in group["item_no"]])
    for f, group in key.groupby("facet_code"):
        result[f] = scale([f"i{i}" for i in group["item_no"]])
    result["answered"] = items.notna().sum(axis=1)
    stages["score"] = time.perf_counter() - clock
    clock = time.perf_counter()
    result.to_parquet(out)
    stages["write"] = time.perf_counter() - clock
    return stages


def child(impl: str, csv: str, out: str) -> None:
    # libraries imported before the clock starts, for both sides
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import polars  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import pipelines.methods.inventory  # noqa: F401
    import sources.instruments  # noqa: F401 (the instrument definitions' models: pydantic)
    import sources.ipip  # noqa: F401

    start, cpu_start = time.perf_counter(), time.process_time()
    stages = {"polars": run_polars, "pandas": run_pandas, "parse": run_parse}[impl](Path(csv), Path(out))
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps({"seconds": seconds, "peak_mb": peak_mb, "cpu_s": time.process_time() - cpu_start, "stages": stages})
    )


def measure(impl: str, csv: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", impl, str(csv), str(out)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=3, metavar=("IMPL", "CSV", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    import polars as pl

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "responses.csv"
        make_csv(csv, args.rows)
        size_mb = csv.stat().st_size / 1e6
        print(f"{args.rows} respondents x 120 items, CSV {size_mb:.0f} MB")
        results = {impl: measure(impl, csv, Path(tmp) / f"{impl}.parquet") for impl in ("pandas", "polars")}
        parse = measure("parse", csv, Path(tmp) / "unused")
        a = pl.read_parquet(Path(tmp) / "polars.parquet").select(pl.col("domain_scores").struct.field("N"))
        b = pl.read_parquet(Path(tmp) / "pandas.parquet").select("N")
        same = (a.to_series().fill_null(-1) - b.to_series().fill_null(-1)).abs().max() < 1e-9
    base = results["pandas"]
    for impl, r in results.items():
        print(
            f"{impl:7s} {args.rows / r['seconds']:>12,.0f} respondents/s  {r['seconds']:7.2f} s  "
            f"peak {r['peak_mb']:7.0f} MB  (CPU {r['cpu_s']:.2f} s)"
        )
        print("        " + ", ".join(f"{name} {sec:.2f} s" for name, sec in r["stages"].items()))
    polars = results["polars"]
    print(f"speed ratio polars/pandas: {base['seconds'] / polars['seconds']:.1f}x (goal >= 10x)")
    print(f"scoring stage alone: {base['stages']['score'] / polars['stages']['score']:.1f}x")
    budget = base["seconds"] / 10
    print(
        f"polars' CSV reader alone: {parse['seconds']:.2f} s (CPU {parse['cpu_s']:.2f} s), "
        f"{parse['seconds'] / budget:.0%} of the 10x budget ({budget:.2f} s)"
    )
    print(f"peak memory ratio polars/pandas: {results['polars']['peak_mb'] / base['peak_mb']:.2f}")
    print(f"scores identical to pandas: {same}")


if __name__ == "__main__":
    main()
