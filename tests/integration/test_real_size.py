"""The real-size tier: every recipe of the registry, and dedup by each method, through the `curate`
command on a generated input of realistic size, on defaults (the embedded LLM engine and its 5-minute
budget, LocalCluster, no cap). Past every chunk and partition boundary the samples stay under (the
privacy step's 2,000 texts, Dask partitions). Each run: its outcome, the accounting of every step,
and outputs that load. Timings: bench/real_size/README.md."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest

from pipelines.recipes import available
from tests import real_size_data as gen
from tests.conftest import REPO, curate_bin
from tests.dataset_checks import load_every_config

pytestmark = pytest.mark.integration

RESPONDENTS, SUBMISSIONS, COMMENTS_PER, SURVEY = 20_000, 5_000, 5, (10_000, 10)  # 100,000 survey answers
DEDUP_ROWS = 20_000
OVER_BUDGET = "over the LLM budget"


def inputs_for(recipe: str, folder: Path) -> tuple[list[Path], Path | None, str]:
    """(inputs, config, expected outcome): "published", or "over budget" for a recipe whose output is
    the model's (the embedded engine's 5 minutes cannot make it at this size: one line, exit 2)."""
    if recipe == "personality":
        return [gen.inventory_csv(folder / "respondents.csv", "ipip_neo_120", RESPONDENTS)], None, "published"
    if recipe == "norms":
        return gen.reddit_dump(folder / "dumps", SUBMISSIONS, COMMENTS_PER), None, "published"
    if recipe == "values":
        return gen.survey(folder / "survey", *SURVEY), None, "published"
    if recipe == "expand":
        return [gen.inventory_items(folder / "items.csv", 300)], None, "over budget"
    if recipe == "preferences":
        return gen.personas_and_prompts(folder / "prefs", 100, 50), None, "over budget"
    if recipe == "translate":
        return (
            [gen.moral_stories(folder / "stories", 5_000)],
            REPO / "sources" / "samples" / "translate" / "config.yaml",
            "over budget",
        )
    pytest.skip(f"recipe {recipe!r} has no real-size input generator in tests/integration/test_real_size.py")


def defaults_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_")}  # the embedded engine, probe, budget
    env.update(CURATE_CACHE_DIR=str(tmp_path / "cache"), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    return env


def check_accounts(report: dict) -> None:
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"], step


@pytest.mark.parametrize("recipe", sorted(available()))
def test_each_recipe_at_real_size_on_defaults(recipe, tmp_path):
    inputs, config, expected = inputs_for(recipe, tmp_path / "in")
    out = tmp_path / "out"
    args = [str(curate_bin()), "run", recipe, "--output", str(out), "--quiet"]
    args += [a for p in inputs for a in ("--input", str(p))] + (["--config", str(config)] if config else [])
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1500, env=defaults_env(tmp_path))
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if expected == "over budget":
        assert proc.returncode == 2, proc.stderr[-3000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and OVER_BUDGET in errors[0] and "at most" in errors[0], proc.stderr[-3000:]
        assert not out.exists()  # stopped before anything was written
        return
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    check_accounts(report)
    rows = load_every_config(out, str(tmp_path / "hf"))
    if recipe == "personality":
        assert rows["respondents"] == report["steps"][-1]["kept"] > 0.9 * RESPONDENTS
        assert any(n.startswith("No persona texts: the LLM budget does not cover them.") for n in report["notes"])
    elif recipe == "norms":
        read = report["steps"][0]
        assert read["in"] == SUBMISSIONS * (1 + COMMENTS_PER)
        assert rows["situations"] == SUBMISSIONS and rows["threads"] > 0
        assert any(n.startswith("No rules of thumb: the LLM budget does not cover them.") for n in report["notes"])
    elif recipe == "values":
        answers = next(s for s in report["steps"] if s["name"] == "validate_answers")
        assert answers["in"] == SURVEY[0] * SURVEY[1]
        assert rows["distributions"] > 0 and rows["questions"] == SURVEY[1]
    decisions = [e["decision"] for e in report["facts"].get("llm_estimates", [])]
    assert all(d == "over budget: not sent" for d in decisions)  # the embedded engine's budget held


@pytest.fixture(scope="module")
def dedup_input(tmp_path_factory) -> Path:
    return gen.dedup_table(tmp_path_factory.mktemp("dedup") / "rows.parquet", DEDUP_ROWS)


@pytest.mark.parametrize("method", ["exact", "near", "semantic"])
def test_dedup_at_real_size_on_defaults(method, dedup_input, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            str(curate_bin()),
            "dedup",
            "--input",
            str(dedup_input),
            "--text-column",
            "text",
            "--id-column",
            "id",
            "--method",
            method,
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
        env=defaults_env(tmp_path),
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    check_accounts(report)
    rows = load_every_config(out, str(tmp_path / "hf"))
    assert rows["kept"] + rows.get("duplicates", 0) == DEDUP_ROWS
    # a tenth of the rows are planted variants; about half are case or punctuation edits (exact finds those)
    assert rows.get("duplicates", 0) >= (0.03 if method == "exact" else 0.08) * DEDUP_ROWS
    kept = pl.read_parquet(out / "data" / "kept")
    assert kept["id"].is_unique().all()
