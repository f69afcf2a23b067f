"""Which recipes need a model is said by each recipe's contract (recipe.yaml `uses_llm`), not listed elsewhere: the
embedded engine starts for a recipe with LLM steps, a recipe from $CURATE_RECIPE_PATH included."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from pipelines.flows.llm_route import needs_embedded
from pipelines.recipes import available, get_recipe, load_config
from schemas.errors import CurateError

LLM_RECIPE = """
from pipelines.recipes import Recipe


class Chat(Recipe):
    def build(self, ctx, inputs, config):
        return self.llm_client(ctx, None, steps=("reply",), missing="replies", published="Nothing.")


RECIPE = Chat()
"""
CONTRACT = "description: prompts -> replies\nuses_llm: {uses}\noutputs:\n  replies: reference\n"


def runs(*names: str) -> list[SimpleNamespace]:
    """What `prepare` gives the engine hook: each run's recipe and configuration."""
    return [SimpleNamespace(recipe=get_recipe(n), config=load_config(get_recipe(n), None)) for n in names]


@pytest.fixture
def no_endpoint(monkeypatch):
    for name in ("CURATE_LLM_BASE_URL", "CURATE_LLM_BACKEND", "CURATE_LLM_MODEL", "CURATE_LLM_EMBEDDED"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def chat_recipe(tmp_path, monkeypatch):
    def make(uses: bool):
        folder = tmp_path / "recipes" / "chat"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text(LLM_RECIPE)
        (folder / "recipe.yaml").write_text(CONTRACT.format(uses=str(uses).lower()))
        monkeypatch.setenv("CURATE_RECIPE_PATH", str(folder.parent))
        return get_recipe("chat")

    yield make
    sys.modules.pop("curate_recipes.chat", None)


def test_the_shipped_recipes_with_llm_steps_say_so():
    uses = {name for name in available() if get_recipe(name).uses_llm}
    assert uses >= {"personality", "norms"}  # LLM steps inside recipes that publish without them too
    # the recipes that say so are the ones whose folder carries prompt templates
    assert uses == {name for name, folder in available().items() if list((folder / "prompts").glob("*.j2"))}


def test_the_embedded_engine_is_needed_only_for_a_recipe_with_llm_steps(no_endpoint, monkeypatch):
    assert needs_embedded(runs("values")) is False
    assert needs_embedded(runs("values", "translate")) is True
    monkeypatch.setenv("CURATE_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    assert needs_embedded(runs("translate")) is False  # an endpoint is configured
    monkeypatch.delenv("CURATE_LLM_BASE_URL")
    monkeypatch.setenv("CURATE_LLM_EMBEDDED", "0")
    assert needs_embedded(runs("translate")) is False  # the engine is off


def test_a_new_recipe_folder_is_enough(no_endpoint, chat_recipe):
    chat_recipe(True)
    assert needs_embedded(runs("chat")) is True


def test_a_recipe_asking_for_a_model_without_saying_so_is_stopped(no_endpoint, chat_recipe):
    recipe = chat_recipe(False)
    assert needs_embedded(runs("chat")) is False
    with pytest.raises(CurateError, match="uses_llm: true"):
        recipe.build(None, [], None)


def test_inputs_are_checked_before_the_embedded_engine_starts(tmp_path):
    """A missing input is one line at once: the engine (seconds to start) is not started for a run
    that cannot begin."""
    import os
    import subprocess

    from tests.conftest import curate_bin

    env = {**os.environ, "CURATE_LLM_EMBEDDED": "1", "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("CURATE_LLM_BASE_URL", None)
    proc = subprocess.run(
        [str(curate_bin()), "run", "expand", "-i", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing.csv'}: file not found"
    ]
    assert "embedded" not in proc.stderr
