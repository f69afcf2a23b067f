"""LLM backends: the `Backend` protocol every backend implements, and the registry that
`make_backend` picks one from by name (`LLMSettings.backend`, CURATE_LLM_BACKEND).

Built in: `http` (any OpenAI-compatible endpoint: vLLM's server, llama.cpp's, the embedded engine,
TGI, hosted APIs), `transformers` (in process) and `vllm` (vLLM's offline engine, in process). A
registered backend is its module and class by name, imported only when it is made, so naming the
backends imports neither torch nor vllm. `register_backend` adds one (a class, or "module:Class").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from pipelines.llm.registry import backend_factory, register_backend, registered
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest, Completion, Usage

__all__ = ["Backend", "backend_factory", "make_backend", "register_backend", "registered"]


@runtime_checkable
class Backend(Protocol):
    """What `LLMClient` needs of a backend: its name and the model it serves (both go into usage,
    provenance and the completion cache key), and `run`, which completes every item and calls
    `on_done(index, completion)` for each as it finishes (a non-retryable failure is a completion with
    `error`), counting requests, retries and the guided decoding used in `usage`."""

    name: str
    model: str

    def run(
        self, items: list[tuple[int, ChatRequest]], on_done: Callable[[int, Completion], None], usage: Usage
    ) -> None: ...


def make_backend(settings: LLMSettings) -> Backend:
    return backend_factory(settings.backend)(settings)
