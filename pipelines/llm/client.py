"""`LLMClient`: the one interface steps use, whatever the backend (`pipelines.llm.backends`: the
`Backend` protocol and the registry `make_backend` picks from); the completion cache in front, and
the run's LLM budget (`pipelines.llm.budget`): each step's cost is estimated and said before it
sends anything, and a step over what is left of the budget raises OverBudget instead."""

from __future__ import annotations

import logging
import time

from pipelines.engine.logs import run_logger
from pipelines.llm.backends import Backend, make_backend
from pipelines.llm.budget import PROBE_TOKENS, Estimate, Meter, OverBudget, Speed, duration, parse_budget
from pipelines.llm.completion_cache import CompletionCache, completion_key
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, Usage
from schemas.progress import bar as progress_bar

log = logging.getLogger("curate.llm")
LOG_EVERY_S = 30.0  # a progress line in the log (Prefect's UI, CI) this often, bars or not


class LLMClient:
    def __init__(self, settings: LLMSettings, cache: CompletionCache | None = None, backend: Backend | None = None):
        self.settings = settings
        self.cache = cache
        self.backend = backend or make_backend(settings)
        self.meter = Meter(parse_budget(settings.budget))
        self.speed: Speed | None = None
        self.estimates: list[dict] = []  # each step's estimate and what was decided, for the report

    @property
    def model(self) -> str:
        return self.backend.model

    def complete(
        self, requests: list[ChatRequest], desc: str = "llm", budgeted: bool = True
    ) -> tuple[list[Completion], Usage]:
        """One completion per request, in order. Cached completions are not sent again; new ones
        are cached the moment they arrive. With `budgeted` (a step's main requests, not its repairs)
        the cost is estimated, logged and checked against the run's budget first: OverBudget is
        raised before anything is sent. Raises LLMUnavailable when the endpoint kept failing."""
        usage = Usage(model=self.model, backend=self.backend.name)
        results: list[Completion | None] = [None] * len(requests)
        keys = [completion_key(self.model, r) for r in requests]
        todo = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                results[i] = hit
                usage.cache_hits += 1
            else:
                todo.append((i, requests[i]))
        if todo and budgeted:
            self._plan(desc, todo, usage)
        if todo:
            log.info(
                "%s: %d requests to %s (%s), %d from the completion cache",
                desc,
                len(todo),
                self.model,
                self.backend.name,
                usage.cache_hits,
            )
            self._send(todo, results, keys, usage, desc)
        return [r if r is not None else Completion(None, error="no completion") for r in results], usage

    # -- cost ---------------------------------------------------------------------------------------

    def _plan(self, desc: str, todo: list[tuple[int, ChatRequest]], usage: Usage) -> None:
        """Estimate, say and check the cost of `todo` (the probe measures the speed once per run, unless
        `probe` is off: then a time budget cannot be checked and the ETA comes with the replies)."""
        if self.speed is None and self.settings.probes():
            self.speed = self._probe([r for _, r in todo], usage)
        estimate = self.estimate(desc, [r for _, r in todo], usage.cache_hits)
        entry = {**estimate.as_dict(), "budget": str(self.meter.budget) if self.meter.budget else None}
        self.estimates.append(entry)
        run_logger().info("%s", estimate.line())  # the console and Prefect's UI, before anything is sent
        try:
            self.meter.check(estimate, self.model)
        except OverBudget:
            entry["decision"] = "over budget: not sent"
            raise
        entry["decision"] = "sent"

    def estimate(self, desc: str, requests: list[ChatRequest], cached: int = 0) -> Estimate:
        chars = sum(_chars(r) for r in requests)
        per_token = self.speed.chars_per_token if self.speed else 3.0  # 3: conservative for English
        prompt = int(chars / per_token)
        completion = sum(int(r.param_dict().get("max_tokens", self.settings.max_tokens)) for r in requests)
        seconds = prompt / self.speed.prompt_tps + completion / self.speed.decode_tps if self.speed else None
        return Estimate(desc, len(requests), cached, prompt, completion, seconds, self.speed)

    def _probe(self, requests: list[ChatRequest], usage: Usage) -> Speed:
        """The engine's speed on this step's own prompts: the first few (as many as are sent at once)
        with 1 token to generate, then with PROBE_TOKENS (their prompts now in the server's prefix
        cache). Their tokens are counted in the step's usage; nothing goes to the completion cache."""
        width = max(1, min(len(requests), int(getattr(self.backend, "concurrency", 1) or 1), 4))
        sample = requests[:width]
        got: dict[int, Completion] = {}

        def timed(max_tokens: int) -> float:
            items = [(i, _with_max_tokens(r, max_tokens)) for i, r in enumerate(sample)]
            began = time.monotonic()
            self.backend.run(items, lambda i, c: got.__setitem__(i, c), Usage())
            usage.probes += len(items)
            for c in got.values():
                usage.prompt_tokens += c.prompt_tokens
                usage.cached_prompt_tokens += c.cached_prompt_tokens
                usage.completion_tokens += c.completion_tokens
            self.meter.spend(began, sum(c.prompt_tokens + c.completion_tokens for c in got.values()))  # spent too
            return max(time.monotonic() - began, 1e-3)

        prompt_s = timed(1)
        prompt_tokens = sum(c.prompt_tokens for c in got.values()) or sum(_chars(r) for r in sample) / 3
        decode_s = timed(PROBE_TOKENS)
        generated = sum(c.completion_tokens for c in got.values()) or PROBE_TOKENS * len(sample)
        speed = Speed(
            prompt_tps=prompt_tokens / prompt_s,
            decode_tps=generated / decode_s,
            chars_per_token=max(sum(_chars(r) for r in sample) / max(prompt_tokens, 1), 0.5),
        )
        run_logger().info(
            "%s: %s processes %.0f prompt tokens/s and generates %.1f tokens/s (a probe of %d requests)",
            self.backend.name,
            self.model,
            speed.prompt_tps,
            speed.decode_tps,
            len(sample),
        )
        return speed

    # -- sending ------------------------------------------------------------------------------------

    def _send(self, todo, results, keys, usage: Usage, desc: str) -> None:
        bar = progress_bar(total=len(todo), desc=desc, unit="req", disable=None, leave=False)
        began = last_log = time.monotonic()
        state = {"done": 0, "tokens": 0}

        def done(i: int, completion: Completion) -> None:
            nonlocal last_log
            results[i] = completion
            usage.prompt_tokens += completion.prompt_tokens
            usage.cached_prompt_tokens += completion.cached_prompt_tokens
            usage.completion_tokens += completion.completion_tokens
            if completion.error:
                usage.failed += 1
            elif self.cache is not None:
                self.cache.put(keys[i], completion)
            state["done"] += 1
            state["tokens"] += completion.completion_tokens
            elapsed = time.monotonic() - began
            rate = state["tokens"] / elapsed if elapsed > 0 else 0.0
            eta = elapsed / state["done"] * (len(todo) - state["done"])
            bar.set_note(f"{rate:.1f} tok/s")
            bar.update(1)
            if time.monotonic() - last_log >= LOG_EVERY_S:
                last_log = time.monotonic()
                run_logger().info(
                    "%s: %d of %d requests, %.1f generated tokens/s, about %s left",
                    desc,
                    state["done"],
                    len(todo),
                    rate,
                    duration(eta),
                )

        before = usage.prompt_tokens + usage.completion_tokens  # the probe's tokens: on the meter already
        try:
            self.backend.run(todo, done, usage)
        finally:
            bar.close()
            # a token budget counts what its check estimated: prompt and completion tokens
            self.meter.spend(began, usage.prompt_tokens + usage.completion_tokens - before)


def _chars(request: ChatRequest) -> int:
    return sum(len(content) for _, content in request.messages)


def _with_max_tokens(request: ChatRequest, max_tokens: int) -> ChatRequest:
    return ChatRequest.make(
        request.message_dicts(),
        {**request.param_dict(), "max_tokens": max_tokens},
        request.schema,
        request.schema_name,
        request.template_hash,
    )
