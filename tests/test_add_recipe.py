"""The docs' "Adding a recipe" page (docs/developer/adding-a-recipe.md): its files, written into a
temporary folder, make a recipe that curate finds through CURATE_RECIPE_PATH, runs through the real
flow and reviews, with nothing else changed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import REPO

FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```[a-z]+\n(.*?)```", re.S)
PAGE = REPO / "docs" / "developer" / "adding-a-recipe.md"
LINES_FILES = {
    "lines/recipe.yaml",
    "lines/steps.py",
    "lines/recipe.py",
    "lines/__init__.py",
    "lines/samples/a.txt",
    "lines/samples/b.txt",
}


def write_lines_recipe(root: Path) -> Path:
    """The files of the docs' "Adding a recipe" page, as written there, under `root`."""
    blocks = FILE_BLOCK.findall(PAGE.read_text())
    assert {name for name, _ in blocks} == LINES_FILES
    for name, code in blocks:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(code)
    return root / "lines"


@pytest.fixture
def lines_recipe(tmp_path, monkeypatch):
    root = tmp_path / "my-recipes"
    write_lines_recipe(root)
    monkeypatch.setenv("CURATE_RECIPE_PATH", str(root))
    yield root
    for name in [m for m in sys.modules if m == "curate_recipes.lines" or m.startswith("curate_recipes.lines.")]:
        del sys.modules[name]


def test_a_folder_on_the_recipe_path_is_a_recipe(lines_recipe, tmp_path):
    from pipelines.cli.demo import demo_runs
    from pipelines.engine.request import RunRequest
    from pipelines.flows.run import run_recipe
    from pipelines.recipes import available, get_recipe

    assert available()["lines"] == lines_recipe / "lines"
    assert "personality" in available()  # the shipped ones are still there
    recipe = get_recipe("lines")
    assert recipe.description.startswith("text files")

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("a line long enough\nshort\n")
    b.write_text("another line that stays\n\n")
    request = RunRequest(
        recipe="lines",
        inputs=(str(a), str(b)),
        output=str(tmp_path / "out"),
        overrides={"min_chars": 6},
        cache_dir=str(tmp_path / "cache"),
    )
    summary = run_recipe.fn(request)
    assert summary["configs"] == {"lines": 2}
    records = pl.read_parquet(tmp_path / "out" / "data" / "lines" / "*.parquet")
    assert records["text"].to_list() == ["a line long enough", "another line that stays"]
    assert [p["step"] for p in records["provenance"][0]] == ["read_lines", "drop_short"]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["steps"][1] == {
        "name": "drop_short",
        "in": 4,
        "kept": 2,
        "dropped": {"too_short": 2},
        "quarantined": 0,
    }
    assert (tmp_path / "out" / "README.md").read_text().count("drop_short") >= 1

    # a changed option gives another output (the second step's cache key has the option)
    again = run_recipe.fn(request.model_copy(update={"overrides": {"min_chars": 30}}))
    assert again["configs"] == {"lines": 0}

    # its own samples/ make its demo run; review falls back to the generic spec
    demo = {name: (inputs, config) for name, inputs, config in demo_runs(REPO / "sources" / "samples")}
    assert demo["lines"] == (sorted((lines_recipe / "lines" / "samples").glob("*.txt")), None)
    from annotation.settings import spec_for

    assert spec_for("lines", "lines", records).record_type == "Record"


def test_options_are_validated_by_the_recipe_config(lines_recipe):
    from pipelines.recipes import get_recipe, load_config
    from schemas.errors import CurateError

    recipe = get_recipe("lines")
    assert load_config(recipe, None, {"min_chars": 3}).min_chars == 3
    with pytest.raises(CurateError, match="min_chars"):
        load_config(recipe, None, {"min_chars": "many"})
    with pytest.raises(CurateError, match="colour"):
        load_config(recipe, None, {"colour": "red"})


def test_the_cli_lists_it_and_parses_set(lines_recipe):
    from pipelines.cli.main import parse_sets

    assert parse_sets(["min_chars=20", "llm.model=m", "languages=[en, fr]", "keyed=true"]) == {
        "min_chars": 20,
        "llm": {"model": "m"},
        "languages": ["en", "fr"],
        "keyed": True,
    }
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "curate"), "recipes"],
        capture_output=True,
        text=True,
        env={**os.environ, "CURATE_RECIPE_PATH": str(lines_recipe)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^lines\s+text files -> one record per line", done.stdout, re.M)


def test_run_rejects_an_option_the_recipe_does_not_have(tmp_path):
    """`--set` goes through the recipe's config: an unknown option stops the run with one line, exit 2."""
    sample = REPO / "sources" / "samples" / "personality" / "IPIP120.dat"
    curate = str(REPO / ".venv" / "bin" / "curate")
    done = subprocess.run(
        [
            curate,
            "run",
            "personality",
            "-i",
            str(sample),
            "-o",
            str(tmp_path / "o"),
            "--set",
            "min_answered_fraction=lots",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "min_answered_fraction" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [curate, "run", "values", "-i", str(sample), "-o", str(tmp_path / "o"), "--keyed"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "keyed" in done.stderr, done.stderr  # --keyed is personality's option
    # the generic run has no recipe's option of its own: the alias is hidden from its help
    shown = subprocess.run(
        [curate, "run", "--help"], capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"}
    )
    assert shown.returncode == 0 and "--set" in shown.stdout and "--keyed" not in shown.stdout
