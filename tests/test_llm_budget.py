"""The LLM budget: each step's cost estimated (requests, prompt and completion tokens, the speed a
probe measured) and said before anything is sent; over the budget, an enrichment step is skipped
with a note that gives the estimate and the ways to get it, and a recipe whose output is the model's
stops with one line. Against the loopback OpenAI-protocol server (tests/llm_loopback.py)."""

from __future__ import annotations

import pytest

from pipelines.llm.budget import Budget, OverBudget, parse_budget
from pipelines.llm.client import LLMClient
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest
from tests.llm_loopback import Reply, ScriptedServer


def test_budget_forms():
    assert parse_budget("5m") == Budget(seconds=300) and parse_budget("90s") == Budget(seconds=90)
    assert parse_budget("1.5h") == Budget(seconds=5400) and parse_budget("10 min") == Budget(seconds=600)
    assert parse_budget("200k tokens") == Budget(tokens=200_000) and parse_budget("1m tokens") == Budget(
        tokens=1_000_000
    )
    assert parse_budget("none") is None and parse_budget(None) is None
    for bad in ("soon", "5", "-3m", "5k"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    with pytest.raises(ValueError, match="budget"):
        LLMSettings(base_url="http://x/v1", budget="lots")


def requests(n: int, text: str = "Describe a day at the beach in detail. " * 20, max_tokens: int = 300):
    return [
        ChatRequest.make([{"role": "user", "content": f"{i}: {text}"}], {"max_tokens": max_tokens}) for i in range(n)
    ]


def test_the_estimate_is_measured_and_over_budget_nothing_is_sent(tmp_path):
    with ScriptedServer(lambda body: Reply("word " * 10)) as server:
        client = LLMClient(LLMSettings(base_url=server.base_url, probe=True, budget="1k tokens"))
        with pytest.raises(OverBudget) as err:
            client.complete(requests(40), desc="persona")
        sent = [b for b in server.requests]
        assert all(b.get("max_tokens") in (1, 16) for b in sent), [b.get("max_tokens") for b in sent]  # probes only
        assert 1 <= len(sent) <= 8
    estimate = err.value.estimate
    assert (estimate.requests, estimate.cached) == (40, 0)
    assert estimate.completion_tokens == 40 * 300  # each request's ceiling
    assert estimate.speed is not None and estimate.speed.prompt_tps > 0 and estimate.speed.decode_tps > 0
    message = str(err.value)
    assert "persona: 40 requests" in message and "over the LLM budget (1,000 tokens" in message
    assert "CURATE_LLM_BASE_URL" in message and "max_items" in message and "\n" not in message
    assert client.estimates[-1]["decision"] == "over budget: not sent"


def test_within_budget_the_step_runs_and_its_cost_is_recorded(tmp_path):
    with ScriptedServer(lambda body: Reply("word " * 10)) as server:
        client = LLMClient(LLMSettings(base_url=server.base_url, probe=True, budget="10m"))
        results, usage = client.complete(requests(6), desc="persona")
        assert [r.text for r in results] == ["word " * 10] * 6
        assert usage.probes >= 2 and usage.requests == 6  # the probes are counted apart
        probe_bodies = [b for b in server.requests if b.get("max_tokens") in (1, 16)]
        assert len(probe_bodies) == usage.probes
    (entry,) = client.estimates
    assert (entry["step"], entry["requests"], entry["decision"], entry["budget"]) == ("persona", 6, "sent", "10m")
    assert entry["completion_tokens"] == 6 * 300 and entry["seconds"] > 0
    assert client.meter.seconds > 0
    assert client.meter.tokens == usage.prompt_tokens + usage.completion_tokens  # probes and step, both kinds
    # a second step of the run: no second probe, the speed is known
    with ScriptedServer(lambda body: Reply("ok")) as server:
        client.settings = client.settings.model_copy(update={"base_url": server.base_url})
        from pipelines.llm.backends import make_backend

        client.backend = make_backend(client.settings)
        _, again = client.complete(requests(2, text="other"), desc="judge")
        assert again.probes == 0 and len(server.requests) == 2


def scored_personality(ctx):
    from tests.test_llm_persona import scored

    return scored(ctx)


def test_an_enrichment_over_budget_is_skipped_with_its_estimate(tmp_path, monkeypatch):
    """Persona texts over the budget: the respondents are published, the note says what the texts
    would cost and how to get them, and no persona request reached the server."""
    from pipelines.engine.runtime import RunContext
    from pipelines.recipes import personality as p
    from tests.llm_scripted import RecipeModel

    ctx = RunContext("personality", tmp_path)
    data, _ = scored_personality(ctx)
    with ScriptedServer(RecipeModel()) as server:
        monkeypatch.setenv("CURATE_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("CURATE_LLM_PROBE", "1")
        monkeypatch.setenv("CURATE_LLM_BUDGET", "50 tokens")
        out = p.persona_hook(ctx, data, p.Config())
        assert all(b.get("max_tokens") in (1, 16) for b in server.requests)
    assert out.columns == data.columns  # no persona texts, every respondent kept
    note = next(n for n in ctx.report.notes if n.startswith("No persona texts: the LLM budget does not cover them."))
    assert f"persona: {data.height} requests" in note and "The respondents are published without them." in note
    assert "raise the budget" in note
    with pytest.raises(KeyError):
        ctx.report.step("persona")  # the step sent nothing


def test_a_model_output_recipe_over_budget_stops_with_one_line(tmp_path, monkeypatch):
    from pipelines.engine.request import RunRequest
    from pipelines.flows.run import run_recipe
    from tests.conftest import REPO
    from tests.llm_scripted import RecipeModel

    samples = REPO / "sources" / "samples" / "expand"
    with ScriptedServer(RecipeModel()) as server:
        monkeypatch.setenv("CURATE_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("CURATE_LLM_PROBE", "1")
        monkeypatch.setenv("CURATE_LLM_BUDGET", "20 tokens")
        state = run_recipe.fn(
            RunRequest(
                recipe="expand",
                inputs=(str(samples / "items.csv"),),
                output=str(tmp_path / "out"),
                config_path=str(samples / "config.yaml"),
                cache_dir=str(tmp_path / "cache"),
            )
        )
        assert all(b.get("max_tokens") in (1, 16) for b in server.requests)
    assert state.is_failed()
    message = state.message
    assert "generate_scenarios:" in message and "over the LLM budget (20 tokens" in message and "\n" not in message
    assert not (tmp_path / "out").exists()
