"""What goes to a backend and what comes back, and the usage a step accounts for."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from schemas.errors import CurateError


class LLMUnavailable(CurateError):
    """The endpoint kept failing (after retries) or the request budget was spent. Finished
    completions are in the completion cache, so a rerun resumes where this one stopped."""


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content) pairs
    params: tuple[tuple[str, Any], ...] = ()  # temperature, top_p, max_tokens, seed (sorted)
    schema: dict | None = None  # JSON schema of the expected output, for guided decoding
    schema_name: str = "output"
    template_hash: str = ""  # the prompt template's hash: part of the cache key

    @classmethod
    def make(
        cls,
        messages: list[dict[str, str]],
        params: dict[str, Any],
        schema: dict | None = None,
        schema_name: str = "output",
        template_hash: str = "",
    ) -> ChatRequest:
        return cls(
            tuple((m["role"], m["content"]) for m in messages),
            tuple(sorted(params.items())),
            schema,
            schema_name,
            template_hash,
        )

    def message_dicts(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]

    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass
class Completion:
    text: str | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    cached: bool = False  # from our completion cache: nothing was sent
    cached_prompt_tokens: int = 0  # of prompt_tokens, those the server took from its own prefix cache
    error: str | None = None  # a non-retryable failure (e.g. HTTP 400): the item is quarantined


@dataclass
class Usage:
    """Counters a step writes into its account's `extra` (and so into report.json). Tokens are the
    server's own account of each finished reply (its `usage`); an attempt closed before its reply
    finished (a timeout, an unreadable stream) is counted in `aborted`: the server reports no usage
    for it, so its tokens are in no counter here."""

    requests: int = 0  # HTTP attempts or generate calls, retries included
    retries: int = 0
    cache_hits: int = 0  # replies from our completion cache (nothing sent, no tokens)
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, reused from the server's prefix cache
    completion_tokens: int = 0
    aborted: int = 0  # attempts closed before the reply finished
    failed: int = 0  # items that got no completion (non-retryable errors)
    repairs: int = 0  # repair requests sent after an invalid structured output
    repaired: int = 0  # ... of which the repair was valid
    probes: int = 0  # requests that measured the engine's speed before the step (their tokens are counted)
    guided_decoding: str = ""  # what the server accepted: response_format, guided_json, none
    model: str = ""
    backend: str = ""

    def add(self, other: Usage) -> None:
        for name in (
            "requests",
            "retries",
            "cache_hits",
            "prompt_tokens",
            "cached_prompt_tokens",
            "completion_tokens",
            "aborted",
            "failed",
            "repairs",
            "repaired",
            "probes",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None) and not (k == "probes" and v == 0)}
