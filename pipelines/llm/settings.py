"""Where the model is: backend, base URL, model and key, from a recipe's config or the environment.

Environment: CURATE_LLM_BACKEND (a registered backend, `pipelines.llm.backends`: http | transformers |
vllm), CURATE_LLM_BASE_URL (e.g. http://localhost:8000/v1 for `vllm serve`), CURATE_LLM_MODEL, CURATE_LLM_API_KEY or OPENAI_API_KEY,
CURATE_LLM_MAX_ITEMS (at most this many rows per LLM step, the others counted as dropped) and
CURATE_LLM_MAX_TOKENS (the ceiling per request): caps that only the user sets, nothing sets them by
default; CURATE_LLM_BUDGET (the run's model time or tokens: pipelines/llm/budget.py; the embedded
engine's default is a few minutes).
The key is a SecretStr: it is sent as a header and never logged, hashed into a cache key or written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator

from schemas.errors import CurateError

ENV_HINT = "set CURATE_LLM_BASE_URL (an OpenAI-compatible endpoint such as `vllm serve`) and CURATE_LLM_MODEL"


class LLMSettings(BaseModel):
    model_config = {"extra": "forbid"}

    backend: str = "http"  # a registered backend (pipelines.llm.backends): http, transformers, vllm
    base_url: str | None = None  # OpenAI-style, ending in /v1
    model: str | None = None  # served model name, or a local path for transformers / vllm
    api_key: SecretStr | None = Field(default=None, exclude=True)
    # requests in flight (HTTP); default: the server's capacity (llama.cpp's slots, vLLM's max sequences)
    concurrency: int | None = Field(default=None, ge=1)
    # streaming: the first token (or a whole non-streamed reply) must come within timeout_s, and then
    # each next chunk within idle_timeout_s; a request that misses either is closed, which aborts it
    # on the server, before it is retried
    timeout_s: float = Field(default=600.0, gt=0)
    idle_timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    stream: bool = True
    max_retries: int = Field(default=4, ge=0)  # on 429, 5xx, timeouts, broken connections
    backoff_s: float = Field(default=0.5, ge=0)  # first wait; doubles each retry, with jitter
    backoff_max_s: float = Field(default=30.0, ge=0)
    max_requests: int | None = Field(default=None, ge=1)  # request budget per step, retries included
    # auto: detected from the server (llama.cpp json_schema, vLLM structured_outputs or guided_json,
    # else OpenAI response_format, dropped once if the server rejects it)
    guided_decoding: Literal["auto", "response_format", "json_schema", "structured_outputs", "guided_json", "off"] = (
        "auto"
    )
    max_items: int | None = Field(default=None, ge=1)  # rows per LLM step; the rest dropped, counted
    # the run's model work: a time (5m, 2h) or tokens (200k tokens), or none (pipelines/llm/budget.py);
    # the embedded engine's default is budget.DEFAULT_EMBEDDED
    budget: str | None = None
    # before the first LLM step, a few short requests measure the engine's speed (the ETA, the budget);
    # None: as CURATE_LLM_PROBE says (on unless it is 0)
    probe: bool | None = None

    def probes(self) -> bool:
        return self.probe if self.probe is not None else os.environ.get("CURATE_LLM_PROBE", "1") != "0"

    temperature: float = Field(default=0.7, ge=0)
    top_p: float = Field(default=1.0, gt=0, le=1)
    max_tokens: int = Field(default=1024, ge=1)  # a ceiling; structured requests ask for what their schema needs
    seed: int = 0
    batch_size: int = Field(default=8, ge=1)  # in-process backends
    device: str | None = None  # transformers: cuda, cpu; default cuda when present

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: str | None) -> str | None:
        from pipelines.llm.budget import parse_budget

        parse_budget(v)  # raises with the forms it takes
        return v

    @field_validator("backend")
    @classmethod
    def _registered(cls, v: str) -> str:
        from pipelines.llm.registry import registered

        if v not in registered():
            raise ValueError(f"unknown LLM backend {v!r}; registered backends: {', '.join(registered())}")
        return v

    def generation_params(self, **override: Any) -> dict[str, Any]:
        """The sampling parameters that go into the request, the cache key and provenance."""
        params = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }
        params.update(override)
        return params

    def public(self) -> dict[str, Any]:
        """What may be written into provenance and cards: no key, no URL (it may hold credentials)."""
        return {"backend": self.backend, "model": self.model, "guided_decoding": self.guided_decoding}


def resolve_settings(
    settings: LLMSettings | None = None, env: Mapping[str, str] | None = None
) -> tuple[LLMSettings | None, str]:
    """The settings to use, the config's values first and the environment's for what it leaves out;
    or (None, why not) when no model is configured."""
    env = os.environ if env is None else env
    given = settings.model_dump(exclude_unset=True) if settings else {}
    if settings and settings.api_key:
        given["api_key"] = settings.api_key
    from_env = {
        "backend": env.get("CURATE_LLM_BACKEND"),
        "base_url": env.get("CURATE_LLM_BASE_URL"),
        "model": env.get("CURATE_LLM_MODEL"),
        "api_key": env.get("CURATE_LLM_API_KEY") or env.get("OPENAI_API_KEY"),
        "max_items": env.get("CURATE_LLM_MAX_ITEMS"),
        "max_tokens": env.get("CURATE_LLM_MAX_TOKENS"),
        "budget": env.get("CURATE_LLM_BUDGET"),
        "probe": env.get("CURATE_LLM_PROBE"),
    }
    merged = {k: v for k, v in from_env.items() if v} | given
    try:
        resolved = LLMSettings(**merged)
    except ValidationError as e:  # from the environment (a config file's values were checked when it was read)
        raise CurateError(
            "LLM settings: "
            + "; ".join(
                f"{'.'.join(map(str, err['loc']))}: {err['msg'].removeprefix('Value error, ')}" for err in e.errors()
            )
        ) from None
    if resolved.backend == "http" and not resolved.base_url:
        off = "; the embedded engine is off: CURATE_LLM_EMBEDDED=0" if env.get("CURATE_LLM_EMBEDDED") == "0" else ""
        return None, f"no LLM endpoint configured ({ENV_HINT}, or `llm: {{base_url: ...}}` in the recipe config{off})"
    if resolved.backend != "http" and not resolved.model:
        return None, f"backend {resolved.backend!r} needs a model (CURATE_LLM_MODEL or `llm: {{model: ...}}`)"
    return resolved, ""
