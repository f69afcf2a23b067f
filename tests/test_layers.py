"""The import contracts of pyproject.toml ([tool.importlinter]): schemas <- sources, data_cards <-
pipelines <- annotation <- CLI; inside pipelines, engine <- llm | methods <- recipes <- flows <- cli;
annotation reaching recipes only through the registry; the generic LLM layer importing no recipe; no
import cycle anywhere (imports inside functions count). Run with the
unit tests, so CI checks them; a second run on a copy with one import going up shows they can fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("schemas", "sources", "data_cards", "pipelines", "annotation")


def lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layers_hold():
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "samples", "data"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


def test_an_import_going_up_breaks_the_contract(tmp_path):
    root = _copy(tmp_path)
    ipip = root / "sources" / "ipip.py"
    ipip.write_text(ipip.read_text() + "\nfrom pipelines.engine.runtime import RunContext  # noqa: E402\n")
    # annotation reaching a recipe folder, one the contract does not name (a wildcard covers them all)
    new = root / "pipelines" / "recipes" / "newrecipe"
    new.mkdir()
    (new / "__init__.py").write_text("")
    agreement = root / "annotation" / "agreement.py"
    agreement.write_text(agreement.read_text() + "\nimport pipelines.recipes.newrecipe  # noqa: E402\n")
    # the generic LLM layer reaching a recipe's step module (they live in the recipe folders)
    client = root / "pipelines" / "llm" / "client.py"
    client.write_text(client.read_text() + "\nimport pipelines.recipes.norms.rules_of_thumb  # noqa: E402\n")
    # a method reaching the recipes (pipelines' own layers), and a cycle inside the engine
    embed = root / "pipelines" / "methods" / "embed.py"
    embed.write_text(embed.read_text() + "\nimport pipelines.recipes  # noqa: E402\n")
    steps = root / "pipelines" / "engine" / "steps.py"
    steps.write_text(steps.read_text() + "\n\ndef _later():\n    import pipelines.engine.runtime  # noqa: F401\n")
    done = lint(root)
    assert "pipelines.methods.embed -> pipelines.recipes" in done.stdout, done.stdout
    assert "No cycles are allowed in pipelines.engine" in done.stdout, done.stdout
    assert done.returncode != 0 and "sources.ipip -> pipelines.engine.runtime" in done.stdout, done.stdout
    assert "annotation.agreement -> pipelines.recipes.newrecipe" in done.stdout, done.stdout
    assert "pipelines.llm.client -> pipelines.recipes.norms.rules_of_thumb" in done.stdout, done.stdout
