"""A new version keeps the previous one's terms (license, dataset name, citation) unless its config
changes them; a change is stated; a run that left a term at its default while the previous version
set it is refused; the checks that need no data come before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard

from pipelines.engine.publish import plan_publish, publish, version_terms, versions
from pipelines.engine.request import RunRequest
from pipelines.flows.run import run_recipe
from schemas.errors import CurateError
from tests import personality_data as pdata


def run(tmp_path: Path, name: str, overrides: dict | None = None, plan=None, extra_case: int | None = None) -> Path:
    frame = pdata.frame_120()
    if extra_case:
        frame["case"] = frame["case"] + extra_case
    src = tmp_path / f"responses{extra_case or ''}.csv"  # records name their input: the same name, the same data
    frame.to_csv(src, index=False)
    out = tmp_path / name
    request = RunRequest(
        recipe="personality",
        inputs=(str(src),),
        output=str(out),
        overrides=overrides or {},
        cache_dir=str(tmp_path / "cache"),
        inherited=plan.inherited if plan else {},
        inherited_from=plan.previous if plan else None,
    )
    assert isinstance(run_recipe.fn(request), dict)  # a failed run returns its Failed state
    return out


def header(folder: Path) -> dict:
    return DatasetCard.load(folder / "README.md").data.to_dict()


def test_a_version_made_without_a_config_keeps_the_previous_terms(tmp_path):
    repo = tmp_path / "repo"
    first = run(tmp_path, "one", {"license": "cc0-1.0", "dataset_name": "Big Five 2026", "citation": "Us (2026)."})
    publish(first, str(repo), "1.0.0")
    card = (repo / "README.md").read_text()
    assert "This version's data is published under `cc0-1.0`." in card
    assert "Us (2026).\n\nSources:" in card  # the config's citation first, then the sources'

    plan = plan_publish(str(repo), "1.1.0", "personality")
    assert plan.previous == "v1.0.0"
    assert plan.inherited == {"license": "cc0-1.0", "dataset_name": "Big Five 2026", "citation": "Us (2026)."}
    second = run(tmp_path, "two", plan=plan, extra_case=1000)
    terms = json.loads((second / "report.json").read_text())["facts"]["terms"]
    assert terms["license"] == "cc0-1.0" and terms["source"]["license"] == "inherited from v1.0.0"
    result = publish(second, str(repo), "1.1.0")
    assert result["version"] == "v1.1.0" and result["terms"] == []
    assert header(repo)["license"] == "cc0-1.0" and header(repo)["pretty_name"] == "Big Five 2026"
    assert version_terms(repo, "v1.1.0")["license"] == "cc0-1.0"


def test_a_term_left_at_its_default_is_refused_and_a_configured_change_is_stated(tmp_path):
    repo = tmp_path / "repo"
    publish(run(tmp_path, "one", {"license": "cc0-1.0"}), str(repo), "1.0.0")
    default = run(tmp_path, "two", extra_case=1000)  # no config, no plan: license unknown by default
    with pytest.raises(CurateError, match=r"license is the default \('unknown'\) in this run but 'cc0-1.0' in v1.0.0"):
        publish(default, str(repo), "1.1.0")
    assert versions(repo) == ["v1.0.0"]

    changed = run(
        tmp_path,
        "three",
        {"license": "cc-by-4.0"},
        plan=plan_publish(str(repo), "1.1.0", "personality"),
        extra_case=1000,
    )
    result = publish(changed, str(repo), "1.1.0")
    assert result["terms"] == ["license: 'cc0-1.0' -> 'cc-by-4.0' (config)"]
    card = (repo / "README.md").read_text()
    assert "Terms changed:\n\n- license: 'cc0-1.0' -> 'cc-by-4.0' (config)" in card
    assert "license: 'cc0-1.0' -> 'cc-by-4.0'" in (repo / "CHANGELOG.md").read_text()
    assert header(repo)["license"] == "cc-by-4.0"


def test_a_terms_change_alone_is_a_new_version(tmp_path):
    repo = tmp_path / "repo"
    publish(run(tmp_path, "one", {"license": "cc0-1.0"}), str(repo), "1.0.0")
    renamed = run(tmp_path, "two", {"dataset_name": "Renamed"}, plan=plan_publish(str(repo), "1.0.1", "personality"))
    result = publish(renamed, str(repo), "1.0.1")  # the same data, a new name
    assert result["version"] == "v1.0.1" and result["terms"] == ["dataset_name: None -> 'Renamed' (config)"]
    assert all(d["added"] == d["removed"] == d["changed"] == 0 for d in result["diff"])


def test_checks_before_any_work(tmp_path):
    repo = tmp_path / "repo"
    publish(run(tmp_path, "one"), str(repo), "1.1.0")
    with pytest.raises(CurateError, match="older than the latest"):
        plan_publish(str(repo), "1.0.0", "personality")
    with pytest.raises(CurateError, match="not semantic"):
        plan_publish(str(repo), "1.1", "personality")
    with pytest.raises(CurateError, match="its versions are `personality` datasets"):
        plan_publish(str(repo), None, "norms")
    assert plan_publish(str(repo), "1.1.0", "personality").previous == "v1.1.0"  # exists: equal data publishes nothing
    assert plan_publish(str(tmp_path / "new"), "1.0.0", "norms").inherited == {}


def test_a_version_from_before_terms_were_recorded_gives_its_card_license(tmp_path):
    repo = tmp_path / "repo"
    one = run(tmp_path, "one", {"license": "other", "license_name": "Our Terms 1.0"})
    report = json.loads((one / "report.json").read_text())
    del report["facts"]["terms"]  # as runs before this change wrote it
    (one / "report.json").write_text(json.dumps(report))
    publish(one, str(repo), "1.0.0")
    assert version_terms(repo, "v1.0.0") == {"license": "other:Our Terms 1.0"}
    plan = plan_publish(str(repo), "1.0.1", "personality")
    two = run(tmp_path, "two", plan=plan, extra_case=1000)
    assert header(two)["license"] == "other" and header(two)["license_name"] == "Our Terms 1.0"
