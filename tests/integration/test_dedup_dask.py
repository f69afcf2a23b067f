"""`curate dedup --engine dask` on real clusters: a LocalCluster of two worker processes with a memory
limit, and an external scheduler with two workers started as separate processes on loopback. Each
stage runs on the workers; the outputs equal the single-process run of the same command."""

from __future__ import annotations

import json
import re
import subprocess

import polars as pl
import pytest
from distributed import Client

from tests.conftest import curate_bin
from tests.dedup_corpus import corpus, with_bad_rows
from tests.integration.test_dask_external import cluster  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def dedup(tmp_path, path, out: str, method: str, *extra: str) -> dict:
    args = [
        str(curate_bin()),
        "dedup",
        "--input",
        str(path),
        "--text-column",
        "text",
        "--id-column",
        "id",
        "--method",
        method,
        "--output",
        str(tmp_path / out),
        "--cache-dir",
        str(tmp_path / "cache"),
        *extra,
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((tmp_path / out / "report.json").read_text())


def assert_same_outputs(tmp_path, a: str, b: str) -> None:
    from tests.dataset_checks import load_every_config

    for out in (a, b):  # each a dataset folder that load_dataset reads, config by config
        load_every_config(tmp_path / out, str(tmp_path / "hf" / out))
    for name in ("data/kept", "data/duplicates", "quarantine.parquet"):
        left, right = pl.read_parquet(tmp_path / a / name), pl.read_parquet(tmp_path / b / name)
        if name == "quarantine.parquet":  # the error text of a repeated id differs (no global row lookup)
            left, right = left.select("row", "field"), right.select("row", "field")
        assert left.equals(right), name


@pytest.fixture
def dataset(tmp_path):
    folder = tmp_path / "dataset"
    folder.mkdir()
    data = with_bad_rows(corpus(1500))
    for k, start in enumerate(range(0, data.height, 400)):
        data.slice(start, 400).write_parquet(folder / f"part-{k}.parquet")
    single = tmp_path / "all.parquet"
    data.write_parquet(single)
    return folder, single


@pytest.fixture
def vectors(tmp_path):
    """Rows with an `embedding` column (planted near copies) for semantic dedup, and a config that
    makes the single process take its k-means path too (the one the Dask stages take)."""
    import numpy as np

    rng = np.random.default_rng(11)
    base = rng.normal(size=(1500, 16)).astype(np.float32)
    src = rng.choice(len(base), size=200, replace=False)
    vec = np.concatenate([base, base[src] + rng.normal(scale=0.05, size=(200, 16)).astype(np.float32)])
    ids = [f"v{i * 37 % 10007:05d}" for i in range(len(vec))]
    data = pl.DataFrame({"id": ids, "text": ids, "embedding": vec[rng.permutation(len(vec))]})
    folder = tmp_path / "vectors"
    folder.mkdir()
    for k, start in enumerate(range(0, data.height, 600)):
        data.slice(start, 600).write_parquet(folder / f"part-{k}.parquet")
    single = tmp_path / "vectors.parquet"
    data.write_parquet(single)
    config = tmp_path / "semantic.yaml"
    config.write_text("threshold: 0.9\nexact_below: 0\ncluster_size: 120\nclusters: connected\n")  # as the stages join
    return folder, single, config


@pytest.mark.parametrize("method", ["near", "exact", "semantic"])
def test_local_cluster_of_two_workers_with_a_memory_limit(tmp_path, dataset, vectors, method):
    folder, single = dataset
    extra = []
    if method == "semantic":
        folder, single, config = vectors
        extra = ["--config", str(config)]
    one = dedup(tmp_path, single, "single", method, "--engine", "single", *extra)
    many_args = ("--engine", "dask", "--workers", "2", "--memory-per-worker", "1GB", "--partition-rows", "250", *extra)
    many = dedup(tmp_path, folder, "dask", method, *many_args)
    assert_same_outputs(tmp_path, "single", "dask")
    assert many["facts"]["dedup"]["engine"]["partitions"] == 8
    assert len(many["facts"]["dask"]["workers"]) == 2  # the tasks ran on both workers
    peaks = many["facts"]["dask"]["worker_peak_memory_bytes"]
    assert len(peaks) == 2 and all(0 < p < 2**30 for p in peaks.values())
    assert [s["kept"] for s in many["steps"]] == [s["kept"] for s in one["steps"]]
    assert many["facts"]["dedup"]["removed"] == one["facts"]["dedup"]["removed"] > 0
    # the stage files are gone; the per-partition outputs stay for an unchanged rerun, which starts no
    # cluster and writes the same dataset and card
    (stages,) = (tmp_path / "cache" / "dedup-stages").glob(f"{method}-*")
    assert sorted(c.name for c in stages.iterdir()) in (
        ["duplicates", "finished.json", "kept"],
        ["duplicates", "finished.json", "kept", "quarantine"],
    )
    again = dedup(tmp_path, folder, "again", method, *many_args)
    assert again["facts"]["dask"]["reused"] is True and many["facts"]["dask"]["reused"] is False
    assert again["facts"]["dask"]["workers"] == many["facts"]["dask"]["workers"]
    assert_same_outputs(tmp_path, "dask", "again")
    written = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")  # the card's time of writing
    cards = [written.sub("<time>", (tmp_path / out / "README.md").read_text()) for out in ("again", "dask")]
    assert cards[0] == cards[1] and "<time>" in cards[0]


def test_external_scheduler_with_two_workers(tmp_path, dataset, vectors, cluster):  # noqa: F811
    address, workers = cluster
    for method in ("near", "exact", "semantic"):
        folder, single = dataset
        extra = []
        if method == "semantic":
            folder, single, config = vectors
            extra = ["--config", str(config)]
        dedup(tmp_path, single, f"single-{method}", method, "--engine", "single", *extra)
        report = dedup(
            tmp_path,
            folder,
            f"dask-{method}",
            method,
            "--engine",
            "dask",
            "--dask-address",
            address,
            "--partition-rows",
            "250",
            *extra,
        )
        assert_same_outputs(tmp_path, f"single-{method}", f"dask-{method}")
        assert report["facts"]["dask"]["scheduler"] == address
        used = set(report["facts"]["dask"]["workers"])
        assert used == set(workers)  # both external workers ran stages
    with Client(address) as client:  # and the cluster is still there for others
        assert len(client.scheduler_info()["workers"]) == 2
