"""Scheduled runs without a server: cron checks, the key rule, the run artifact."""

from __future__ import annotations

import pytest

from pipelines.flows.schedule import Recipe, artifact_markdown, check_cron, pseudonym_key
from schemas.errors import CurateError


def test_cron_and_timezone_are_checked_in_one_line():
    check_cron("0 3 * * *", "Europe/Paris")
    check_cron("*/15 * * * 1-5", None)
    with pytest.raises(CurateError, match=r"--cron '0 3 \* \*': Invalid cron string"):
        check_cron("0 3 * *", None)
    with pytest.raises(CurateError, match="Invalid timezone"):
        check_cron("0 3 * * *", "Mars/Base")


def test_norms_needs_a_key_other_recipes_do_not(monkeypatch):
    import prefect.blocks.system

    def no_block(*args, **kwargs):
        raise ValueError("no block")

    monkeypatch.delenv("CURATE_PSEUDONYM_KEY", raising=False)
    monkeypatch.setattr(prefect.blocks.system.Secret, "load", no_block)
    assert pseudonym_key("personality") is None
    with pytest.raises(CurateError, match="needs a persistent pseudonym key"):
        pseudonym_key("norms")
    monkeypatch.setenv("CURATE_PSEUDONYM_KEY", "k")
    assert pseudonym_key("norms") == "environment"


def test_recipe_parameter_is_a_choice():
    from pipelines.recipes import available

    assert {r.value for r in Recipe} == set(available())  # every recipe found, shipped or on CURATE_RECIPE_PATH


def test_artifact_has_the_step_table_card_and_version(tmp_path):
    summary = {
        "output": str(tmp_path / "out"),
        "configs": {"respondents": 4},
        "report": {"steps": [{"name": "read", "in": 5, "kept": 4, "dropped": {"bad": 1}, "quarantined": 0}]},
    }
    text = artifact_markdown(
        "personality", summary, {"version": "v1.0.1", "previous": "v1.0.0", "diff": []}, "datasets/x"
    )
    assert "Published **v1.0.1** to `datasets/x` (previous: v1.0.0)" in text
    assert "| read | 5 | 4 | bad: 1 | 0 |" in text and f"({(tmp_path / 'out' / 'README.md').as_uri()})" in text
    same = artifact_markdown(
        "personality", summary, {"version": None, "unchanged_from": "v1.0.1", "previous": "v1.0.1"}, "datasets/x"
    )
    assert "Nothing published: the data equals **v1.0.1**" in same
