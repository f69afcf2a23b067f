"""LLM backends: the `Backend` protocol every backend implements, and the registry that
`make_backend` picks one from by name (`LLMSettings.backend`, CURATE_LLM_BACKEND).

Built in: `http` (any OpenAI-compatible endpoint: vLLM's server, llama.cpp's, the embedded engine,
TGI, hosted APIs), `transformers` (in process) and `vllm` (vLLM's offline engine, in process). A
registered backend is its module and class by name, imported only when it is made, so naming the
backends imports neither torch nor vllm. `register_backend` adds one (a class, or "module:Class").
"""

from __future__ import annotations

import importlib
from typing import Callable, Protocol, runtime_checkable

from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, Usage
from schemas.errors import CurateError


@runtime_checkable
class Backend(Protocol):
    """What `LLMClient` needs of a backend: its name and the model it serves (both go into usage,
    provenance and the completion cache key), and `run`, which completes every item and calls
    `on_done(index, completion)` for each as it finishes (a non-retryable failure is a completion with
    `error`), counting requests, retries and the guided decoding used in `usage`."""

    name: str
    model: str

    def run(self, items: list[tuple[int, ChatRequest]], on_done: Callable[[int, Completion], None],
            usage: Usage) -> None: ...


Factory = Callable[[LLMSettings], Backend]
_REGISTRY: dict[str, Factory | str] = {}


def register_backend(name: str, factory: Factory | str) -> None:
    """Make `name` a backend: `factory` builds it from the settings (a class, or "module:Class",
    imported when the backend is first made)."""
    _REGISTRY[name] = factory


def registered() -> list[str]:
    return sorted(_REGISTRY)


def backend_factory(name: str) -> Factory:
    if name not in _REGISTRY:
        raise CurateError(f"unknown LLM backend {name!r}; registered backends: {', '.join(registered())}")
    factory = _REGISTRY[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory


def make_backend(settings: LLMSettings) -> Backend:
    return backend_factory(settings.backend)(settings)


register_backend("http", "pipelines.llm.http_backend:HTTPBackend")
register_backend("transformers", "pipelines.llm.transformers_backend:TransformersBackend")
register_backend("vllm", "pipelines.llm.vllm_backend:VLLMBackend")  # `import vllm` only when one is made
