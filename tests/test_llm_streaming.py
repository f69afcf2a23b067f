"""The client against servers that stream, as llama.cpp and vLLM do: first-token and idle timeouts,
a request given up on is closed on the server before it is retried, capacity and schema mechanism
asked from the server, plain-text prompts for a base model, max_tokens sized from the schema."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from pipelines.llm.client import LLMClient
from pipelines.llm.prompts import load_template
from pipelines.llm.settings import LLMSettings
from pipelines.llm.structured import schema_token_budget, structured_request, words_token_budget
from pipelines.llm.types import ChatRequest
from tests.llm_loopback import Reply
from tests.llm_scripted import StreamingServer


def settings(server, **kw) -> LLMSettings:
    return LLMSettings(
        **{
            "base_url": server.base_url,
            "backoff_s": 0.01,
            "backoff_max_s": 0.05,
            "timeout_s": 2.0,
            "idle_timeout_s": 1.0,
            "max_retries": 2,
            **kw,
        }
    )


def requests(n: int, schema: dict | None = None) -> list[ChatRequest]:
    return [
        ChatRequest.make(
            [{"role": "system", "content": "sys"}, {"role": "user", "content": f"q{i}"}],
            {"temperature": 0.0},
            schema,
            "Out",
        )
        for i in range(n)
    ]


def echo(body):
    return Reply("echo " + body["messages"][-1]["content"] if "messages" in body else "plain answer")


def test_streamed_replies_are_assembled_with_the_servers_token_counts():
    with StreamingServer(echo) as srv:
        results, usage = LLMClient(settings(srv)).complete(requests(5))
    assert [r.text for r in results] == [f"echo q{i}" for i in range(5)]
    assert all(b["stream"] and b["stream_options"] == {"include_usage": True} for b in srv.requests)
    assert usage.completion_tokens == 10 and usage.prompt_tokens == 5 * 2  # from the final usage chunks
    assert [r.finish_reason for r in results] == ["stop"] * 5
    assert usage.cached_prompt_tokens == 0 and usage.aborted == 0


def test_prompt_tokens_the_server_took_from_its_prefix_cache_are_accounted():
    with StreamingServer(echo, cached_prefix=True) as srv:  # the shared system message, cached
        results, usage = LLMClient(settings(srv)).complete(requests(4))
    assert usage.prompt_tokens == 4 * 2 and usage.cached_prompt_tokens == 4 * 1
    reply = (
        b'{"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": '
        b'{"prompt_tokens": 30, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 24}}}'
    )
    with StreamingServer(lambda b: Reply(body=reply)) as srv:  # a whole JSON body (no stream)
        results, usage = LLMClient(settings(srv, stream=False)).complete(requests(2))
    assert [r.text for r in results] == ["ok", "ok"]
    assert (usage.prompt_tokens, usage.cached_prompt_tokens, usage.completion_tokens) == (60, 48, 2)


def _closed_before_retry(srv: StreamingServer, first: int, second: int) -> bool:
    closed = next(t for e, n, t in srv.events if e == "closed" and n == first)
    opened = next(t for e, n, t in srv.events if e == "open" and n == second)
    return closed <= opened and not any(e == "done" and n == first for e, n, _ in srv.events)


def test_no_first_token_in_time_closes_the_request_on_the_server_before_the_retry():
    with StreamingServer(echo, slots=1) as srv:
        srv.pauses[1] = (30.0, 0.0)  # the first request would sit in a queue for 30 s
        results, usage = LLMClient(settings(srv, timeout_s=0.5)).complete(requests(1))
    assert results[0].text == "echo q0" and usage.retries == 1 and usage.aborted == 1
    assert _closed_before_retry(srv, 1, 2)  # aborted on the server, never running twice


def test_a_stream_that_stalls_midway_hits_the_idle_timeout_not_a_total_one():
    with StreamingServer(lambda b: Reply(" ".join(["w"] * 12)), slots=1) as srv:
        srv.pauses[1] = (0.0, 0.2)  # slow but steady: 12 chunks, 2.4 s in all, more than timeout_s
        srv.pauses[2] = (0.0, 0.0)
        results, usage = LLMClient(settings(srv, timeout_s=1.0, idle_timeout_s=0.6)).complete(requests(1))
        assert usage.retries == 0 and results[0].text == " ".join(["w"] * 12)
        srv.pauses[2] = (0.0, 5.0)  # the next one stalls after its first chunk
        results, usage = LLMClient(settings(srv, timeout_s=10, idle_timeout_s=0.5)).complete(requests(2)[1:])
    assert usage.retries == 1 and usage.aborted == 1 and results[0].text == " ".join(["w"] * 12)
    assert _closed_before_retry(srv, 2, 3)


def test_concurrency_is_the_servers_capacity():
    with StreamingServer(lambda b: Reply("slow"), slots=3) as srv:
        srv.pauses.update({i: (0.1, 0.0) for i in range(1, 13)})
        client = LLMClient(settings(srv))
        client.complete(requests(12))
        assert client.backend.concurrency == 3 and srv.max_in_flight == 3
    with StreamingServer(echo, engine="vllm", max_num_seqs=48) as srv:
        assert LLMClient(settings(srv)).backend.concurrency == 48
    with StreamingServer(echo, slots=3) as srv:  # an explicit setting wins
        assert LLMClient(settings(srv, concurrency=1)).backend.concurrency == 1


def test_each_engine_gets_its_own_schema_mechanism():
    schema = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 20}}, "required": ["a"]}
    closed = {**schema, "additionalProperties": False}
    with StreamingServer(lambda b: Reply('{"a": "x"}')) as srv:  # llama.cpp
        LLMClient(settings(srv)).complete(requests(1, schema))
        assert srv.requests[-1]["json_schema"] == {**closed, "x-guidance": {"whitespace_flexible": False}}
    with StreamingServer(lambda b: Reply('{"a": "x"}'), engine="vllm", vllm_version="0.11.0") as srv:
        LLMClient(settings(srv)).complete(requests(1, schema))
        assert srv.requests[-1]["structured_outputs"] == {"json": closed}
    with StreamingServer(lambda b: Reply('{"a": "x"}'), engine="vllm", vllm_version="0.8.5") as srv:
        LLMClient(settings(srv)).complete(requests(1, schema))
        assert srv.requests[-1]["guided_json"] == closed
    with StreamingServer(lambda b: Reply('{"a": "x"}'), engine="other") as srv:  # neither: OpenAI's way
        LLMClient(settings(srv)).complete(requests(1, schema))
        assert srv.requests[-1]["response_format"]["json_schema"]["schema"] == closed


def test_a_base_model_gets_a_plain_text_prompt_with_stop_sequences():
    with StreamingServer(echo, own_template=False) as srv:
        client = LLMClient(settings(srv))
        results, _ = client.complete(requests(1))
    assert client.backend.completions and srv.paths == ["/v1/completions"]
    body = srv.requests[0]
    assert "messages" not in body and body["prompt"].startswith("### Instructions\nsys\n\n### Task\nq0")
    assert body["prompt"].endswith("### Answer\n") and "\n### Task" in body["stop"]
    assert results[0].text == "plain answer"
    with StreamingServer(echo, own_template=True) as srv:  # the model's own template: chat messages
        LLMClient(settings(srv)).complete(requests(1))
        assert srv.paths == ["/v1/chat/completions"]


class Small(BaseModel):
    name: str = Field(max_length=30)
    tags: list[str] = Field(max_length=3)
    ok: bool


def test_max_tokens_is_sized_from_the_output_schema():
    budget = schema_token_budget(Small.model_json_schema())
    assert 40 <= budget <= 1024  # 30 characters, 3 unbounded tags, a boolean: far below the ceiling
    request = structured_request(
        load_template("repair"), {"error": "e", "schema": {}}, Small, LLMSettings().generation_params()
    )
    assert request.param_dict()["max_tokens"] == budget
    tighter = structured_request(
        load_template("repair"), {"error": "e", "schema": {}}, Small, LLMSettings(max_tokens=20).generation_params()
    )
    assert tighter.param_dict()["max_tokens"] == 20  # the configured ceiling still holds


def test_free_text_candidates_ask_for_the_tokens_their_word_limit_needs():
    """A base model does not stop where the prompt says: the preference candidates' max_tokens is
    sized from `max_words` (the configured ceiling still holds)."""
    import polars as pl

    from pipelines.llm.step import llm_step_config
    from pipelines.recipes.preferences.steps import CandidateConfig, GenerateCandidates

    prompts = pl.DataFrame(
        {"prompt_id": ["q1"], "prompt": ["How do I split chores?"], "_file": ["p.jsonl"], "_row": [1]}
    )
    for ceiling, max_words, expected in ((1024, 50, words_token_budget(50)), (60, 120, 60)):
        with StreamingServer(lambda b: Reply("a short answer")) as srv:
            client = LLMClient(settings(srv, max_tokens=ceiling))
            step = GenerateCandidates(
                llm_step_config(client, load_template("preference_response").hash, CandidateConfig, max_words=max_words)
            )
            step.client = client
            result = step.run(prompts)
        assert result.account.kept == 1 and [b["max_tokens"] for b in srv.requests] == [expected, expected]
    assert words_token_budget(50) == 116


def test_an_unreadable_streamed_chunk_closes_the_attempt_and_retries_it():
    """A stream whose chunk is not a completion chunk (a proxy's error page mid-stream): the attempt
    is closed (aborted on the server, counted as such: no usage comes back for it) and retried."""
    from tests.llm_loopback import ScriptedServer

    sse = {"content-type": "text/event-stream"}
    with ScriptedServer(echo) as srv:
        srv.script(
            "q1",
            [
                Reply(
                    body=b'data: {"choices": [{"delta": {"content": "par"}}]}\n\ndata: <html>502</html>\n\n',
                    headers=sse,
                )
            ],
        )
        results, usage = LLMClient(settings(srv)).complete(requests(2))
    assert [r.text for r in results] == ["echo q0", "echo q1"]
    assert (usage.retries, usage.aborted, usage.failed) == (1, 1, 0)


@pytest.mark.parametrize("status", [429, 500])
def test_streaming_requests_still_retry_429_and_500(status):
    with StreamingServer(echo) as srv:
        srv.script("q1", [Reply(status=status, headers={"retry-after": "0"})])
        results, usage = LLMClient(settings(srv)).complete(requests(3))
    assert [r.text for r in results] == ["echo q0", "echo q1", "echo q2"] and usage.retries == 1


def test_a_reply_cut_at_max_tokens_is_quarantined_without_a_repair_that_would_be_cut_again():
    from pipelines.llm.structured import complete_structured

    with StreamingServer(lambda b: Reply('{"name": "a very long na', finish_reason="length")) as srv:
        outcomes, usage = complete_structured(LLMClient(settings(srv)), requests(1, Small.model_json_schema()), Small)
    assert len(srv.requests) == 1 and usage.repairs == 0
    assert outcomes[0].value is None and "cut at max_tokens" in outcomes[0].error
