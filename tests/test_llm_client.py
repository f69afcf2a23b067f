"""The HTTP client against a real OpenAI-protocol server on loopback with scripted replies."""

from __future__ import annotations

import logging

import pytest

from pipelines.llm.client import LLMClient
from pipelines.llm.completion_cache import CompletionCache
from pipelines.llm.settings import LLMSettings, resolve_settings
from pipelines.llm.types import ChatRequest, LLMUnavailable
from tests.llm_loopback import Reply, ScriptedServer, prompt_text

SECRET = "sk-test-0123456789abcdef-secret"


def echo(body: dict) -> Reply:
    return Reply("echo: " + prompt_text(body))


@pytest.fixture
def server():
    with ScriptedServer(echo) as srv:
        yield srv


def settings(server, **kw) -> LLMSettings:
    base = {"base_url": server.base_url, "backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 2.0, "max_retries": 3}
    return LLMSettings(**{**base, **kw})


def requests(n: int, template: str = "t@1", **params) -> list[ChatRequest]:
    return [
        ChatRequest.make([{"role": "user", "content": f"q{i}"}], {"temperature": 0.0, **params}, template_hash=template)
        for i in range(n)
    ]


def test_replies_in_request_order_with_model_discovered_and_tokens_counted(server):
    client = LLMClient(settings(server, concurrency=5))
    assert client.model == "scripted-model"  # from GET /v1/models
    results, usage = client.complete(requests(12))
    assert [r.text for r in results] == [f"echo: q{i}" for i in range(12)]
    assert usage.requests == 12 and usage.retries == 0
    assert usage.prompt_tokens == 12 and usage.completion_tokens == 24  # the server's own usage counts
    body = server.requests[0]
    assert body["model"] == "scripted-model" and body["temperature"] == 0.0 and body["n"] == 1


def test_concurrency_is_bounded(server):
    server.responder = lambda body: Reply("slow", delay=0.05)
    client = LLMClient(settings(server, concurrency=4))
    client.complete(requests(24))
    assert server.max_in_flight == 4


def test_429_and_500_are_retried_with_backoff(server):
    server.script("q3", [Reply(status=429, headers={"retry-after": "0"}), Reply(status=500), Reply(status=503)])
    results, usage = LLMClient(settings(server)).complete(requests(6))
    assert results[3].text == "echo: q3"
    assert usage.retries == 3 and usage.requests == 9 and usage.failed == 0


def test_malformed_json_body_is_retried(server):
    server.script("q1", [Reply(body=b'{"choices": [{"message": '), Reply(body=b"<html>bad gateway</html>")])
    results, usage = LLMClient(settings(server)).complete(requests(3))
    assert results[1].text == "echo: q1" and usage.retries == 2


def test_slow_reply_times_out_and_is_retried(server):
    server.script("q0", [Reply("too late", delay=1.0)])
    results, usage = LLMClient(settings(server, timeout_s=0.3)).complete(requests(2))
    assert results[0].text == "echo: q0"
    assert usage.retries == 1


def test_endpoint_that_keeps_failing_raises_after_the_others_finish_and_a_rerun_resumes(server, tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    server.script("q2", [Reply(status=500)] * 4)  # max_retries=3: four attempts, all fail
    with pytest.raises(LLMUnavailable, match=r"1 of 5 requests failed after 3 retries.*HTTP 500.*rerun resumes"):
        LLMClient(settings(server), cache).complete(requests(5))
    assert len(cache) == 4  # every finished completion was kept
    before = len(server.requests)
    results, usage = LLMClient(settings(server), cache).complete(requests(5))
    assert len(server.requests) - before == 1  # only the unfinished request is sent again
    assert usage.cache_hits == 4 and [r.cached for r in results] == [True, True, False, True, True]


def test_a_400_fails_only_its_item(server):
    server.script("q1", [Reply("prompt is too long", status=400)])
    results, usage = LLMClient(settings(server)).complete(requests(3))
    assert results[1].text is None and "HTTP 400" in results[1].error and "too long" in results[1].error
    assert results[0].text == "echo: q0" and usage.failed == 1 and usage.retries == 0


def test_request_budget_stops_sending(server):
    with pytest.raises(LLMUnavailable, match="request budget of 5 spent"):
        LLMClient(settings(server, max_requests=5, concurrency=2)).complete(requests(9))
    assert len(server.requests) == 5


def test_completion_cache_key_is_model_template_prompt_and_parameters(server, tmp_path):
    cache = CompletionCache(tmp_path / "c.sqlite")
    client = LLMClient(settings(server), cache)
    client.complete(requests(3))
    sent = len(server.requests)
    _, usage = client.complete(requests(3))
    assert len(server.requests) == sent and usage.cache_hits == 3
    client.complete(requests(3, template="t@2"))  # another template version
    client.complete(requests(3, top_p=0.5))  # other parameters
    assert len(server.requests) == sent + 6


def test_guided_decoding_is_sent_and_dropped_once_when_the_server_rejects_it(server):
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    reqs = [ChatRequest.make([{"role": "user", "content": f"q{i}"}], {}, schema, "Out") for i in range(3)]
    client = LLMClient(settings(server))
    client.complete(reqs[:1])
    closed = {**schema, "additionalProperties": False}  # guided decoding writes the declared fields only
    assert server.requests[-1]["response_format"]["json_schema"] == {"name": "Out", "schema": closed, "strict": False}

    def picky(body):
        if "response_format" in body:
            return Reply("response_format json_schema is not supported by this server", status=400)
        return Reply('{"a": "x"}')

    server.responder = picky
    client = LLMClient(settings(server))
    results, usage = client.complete(reqs)
    assert [r.text for r in results] == ['{"a": "x"}'] * 3
    assert usage.guided_decoding == "off" and usage.failed == 0

    client = LLMClient(settings(server, guided_decoding="guided_json"))  # vLLM's older parameter
    client.complete(reqs[:1])
    assert server.requests[-1]["guided_json"] == closed and "response_format" not in server.requests[-1]


def test_api_key_is_sent_but_never_logged_or_kept(tmp_path, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    with ScriptedServer(echo, api_key=SECRET) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("CURATE_LLM_BASE_URL", srv.base_url)
        resolved, _ = resolve_settings()
        cache = CompletionCache(tmp_path / "c.sqlite")
        client = LLMClient(resolved, cache)
        results, usage = client.complete(requests(2))
        assert results[0].text == "echo: q0"  # the server accepted the key
        assert srv.headers[0]["authorization"] == f"Bearer {SECRET}"
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        with pytest.raises(LLMUnavailable):  # a wrong key: the model list is refused, plainly
            LLMClient(resolve_settings()[0])
    assert SECRET not in caplog.text
    assert (
        SECRET not in repr(resolved) and SECRET not in str(resolved.model_dump()) and SECRET not in str(usage.as_dict())
    )
    assert SECRET.encode() not in (tmp_path / "c.sqlite").read_bytes()


def test_settings_from_config_or_environment():
    resolved, why = resolve_settings(None, env={})
    assert resolved is None and "CURATE_LLM_BASE_URL" in why
    env = {"CURATE_LLM_BASE_URL": "http://127.0.0.1:1/v1", "CURATE_LLM_MODEL": "env-model"}
    resolved, _ = resolve_settings(LLMSettings(model="config-model", concurrency=3), env=env)
    assert (resolved.base_url, resolved.model, resolved.concurrency) == ("http://127.0.0.1:1/v1", "config-model", 3)
    resolved, why = resolve_settings(None, env={"CURATE_LLM_BACKEND": "transformers"})
    assert resolved is None and "needs a model" in why


def test_unreachable_endpoint_is_one_plain_error():
    with pytest.raises(LLMUnavailable, match="cannot list the served models"):
        LLMClient(LLMSettings(base_url="http://127.0.0.1:9/v1", timeout_s=1))
