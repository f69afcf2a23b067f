"""Dedup benchmark: our exact, near and semantic steps against datasketch's MinHashLSH, in one run.

    .venv/bin/python bench/dedup/bench_dedup.py [--rows 100000] [--semantic-rows 10000]
        [--scale 100000,200000,400000,1000000] [--methods exact,near,datasketch,semantic]

Corpus: bench/dedup/corpus.py (real sentences from docstrings shipped with Python and the installed
packages, planted near-duplicate groups). Each method runs in a process of its own, so that its
peak memory (max RSS) is its own; rows/s counts the whole step (normalisation, shingling, hashing,
clustering, the keep policy). Quality is pairwise over clusters: a pair of rows is predicted a
duplicate when they land in one cluster, and truly one when they belong to one planted group.
datasketch gets the same normalised text, the same shingles, the same threshold and number of
permutations, its bulk MinHash constructor, an insertion session, and the same union-find.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pairwise_scores(pred, truth) -> dict:
    """Precision, recall, F1 over pairs of rows put in one cluster."""
    import polars as pl

    frame = pl.DataFrame({"p": pred, "t": truth})

    def pairs(counts: pl.Series) -> int:
        c = counts.cast(pl.Int64)
        return int((c * (c - 1) // 2).sum())

    both = pairs(frame.group_by("p", "t").len()["len"])
    predicted = pairs(frame.group_by("p").len()["len"])
    true = pairs(frame.group_by("t").len()["len"])
    precision = both / predicted if predicted else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "true_pairs": true,
        "predicted_pairs": predicted,
    }


def cluster_of(frame, result) -> object:
    """Cluster label per row of `frame`: the kept id its row maps to (itself when kept)."""
    import polars as pl

    from pipelines.methods.dedup import duplicates_table

    dup = duplicates_table(result.dropped_rows).select(
        pl.col("id").cast(pl.Int64), pl.col("duplicate_of").cast(pl.Int64)
    )
    joined = frame.select("id").join(dup, on="id", how="left")
    return joined.select(pl.coalesce("duplicate_of", "id")).to_series().to_numpy()


# -- methods -------------------------------------------------------------------------------------


def run_ours(method: str, frame, params: dict):
    from pipelines.methods.dedup import dedup_step

    step = dedup_step(method, {"id_column": "id", "examples": 0, **params})
    result = step.run(frame.select("id", "text"))
    return cluster_of(frame, result), result.account.extra.get("params", {})


def datasketch_shingles(texts: list[str], kind: str, n: int) -> list[list[bytes]]:
    out = []
    for t in texts:
        if kind == "char":
            grams = {t[i : i + n] for i in range(max(1, len(t) - n + 1))} if t else set()
        else:
            w = t.split()
            grams = {" ".join(w[i : i + n]) for i in range(max(1, len(w) - n + 1))} if w else set()
        out.append([g.encode("utf-8") for g in grams])
    return out


def run_datasketch(frame, params: dict):
    """The usual datasketch recipe, at its fastest documented settings."""
    import numpy as np
    import polars as pl
    from datasketch import MinHash, MinHashLSH

    from pipelines.methods.dedup.clusters import components
    from pipelines.methods.dedup.config import NearConfig
    from pipelines.methods.dedup.normalize import normalized

    cfg = NearConfig(**params)
    texts = frame.select(normalized(pl.col("text"), cfg.normalize)).to_series().to_list()
    hashes, nonempty = [], []
    for start in range(0, len(texts), 20_000):  # shingle lists of all rows at once would not fit at 1M rows
        shingles = datasketch_shingles(texts[start : start + 20_000], cfg.shingle, cfg.ngram)
        hashes += MinHash.bulk(shingles, num_perm=cfg.num_perm)
        nonempty += [bool(g) for g in shingles]
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    with lsh.insertion_session() as session:
        for i, (m, grams) in enumerate(zip(hashes, nonempty)):
            if grams:  # an empty set has no meaningful MinHash (same as ours)
                session.insert(i, m, check_duplication=False)
    left, right = [], []
    for i, (m, grams) in enumerate(zip(hashes, nonempty)):
        if grams:
            for j in lsh.query(m):
                if j > i:
                    left.append(i)
                    right.append(j)
    labels = components(len(texts), np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))
    ids = frame["id"].to_numpy()
    # the same labelling as ours: the smallest id of each cluster
    first = pl.DataFrame({"c": labels, "id": ids}).with_columns(pl.col("id").min().over("c"))["id"].to_numpy()
    return first, {"bands_rows": list(lsh.b_r) if hasattr(lsh, "b_r") else [lsh.b, lsh.r]}


PEERS_PYTHON = os.environ.get("CURATE_BENCH_PEERS_PYTHON", "/tmp/curate-bench-peers/bin/python")
# what each peer is told (the shingles are ours for all: character 4-grams of our normalised text)
PEER_BANDS = {"rensa": 32, "datatrove": 25}


def run_peer(tool: str, frame, params: dict, peers_python: str):
    """rensa or datatrove in the throwaway venv (peers.py), on our normalised texts. Timed: the tool's
    own work (in its process) plus the union-find of its pairs here; not timed: normalising (the
    same for all, ~1.5M rows/s) and passing the texts through a parquet file."""
    import tempfile

    import numpy as np
    import polars as pl

    from pipelines.methods.dedup.clusters import components
    from pipelines.methods.dedup.config import NearConfig
    from pipelines.methods.dedup.normalize import normalized

    cfg = NearConfig(**params)
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as tmp:
        texts, out = Path(tmp) / "texts.parquet", Path(tmp) / "out.parquet"
        frame.select(normalized(pl.col("text"), cfg.normalize).alias("text")).write_parquet(texts)
        cmd = [
            peers_python,
            str(Path(__file__).with_name("peers.py")),
            str(texts),
            str(out),
            "--tool",
            tool,
            "--ngram",
            str(cfg.ngram),
            "--num-perm",
            str(cfg.num_perm),
            "--threshold",
            str(cfg.threshold),
            "--bands",
            str(PEER_BANDS[tool]),
            "--work",
            str(Path(tmp) / "work"),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            raise RuntimeError(f"{tool} failed:\n{proc.stderr[-3000:]}")
        facts = json.loads(line[7:])
        result = pl.read_parquet(out)
    t0 = time.perf_counter()
    ids = frame["id"].to_numpy()
    if "cluster" in result.columns:
        labels = result["cluster"].to_numpy()
    else:
        labels = components(
            frame.height, result["left"].to_numpy().astype(np.int64), result["right"].to_numpy().astype(np.int64)
        )
    first = pl.DataFrame({"c": labels, "id": ids}).with_columns(pl.col("id").min().over("c"))["id"].to_numpy()
    facts["seconds"] += time.perf_counter() - t0
    return first, facts


def _cpu_seconds() -> float:
    """CPU seconds (user + system, all threads) of the calling process: on a shared machine the wall
    time also measures the neighbours, the CPU time measures the work (run on each worker too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_dask(frame, params: dict, workers: int, memory: str, rows: int, respin: float = 0.0, alike: bool = False):
    """Our near dedup as Dask stages on a LocalCluster (`workers` x `memory`), over the parquet
    dataset of the corpus; returns labels, facts and each worker's peak memory."""
    import polars as pl
    from corpus import build_scaled

    from pipelines.engine.dask_runtime import DaskRuntime
    from pipelines.methods.dedup import dedup_step
    from pipelines.methods.dedup.distributed import memory_bytes, run_distributed

    folder = build_scaled(rows, respin=respin, alike=alike)
    step = dedup_step("near", {"id_column": "id", "examples": 0, **params})
    work = Path(os.environ.get("CURATE_BENCH_WORK", str(Path.home() / ".cache" / "curate-bench" / "work")))
    runtime = DaskRuntime(workers=workers, memory_limit=memory, local_directory=str(work / "spill"))
    t0 = time.perf_counter()
    try:
        _ = runtime.client  # start-up is not what is timed
        start = time.perf_counter() - t0
        cpu0, own0 = runtime.client.run(_cpu_seconds), _cpu_seconds()
        t0 = time.perf_counter()
        res = run_distributed(
            "near",
            step.config,
            folder,
            work / "out",
            runtime,
            work / "stages",
            memory_limit=memory_bytes(memory),
            params=step.params(),
            progress=lambda m: print(m, file=sys.stderr, flush=True),
            cache_outputs=False,  # timed: computed every time
        )
        seconds = time.perf_counter() - t0
        cpu = {k: v - cpu0[k] for k, v in runtime.client.run(_cpu_seconds).items() if k in cpu0}
        own = _cpu_seconds() - own0
        peaks = runtime.worker_peak_memory()
    finally:
        runtime.close()
    dup = pl.read_parquet(res.duplicates).select(pl.col("id").cast(pl.Int64), pl.col("duplicate_of").cast(pl.Int64))
    truth = pl.scan_parquet(sorted(folder.glob("*.parquet"))).select("id", "group").collect()
    pred = truth.join(dup, on="id", how="left").select(pl.coalesce("duplicate_of", "id")).to_series().to_numpy()
    facts = {
        **res.stats["params"],
        "stage_seconds": res.seconds,
        "worker_peak_mb": {k: round(v / 2**20) for k, v in peaks.items()},
        "memory_per_worker": memory,
        "partitions": res.stats["engine"]["partitions"],
        "cluster_start_s": round(start, 1),
        "cpu_s": {"workers": round(sum(cpu.values()), 1), "driver": round(own, 1)},
        "seconds": seconds,
        "truth": truth["group"].to_numpy(),
    }
    return pred, facts


def worker(args) -> None:
    from corpus import build_corpus

    frame = build_corpus(args.rows) if args.method != "near-dask" else None  # near-dask reads the parquet dataset
    if args.copies > 1:  # sentence-length rows at scale: the corpus k times, each copy marked
        import polars as pl

        frame = pl.concat(
            [
                frame.with_columns(
                    pl.col("text") + f" ({k})",
                    pl.col("group") + k * frame.height,
                    pl.col("exact_group") + k * frame.height,
                )
                for k in range(args.copies)
            ]
        ).with_columns(pl.int_range(0, frame.height * args.copies).alias("id"))
    if args.method == "semantic" and frame is not None:
        frame = frame.head(args.semantic_rows) if args.semantic_rows < frame.height else frame
    params = json.loads(args.params)
    import datasketch  # noqa: F401  (imports are not what is timed)

    import pipelines.methods.dedup  # noqa: F401

    before = rss_mb()
    t0 = time.perf_counter()
    if args.method == "datasketch":
        pred, facts = run_datasketch(frame, params)
    elif args.method in PEER_BANDS:
        pred, facts = run_peer(args.method, frame, params, args.peers_python)
    elif args.method == "near-dask":
        pred, facts = run_dask(
            frame, params, args.workers, args.memory_per_worker, args.rows, args.respin, args.alike_chunks
        )
    else:
        pred, facts = run_ours(args.method, frame, params)
    seconds = time.perf_counter() - t0
    if "seconds" in facts:  # the tool's own time (peers: without moving texts between processes)
        seconds = facts.pop("seconds")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if "peak_rss_mb" in facts:  # the peer's process
        peak = max(peak, facts.pop("peak_rss_mb"))
    truth = (
        facts.pop("truth")
        if "truth" in facts
        else frame["exact_group" if args.method == "exact" else "group"].to_numpy()
    )
    out = {
        "method": args.method,
        "rows": len(truth),
        "seconds": round(seconds, 3),
        "rows_per_s": round(len(truth) / seconds, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_before_mb": round(before, 1),
        **pairwise_scores(pred, truth),
        "lsh": {
            k: facts.get(k)
            for k in (
                "lsh_bands",
                "lsh_rows",
                "candidate_pairs",
                "screened_out",
                "below_estimate",
                "pairs_linked",
                "bands_rows",
                "bands",
                "rows_per_band",
                "buckets",
                "hashes_per_bucket",
                "check",
                "version",
            )
            if k in facts
        },
        "dask": {
            k: facts[k]
            for k in ("worker_peak_mb", "memory_per_worker", "partitions", "stage_seconds", "cluster_start_s", "cpu_s")
            if k in facts
        },
    }
    print("RESULT " + json.dumps(out), flush=True)


def measure(
    method: str,
    rows: int,
    params: dict,
    semantic_rows: int,
    copies: int = 1,
    extra: list[str] | None = None,
    timeout: float | None = None,
) -> dict:
    """One method in a process of its own (a fresh heap for each); with `timeout`, the process and
    its children (a peer's, a LocalCluster's) are stopped after that many seconds."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        method,
        "--rows",
        str(rows),
        "--params",
        json.dumps(params),
        "--semantic-rows",
        str(semantic_rows),
        "--copies",
        str(copies),
        *(extra or []),
    ]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            raise
    proc = subprocess.CompletedProcess(cmd, child.returncode, out, err)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{method} failed:\n{proc.stderr[-3000:]}")


NEAR = {}  # our defaults (pipelines/methods/dedup/config.py), tuned on this corpus
SEMANTIC = {"embed": {"cache_dir": str(Path.home() / ".cache" / "curate-bench" / "embeddings")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--semantic-rows", type=int, default=10_000)
    ap.add_argument("--methods", default="exact,near,datasketch,semantic")
    ap.add_argument(
        "--scale", default="", help="row counts for the near-dup memory/throughput scale run, e.g. 100000,1000000"
    )
    ap.add_argument("--near-params", default="{}", help="JSON overrides of NearConfig for near and datasketch")
    ap.add_argument(
        "--peers-python", default=PEERS_PYTHON, help="Python of the throwaway venv with rensa and datatrove (README)"
    )
    ap.add_argument(
        "--dask-scale", default="", help="row counts for near dedup on a LocalCluster, e.g. 1000000,3000000,10000000"
    )
    ap.add_argument(
        "--respin",
        type=float,
        default=0.0,
        help="--dask-scale: the share of each triple sentence's words replaced (corpus.py: no sentence reused verbatim)",
    )
    ap.add_argument(
        "--alike-chunks",
        action="store_true",
        help="--dask-scale: the first 1M chunk is triples too (corpus.py), so that every chunk is drawn the same way",
    )
    ap.add_argument("--workers", type=int, default=2, help="--dask-scale: LocalCluster workers")
    ap.add_argument("--memory-per-worker", default="4GB", help="--dask-scale: memory limit per worker")
    ap.add_argument(
        "--method-timeout", type=float, default=None, help="stop a method after this many seconds (reported as a bound)"
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    ap.add_argument("--copies", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument(
        "--exact-copies",
        type=int,
        default=10,
        help="exact is also timed on this many marked copies of the corpus (sentence-length rows at scale)",
    )
    args = ap.parse_args()
    if args.worker:
        args.method = args.worker
        return worker(args)

    from corpus import build_corpus

    print(f"building the corpus ({args.rows} rows; cached under ~/.cache/curate-bench)...", flush=True)
    corpus = build_corpus(args.rows)
    print(
        f"corpus: {corpus.height} rows, {corpus['group'].n_unique()} true groups, "
        f"{corpus.height - corpus['group'].n_unique()} planted near-duplicates "
        f"({corpus.height - corpus['exact_group'].n_unique()} of them exact after normalisation)\n"
    )
    near = {**NEAR, **json.loads(args.near_params)}
    params = {
        "exact": {},
        "near": near,
        "datasketch": near,
        "rensa": near,
        "datatrove": near,
        "semantic": SEMANTIC,
        "near-dask": near,
    }
    peers = [
        "--peers-python",
        args.peers_python,
        "--workers",
        str(args.workers),
        "--memory-per-worker",
        args.memory_per_worker,
        "--respin",
        str(args.respin),
        *(["--alike-chunks"] if args.alike_chunks else []),
    ]
    results = {}
    for method in [m for m in args.methods.split(",") if m]:
        try:
            results[method] = r = measure(
                method, args.rows, params[method], args.semantic_rows, extra=peers, timeout=args.method_timeout
            )
        except subprocess.TimeoutExpired:
            print(
                f"{method:11s} rows={args.rows:<8d} stopped after {args.method_timeout:,.0f} s (--method-timeout): "
                f"below {args.rows / args.method_timeout:,.0f} rows/s",
                flush=True,
            )
            continue
        print(
            f"{method:11s} rows={r['rows']:<8d} P={r['precision']:.4f} R={r['recall']:.4f} F1={r['f1']:.4f} "
            f"{r['rows_per_s']:>11,.0f} rows/s  {r['seconds']:7.2f} s  peak RSS {r['peak_rss_mb']:7.0f} MB "
            f"(before {r['rss_before_mb']:.0f})  {r['lsh']}",
            flush=True,
        )
    if "near" in results:
        ours = results["near"]
        for peer in ("datasketch", "rensa", "datatrove"):
            if peer in results:
                base = results[peer]
                print(
                    f"near vs {peer:10s}: F1 {ours['f1']:.4f} vs {base['f1']:.4f} ({'>=' if ours['f1'] >= base['f1'] else '<'}); "
                    f"throughput x{ours['rows_per_s'] / base['rows_per_s']:.2f}; peak RSS x{ours['peak_rss_mb'] / base['peak_rss_mb']:.2f}"
                )
    if "exact" in results:
        big = measure("exact", args.rows, {}, args.semantic_rows, copies=args.exact_copies)
        print(
            f"exact: {results['exact']['rows_per_s']:,.0f} rows/s on {results['exact']['rows']:,} rows; "
            f"{big['rows_per_s']:,.0f} rows/s on {big['rows']:,} sentence rows ({args.exact_copies} marked copies), "
            f"F1 {big['f1']:.4f}, peak RSS {big['peak_rss_mb']:.0f} MB (goal >= 1,000,000 rows/s)"
        )
    if args.scale:
        print(
            "\nscale run (near: memory should grow linearly, goal < 4096 MB at 1,000,000 rows; exact: goal >= 1,000,000 rows/s)."
        )
        print(
            "Beyond the ~93,000 distinct sentences, rows are sentence triples that reuse sentences: two rows sharing a"
        )
        print(
            "long sentence can truly be near-duplicates, which the labels do not know, so F1 here understates quality."
        )
        for rows in [int(x) for x in args.scale.split(",")]:
            build_corpus(rows)
            for method in ("near", "exact"):
                r = measure(method, rows, near if method == "near" else {}, args.semantic_rows)
                above = (r["peak_rss_mb"] - r["rss_before_mb"]) / rows * 1e6
                print(
                    f"  {method:5s} rows={rows:>9,d}  {r['rows_per_s']:>11,.0f} rows/s  peak RSS {r['peak_rss_mb']:7.0f} MB "
                    f"(corpus loaded: {r['rss_before_mb']:.0f} MB; {above:.0f} MB per 1M rows above it)  F1={r['f1']:.4f}",
                    flush=True,
                )

    if args.dask_scale:
        print(
            f"\ndask scale run: near dedup on a LocalCluster of {args.workers} workers x {args.memory_per_worker} "
            "(rows/s without the cluster's start-up; memory: each worker's peak RSS)"
            + (f"; corpus: triples respun at {args.respin}" if args.respin else "")
            + ("; every chunk triples (--alike-chunks)" if args.alike_chunks else "")
        )
        first = None
        for rows in [int(x) for x in args.dask_scale.split(",")]:
            r = measure("near-dask", rows, near, args.semantic_rows, extra=peers)
            d = r["dask"]
            first = first or (rows, r["seconds"], r["lsh"], sum(d["cpu_s"].values()))
            print(
                f"  near-dask rows={rows:>10,d}  {r['rows_per_s']:>9,.0f} rows/s  {r['seconds']:8.1f} s  F1={r['f1']:.4f} "
                f"(P={r['precision']:.4f} R={r['recall']:.4f})  worker peak MB {sorted(d['worker_peak_mb'].values())} "
                f"of {d['memory_per_worker']}  driver peak {r['peak_rss_mb']:.0f} MB  partitions={d['partitions']}  "
                f"CPU s {d['cpu_s']}  stages {d['stage_seconds']}  {r['lsh']}",
                flush=True,
            )
            if rows != first[0]:  # the yardstick: time grows like the rows, or faster
                grow = {
                    k: r["lsh"][k] / max(first[2][k], 1)
                    for k in ("candidate_pairs", "screened_out", "pairs_linked")
                    if k in r["lsh"]
                }
                likely = [x["candidate_pairs"] - x.get("below_estimate", 0) for x in (first[2], r["lsh"])]
                print(
                    f"    x{rows / first[0]:.1f} the rows of {first[0]:,}: x{r['seconds'] / first[1]:.2f} its time, "
                    f"x{sum(d['cpu_s'].values()) / first[3]:.2f} its CPU time (workers and driver); "
                    f"candidates x{grow.get('candidate_pairs', 0):.2f} (past the screen; screened out "
                    f"x{grow.get('screened_out', 0):.2f}), pairs past the estimate x{likely[1] / max(likely[0], 1):.2f}, "
                    f"linked x{grow.get('pairs_linked', 0):.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
