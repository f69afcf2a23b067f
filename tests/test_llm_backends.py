"""The in-process backends: transformers on a tiny model initialised locally (no download), and the
vLLM engine's clear refusal when vllm is not installed. Importing transformers is slow, hence
`integration`; the GPU variant skips without CUDA."""

from __future__ import annotations

import pytest

from pipelines.llm.client import LLMClient, make_backend
from pipelines.llm.completion_cache import CompletionCache
from pipelines.llm.settings import LLMSettings
from pipelines.llm.structured import complete_structured
from pipelines.llm.types import ChatRequest
from pipelines.recipes.personality.persona import PersonaText
from schemas.errors import CurateError


def prompts(n: int, max_tokens: int = 6) -> list[ChatRequest]:
    return [
        ChatRequest.make(
            [{"role": "user", "content": "the fox jumps " * (1 + (i * 7) % 5)}],
            {"temperature": 0.0, "max_tokens": max_tokens},
            template_hash="t@1",
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from tests.llm_tiny import save_tiny

    return save_tiny(tmp_path_factory.mktemp("tiny-llm"))


def backend(tiny_dir, device="cpu", batch_size=4):
    from pipelines.llm.transformers_backend import TransformersBackend

    return TransformersBackend(
        LLMSettings(backend="transformers", model=str(tiny_dir), batch_size=batch_size, device=device)
    )


@pytest.mark.integration
def test_batched_generation_matches_one_by_one_and_keeps_order(tiny_dir, tmp_path):
    b = backend(tiny_dir)
    client = LLMClient(b.settings, CompletionCache(tmp_path / "c.sqlite"), backend=b)
    batched, usage = client.complete(prompts(7))
    assert usage.requests == 7 and usage.guided_decoding == "none"
    single = LLMClient(b.settings, None, backend=backend(tiny_dir, batch_size=1)).complete(prompts(7))[0]
    # greedy decoding: left padding and length-sorted batches must not change any output
    assert [c.text for c in batched] == [c.text for c in single]
    assert len({c.text for c in batched}) > 1  # not a degenerate model that says the same thing always
    lengths = [len(b.tokenizer(b.prompt_text(r))["input_ids"]) for r in prompts(7)]
    assert [c.prompt_tokens for c in batched] == lengths
    assert all(0 < c.completion_tokens <= 6 for c in batched)
    again, usage = client.complete(prompts(7))
    assert usage.cache_hits == 7 and [c.text for c in again] == [c.text for c in batched]


@pytest.mark.integration
def test_structured_output_cut_at_max_tokens_is_quarantined_without_a_repair(tiny_dir):
    b = backend(tiny_dir)
    reqs = [
        ChatRequest.make(
            [{"role": "user", "content": f"describe person {i}"}],
            {"temperature": 0.0, "max_tokens": 8},
            PersonaText.model_json_schema(),
            "PersonaText",
            "t@1",
        )
        for i in range(3)
    ]
    outcomes, usage = complete_structured(LLMClient(b.settings, None, backend=b), reqs, PersonaText)
    # an untrained model never says EOS within 8 tokens: every reply is cut at max_tokens, which the
    # backend reports as finish_reason "length"; a cut reply would be cut again, so it is quarantined
    # with its raw text and no repair request is spent on it
    assert all(o.value is None and o.raw and "cut at max_tokens" in o.error for o in outcomes)
    assert usage.repairs == 0 and usage.requests == 3 and usage.completion_tokens == 3 * 8


def test_vllm_backend_without_vllm_says_how_to_get_it():
    pytest.importorskip("torch")  # nothing of vllm is imported before the check
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vllm is installed here")
    with pytest.raises(CurateError, match="needs the vllm package"):
        make_backend(LLMSettings(backend="vllm", model="some/model"))


@pytest.mark.gpu
@pytest.mark.integration
def test_transformers_backend_on_gpu(tiny_dir):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine")
    b = backend(tiny_dir, device="cuda")
    results, usage = LLMClient(b.settings, None, backend=b).complete(prompts(8))
    assert usage.requests == 8 and all(r.text is not None for r in results)
