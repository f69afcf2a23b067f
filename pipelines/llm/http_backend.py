"""Any OpenAI-compatible endpoint: vLLM's server (the main target on a GPU), llama.cpp's server (the
embedded default on a CPU), TGI's Messages API, hosted APIs.

- What the server is (engine, capacity, schema mechanism, chat template) is asked, not guessed
  (`server_info.probe`): at most as many requests in flight as the server runs at once.
- Replies are streamed: the first token must come within `timeout_s`, then each chunk within
  `idle_timeout_s`; a request that misses either is closed, which aborts it on the server, before it
  is retried, so one task is never queued twice. A server that answers a stream request with one
  JSON body (some proxies) is read the same way.
- Retries with exponential backoff and jitter on 429, 5xx, timeouts, broken connections and
  unreadable bodies (honouring Retry-After); a request budget.
- A base model (no chat template of its own) gets a plain-text prompt on /completions with stop
  sequences; a chat model gets messages on /chat/completions.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from pipelines.llm.runloop import run_coroutine
from pipelines.llm.server_info import ServerInfo, probe
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, LLMUnavailable, Usage

log = logging.getLogger("curate.llm")
RETRY_STATUS = {408, 409, 425, 429}
GUIDED_WORDS = (
    "response_format",
    "json_schema",
    "guided_json",
    "guided decoding",
    "structured output",
    "structured_outputs",
    "grammar",
)
DEFAULT_CONCURRENCY = 16  # a server that does not say what it can take
# A base model continues the text it is given: the prompt ends where the answer starts, and these
# stop it when it begins to write the next turn by itself.
BASE_STOP = ["\n### Task", "\n### Instructions", "\n### Answer", "<|im_end|>", "<end_of_turn>"]


def closed_schema(node):
    """The schema with `additionalProperties: false` on every object that does not say: guided
    decoding then writes the declared fields only (a base model otherwise invents more)."""
    if isinstance(node, list):
        return [closed_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: closed_schema(v) for k, v in node.items()}
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def plain_prompt(messages: list[dict[str, str]]) -> str:
    """Messages as a plain-text document for a base model."""
    heads = {"system": "### Instructions", "user": "### Task", "assistant": "### Answer"}
    parts = [f"{heads.get(m['role'], '### ' + m['role'])}\n{m['content'].strip()}" for m in messages]
    return "\n\n".join(parts) + "\n\n### Answer\n"


def _completion(text: str, usage: dict, finish_reason: str | None) -> Completion:
    """A finished reply with the server's own token account: `usage.prompt_tokens` (the whole prompt,
    the part served from its prefix cache in `prompt_tokens_details.cached_tokens`, as llama.cpp,
    vLLM and OpenAI report it) and `usage.completion_tokens`."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}

    def count(value) -> int:
        return value if isinstance(value, int) and value >= 0 else 0

    return Completion(
        text,
        count(usage.get("prompt_tokens")),
        count(usage.get("completion_tokens")),
        finish_reason,
        cached_prompt_tokens=count(details.get("cached_tokens")),
    )


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
        models = self.list_models()
        self.model = settings.model or self.discover_model(models)
        self.server: ServerInfo = probe(self.base_url, self.headers(), models, settings.connect_timeout_s)
        self.guided = settings.guided_decoding
        if self.guided == "auto":
            self.guided = self.server.guided
        self.completions = not self.server.chat_template  # a base model: plain prompts
        self.concurrency = settings.concurrency or self.server.capacity or DEFAULT_CONCURRENCY
        log.info(
            "%s: %s, %d requests at once, schemas by %s, %s prompts",
            self.base_url,
            self.server.engine,
            self.concurrency,
            self.guided,
            "plain-text" if self.completions else "chat",
        )

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.settings.api_key:
            headers["authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        return headers

    def list_models(self) -> dict:
        try:
            resp = httpx.get(f"{self.base_url}/models", headers=self.headers(), timeout=self.settings.connect_timeout_s)
            resp.raise_for_status()
            return resp.json()
        except (httpx.HTTPError, ValueError) as e:
            raise LLMUnavailable(
                f"{self.base_url}: cannot list the served models ({type(e).__name__}: {str(e)[:120]}); "
                "is the server up? or set CURATE_LLM_MODEL"
            ) from None

    def discover_model(self, models: dict) -> str:
        """The first model the server lists (a vLLM server serves one): so CURATE_LLM_MODEL is optional."""
        try:
            return models["data"][0]["id"]
        except (KeyError, IndexError, TypeError):
            raise LLMUnavailable(f"{self.base_url}: the server lists no model; set CURATE_LLM_MODEL") from None

    # -- one request ------------------------------------------------------------------------------

    def path(self) -> str:
        return "/completions" if self.completions else "/chat/completions"

    def body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "n": 1}
        if self.completions:
            body["prompt"] = plain_prompt(request.message_dicts())
            # free text from a base model ends at its first blank line: it never stops by itself
            body["stop"] = BASE_STOP if request.schema is not None else [*BASE_STOP, "\n\n"]
        else:
            body["messages"] = request.message_dicts()
        body.update(request.param_dict())
        if self.settings.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if request.schema is None or self.guided == "off":
            return body
        schema = closed_schema(request.schema)
        if self.guided == "json_schema":
            # llama.cpp decodes with llguidance: compact JSON, or a base model pads with blank lines
            body["json_schema"] = {**schema, "x-guidance": {"whitespace_flexible": False}}
        elif self.guided == "structured_outputs":
            body["structured_outputs"] = {"json": schema}
        elif self.guided == "guided_json":
            body["guided_json"] = schema
        else:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": schema, "strict": False},
            }
        return body

    def backoff(self, attempt: int, retry_after: str | None) -> float:
        s = self.settings
        wait = min(s.backoff_max_s, s.backoff_s * (2**attempt)) * (0.5 + random.random() / 2)
        if retry_after:
            try:
                wait = max(wait, min(float(retry_after), s.backoff_max_s))
            except ValueError:
                pass  # an HTTP date: keep our own backoff
        return wait

    async def _one(
        self,
        client: httpx.AsyncClient,
        gate: asyncio.Semaphore,
        index: int,
        request: ChatRequest,
        on_done: Callable[[int, Completion], None],
        usage: Usage,
        budget: _Budget,
    ) -> str | None:
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
                    outcome, retry_after = await self._send(client, body, usage)
                except httpx.TimeoutException:
                    outcome = f"no connection within {self.settings.connect_timeout_s:g}s"
                except httpx.TransportError as e:
                    if not isinstance(e, httpx.ConnectError):  # it may have reached the server
                        usage.aborted += 1
                    outcome = f"connection failed ({type(e).__name__})"
                if isinstance(outcome, Completion):
                    on_done(index, outcome)
                    return None
                if outcome == "guided-unsupported":
                    continue  # same attempt again, without guided decoding
                if outcome == "chat-unsupported":
                    continue  # same attempt again, as a plain-text prompt
                error = outcome
            if error.startswith("final:"):
                on_done(index, Completion(None, error=error[len("final:") :]))
                return None
            attempt += 1
            if attempt <= self.settings.max_retries:
                usage.retries += 1
                await asyncio.sleep(self.backoff(attempt - 1, retry_after))
        return error

    async def _send(self, client: httpx.AsyncClient, body: dict, usage: Usage) -> tuple[Completion | str, str | None]:
        """One attempt. Leaving this function closes the response whatever happened (timeout,
        cancellation): closing the connection is what makes llama.cpp and vLLM abort the task. An
        attempt closed before its reply finished is counted in `usage.aborted` (no usage comes back)."""
        s = self.settings
        loop = asyncio.get_running_loop()
        first = True
        try:
            async with asyncio.timeout(s.timeout_s) as limit:
                async with client.stream("POST", self.path(), content=orjson.dumps(body)) as resp:
                    kind = resp.headers.get("content-type", "")
                    if resp.status_code != 200 or "text/event-stream" not in kind:
                        await resp.aread()
                        return self._read(resp, body), resp.headers.get("retry-after")
                    parts: list[str] = []
                    state: dict[str, Any] = {"finish": None, "usage": {}}
                    async for line in resp.aiter_lines():
                        if not line.startswith("data:"):
                            continue  # SSE comments, keep-alives, blank separators
                        data = line[5:].strip()
                        if data == "[DONE]":
                            break
                        piece = self._chunk(data, state)
                        if piece is None:
                            usage.aborted += 1
                            return "a streamed chunk that is not a completion chunk", None
                        if piece:
                            parts.append(piece)
                            first = False
                        if not first:
                            limit.reschedule(loop.time() + s.idle_timeout_s)
                    return _completion("".join(parts), state["usage"], state["finish"]), None
        except TimeoutError:
            usage.aborted += 1
            if first:
                return f"no first token within {s.timeout_s:g}s (request closed on the server)", None
            return f"no new token for {s.idle_timeout_s:g}s (request closed on the server)", None

    @staticmethod
    def _chunk(data: str, state: dict) -> str | None:
        """The text of one streamed chunk ('' for a chunk without text); None when unreadable."""
        try:
            chunk = orjson.loads(data)
            if chunk.get("usage"):
                state["usage"] = chunk["usage"]
            choices = chunk.get("choices") or []
            if not choices:
                return ""
            choice = choices[0]
            if choice.get("finish_reason"):
                state["finish"] = choice["finish_reason"]
            text = (choice.get("delta") or {}).get("content") if "delta" in choice else choice.get("text")
            return text or ""
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return None

    def _read(self, resp: httpx.Response, body: dict) -> Completion | str:
        status = resp.status_code
        if status == 200:
            try:
                data = orjson.loads(resp.content)
                choice = data["choices"][0]
                text = choice["message"]["content"] if "message" in choice else choice["text"]
                usage = data.get("usage") or {}
            except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
                return "HTTP 200 with a body that is not a completion"  # retry: a proxy glitch
            return _completion(text if text is not None else "", usage, choice.get("finish_reason"))
        detail = resp.text[:300].replace("\n", " ")
        sent_guided = any(k in body for k in ("response_format", "json_schema", "structured_outputs", "guided_json"))
        if (
            status == 400
            and sent_guided
            and self.settings.guided_decoding == "auto"
            and any(w in detail.lower() for w in GUIDED_WORDS)
        ):
            if self.guided != "off":  # concurrent requests may all come back rejected: warn once
                log.warning(
                    "the server rejected guided decoding (%s); sending plain requests, validating only", detail[:120]
                )
                self.guided = "off"
            return "guided-unsupported"
        if status == 400 and "messages" in body and "chat template" in detail.lower():
            if not self.completions:  # vLLM with a base model: no chat template, say it once
                log.warning("the model has no chat template (%s); sending plain-text prompts", detail[:120])
                self.completions = True
            return "chat-unsupported"
        if status in RETRY_STATUS or status >= 500:
            return f"HTTP {status}: {detail}"
        return f"final:HTTP {status}: {detail}"

    # -- many requests ----------------------------------------------------------------------------

    def run(
        self, items: list[tuple[int, ChatRequest]], on_done: Callable[[int, Completion], None], usage: Usage
    ) -> None:
        """Complete every request; `on_done` gets each as it arrives. Raises LLMUnavailable at the
        end when some kept failing, after the others have finished (and been cached)."""
        failures = run_coroutine(self._run_all(items, on_done, usage))
        usage.guided_decoding = self.guided
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
        gate = asyncio.Semaphore(self.concurrency)
        budget = _Budget(s.max_requests)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        timeout = httpx.Timeout(None, connect=s.connect_timeout_s)  # reads: our first-token and idle limits
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=self.headers(), timeout=timeout, limits=limits
        ) as client:
            errors = await asyncio.gather(
                *(self._one(client, gate, i, req, on_done, usage, budget) for i, req in items)
            )
        return [(i, e) for (i, _), e in zip(items, errors)]
