"""`curate run norms` end to end: the Prefect flow, Dask, the dataset folder, `load_dataset`, and
no author name or planted personal detail anywhere in the output folder or the logs."""

from __future__ import annotations

import os
import subprocess

import orjson
import polars as pl
import pytest

from tests import reddit_dumps as fx
from tests.conftest import all_splits, curate_bin

pytestmark = pytest.mark.integration


def run_norms(inputs, out, env) -> subprocess.CompletedProcess:
    args = [str(curate_bin()), "run", "norms", "--output", str(out)]
    for p in inputs:
        args += ["--input", str(p)]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)


def folder_text(out) -> str:
    """Every file of the output folder as text; parquet files decoded to their values."""
    parts = []
    for path in sorted(out.rglob("*")):
        if path.suffix == ".parquet":
            parts.append(orjson.dumps(pl.read_parquet(path).to_dicts(), default=str).decode())
        elif path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_curate_run_norms(tmp_path, hf_cache):
    from datasets import load_dataset

    inputs = fx.write_pair(tmp_path / "in")
    env = {
        **os.environ,
        "CURATE_PSEUDONYM_KEY": "integration-key",
        "CURATE_CACHE_DIR": str(tmp_path / "cache"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    }  # a busy machine starts it slowly
    first = run_norms(inputs, tmp_path / "a", env)
    assert first.returncode == 0, first.stderr[-3000:]

    report = orjson.loads((tmp_path / "a" / "report.json").read_bytes())
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"]
    assert report["steps"][0]["name"] == "read_reddit" and report["quarantined_total"] == 8

    blob = (folder_text(tmp_path / "a") + first.stdout + first.stderr).lower()
    for secret in fx.AUTHORS + fx.PII + ["integration-key"]:
        assert secret.lower() not in blob, secret
    readme = (tmp_path / "a" / "README.md").read_text()
    assert "## Privacy treatment" in readme and "not stable" not in readme.lower()

    situations = all_splits(load_dataset(str(tmp_path / "a"), "situations", cache_dir=hf_cache))
    threads = all_splits(load_dataset(str(tmp_path / "a"), "threads", cache_dir=hf_cache))
    assert len(situations) == 3 and len(threads) == 3
    verdicts = situations.features["judgment"]  # a ClassLabel: YTA, NTA, ESH, NAH, INFO
    assert verdicts.names == ["YTA", "NTA", "ESH", "NAH", "INFO"]
    assert sorted((None if v is None else verdicts.int2str(v) for v in situations["judgment"]), key=str) == [
        "NTA",
        None,
        None,
    ]

    # a second run with the same key: the same pseudonyms and ids; the cached read is reused
    second = run_norms(inputs, tmp_path / "b", env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "step read_reddit: output found in cache" in second.stdout + second.stderr
    a = pl.read_parquet(tmp_path / "a" / "data" / "situations").sort("record_id")
    b = pl.read_parquet(tmp_path / "b" / "data" / "situations").sort("record_id")
    assert a["author_pseudonym"].to_list() == b["author_pseudonym"].to_list()
    assert a["post_id"].to_list() == b["post_id"].to_list()
