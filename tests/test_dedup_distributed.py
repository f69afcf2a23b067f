"""The partitioned (Dask) dedup stages against the single-process steps: the same kept rows, the
same `duplicate_of` and similarity, every id once, the same quarantine and cluster report. These
run the stages in this process (DaskRuntime(inline=True)), with several partitions and shards; the
LocalCluster and external-scheduler runs are in tests/integration/test_dedup_dask.py."""

from __future__ import annotations

import os

import polars as pl
import pytest

from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.methods.dedup import dedup_step, duplicates_table
from pipelines.methods.dedup.distributed import run_distributed
from tests.dedup_corpus import corpus, with_bad_rows


def single(method: str, frame: pl.DataFrame, **cfg):
    step = dedup_step(method, {"id_column": "id", **cfg})
    return step, step.run(frame)


def written(data: pl.DataFrame, tmp_path, **kw):
    path = tmp_path / "in.parquet"
    data.write_parquet(path, **kw)
    return path


def distributed(method, step, path, tmp_path, runtime=None, **kw):
    runtime = runtime or DaskRuntime(inline=True)
    return run_distributed(
        method,
        step.config,
        path,
        tmp_path / "out",
        runtime,
        tmp_path / "work",
        params=step.params(),
        **{"partition_rows": 300, "shards": 3, **kw},
    )


def assert_same(one, dist, tmp_path) -> None:
    kept = pl.read_parquet(dist.kept)
    assert kept.equals(one.data)  # the same rows, columns and order
    want = duplicates_table(one.dropped_rows)
    got = pl.read_parquet(dist.duplicates)
    assert got.select("id", "duplicate_of", "method").equals(want.select("id", "duplicate_of", "method"))
    assert got["similarity"].to_list() == pytest.approx(want["similarity"].to_list(), abs=1e-12)
    extra = dict(one.account.extra)
    for key in (
        "method",
        "rows",
        "kept",
        "removed",
        "clusters",
        "rows_in_clusters",
        "largest_cluster",
        "cluster_sizes",
        "similarity",
        "examples",
    ):
        assert dist.stats[key] == extra[key], key
    ids = pl.concat([kept["id"], got["id"]])
    assert ids.n_unique() == ids.len() == dist.valid  # every id once


@pytest.mark.parametrize("keep", ["first", "longest", "highest_score"])
def test_near_stages_equal_the_single_process_result(tmp_path, keep):
    data = corpus()
    path = written(data, tmp_path, row_group_size=128)
    extra = {"score_column": "score"} if keep == "highest_score" else {}
    step, one = single("near", data, keep=keep, **extra)
    assert one.account.extra["removed"] > 200 and one.account.extra["largest_cluster"] > 32  # the bucket cap is hit
    dist = distributed("near", step, path, tmp_path)
    assert dist.stats["engine"]["partitions"] == 5
    assert dist.stats["params"]["candidate_pairs"] == one.account.extra["params"]["candidate_pairs"]
    assert dist.stats["params"]["pairs_linked"] == one.account.extra["params"]["pairs_linked"]
    assert dist.stats["params"]["below_estimate"] == one.account.extra["params"]["below_estimate"]
    assert dist.stats["params"]["screened_out"] == one.account.extra["params"]["screened_out"] > 0
    assert_same(one, dist, tmp_path)


@pytest.mark.parametrize("unscreened", [{"estimate_sd": None}, {"verify": False}])
def test_near_stages_without_the_screen_equal_the_single_process_result(tmp_path, unscreened):
    """Without an estimate (or any check) there is no screen: no screen bits in the band shuffle,
    every LSH pair a candidate, in both engines alike."""
    data = corpus()
    path = written(data, tmp_path, row_group_size=128)
    step, one = single("near", data, **unscreened)
    dist = distributed("near", step, path, tmp_path)
    assert "screened_out" not in dist.stats["params"] and "screened_out" not in one.account.extra["params"]
    assert dist.stats["params"]["candidate_pairs"] == one.account.extra["params"]["candidate_pairs"]
    assert dist.stats["params"]["pairs_linked"] == one.account.extra["params"]["pairs_linked"]
    assert_same(one, dist, tmp_path)


def test_exact_stages_equal_the_single_process_result(tmp_path):
    data = corpus(string_ids=False)
    path = written(data, tmp_path)
    step, one = single("exact", data)
    assert one.account.extra["removed"] > 20
    assert_same(one, distributed("exact", step, path, tmp_path, shards=2), tmp_path)


@pytest.mark.parametrize("largest", [1_000, 2**31 - 1])  # packed in one int64; too wide: lexsort
def test_candidate_locations_are_made_distinct_and_ordered_by_right_row(largest):
    """A pair found in several bands arrives once per shard: the verify stage keeps each (ll, rp, rl)
    once, sorted by right partition, right row, left row, as a plain set and sort give them."""
    import numpy as np

    from pipelines.methods.dedup.distributed.stages import distinct_locations

    rng = np.random.default_rng(4)
    n = 20_000
    frame = pl.DataFrame(
        {
            "ll": rng.integers(0, 40, n).astype(np.int32),
            "rp": rng.integers(0, 7, n).astype(np.int32),
            "rl": np.where(rng.random(n) < 0.5, largest, rng.integers(0, 40, n)).astype(np.int32),
        }
    )
    ll, rp, rl = distinct_locations(frame)
    want = sorted({(b, q, a) for a, q, b in frame.iter_rows()}, key=lambda t: (t[1], t[0], t[2]))
    assert list(zip(rl.tolist(), rp.tolist(), ll.tolist())) == want
    assert len(want) < n  # there were copies to drop
    assert all(len(a) == 0 for a in distinct_locations(frame.head(0)))


def test_ranks_number_each_id_by_the_ids_below_it_over_all_partitions(tmp_path):
    """The ranks stage: each id's global number is the count of ids (repeats included) below it in
    every partition, as the single process numbers rows in id order; `earlier` marks an id seen in
    an earlier partition. Checked against a plain count, with repeats within and across partitions,
    a null id, and partitions that split a file."""
    from pipelines.methods.dedup.distributed.driver import plan_for
    from pipelines.methods.dedup.distributed.files import GID
    from pipelines.methods.dedup.distributed.stages import stage_ids, stage_ranks

    files = []
    for k, ids in enumerate([["m", "b", "a", "q"], ["a", None, "z", "b", "b"], ["c", "m", "a"]]):
        files.append(tmp_path / f"part-{k}.parquet")
        pl.DataFrame({"id": ids, "text": ["x"] * len(ids)}).write_parquet(files[-1])
    step = dedup_step("near", {"id_column": "id"})
    plan = plan_for("near", step.config, files, tmp_path / "work", 2, None, 1, str(tmp_path))
    n = len(plan.parts)
    assert n == 7  # files of 4, 5 and 3 rows in partitions of 2
    for part in plan.parts:
        stage_ids(part, plan)
    stage_ranks(len(plan.parts), plan)
    stage_ranks(len(plan.parts), plan)  # done: a rerun changes nothing
    every = [i for q in range(n) for i in pl.read_parquet(plan.dir("ids", f"{q:05d}.parquet"))["id"]]
    seen = set()
    for q in range(n):
        ids = pl.read_parquet(plan.dir("ids", f"{q:05d}.parquet"))["id"].to_list()
        ranks = pl.read_parquet(plan.dir("ranks", f"{q:05d}.parquet"))
        assert ranks[GID].to_list() == [sum(o < i for o in every) for i in ids]
        assert ranks["earlier"].to_list() == [i in seen for i in ids]
        seen |= set(ids)
    assert None not in every and len(every) == 11


def test_a_folder_of_files_and_bad_rows_quarantined_as_in_one_process(tmp_path):
    """Input as a folder of parquet files (a dataset), with a null id, a null text and an id first
    seen in another file: quarantined, and the rest deduplicated as in one process."""
    from pipelines.cli.dedup import validate_rows
    from sources.tables import ROW

    data = with_bad_rows(corpus(800))
    folder = tmp_path / "dataset"
    folder.mkdir()
    for k, start in enumerate(range(0, data.height, 300)):
        data.slice(start, 300).write_parquet(folder / f"part-{k}.parquet")
    step, _ = single("near", data.head(1))
    good, quarantine = validate_rows(data.with_row_index(ROW, offset=1), step.config, folder)
    one = step.run(good.drop(ROW))
    dist = distributed("near", step, folder, tmp_path, partition_rows=250)
    assert dist.quarantine.height == quarantine.height == 3
    assert dist.quarantine["row"].to_list() == quarantine["row"].to_list()
    assert dist.quarantine["field"].to_list() == quarantine["field"].to_list()
    assert_same(one, dist, tmp_path)


def test_a_rerun_after_a_crash_redoes_only_the_missing_tasks(tmp_path):
    data = corpus(900)
    path = written(data, tmp_path)
    step, one = single("near", data)
    first = distributed("near", step, path, tmp_path, keep_work=True)
    work = next((tmp_path / "work").iterdir())
    kept_before = {p: p.stat().st_mtime_ns for p in (work / "rows").glob("*.parquet")}
    lost = sorted((work / "edges").glob("*.parquet"))[1]
    lost.unlink()  # as if the worker died while verifying that partition
    for later in ("labels.parquet", "keepers.parquet"):
        (work / later).unlink()
    for folder in ("forest", "members", "removed", "kept", "duplicates"):
        for f in (work / folder).rglob("*.parquet"):
            f.unlink()
    again = distributed("near", step, path, tmp_path, keep_work=True)
    assert lost.exists()
    assert {p: p.stat().st_mtime_ns for p in (work / "rows").glob("*.parquet")} == kept_before  # not recomputed
    assert again.removed == first.removed
    assert_same(one, again, tmp_path)


class NoTasks(DaskRuntime):
    """A runtime that fails if any stage runs."""

    def map(self, fn, items, **kwargs):
        raise AssertionError(f"stage {fn.__name__} ran")


def test_an_unchanged_rerun_reuses_the_finished_outputs(tmp_path):
    data = with_bad_rows(corpus(900))
    path = written(data, tmp_path)
    step, _ = single("near", data.head(1))
    first = distributed("near", step, path, tmp_path)
    (work,) = (tmp_path / "work").iterdir()
    # the stage files are gone; the per-partition outputs and the record of the run stay
    assert sorted(c.name for c in work.iterdir()) == ["duplicates", "finished.json", "kept", "quarantine"]
    again = distributed("near", step, path, tmp_path, runtime=NoTasks(inline=True))
    assert again.reused and not first.reused
    assert (again.rows_in, again.valid, again.kept_rows, again.removed, again.stats) == (
        first.rows_in,
        first.valid,
        first.kept_rows,
        first.removed,
        first.stats,
    )
    assert again.quarantine.equals(first.quarantine) and again.quarantine.height == 3
    assert pl.read_parquet(again.kept).equals(pl.read_parquet(first.kept))
    assert pl.read_parquet(again.duplicates).equals(pl.read_parquet(first.duplicates))
    # other settings, or an input file written again (a new mtime), are another plan: computed
    with pytest.raises(AssertionError, match="ran"):
        distributed("near", step, path, tmp_path, runtime=NoTasks(inline=True), partition_rows=400)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="ran"):
        distributed("near", step, path, tmp_path, runtime=NoTasks(inline=True))
    # an output file lost from the cache: computed again, not a partial output
    (work / "kept" / "00001.parquet").unlink()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(AssertionError, match="ran"):
        distributed("near", step, path, tmp_path, runtime=NoTasks(inline=True))
    third = distributed("near", step, path, tmp_path)
    assert not third.reused and third.removed == first.removed


def test_without_cached_outputs_nothing_stays(tmp_path):
    data = corpus(600)
    path = written(data, tmp_path)
    step, one = single("near", data)
    dist = distributed("near", step, path, tmp_path, cache_outputs=False)
    assert not any((tmp_path / "work").iterdir())
    assert_same(one, dist, tmp_path)


def test_engine_choice(tmp_path):
    from pipelines.cli.dedup import choose_engine, load_dedup_config

    path = written(corpus(300), tmp_path)
    cfg = load_dedup_config("near", None, {"text_column": "text", "id_column": "id"})
    assert choose_engine("auto", "near", path, cfg) == "single"  # small: one process
    assert choose_engine("auto", "near", path, cfg, memory_budget=10_000) == "dask"  # over the budget
    csv = tmp_path / "in.csv"
    corpus(50).write_csv(csv)
    assert choose_engine("auto", "near", csv, cfg, memory_budget=10) == "single"  # dask reads parquet
    import typer

    with pytest.raises(typer.BadParameter, match="parquet"):
        choose_engine("dask", "near", csv, cfg)


def test_semantic_stages_equal_the_single_process_kmeans_path(tmp_path):
    """k-means trained on a sample (here all rows, gathered in id order as one process orders them),
    cells assigned per partition, pairs searched per cell on the shards: the single-process result."""
    import numpy as np

    rng = np.random.default_rng(5)
    base = rng.normal(size=(2400, 16)).astype(np.float32)
    src = rng.choice(len(base), size=300, replace=False)
    vectors = np.concatenate([base, base[src] + rng.normal(scale=0.05, size=(300, 16)).astype(np.float32)])
    order = rng.permutation(len(vectors))
    ids = [f"v{i * 37 % 10007:05d}" for i in range(len(vectors))]
    data = pl.DataFrame({"id": ids, "text": ids, "embedding": vectors[order]})
    path = written(data, tmp_path)
    step, one = single("semantic", data, threshold=0.9, exact_below=0, cluster_size=150, clusters="connected")
    assert one.account.extra["removed"] >= 250
    dist = distributed("semantic", step, path, tmp_path, partition_rows=700, shards=4)
    assert dist.stats["params"]["kmeans_clusters"] == len(vectors) // 150
    assert dist.stats["params"]["clusters"] == "connected"  # what the stages do; the report says so
    kept = pl.read_parquet(dist.kept)
    assert kept["id"].to_list() == one.data["id"].to_list()
    want, got = duplicates_table(one.dropped_rows), pl.read_parquet(dist.duplicates)
    assert got.select("id", "duplicate_of").equals(want.select("id", "duplicate_of"))
    assert got["similarity"].to_list() == pytest.approx(want["similarity"].to_list(), abs=1e-6)
