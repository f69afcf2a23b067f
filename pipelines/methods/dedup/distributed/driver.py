"""The driver of the distributed dedup: the plan for an input, the stages run in order on the Dask
runtime, the outputs concatenated and accounted for, and the cluster statistics."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.engine.layout import DATA_DIR, write_config_files
from pipelines.methods.dedup.clusters import clip, cluster_summary
from pipelines.methods.dedup.config import DedupConfig
from pipelines.methods.dedup.distributed.clusters import (
    keepers,
    stage_forest,
    stage_members,
    stage_similarity,
    stage_write,
)
from pipelines.methods.dedup.distributed.files import (
    METHODS,
    POS,
    Plan,
    batch_rows_for,
    fingerprint,
    input_files,
    parquet_parts,
    read_part,
    rows_per_partition,
    write_json,
    write_parquet,
)
from pipelines.methods.dedup.distributed.semantic import stage_assign, train_kmeans
from pipelines.methods.dedup.distributed.stages import (
    stage_buckets,
    stage_ids,
    stage_ranks,
    stage_signatures,
    stage_verify,
)
from pipelines.methods.dedup.minhash import optimal_bands


@dataclass
class DistributedResult:
    kept: Path  # folder of parquet shards (data/kept)
    duplicates: Path
    quarantine: pl.DataFrame
    rows_in: int
    valid: int
    kept_rows: int
    removed: int
    stats: dict
    seconds: dict
    workers: list[str]
    views: dict  # config -> what the card states (pipelines.engine.layout.write_config_files)
    peaks: dict[str, int]  # each worker's peak memory (bytes) during the run that made the outputs
    reused: bool = False  # the outputs of an earlier, finished run with the same plan key


FINISHED = "finished.json"  # written once the outputs are: what an unchanged rerun reuses
OUTPUT_DIRS = ("kept", "duplicates", "quarantine")  # the stage folders a finished run keeps


def code_version() -> str:
    """A hash of the dedup package's modules, each by the step cache's `module_source_hash` (the source
    that was loaded): stage files and finished outputs are reused only by the code that made them."""
    from pipelines.engine.steps import module_source_hash

    root = Path(__file__).resolve().parents[1]
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        name = ".".join([__package__.rsplit(".", 1)[0], *path.relative_to(root).with_suffix("").parts])
        name = name.removesuffix(".__init__")
        h.update(name.encode() + b"\0" + module_source_hash(name).encode())
    return h.hexdigest()


def plan_for(
    method: str,
    cfg: DedupConfig,
    files: list[Path],
    work_root: Path,
    partition_rows: int | None,
    memory_limit: int | None,
    shards: int | None,
    source: str,
) -> Plan:
    if method not in METHODS:
        raise ValueError(f"distributed dedup runs {', '.join(METHODS)}; {method!r} runs in one process")
    id_col = cfg.id_column
    if not id_col:
        raise ValueError("distributed dedup needs an id column (id_column)")
    names = pl.scan_parquet(files[0]).collect_schema().names()
    for role, col in (
        ("text_column", cfg.text_column),
        ("id_column", id_col),
        ("score_column", cfg.score_column),
        ("time_column", cfg.time_column),
    ):
        if col and col not in names:
            from schemas.errors import InputFileError

            raise InputFileError(files[0], f"no column {col!r} ({role}); columns are: {', '.join(names)}")
    from pipelines.methods.dedup.config import check_text_columns

    check_text_columns(files[0], pl.scan_parquet(files[0]).collect_schema(), cfg)
    sample = (
        pl.scan_parquet(files[0])
        .select(pl.col(cfg.text_column).cast(pl.String).str.len_chars().mean())
        .head(1)
        .collect()
    )
    avg = float(sample.item() or 100)
    prows = partition_rows or rows_per_partition(memory_limit, avg)
    parts = parquet_parts(files, prows)
    total = sum(p.rows for p in parts)
    nshards = shards or max(1, min(256, -(-total * {"near": 25, "semantic": 2}.get(method, 1) // 2_000_000)))
    key = hashlib.sha256(
        json.dumps(
            {
                "m": method,
                "cfg": cfg.model_dump(mode="json"),
                "in": fingerprint(files),
                "p": prows,
                "s": nshards,
                "v": 3,
                "code": code_version(),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:20]
    policy_cols = [c for c in (cfg.score_column, cfg.time_column) if c]
    if method == "semantic" and cfg.embedding_column in names:
        policy_cols.append(cfg.embedding_column)
    columns = list(dict.fromkeys([id_col, cfg.text_column, *policy_cols]))
    plan = Plan(
        method,
        cfg,
        parts,
        str(work_root / f"{method}-{key}"),
        nshards,
        id_col,
        columns,
        source,
        batch_rows=batch_rows_for(memory_limit, avg, getattr(cfg, "batch_rows", 50_000)),
    )
    plan.columns_all = names
    if method == "near":
        bands, rows = (cfg.bands, cfg.rows) if cfg.bands else optimal_bands(cfg.threshold, cfg.num_perm)
        plan.facts.update(lsh_bands=bands, lsh_rows=rows)
    return plan


def run_distributed(
    method: str,
    cfg: DedupConfig,
    input: Path,
    output: Path,
    dask,
    work_root: Path,
    partition_rows: int | None = None,
    memory_limit: int | None = None,
    shards: int | None = None,
    params: dict | None = None,
    keep_work: bool = False,
    progress=None,
    cache_outputs: bool = True,
) -> DistributedResult:
    """Deduplicate the parquet file or folder `input` on the Dask runtime `dask`; writes
    the configs output/data/kept and output/data/duplicates (Hub shards). `work_root` holds the stage
    files, under a key of the input files (path, size, mtime), the settings and the code: a rerun
    after a crash redoes only the missing tasks. At the end the stage files are removed (unless
    `keep_work`); with `cache_outputs` the per-partition outputs and a `finished.json` stay, and an
    unchanged rerun writes the outputs from them without starting a task (benchmarks turn it off)."""
    files = input_files(input)
    plan = plan_for(method, cfg, files, work_root, partition_rows, memory_limit, shards, str(input))
    say = progress or (lambda msg: None)
    if cache_outputs and not keep_work and (done := finished(plan)) is not None:
        say(
            f"dedup {method} on dask: the outputs of a finished run with these files and settings, not recomputed ({plan.work})"
        )
        views, quarantine = write_outputs(plan, output)
        return result_of(views, quarantine, output, {**done, "reused": True})
    seconds: dict[str, float] = {}
    Path(plan.work).mkdir(parents=True, exist_ok=True)
    parts, nparts = plan.parts, len(plan.parts)
    say(
        f"dedup {method} on dask: {sum(p.rows for p in parts):,} rows in {nparts} partitions, {plan.shards} shards, work folder {plan.work}"
    )

    def timed(name, fn, items):
        t0 = time.perf_counter()
        out = dask.map(fn, items, plan=plan)
        seconds[name] = round(time.perf_counter() - t0, 3)
        say(f"  stage {name}: {len(items)} tasks, {seconds[name]:.1f} s")
        return out

    timed("ids", stage_ids, parts)
    timed("ranks", stage_ranks, [nparts])
    infos = timed("signatures", stage_signatures, parts)
    if method == "semantic":
        plan.facts.update(train_kmeans(plan, dask, sum(i["valid"] for i in infos), timed))
        timed("assign", stage_assign, list(range(nparts)))
    screens = timed("buckets", stage_buckets, list(range(plan.shards)))
    checks = timed("verify", stage_verify, list(range(nparts)))
    # components: a tree of merges, 4 inputs per task
    level = [str(plan.dir("edges", f"{p:05d}.parquet")) for p in range(nparts)]
    rnd = 0
    t0 = time.perf_counter()
    while True:
        groups = [level[i : i + 4] for i in range(0, len(level), 4)] if rnd else [[f] for f in level]
        items = [(str(plan.dir("forest", f"{rnd:02d}", f"{k:05d}.parquet")), g) for k, g in enumerate(groups)]
        level = dask.map(stage_forest, items, plan=plan)
        rnd += 1
        if len(level) == 1:
            break
    labels = plan.dir("labels.parquet")
    if not labels.exists():
        shutil.copyfile(level[0], labels)
    seconds["components"] = round(time.perf_counter() - t0, 3)
    timed("members", stage_members, list(range(nparts)))
    kp = plan.dir("keepers.parquet")
    if not kp.exists():
        write_parquet(
            keepers(pl.read_parquet([plan.dir("members", f"{p:05d}.parquet") for p in range(nparts)]), cfg), kp
        )
    timed("similarity", stage_similarity, list(range(nparts)))
    timed("write", stage_write, parts)

    t0 = time.perf_counter()
    views, quarantine = write_outputs(plan, output)
    seconds["concat"] = round(time.perf_counter() - t0, 3)
    valid = sum(i["valid"] for i in infos)
    rows_in = sum(i["rows"] for i in infos)
    facts = {
        **plan.facts,
        "candidate_pairs": sum(c["candidate_pairs"] for c in checks),
        "pairs_linked": sum(c["pairs_linked"] for c in checks),
    }
    if any("below_estimate" in c for c in checks):
        facts["screened_out"] = sum(b["screened_out"] for b in screens)
        facts["below_estimate"] = sum(c.get("below_estimate", 0) for c in checks)
    if method == "exact":
        facts = {}
    elif method == "semantic":
        facts = {k: plan.facts[k] for k in ("search", "kmeans_clusters", "kmeans_sample_rows")}
        facts["pairs_linked"] = sum(c["pairs_linked"] for c in checks)
        # the stages join pairs into connected components (chains): what ran, whatever was asked
        facts["clusters"] = "connected"
        if getattr(cfg, "clusters", "connected") != "connected":
            say(
                "dedup semantic on dask: clusters are connected components (chains link rows); "
                "clusters: representative runs in one process (--engine local)"
            )
    stats = distributed_stats(plan, valid, {**(params or {}), **facts})
    stats["engine"] = {
        "kind": "dask",
        "partitions": nparts,
        "shards": plan.shards,
        "partition_rows": parts[0].rows if parts else 0,
        "seconds": seconds,
    }
    done = {
        "rows_in": rows_in,
        "valid": valid,
        "stats": stats,
        "seconds": seconds,
        "workers": sorted(dask.workers_used),
        "peaks": dask.worker_peak_memory(),
    }
    result = result_of(views, quarantine, output, done)
    if not keep_work:
        if cache_outputs:
            write_json(done, plan.dir(FINISHED))  # before the pruning: a crash in
            for child in Path(plan.work).iterdir():  # it leaves a finished run, not a half-pruned one
                if child.is_dir() and child.name not in OUTPUT_DIRS:
                    shutil.rmtree(child)
                elif child.is_file() and child.name != FINISHED:
                    child.unlink()
        else:
            shutil.rmtree(plan.work, ignore_errors=True)
    return result


def finished(plan: Plan) -> dict | None:
    """The record of a finished run of this plan whose output files are all still there, or None."""
    path = plan.dir(FINISHED)
    if not path.is_file():
        return None
    names = [f"{p.index:05d}.parquet" for p in plan.parts]
    if not all(plan.dir(d, n).is_file() for d in ("kept", "duplicates") for n in names):
        return None
    return json.loads(path.read_text())


def write_outputs(plan: Plan, output: Path) -> tuple[dict, pl.DataFrame]:
    """The configs kept and duplicates streamed into Hub shards (data/<name>/train-*.parquet) from the
    per-partition files, and the quarantine."""
    output.mkdir(parents=True, exist_ok=True)
    views = {
        name: write_config_files(output, name, [plan.dir(name, f"{p.index:05d}.parquet") for p in plan.parts])
        for name in ("kept", "duplicates")
    }
    qfiles = sorted(plan.dir("quarantine").glob("*.parquet"))
    from schemas.quarantine import empty_quarantine

    return views, pl.read_parquet(qfiles) if qfiles else empty_quarantine()


def result_of(views: dict, quarantine: pl.DataFrame, output: Path, done: dict) -> DistributedResult:
    removed = sum(n for n, _ in views["duplicates"]["splits"].values())
    kept_rows = sum(n for n, _ in views["kept"]["splits"].values())
    if kept_rows + removed != done["valid"]:
        raise AssertionError(
            f"dedup lost or repeated ids: {done['valid']} valid rows, {kept_rows} kept + {removed} duplicates"
        )
    return DistributedResult(
        output / DATA_DIR / "kept",
        output / DATA_DIR / "duplicates",
        quarantine,
        done["rows_in"],
        done["valid"],
        kept_rows,
        removed,
        done["stats"],
        done["seconds"],
        done["workers"],
        views,
        done["peaks"],
        done.get("reused", False),
    )


def distributed_stats(plan: Plan, valid: int, params: dict) -> dict:
    """The single-process cluster statistics, from the files of the stages."""
    cfg, nparts = plan.cfg, len(plan.parts)
    members = pl.scan_parquet([plan.dir("members", f"{p:05d}.parquet") for p in range(nparts)])
    sizes = members.group_by("root").len().collect()["len"]
    removed = pl.scan_parquet([plan.dir("removed", f"{p:05d}.parquet") for p in range(nparts)])
    sims = removed.select("similarity").collect().to_series()
    examples = []
    if cfg.examples > 0 and sims.len():
        ordered = (
            removed.select("id", "kept_id", "similarity", "part", "local", "kept_part", "kept_local")
            .collect()
            .sort("similarity", "id")
        )
        picks = np.unique(np.linspace(0, ordered.height - 1, min(cfg.examples, ordered.height)).round().astype(int))
        sample = ordered[picks.tolist()]
        texts = {}
        for p in set(sample["part"].to_list()) | set(sample["kept_part"].to_list()):
            valid_rows = pl.read_parquet(plan.dir("rows", f"{p:05d}.parquet"), columns=[POS])[POS]
            frame = read_part(plan.parts[p], [cfg.text_column]).with_row_index(POS, offset=plan.parts[p].start)
            frame = frame.filter(pl.col(POS).cast(pl.Int64).is_in(valid_rows.implode()))
            texts[p] = frame[cfg.text_column].cast(pl.String)
        for row in sample.iter_rows(named=True):
            examples.append(
                {
                    "id": row["id"],
                    "text": clip(texts[row["part"]][row["local"]]),
                    "duplicate_of": row["kept_id"],
                    "kept_text": clip(texts[row["kept_part"]][row["kept_local"]]),
                    "similarity": round(float(row["similarity"]), 4),
                }
            )
    return cluster_summary(plan.method, params, valid, sizes, sims, examples)
