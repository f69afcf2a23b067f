"""The LLM backends by name: `register_backend` adds one (a class, or "module:Class" imported when the
backend is first made, so naming the backends imports neither torch nor vllm); `LLMSettings.backend`
is checked against it and `pipelines.llm.backends.make_backend` builds from it."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from schemas.errors import CurateError

Factory = Callable[..., Any]  # LLMSettings -> a pipelines.llm.backends.Backend
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


register_backend("http", "pipelines.llm.http_backend:HTTPBackend")
register_backend("transformers", "pipelines.llm.transformers_backend:TransformersBackend")
register_backend("vllm", "pipelines.llm.vllm_backend:VLLMBackend")  # `import vllm` only when one is made
