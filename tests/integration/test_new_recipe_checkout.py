"""A recipe written from the docs' "Adding a recipe" page alone, added as a folder to a temporary
checkout of this repository (next to the shipped recipes), is held by the suite's registry-driven
tests like every other: it is listed, keeps its contract, runs its demo, loads config by config,
publishes, is a choice of schedules, gets the hostile-input corpus, and the import contracts hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_add_recipe import write_lines_recipe

pytestmark = pytest.mark.integration

# the tests that iterate over the registry (each recipe, the demo, publishing, schedules, the corpus)
REGISTRY_TESTS = [
    "tests/test_recipe_contract.py",
    "tests/test_empty_configs.py::test_every_config_of_each_recipe_demo_loads",
    "tests/test_schedule_unit.py::test_recipe_parameter_is_a_choice",
    "tests/test_publish.py::test_each_shipped_recipe_declares_how_it_is_published",
    "tests/test_recipe_uses_llm.py::test_the_shipped_recipes_with_llm_steps_say_so",
    "tests/test_layers.py::test_the_layers_hold",
    "tests/integration/test_bad_inputs.py",
    "tests/integration/test_bad_inputs_round2.py",
]


def checkout(target: Path) -> Path:
    """The repository's files as git sees them (tracked, and new files not ignored), without .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for rel in filter(None, (name.decode() for name in listed)):
        source = REPO / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    (target / ".venv").symlink_to(REPO / ".venv")  # the environment; the code is the checkout's
    return target


def test_a_recipe_from_the_docs_passes_the_registry_driven_suite(tmp_path):
    root = checkout(tmp_path / "checkout")
    folder = write_lines_recipe(root / "pipelines" / "recipes")
    env = {
        **os.environ,
        "PYTHONPATH": str(root),  # before the installed project: the checkout's code runs
        "CURATE_CORPUS_RECIPES": "lines",  # the corpus's cases for the new recipe (the others run in the suite)
        "CURATE_CACHE_DIR": str(tmp_path / "cache"),
    }
    env.pop("CURATE_RECIPE_PATH", None)
    listed = subprocess.run(
        [str(root / ".venv" / "bin" / "curate"), "recipes"], capture_output=True, text=True, env=env, cwd=root
    )
    assert listed.returncode == 0 and re.search(r"^lines\s+text files -> one record", listed.stdout, re.M)

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-m", "", *REGISTRY_TESTS],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=1500,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    assert (
        str(root)
        in subprocess.run(  # the run imported the checkout, where the new folder is
            [sys.executable, "-c", "import pipelines; print(pipelines.__file__)"],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    )
    for test in (
        "test_each_recipe_keeps_its_contract[lines]",
        "test_every_config_of_each_recipe_demo_loads[lines]",
        "test_recipe_parameter_is_a_choice",
        "test_every_bad_input_has_its_expected_outcome",
    ):
        assert re.search(rf"^PASSED \S*{re.escape(test)}", out, re.M), test
    assert (folder / "recipe.yaml").is_file()
