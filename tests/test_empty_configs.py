"""Configs without rows and configs too small to fill every split: each folder still loads with
`datasets.load_dataset` (datasets 5.2 cannot load a split of no rows, huggingface/datasets PR #8401),
and every recipe's demo output, run with its LLM steps off, loads config by config and publishes."""

from __future__ import annotations

import json

import polars as pl
import pytest

from data_cards.hub import validate_card_offline
from pipelines.engine.layout import write_dataset_dir
from pipelines.engine.report import RunReport
from pipelines.engine.steps import Account
from pipelines.recipes import CardMeta, RecipeOutput
from tests.conftest import REPO
from tests.dataset_checks import declared_configs, load_every_config

ENVELOPE = {"record_id": pl.String, "split": pl.String}


def frame(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": ids, "group": ids, "text": [f"text {i}" for i in ids], "split": ["train"] * len(ids)},
        schema={"record_id": pl.String, "group": pl.String, "text": pl.String, "split": pl.String},
    )


def test_an_empty_config_and_a_tiny_one_load(tmp_path, hf_cache):
    from data_cards.hub import HubSpec, split_of

    # a key that the hash puts in test: alone, it would leave the config without train
    lonely = next(
        f"g{i}" for i in range(1000) if split_of(f"g{i}", {"train": 0.8, "validation": 0.1, "test": 0.1}) == "test"
    )
    report = RunReport("test")
    report.add(Account("read", 2, 2))
    result = RecipeOutput(
        tables={"full": frame([f"r{i}" for i in range(200)]), "empty": frame([]), "tiny": frame([lonely])},
        card=CardMeta(pretty_name="Test", license="cc0-1.0", languages=["en"], task_categories=["text-classification"]),
    )
    spec = HubSpec(split_keys={"full": "group", "empty": "group", "tiny": "group"})
    out = tmp_path / "out"
    write_dataset_dir(
        out, recipe="test", result=result, report=report, inputs=[], created_at="2026-01-01T00:00:00", spec=spec
    )

    assert declared_configs(out) == {"full": ["train", "validation", "test"], "tiny": ["train"]}
    assert load_every_config(out, hf_cache) == {"empty": 0, "full": 200, "tiny": 1}
    empty = pl.read_parquet(out / "data" / "empty")
    assert empty.columns == ["record_id", "group", "text", "split"] and empty.height == 0
    import pyarrow.parquet as pq

    assert pq.ParquetFile(out / "data" / "empty" / "train-00000-of-00001.parquet").metadata.num_row_groups == 0
    saved = json.loads((out / "report.json").read_text())
    assert saved["facts"]["empty_configs"] == ["empty"]
    assert any("Config `tiny`: the split hash put all its 1 rows in test" in n for n in saved["notes"])
    assert validate_card_offline(out) == []


def recipes_with_demo():
    from pipelines.cli.demo import demo_runs

    return {name: (inputs, config) for name, inputs, config in demo_runs(REPO / "sources" / "samples")}


@pytest.mark.parametrize("recipe", sorted(recipes_with_demo()))
def test_every_config_of_each_recipe_demo_loads(recipe, tmp_path, hf_cache, monkeypatch):
    """The registry's recipes on their demo inputs, LLM steps off (the small configs of a demo are
    where splits go missing); the embedded engine's run is tests/integration/test_llm_embedded.py."""
    from pipelines.engine.request import RunRequest
    from pipelines.flows.run import run_recipe

    monkeypatch.setenv("CURATE_PSEUDONYM_KEY", "test-key")
    inputs, config = recipes_with_demo()[recipe]
    request = RunRequest(
        recipe=recipe,
        inputs=tuple(str(p) for p in inputs),
        output=str(tmp_path / "out"),
        config_path=str(config) if config else None,
        cache_dir=str(tmp_path / "cache"),
    )
    summary = run_recipe.fn(request)
    assert isinstance(summary, dict), summary  # a failed run returns its Failed state
    rows = load_every_config(tmp_path / "out", hf_cache)
    assert rows == summary["configs"]
    # and it publishes: a version, then nothing for the same data
    from pipelines.engine.publish import publish, versions

    assert publish(tmp_path / "out", str(tmp_path / "repo"), "1.0.0")["version"] == "v1.0.0"
    assert publish(tmp_path / "out", str(tmp_path / "repo"), "1.0.1")["version"] is None
    assert versions(tmp_path / "repo") == ["v1.0.0"]
