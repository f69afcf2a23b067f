"""`LLMClient`: the one interface steps use, whatever the backend (`pipelines.llm.backends`: the
`Backend` protocol and the registry `make_backend` picks from); the completion cache in front."""

from __future__ import annotations

import logging

from schemas.progress import bar as progress_bar

from pipelines.llm.backends import Backend, make_backend
from pipelines.llm.completion_cache import CompletionCache, completion_key
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, Usage

log = logging.getLogger("curate.llm")


class LLMClient:
    def __init__(self, settings: LLMSettings, cache: CompletionCache | None = None, backend: Backend | None = None):
        self.settings = settings
        self.cache = cache
        self.backend = backend or make_backend(settings)

    @property
    def model(self) -> str:
        return self.backend.model

    def complete(self, requests: list[ChatRequest], desc: str = "llm") -> tuple[list[Completion], Usage]:
        """One completion per request, in order. Cached completions are not sent again; new ones
        are cached the moment they arrive. Raises LLMUnavailable when the endpoint kept failing."""
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
        if todo:
            log.info("%s: %d requests to %s (%s), %d from the completion cache",
                     desc, len(todo), self.model, self.backend.name, usage.cache_hits)
            bar = progress_bar(total=len(todo), desc=desc, unit="req", disable=None, leave=False)

            def done(i: int, completion: Completion) -> None:
                results[i] = completion
                usage.prompt_tokens += completion.prompt_tokens
                usage.cached_prompt_tokens += completion.cached_prompt_tokens
                usage.completion_tokens += completion.completion_tokens
                if completion.error:
                    usage.failed += 1
                elif self.cache is not None:
                    self.cache.put(keys[i], completion)
                bar.update(1)

            try:
                self.backend.run(todo, done, usage)
            finally:
                bar.close()
        return [r if r is not None else Completion(None, error="no completion") for r in results], usage
