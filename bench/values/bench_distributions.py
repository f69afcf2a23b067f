"""Weighted answer distributions for 200 questions x 5 group attributes: ours (`pipelines.methods.distributions`,
streaming the microdata in row batches) against a pandas groupby implementation, in the same run.

    .venv/bin/python bench/values/bench_distributions.py               # 1,000,000 respondents
    .venv/bin/python bench/values/bench_distributions.py --rows 100000  # a quick run
    .venv/bin/python bench/values/bench_distributions.py --dask         # partitions on Dask as well

Generates survey microdata as parquet (option indices 0..K-1 with K from 2 to 7, two refusal codes,
about 5% not asked, five labelled group columns with 2 to 20 values, gamma weights), then times each
implementation in a fresh process (so that peak RSS is its own), from reading the file to the finished
table (per group x question: probs, refusal mass, n, Kish n_eff, Wilson interval per option):
- pandas: the whole file in memory (nullable Int8, so not-asked stays missing without float64
  columns), one `groupby([attribute, question])` per attribute (and the whole sample) and question,
  everything after that done once, vectorised;
- ours: row batches streamed from the file (memory bounded by the batch, not the file), sums per batch
  added up (`group_stats` + `combine_stats`), then `distributions`;
- ours on Dask (--dask): the same sums, one partition of rows per task on the LocalCluster.
For ours-dask, peak RSS and CPU time are the driving process's only: the workers are processes of
their own, each holding one partition at a time. Prints wall-clock and CPU seconds (CPU time is the fairer comparison on a machine shared with other
work: polars' threads wait for cores that pandas' single thread does not need), peak RSS, the
ratios, and the largest difference between the two results.
Goal: >= 5x pandas' speed with bounded memory.
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

QUESTIONS = 200
GROUPS = {"country": 20, "age_band": 6, "sex": 3, "education": 4, "party": 5}
REFUSALS = 2
BATCH_ROWS = 200_000
Z = 1.959963984540054


def n_options(j: int) -> int:
    return 2 + j % 6  # 2..7 substantive options


def make_parquet(path: Path, rows: int, seed: int = 11) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    for start in range(0, rows, BATCH_ROWS):
        n = min(BATCH_ROWS, rows - start)
        cols = {g: pa.array(rng.integers(0, k, n, dtype=np.int8)) for g, k in GROUPS.items()}
        cols["w"] = pa.array(rng.gamma(4.0, 0.25, n))
        for j in range(QUESTIONS):
            k = n_options(j) + REFUSALS
            codes = rng.integers(0, k, n, dtype=np.int8)
            cols[f"q{j}"] = pa.array(codes, mask=rng.random(n) < 0.05)
        table = pa.table(cols)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=100_000)
    writer.close()


def question_meta():
    import polars as pl

    return pl.DataFrame(
        {
            "var_name": [f"q{j}" for j in range(QUESTIONS)],
            "n_options": [n_options(j) for j in range(QUESTIONS)],
            "n_refusals": [REFUSALS] * QUESTIONS,
        }
    )


def partition_stats(part: tuple[str, int, int]):
    """The sums of one slice of rows (a Dask task)."""
    import polars as pl

    from pipelines.methods.distributions import group_stats

    path, offset, length = part
    frame = pl.scan_parquet(path).slice(offset, length).collect()
    return group_stats(frame, [f"q{j}" for j in range(QUESTIONS)], list(GROUPS), weight="w")


def run_ours(path: Path, out: Path, dask: bool = False) -> None:
    import polars as pl

    from pipelines.methods.distributions import combine_stats, distributions, group_stats

    questions = [f"q{j}" for j in range(QUESTIONS)]
    if dask:
        from pipelines.engine.dask_runtime import DaskRuntime

        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        parts = [(str(path), o, BATCH_ROWS) for o in range(0, rows, BATCH_ROWS)]
        with DaskRuntime() as runtime:
            stats = combine_stats(runtime.map(partition_stats, parts))
    else:
        stats = None
        for batch in pl.scan_parquet(path).collect_batches(chunk_size=BATCH_ROWS):
            part = group_stats(batch, questions, list(GROUPS), weight="w")
            # added up as we go, so that only one batch's sums are ever held besides the total
            stats = part if stats is None else combine_stats([stats, part])
    result = distributions(stats, question_meta())
    long = (
        result.select(
            "group_attr",
            "group_value",
            "var_name",
            "n",
            "n_eff",
            "refusal_mass",
            pl.col("probs"),
            pl.col("ci").list.eval(pl.element().struct.field("low")).alias("low"),
        )
        .explode("probs", "low")
        .with_columns(pl.int_range(pl.len()).over("group_attr", "group_value", "var_name").alias("option"))
    )
    long.rename({"probs": "p"}).write_parquet(out)


def run_pandas(path: Path, out: Path) -> None:
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(path, dtype_backend="numpy_nullable")
    df["w2"] = df["w"] * df["w"]
    df["all"] = 0
    # the heavy part: one groupby per attribute and question; all the rest once, vectorised
    parts = []
    for attr in [*GROUPS, "all"]:
        for j in range(QUESTIONS):
            q = f"q{j}"
            agg = df.groupby([attr, q], dropna=True, observed=True).agg(
                n=("w", "size"), w=("w", "sum"), w2=("w2", "sum")
            )
            agg.index = agg.index.set_names(["group_value", "option"])
            parts.append(agg.reset_index().assign(group_attr=attr, var_name=q))
    cells = pd.concat(parts, ignore_index=True)
    cells["option"] = cells["option"].astype("int64")
    cells["group_value"] = cells["group_value"].astype("int64")
    k = pd.Series({f"q{j}": n_options(j) for j in range(QUESTIONS)}, name="k")
    cells = cells.join(k, on="var_name")
    key = ["group_attr", "group_value", "var_name"]
    sub = cells[cells["option"] < cells["k"]]
    tot = sub.groupby(key).agg(W=("w", "sum"), W2=("w2", "sum"), n=("n", "sum"))
    tot["Wr"] = cells[cells["option"] >= cells["k"]].groupby(key)["w"].sum().reindex(tot.index, fill_value=0.0)
    tot = tot.reset_index().join(k, on="var_name")
    # every option of every group, answered or not
    grid = tot.loc[tot.index.repeat(tot["k"])].copy()
    grid["option"] = grid.groupby(key).cumcount()
    grid = grid.merge(sub[[*key, "option", "w"]], on=[*key, "option"], how="left").fillna({"w": 0.0})
    grid["p"] = grid["w"] / grid["W"]
    n_eff = grid["W"] ** 2 / grid["W2"]
    denom = 1 + Z * Z / n_eff
    center = (grid["p"] + Z * Z / (2 * n_eff)) / denom
    half = Z / denom * np.sqrt(grid["p"] * (1 - grid["p"]) / n_eff + Z * Z / (4 * n_eff * n_eff))
    grid["low"] = (center - half).clip(0, 1)
    grid["n_eff"] = n_eff
    grid["refusal_mass"] = grid["Wr"] / (grid["W"] + grid["Wr"])
    grid["group_value"] = np.where(grid["group_attr"] == "all", "all", grid["group_value"].astype(str))
    grid["n"] = grid["n"].astype("int64")
    grid[[*key, "option", "p", "low", "n", "n_eff", "refusal_mass"]].to_parquet(out)


def child(impl: str, path: str, out: str) -> None:
    start = time.perf_counter()
    if impl == "pandas":
        run_pandas(Path(path), Path(out))
    else:
        run_ours(Path(path), Path(out), dask=impl == "ours-dask")
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": usage.ru_maxrss / 1024}))


def measure(impl: str, path: Path, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", impl, str(path), str(out)], capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"{impl} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def largest_difference(a_path: Path, b_path: Path) -> float:
    import polars as pl

    key = ["group_attr", "group_value", "var_name", "option"]
    a = pl.read_parquet(a_path).with_columns(pl.col("option").cast(pl.Int64))
    b = pl.read_parquet(b_path).with_columns(pl.col("option").cast(pl.Int64))
    joined = a.join(b, on=key, suffix="_b")
    if joined.height != a.height or a.height != b.height:
        raise SystemExit(f"row counts differ: ours {a.height}, pandas {b.height}, matched {joined.height}")
    diffs = [(joined[c] - joined[f"{c}_b"]).abs().max() for c in ("p", "low", "n", "n_eff", "refusal_mass")]
    return max(float(d) for d in diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dask", action="store_true", help="also time ours with partitions on a Dask LocalCluster")
    parser.add_argument("--child", nargs=3, metavar=("IMPL", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "microdata.parquet"
        make_parquet(path, args.rows)
        print(
            f"{args.rows:,} respondents x {QUESTIONS} questions x {len(GROUPS)} group attributes "
            f"({sum(GROUPS.values())} groups + the whole sample); parquet {path.stat().st_size / 1e6:.0f} MB"
        )
        impls = ["pandas", "ours"] + (["ours-dask"] if args.dask else [])
        results = {impl: measure(impl, path, Path(tmp) / f"{impl}.parquet") for impl in impls}
        diff = largest_difference(Path(tmp) / "ours.parquet", Path(tmp) / "pandas.parquet")
    base = results["pandas"]
    for impl, r in results.items():
        print(
            f"{impl:10s} {r['seconds']:8.2f} s (CPU {r['cpu_s']:7.2f} s)   peak {r['peak_mb']:7.0f} MB   "
            f"speed x{base['seconds'] / r['seconds']:5.1f}   memory x{r['peak_mb'] / base['peak_mb']:.2f} of pandas"
        )
    print(
        f"speed ratio ours/pandas: {base['seconds'] / results['ours']['seconds']:.1f}x wall clock (goal >= 5x), "
        f"{base['cpu_s'] / results['ours']['cpu_s']:.1f}x in CPU time"
    )
    print(f"largest difference between the two results (probs, interval, n, n_eff, refusal mass): {diff:.2e}")


if __name__ == "__main__":
    main()
