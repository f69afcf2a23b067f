"""Inputs are identified by the path as given and their content (issue 15): records name the file as
given in this run, so one file name in two folders is two inputs, and a renamed input publishes its
new name; the step cache reruns what a new name or content needs, and nothing for an unchanged run."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.engine.cache import StepCache
from tests.bad_inputs import runner
from tests.conftest import REPO

SAMPLE = REPO / "sources" / "samples" / "personality" / "ipip120_responses.csv"


def no_case_column(target: Path) -> None:
    """The sample without its case numbers: respondents are then named `file:row`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = SAMPLE.read_text().splitlines()
    target.write_text("\n".join(",".join(line.split(",")[1:]) for line in lines) + "\n")


@pytest.fixture
def stored(monkeypatch):
    """The names of the steps computed (stored in the cache) by each run."""
    names: list[str] = []
    store = StepCache.store
    monkeypatch.setattr(
        StepCache, "store", lambda self, name, key, result: (names.append(name), store(self, name, key, result))[1]
    )
    return names


def run(inputs: list[str], cache: Path) -> dict:
    case = {"recipe": "personality", "inputs": inputs, "config": None, "allow_existing": True}
    outcome = runner.run(case, Path("."), cache)
    assert outcome["status"] == "ok", outcome
    return {f: n for f, n in published("out").items()}


def published(out: str) -> dict[str, int]:
    frame = pl.read_parquet(Path(out) / "data" / "respondents" / "*.parquet")
    return dict(frame["source"].struct.field("file").value_counts().iter_rows())


def test_two_folders_one_file_name_are_two_inputs(tmp_path, monkeypatch, stored):
    monkeypatch.chdir(tmp_path)
    no_case_column(Path("d1/resp.csv"))
    no_case_column(Path("d2/resp.csv"))
    files = run(["d1/resp.csv", "./d2//resp.csv"], tmp_path / "cache")
    assert sorted(files) == ["d1/resp.csv", "d2/resp.csv"]  # relative as typed, normalized
    assert files["d1/resp.csv"] == files["d2/resp.csv"] > 0  # nobody lost as a "duplicate"
    quarantine = pl.read_parquet("out/quarantine.parquet")
    assert not quarantine.filter(pl.col("error").str.contains("duplicate")).height
    assert set(quarantine["source_file"]) <= {"d1/resp.csv", "d2/resp.csv"}
    card = Path("out/README.md").read_text()
    assert "d1/resp.csv" in card and "d2/resp.csv" in card and str(tmp_path) not in card


def test_a_renamed_input_publishes_its_new_name_and_the_cache_reruns_only_what_it_must(tmp_path, monkeypatch, stored):
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "cache"
    no_case_column(Path("a/resp.csv"))
    assert set(run(["a/resp.csv"], cache)) == {"a/resp.csv"}
    first = list(stored)
    assert first, "the first run computes its steps"
    stored.clear()
    assert set(run(["a/resp.csv"], cache)) == {"a/resp.csv"}
    assert stored == []  # same name, same content: nothing recomputed
    shutil.move("a", "b")
    assert set(run(["b/resp.csv"], cache)) == {"b/resp.csv"}  # not the old name from the cache
    assert stored == first  # a new input: its steps run again, each once
    stored.clear()
    no_case_column(Path("a/resp.csv"))  # the old name back, same content: its cached steps serve it
    assert set(run(["a/resp.csv"], cache)) == {"a/resp.csv"}
    assert stored == []
    text = Path("a/resp.csv").read_text().splitlines()
    Path("a/resp.csv").write_text("\n".join(text[:-1]) + "\n")  # one respondent fewer: new content
    run(["a/resp.csv"], cache)
    assert stored == first
