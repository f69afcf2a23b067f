"""`curate run personality` through the real command line: Prefect flow, Dask LocalCluster, the HF
layout read back by `datasets.load_dataset`, and one-line errors for bad files."""

from __future__ import annotations

import json
import subprocess

import datasets
import polars as pl
import pytest

from tests import personality_data as pdata
from tests.conftest import all_splits, curate_bin

pytestmark = pytest.mark.integration


def curate(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(curate_bin()), *args], capture_output=True, text=True, timeout=600, env=env)


def test_run_publishes_a_dataset_that_load_dataset_reads(tmp_path, hf_cache):
    inputs = [
        pdata.write_csv(tmp_path / "r.csv"),
        pdata.write_dat(tmp_path / "IPIP120.dat"),
        pdata.write_sav(tmp_path / "r.sav"),
    ]
    out = tmp_path / "ds"
    args = ["run", "personality", "--output", str(out)]
    for p in inputs:
        args += ["--input", str(p)]
    proc = curate(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads((out / "report.json").read_text())
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"]
    # the same 5 cases in three files: the .dat and .sav copies are repeats of the CSV's ids
    assert report["steps"][-1]["dropped"] == {"insufficient_answers": 1}

    ds = all_splits(datasets.load_dataset(str(out), "respondents", cache_dir=hf_cache))
    assert ds.num_rows == 4
    row = next(r for r in ds if r["respondent_id"] == "2")
    assert row["domain_scores"]["ipip_neo_120"]["N"] == pytest.approx(pdata.EXPECTED_120["2"]["N"])
    assert row["facet_scores"]["ipip_neo_120"]["A2"] == pytest.approx(2.0)
    items = datasets.load_dataset(str(out), "items", split="train", cache_dir=hf_cache)
    assert items.num_rows == 120
    # quarantine.parquet sits beside the configs and is not read as data
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    assert quarantine.height == report["quarantined_total"] == 10
    assert set(quarantine["field"]) == {"case"}
    card = (out / "README.md").read_text()
    assert "Cronbach's alpha" in card and "insufficient_answers: 1" in card


def test_bad_file_stops_with_one_line_and_no_traceback(tmp_path):
    bad = tmp_path / "answers.csv"
    bad.write_text("case,age\n1,20\n")
    proc = curate("run", "personality", "--input", str(bad), "--output", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert f"{bad}: no item columns found" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    missing = curate("run", "personality", "--input", str(tmp_path / "nope.sav"), "--output", str(tmp_path / "o"))
    assert missing.returncode == 2 and "nope.sav: file not found" in missing.stderr


def test_help_for_every_command():
    for args in (["--help"], ["run", "--help"], ["recipes", "--help"], ["demo", "--help"]):
        proc = curate(*args)
        assert proc.returncode == 0 and "Usage" in proc.stdout
