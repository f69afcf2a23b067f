"""Any OpenAI-compatible chat-completions endpoint: vLLM's server (the main target: it batches the
concurrent requests on the GPU), llama.cpp's server, TGI's Messages API, hosted APIs.

Async httpx with at most `concurrency` requests in flight; retries with exponential backoff and
jitter on 429, 5xx, timeouts, broken connections and unreadable bodies (honouring Retry-After);
a request budget; guided decoding by `response_format` json_schema (OpenAI, vLLM, llama.cpp) or
vLLM's older `guided_json`, dropped once when the server rejects it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable

import httpx
import orjson

from pipelines.llm.runloop import run_coroutine
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, LLMUnavailable, Usage

log = logging.getLogger("curate.llm")
RETRY_STATUS = {408, 409, 425, 429}
GUIDED_WORDS = ("response_format", "json_schema", "guided_json", "guided decoding", "structured output")


class _Budget:
    def __init__(self, limit: int | None):
        self.left = limit

    def take(self) -> bool:
        if self.left is None:
            return True
        if self.left <= 0:
            return False
        self.left -= 1
        return True


class HTTPBackend:
    name = "http"

    def __init__(self, settings: LLMSettings):
        if not settings.base_url:
            raise ValueError("HTTPBackend needs a base_url")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.guided = settings.guided_decoding
        self.model = settings.model or self.discover_model()

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.settings.api_key:
            headers["authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        return headers

    def discover_model(self) -> str:
        """The first model the server lists (a vLLM server serves one): so CURATE_LLM_MODEL is optional."""
        try:
            resp = httpx.get(f"{self.base_url}/models", headers=self.headers(), timeout=self.settings.timeout_s)
            resp.raise_for_status()
            return resp.json()["data"][0]["id"]
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as e:
            raise LLMUnavailable(
                f"{self.base_url}: cannot list the served models ({type(e).__name__}: {str(e)[:120]}); "
                "is the server up? or set CURATE_LLM_MODEL"
            ) from None

    # -- one request ------------------------------------------------------------------------------

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": request.message_dicts(), "n": 1}
        body.update(request.param_dict())
        if request.schema is not None and self.guided in ("auto", "response_format"):
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": request.schema, "strict": False},
            }
        elif request.schema is not None and self.guided == "guided_json":
            body["guided_json"] = request.schema
        return body

    def backoff(self, attempt: int, retry_after: str | None) -> float:
        s = self.settings
        wait = min(s.backoff_max_s, s.backoff_s * (2 ** attempt)) * (0.5 + random.random() / 2)
        if retry_after:
            try:
                wait = max(wait, min(float(retry_after), s.backoff_max_s))
            except ValueError:
                pass  # an HTTP date: keep our own backoff
        return wait

    async def _one(self, client: httpx.AsyncClient, gate: asyncio.Semaphore, index: int,
                   request: ChatRequest, on_done: Callable[[int, Completion], None],
                   usage: Usage, budget: _Budget) -> str | None:
        """Send one request until it succeeds or fails for good; the last retryable error or None."""
        error = None
        attempt = 0
        while attempt <= self.settings.max_retries:
            if not budget.take():
                return f"request budget of {self.settings.max_requests} spent"
            retry_after = None
            async with gate:
                usage.requests += 1
                body = self.body(request)
                try:
                    resp = await client.post("/chat/completions", content=orjson.dumps(body))
                except httpx.TimeoutException:
                    error = f"timed out after {self.settings.timeout_s:g}s"
                except httpx.TransportError as e:
                    error = f"connection failed ({type(e).__name__})"
                else:
                    outcome = self._read(resp, "response_format" in body)
                    if isinstance(outcome, Completion):
                        on_done(index, outcome)
                        return None
                    if outcome == "guided-unsupported":
                        continue  # same attempt again, without guided decoding
                    error, retry_after = outcome, resp.headers.get("retry-after")
            if error.startswith("final:"):
                on_done(index, Completion(None, error=error[len("final:"):]))
                return None
            attempt += 1
            if attempt <= self.settings.max_retries:
                usage.retries += 1
                await asyncio.sleep(self.backoff(attempt - 1, retry_after))
        return error

    def _read(self, resp: httpx.Response, sent_guided: bool) -> Completion | str:
        status = resp.status_code
        if status == 200:
            try:
                data = orjson.loads(resp.content)
                choice = data["choices"][0]
                text = choice["message"]["content"]
                usage = data.get("usage") or {}
            except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
                return "HTTP 200 with a body that is not a chat completion"  # retry: a proxy glitch
            return Completion(text if text is not None else "", int(usage.get("prompt_tokens") or 0),
                              int(usage.get("completion_tokens") or 0), choice.get("finish_reason"))
        detail = resp.text[:300].replace("\n", " ")
        if status == 400 and sent_guided and self.settings.guided_decoding == "auto" and any(
            w in detail.lower() for w in GUIDED_WORDS
        ):
            if self.guided != "off":  # concurrent requests may all come back rejected: warn once
                log.warning("the server rejected guided decoding (%s); sending plain requests, validating only",
                            detail[:120])
                self.guided = "off"
            return "guided-unsupported"
        if status in RETRY_STATUS or status >= 500:
            return f"HTTP {status}: {detail}"
        return f"final:HTTP {status}: {detail}"

    # -- many requests ----------------------------------------------------------------------------

    def run(self, items: list[tuple[int, ChatRequest]], on_done: Callable[[int, Completion], None],
            usage: Usage) -> None:
        """Complete every request; `on_done` gets each as it arrives. Raises LLMUnavailable at the
        end when some kept failing, after the others have finished (and been cached)."""
        failures = run_coroutine(self._run_all(items, on_done, usage))
        usage.guided_decoding = self.guided if self.guided != "auto" else "response_format"
        failed = [(i, e) for i, e in failures if e]
        if failed:
            first = failed[0][1]
            raise LLMUnavailable(
                f"{self.base_url}: {len(failed)} of {len(items)} requests failed after "
                f"{self.settings.max_retries} retries (first: {first}); the {len(items) - len(failed)} "
                "finished completions are cached, so a rerun resumes from there"
            )

    async def _run_all(self, items, on_done, usage) -> list[tuple[int, str | None]]:
        s = self.settings
        gate = asyncio.Semaphore(s.concurrency)
        budget = _Budget(s.max_requests)
        limits = httpx.Limits(max_connections=s.concurrency, max_keepalive_connections=s.concurrency)
        async with httpx.AsyncClient(base_url=self.base_url, headers=self.headers(),
                                     timeout=httpx.Timeout(s.timeout_s), limits=limits) as client:
            errors = await asyncio.gather(
                *(self._one(client, gate, i, req, on_done, usage, budget) for i, req in items)
            )
        return [(i, e) for (i, _), e in zip(items, errors)]
