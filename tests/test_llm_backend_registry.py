"""LLM backends behind one protocol and a registry: `make_backend` picks by name, an unknown name is
one line listing the registered ones, and naming the backends imports neither torch nor vllm."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.llm import registry
from pipelines.llm.backends import Backend, backend_factory, make_backend, register_backend, registered
from pipelines.llm.client import LLMClient
from pipelines.llm.settings import LLMSettings, resolve_settings
from pipelines.llm.types import ChatRequest, Completion
from schemas.errors import CurateError
from tests.conftest import REPO


class EchoBackend:
    """A backend of the test's own: the last user message, reversed."""

    name = "echo"

    def __init__(self, settings: LLMSettings):
        self.model = settings.model or "echo-model"

    def run(self, items, on_done, usage) -> None:
        for index, request in items:
            usage.requests += 1
            on_done(index, Completion(request.messages[-1][1][::-1], 1, 1, "stop"))


@pytest.fixture
def echo():
    register_backend("echo", EchoBackend)
    yield
    registry._REGISTRY.pop("echo", None)


def test_the_built_in_backends_are_registered_by_the_name_they_report():
    assert registered() == ["http", "transformers", "vllm"]
    for name in registered():
        factory = backend_factory(name)
        assert factory.name == name and callable(factory.run)


def test_a_registered_backend_is_made_by_name_and_used_by_the_client(echo):
    settings = LLMSettings(backend="echo", model="m")
    backend = make_backend(settings)
    assert isinstance(backend, Backend) and backend.model == "m"
    results, usage = LLMClient(settings).complete([ChatRequest.make([{"role": "user", "content": "abc"}], {})])
    assert [r.text for r in results] == ["cba"] and usage.backend == "echo" and usage.requests == 1


def test_an_unknown_backend_is_one_line_naming_the_registered_ones():
    with pytest.raises(CurateError) as e:
        make_backend(LLMSettings.model_construct(backend="tgi"))
    assert str(e.value) == "unknown LLM backend 'tgi'; registered backends: http, transformers, vllm"
    with pytest.raises(
        CurateError,
        match=r"^LLM settings: backend: unknown LLM backend 'tgi'; registered "
        r"backends: http, transformers, vllm$",
    ):
        resolve_settings(None, {"CURATE_LLM_BACKEND": "tgi", "CURATE_LLM_BASE_URL": "http://127.0.0.1:9/v1"})


def test_a_recipe_config_naming_an_unknown_backend_fails_when_read(tmp_path):
    from pipelines.recipes import get_recipe, load_config

    config = tmp_path / "translate.yaml"
    config.write_text("llm:\n  backend: tgi\n")
    with pytest.raises(CurateError, match="registered backends: http, transformers, vllm"):
        load_config(get_recipe("translate"), config)


def test_naming_the_backends_imports_neither_torch_nor_vllm():
    code = (
        "import sys; from pipelines.llm.backends import registered, backend_factory; "
        "from pipelines.llm.settings import LLMSettings; LLMSettings(backend='vllm', model='m'); "
        "registered(); backend_factory('vllm'); print(sorted(m for m in ('torch', 'vllm') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
