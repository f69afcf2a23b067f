"""vLLM on a GPU: the in-process engine (backend `vllm`) and `vllm serve` through our HTTP client give
every request a completion, with vLLM's structured outputs detected from the server. Skipped, saying
why, on machines without CUDA or without the vllm package (vLLM has no CPU wheel here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import httpx
import pytest

from pipelines.llm.client import LLMClient
from pipelines.llm.settings import LLMSettings
from pipelines.llm.types import ChatRequest

pytestmark = [pytest.mark.integration, pytest.mark.gpu]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}}, "required": ["answer"]}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    torch = pytest.importorskip("torch", reason="vLLM needs torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device on this machine: vLLM is measured only on a GPU")
    pytest.importorskip("vllm", reason="the vllm package is not installed (GPU machines: uv pip install vllm)")
    from tests.llm_tiny import save_tiny

    return save_tiny(tmp_path_factory.mktemp("tiny-llm"))


def requests(n: int) -> list[ChatRequest]:
    return [
        ChatRequest.make(
            [{"role": "user", "content": f"q{i}"}], {"temperature": 0.0, "max_tokens": 24}, SCHEMA, "Answer"
        )
        for i in range(n)
    ]


def test_vllm_in_process(tiny_dir):
    settings = LLMSettings(backend="vllm", model=str(tiny_dir))
    results, usage = LLMClient(settings).complete(requests(16))
    assert all(r.text is not None for r in results) and usage.completion_tokens > 0


def test_vllm_serve_through_our_client(tiny_dir, tmp_path):
    from pipelines.engine.prefect_server import free_port

    exe = shutil.which("vllm") or f"{sys.executable} -m vllm.entrypoints.openai.api_server"
    port = free_port()
    with open(tmp_path / "vllm.log", "wb") as log:
        proc = subprocess.Popen(
            [
                *exe.split(),
                *(["serve"] if shutil.which("vllm") else []),
                str(tiny_dir),
                "--port",
                str(port),
                "--max-num-seqs",
                "8",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(2)
        client = LLMClient(LLMSettings(base_url=f"http://127.0.0.1:{port}/v1"))
        assert client.backend.server.engine == "vllm"
        assert client.backend.guided in ("structured_outputs", "guided_json")
        results, usage = client.complete(requests(16))
        assert usage.failed == 0 and all(r.text is not None for r in results)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
