"""`curate run values` through the real command line on the shipped samples (CSV, SPSS, Stata and a
YAML codebook): Prefect flow, Dask LocalCluster, the HF layout read back by `datasets.load_dataset`,
the card, and one-line errors for a bad codebook."""

from __future__ import annotations

import json
import subprocess

import datasets
import polars as pl
import pytest

from pipelines.methods.distributions import compare
from tests.conftest import REPO, all_splits, curate_bin

pytestmark = pytest.mark.integration
SAMPLES = REPO / "sources" / "samples" / "values"
MICRODATA = ["values_w1.csv", "values_w1_japan.sav", "values_w2.dta"]


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(curate_bin()), *args], capture_output=True, text=True, timeout=600)


def test_run_on_the_samples_publishes_what_load_dataset_reads(tmp_path, hf_cache):
    out = tmp_path / "values"
    args = ["run", "values", "--output", str(out), "--config", str(SAMPLES / "config.yaml")]
    for name in [*MICRODATA, "codebook.yaml"]:
        args += ["--input", str(SAMPLES / name)]
    proc = curate(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads((out / "report.json").read_text())
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"]
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["validate_answers"]["kept"] == steps["distributions"]["extra"]["answers_counted"]
    assert steps["distributions"]["dropped"]["below_min_n"] > 0  # sex "Other" is planted small
    # inputs are named as given; the shipped samples by their place in the project
    v = "sources/samples/values/"
    assert report["facts"]["absent_questions"] == {f"{v}values_w1.csv": ["q7"], f"{v}values_w2.dta": ["q5"]}

    # planted faults: three bad weights in the CSV, one in the .sav; three codes not in the codebook
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    assert quarantine.height == report["quarantined_total"] == 7
    assert sorted(quarantine.select("source_file", "field").rows()) == sorted(
        [
            (f"{v}values_w1.csv", "weight"),
            (f"{v}values_w1.csv", "weight"),
            (f"{v}values_w1.csv", "weight"),
            (f"{v}values_w1_japan.sav", "weight"),
            (f"{v}values_w1.csv", "q1"),
            (f"{v}values_w1.csv", "q2"),
            (f"{v}values_w2.dta", "q4"),
        ]
    )

    ds = all_splits(datasets.load_dataset(str(out), "distributions", cache_dir=hf_cache))
    assert ds.num_rows == steps["distributions"]["kept"]
    assert {r["group_attr"] for r in ds} == {"all", "country", "age_band", "sex", "education"}
    assert {(r["survey"], r["wave"]) for r in ds} == {
        ("Sample Values Survey", "2023"),
        ("Sample Values Survey", "2024"),
    }
    japan = next(r for r in ds if r["group_value"] == "Japan" and r["var_name"] == "q7")
    assert japan["options"][0] == "Very interested" and japan["refusal_options"] == ["Don't know", "Refused"]
    assert sum(japan["probs"]) == pytest.approx(1.0)
    assert all(c["low"] <= p <= c["high"] for p, c in zip(japan["probs"], japan["ci"]))
    assert japan["design_df"] > 0 and all(se > 0 for se in japan["se"])  # the sample declares strata and PSUs
    card = (out / "README.md").read_text()
    assert "Declared design: Taylor linearization with strata `stratum`, PSUs `psu`" in card
    assert "Design effects over" in card
    assert 0 <= compare([0.25] * 4, japan) <= 1
    assert not [r for r in ds if r["group_value"] == "Other"]  # below min n everywhere

    questions = all_splits(datasets.load_dataset(str(out), "questions", cache_dir=hf_cache))
    assert questions.num_rows == 13  # 7 questions in wave 2023, 6 in 2024 (no q5)
    q7 = next(r for r in questions if r["var_name"] == "q7" and r["wave"] == "2024")
    assert q7["labels_from"] == "file" and {"code": ".a", "same_as": "98"} in q7["code_aliases"]
    assert {d["group_value"] for d in q7["distributions"] if d["group_attr"] == "country"} == {"India", "Brazil"}

    card = (out / "README.md").read_text()
    for heading in (
        "## Questions",
        "## Groups",
        "## Respondents",
        "## Weighting",
        "## Refusal handling",
        "## Metric definitions",
    ):
        assert heading in card
    assert "below_min_n" in card and "Kish" in card and "Wilson" in card


def test_bad_codebook_stops_with_one_line_and_no_traceback(tmp_path):
    book = tmp_path / "codebook.yaml"
    book.write_text((SAMPLES / "codebook.yaml").read_text().replace("weight: weight", "weight: wt"))
    proc = curate(
        "run", "values", "--input", str(SAMPLES / MICRODATA[0]), "--input", str(book), "--output", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    assert "values_w1.csv: the codebook's weight column 'wt' is not in this file" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    proc = curate("run", "values", "--input", str(SAMPLES / MICRODATA[0]), "--output", str(tmp_path / "o"))
    assert proc.returncode == 2 and "exactly one codebook" in proc.stderr
