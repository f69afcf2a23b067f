"""The personality recipe's persona step through `persona_hook`, and the Persona records
(`persona_records`) a `personas` config is made of, on the shipped personality samples."""

from __future__ import annotations

import polars as pl

from pipelines.engine.runtime import RunContext
from pipelines.recipes import personality as p
from pipelines.recipes.personality.persona import persona_records
from tests.conftest import REPO
from tests.llm_loopback import ScriptedServer
from tests.llm_scripted import RecipeModel

SAMPLES = REPO / "sources" / "samples" / "personality"


def scored(ctx: RunContext):
    inputs = sorted(x for x in SAMPLES.iterdir() if x.suffix in {".csv", ".dat", ".sav", ".dta"})
    steps = [
        p.ReadResponses(p.ReadConfig()),
        p.ValidateAnswers(),
        p.DedupeRespondents(),
        p.KeyAndScore(p.ScoreConfig()),
    ]
    data = pl.DataFrame({"path": [str(x) for x in inputs]})
    for step in steps:
        data = ctx.apply(step, data)
    return data, steps


def test_without_endpoint_the_hook_adds_nothing_and_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATE_LLM_BASE_URL", raising=False)
    ctx = RunContext("personality", tmp_path)
    data, _ = scored(ctx)
    out = p.persona_hook(ctx, data, p.Config())
    assert out.columns == data.columns
    assert any("No persona texts" in n and "CURATE_LLM_BASE_URL" in n for n in ctx.report.notes)


def test_with_endpoint_every_respondent_gets_a_persona_record(tmp_path, monkeypatch):
    ctx = RunContext("personality", tmp_path)
    data, steps = scored(ctx)
    with ScriptedServer(RecipeModel()) as server:
        monkeypatch.setenv("CURATE_LLM_BASE_URL", server.base_url)
        out = p.persona_hook(ctx, data, p.Config())
        prompt = server.requests[0]["messages"][1]["content"]
    assert out.height == data.height and out["persona_description"].null_count() == 0
    assert "very accurate" in prompt or "moderately" in prompt  # the respondent's own answers, in words
    account = ctx.report.step("persona")
    assert account.kept == data.height and account.extra["llm"]["requests"] == data.height
    respondents = p.respondent_records(ctx, out, p.Config(license="cc0-1.0"), [s.provenance() for s in steps])
    personas = persona_records(ctx, respondents, out, "cc0-1.0")
    assert personas.height == respondents.height
    assert set(personas["persona_id"]) == set(respondents["record_id"])
    prov = personas["provenance"][0].to_list()
    assert prov[-1]["step"] == "persona" and prov[-1]["model"] == "scripted-model"
    assert prov[-1]["template_hash"].startswith("persona@")
    assert not personas["synthetic"].any() and personas["self_description"].str.starts_with("I am").all()


def test_build_publishes_a_personas_config_with_an_endpoint(tmp_path, monkeypatch):
    from pipelines.engine.dask_runtime import DaskRuntime

    inputs = sorted(x for x in SAMPLES.iterdir() if x.suffix in {".csv", ".dat", ".sav", ".dta"})
    ctx = RunContext("personality", tmp_path, dask=DaskRuntime(inline=True))
    with ScriptedServer(RecipeModel()) as server:
        monkeypatch.setenv("CURATE_LLM_BASE_URL", server.base_url)
        out = p.build(ctx, inputs, p.Config(license="cc0-1.0"))
    assert set(out.tables) == {"respondents", "items", "personas"}
    assert out.tables["personas"].height == out.tables["respondents"].height


def test_persona_prompt_for_an_instrument_without_shipped_statements():
    """Another instrument (a key without texts, named by a string) gets a prompt from its scores and
    demographics, not an error; an IPIP-NEO respondent gets their answered statements in words."""
    from pipelines.recipes.personality.persona import persona_variables

    row = {
        "_instrument": "bfi2",
        "instrument_items": "BFI-2",
        "responses": [5, 1, None],
        "domain_scores": {"bfi2": {"O": 3.5}, "hexaco60": None},
        "sex": "F",
        "age": 30,
        "country": "FR",
    }
    v = persona_variables(row, 60, 150)
    assert v["answers"] == [] and v["domain_scores"] == {"O": 3.5}
    assert persona_variables({**row, "instrument_items": 44}, 60, 150)["answers"] == []  # no such IPIP-NEO
    ipip = persona_variables({**row, "instrument_items": 120, "responses": [5] + [None] * 119}, 60, 150)
    assert len(ipip["answers"]) == 1 and ipip["answers"][0]["answer"] in {"very accurate", "very inaccurate"}
