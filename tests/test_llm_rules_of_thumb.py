"""The rule-of-thumb step (Social Chemistry 101) against the scripted server: records with the
attributes, a reply still invalid after one repair quarantined with its raw text, rows over
`max_items` counted as dropped, the Argilla review spec with the LLM's attributes as suggestions."""

from __future__ import annotations

import json

import polars as pl

from pipelines.llm.client import LLMClient
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.step import OVER_LIMIT, llm_step_config
from pipelines.recipes.norms.rules_of_thumb import RuleConfig, RulesOfThumbStep, rule_of_thumb_spec
from tests.llm_loopback import Reply, ScriptedServer

GOOD = {
    "rules": [
        {
            "rule": "It's rude to leave a party without saying goodbye.",
            "judgment": "it's rude",
            "action": "leaving without goodbye",
            "action_judgment": "bad",
            "agreement": "common",
            "moral_foundations": ["care-harm"],
            "categories": ["social-norms"],
        }
    ]
}


def model(body):
    prompt = "\n".join(m["content"] for m in body["messages"])
    if "situation two" in prompt:
        return Reply(json.dumps({"rules": [{**GOOD["rules"][0], "agreement": "everyone"}]}))  # not in the scheme
    return Reply(json.dumps(GOOD))


def test_rules_of_thumb_step():
    situations = pl.DataFrame(
        {
            "record_id": ["s1", "s2", "s3"],
            "situation": ["situation one", "situation two", "situation three"],
            "background": ["I left early.", None, "x"],
            "lang": ["en"] * 3,
            "_file": ["RS.zst"] * 3,
        }
    )
    with ScriptedServer(model) as srv:
        client = LLMClient(LLMSettings(base_url=srv.base_url, max_items=2, backoff_s=0.01))
        step = RulesOfThumbStep(llm_step_config(client, load_template("rule_of_thumb").hash, RuleConfig))
        step.client = client
        result = step.run(situations)
    a = result.account
    assert (a.rows_in, a.kept, a.quarantined, a.dropped) == (3, 1, 1, {OVER_LIMIT: 1})
    assert len(srv.requests) == 3  # two situations, one repair; the third never sent
    rows = result.data.to_dicts()
    assert rows[0]["situation_record_id"] == "s1" and rows[0]["agreement"] == "common"
    assert rows[0]["moral_foundations"] == ["care-harm"] and rows[0]["action_judgment"] == "bad"
    q = result.quarantine.to_dicts()[0]
    assert q["field"].startswith("rules") and "agreement" in q["error"] and "after one repair" in q["error"]
    assert "everyone" in q["raw"]
    first = [r["messages"][-1]["content"] for r in srv.requests if "situation one" in r["messages"][-1]["content"]]
    assert first and "I left early." in first[0]  # the post's text goes with its title (requests run concurrently)
    spec = rule_of_thumb_spec(result.data)
    assert {s.question for s in spec.suggestions} == {"action_judgment", "agreement"}
    assert spec.question("agreement").values[0] == "nobody"


def test_norms_build_publishes_rules_of_thumb_and_review_pushes_them(tmp_path, monkeypatch):
    """Through the norms recipe with an endpoint: a `rules_of_thumb` config linked to the situations,
    with the step's provenance, and the norms recipe's review spec for it (curate review push)."""
    from annotation.settings import spec_for
    from pipelines.engine.runtime import RunContext
    from pipelines.methods.privacy import KEY_ENV
    from pipelines.recipes import norms
    from tests import reddit_dumps as fx

    monkeypatch.setenv(KEY_ENV, "test-key")
    paths = fx.write_pair(tmp_path / "in")
    ctx = RunContext(recipe="norms", output=tmp_path / "out", cache=None, dask=None)
    with ScriptedServer(model) as srv:
        monkeypatch.setenv("CURATE_LLM_BASE_URL", srv.base_url)
        result = norms.build(ctx, paths, norms.Config(license="cc0-1.0"))
    rules, situations = result.tables["rules_of_thumb"], result.tables["situations"]
    assert rules.height == situations.height  # one rule each from the scripted model
    assert set(rules["situation_record_id"]) == set(situations["record_id"])
    assert rules["provenance"][0].to_list()[-1]["step"] == "rules_of_thumb"
    assert not [n for n in ctx.report.notes if n.startswith("No rules of thumb")]
    spec = spec_for("norms", "rules_of_thumb", rules)
    assert spec.record_type == "RuleOfThumb"
