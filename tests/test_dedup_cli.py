"""The `curate dedup` command: kept rows, duplicates, report and quarantine in every input format, a
config file with options over it, and errors that name the file, the column or the option."""

from __future__ import annotations

import json
import subprocess

import polars as pl
import pytest

from tests.conftest import curate_bin
from tests.dedup_corpus import near_corpus


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(curate_bin()), "dedup", *args], capture_output=True, text=True, timeout=300)


def write_inputs(tmp_path) -> dict[str, object]:
    texts = near_corpus()["text"].to_list()
    data = pl.DataFrame({"key": [f"k{i}" for i in range(len(texts))], "body": texts, "n": list(range(len(texts)))})
    paths = {"parquet": tmp_path / "in.parquet", "csv": tmp_path / "in.csv", "jsonl": tmp_path / "in.jsonl"}
    data.write_parquet(paths["parquet"])
    data.write_csv(paths["csv"])
    lines = [json.dumps(r) for r in data.iter_rows(named=True)]
    lines.insert(3, "{broken json")
    lines.append(json.dumps({"key": "k0", "body": "a repeated id", "n": 99}))
    lines.append(json.dumps({"key": "knull", "body": None, "n": 100}))
    paths["jsonl"].write_text("\n".join(lines) + "\n")
    return {"paths": paths, "data": data}


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_cli_writes_kept_duplicates_and_report(tmp_path, fmt):
    inputs = write_inputs(tmp_path)
    out = tmp_path / f"out-{fmt}"
    proc = run_cli(
        "--input",
        str(inputs["paths"][fmt]),
        "--text-column",
        "body",
        "--id-column",
        "key",
        "--method",
        "near",
        "--output",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    kept = pl.read_parquet(out / "data" / "kept")
    dups = pl.read_parquet(out / "data" / "duplicates")
    assert kept.columns == ["key", "body", "n"]
    assert dups.columns == ["id", "duplicate_of", "method", "similarity"]
    assert sorted(kept["key"].to_list() + dups["id"].to_list()) == sorted(inputs["data"]["key"].to_list())
    assert dups.height == 5 and set(dups["method"]) == {"near"}
    report = json.loads((out / "report.json").read_text())
    names = [s["name"] for s in report["steps"]]
    assert names == ["read", "validate", "dedup_near"]
    assert report["facts"]["dedup"]["removed"] == 5
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    if fmt == "jsonl":
        assert sorted(quarantine["row"].to_list()) == [4, 17, 18]
        assert any("repeated" in e for e in quarantine["error"]) and any(
            "not valid JSON" in e for e in quarantine["error"]
        )
    else:
        assert quarantine.height == 0


@pytest.mark.integration
def test_cli_config_file_and_threshold(tmp_path):
    inputs = write_inputs(tmp_path)
    config = tmp_path / "dedup.yaml"
    config.write_text("keep: longest\nnear:\n  shingle: word\n  ngram: 1\n  threshold: 0.99\n")
    out = tmp_path / "out"
    args = [
        "--input",
        str(inputs["paths"]["parquet"]),
        "--text-column",
        "body",
        "--id-column",
        "key",
        "--method",
        "near",
        "--output",
        str(out),
        "--config",
        str(config),
    ]
    assert run_cli(*args).returncode == 0
    strict = json.loads((out / "report.json").read_text())["facts"]["dedup"]
    assert strict["params"]["shingle"] == "word" and strict["params"]["keep"] == "longest"
    assert run_cli(*args, "--threshold", "0.6").returncode == 0
    loose = json.loads((out / "report.json").read_text())["facts"]["dedup"]
    assert loose["params"]["threshold"] == 0.6 and loose["removed"] > strict["removed"]


@pytest.mark.integration
def test_cli_errors_name_the_file_and_column(tmp_path):
    inputs = write_inputs(tmp_path)
    proc = run_cli(
        "--input",
        str(inputs["paths"]["csv"]),
        "--text-column",
        "text",
        "--id-column",
        "key",
        "--method",
        "exact",
        "--output",
        str(tmp_path / "o"),
    )
    assert proc.returncode != 0
    assert "in.csv" in proc.stderr and "'text'" in proc.stderr and "Traceback" not in proc.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("near:\n  shingles: word\n")
    proc = run_cli(
        "--input",
        str(inputs["paths"]["csv"]),
        "--text-column",
        "body",
        "--id-column",
        "key",
        "--method",
        "near",
        "--output",
        str(tmp_path / "o"),
        "--config",
        str(bad),
    )
    assert proc.returncode != 0 and "shingles" in proc.stderr and "Traceback" not in proc.stderr


def test_an_option_error_names_where_it_came_from(tmp_path):
    from pipelines.cli.dedup import load_dedup_config
    from schemas.errors import CurateError

    with pytest.raises(
        CurateError,
        match=r"^command line: invalid configuration for dedup --method near: config: .*both bands and rows",
    ):
        load_dedup_config("near", None, {"text_column": "t", "bands": 4})
    bad = tmp_path / "dedup.yaml"
    bad.write_text("near:\n  threshold: 2\n")
    with pytest.raises(CurateError, match=r"dedup.yaml: invalid configuration for dedup --method near: threshold: "):
        load_dedup_config("near", bad, {"text_column": "t"})
