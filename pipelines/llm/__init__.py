"""The LLM layer: one interface over an OpenAI-compatible HTTP endpoint (vLLM, llama.cpp, TGI,
hosted APIs), an in-process transformers backend and, when installed, vLLM's offline engine.

What a step sees is `LLMClient.complete(requests)`: bounded concurrency, retries with backoff,
a request budget, token accounting and a completion cache that makes a rerun after a crash free
for the finished items. Structured output (pydantic record types, guided decoding where the server
has it, validation, one repair, quarantine) is in `structured.py`; prompt templates in `prompts.py`.
"""

from pipelines.llm.settings import LLMSettings, resolve_settings
from pipelines.llm.types import ChatRequest, Completion, LLMUnavailable

__all__ = ["ChatRequest", "Completion", "LLMSettings", "LLMUnavailable", "resolve_settings"]
