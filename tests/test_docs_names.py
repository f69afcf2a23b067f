"""Docs and docstrings name things that exist: every backticked dotted name of our packages
(`pipelines.engine.runtime.RunContext`) in the docs, the README and the code resolves to a module,
an attribute or a model field, and every `Class.member` of the core classes is a member of that
class. A rename that leaves a stale name behind fails here."""

from __future__ import annotations

import dataclasses
import importlib
import re
import subprocess

from tests.conftest import REPO

DOTTED = re.compile(r"`((?:pipelines|sources|schemas|data_cards|annotation)(?:\.[A-Za-z_]\w*)+)")
CORE = {
    "Recipe": "pipelines.recipes.base",
    "RunContext": "pipelines.engine.runtime",
    "Step": "pipelines.engine.steps",
    "LLMStep": "pipelines.llm.step",
    "LLMClient": "pipelines.llm.client",
    "RunRequest": "pipelines.engine.request",
    "StepCache": "pipelines.engine.cache",
    "RecipeContract": "pipelines.engine.contract",
}
MEMBER = re.compile(r"`(" + "|".join(CORE) + r")\.([A-Za-z_]\w*)")


def _has(obj, name: str) -> bool:
    if hasattr(obj, name):
        return True
    fields = getattr(obj, "model_fields", None) or {}
    if name in fields:
        return True
    return dataclasses.is_dataclass(obj) and name in {f.name for f in dataclasses.fields(obj)}


def resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            if not _has(obj, attr):
                return False
            obj = getattr(obj, attr, None)
        return True
    return False


def texts():
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py", "*.md", "*.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in listed:
        path = REPO / rel
        if path.is_file() and not rel.startswith("sources/samples/"):
            yield rel, path.read_text(errors="replace")


def test_names_in_docs_and_docstrings_exist():
    stale = {}
    for rel, text in texts():
        for m in DOTTED.finditer(text):
            if not resolves(m.group(1)):
                stale.setdefault(m.group(1), rel)
        for m in MEMBER.finditer(text):
            cls = getattr(importlib.import_module(CORE[m.group(1)]), m.group(1))
            if not _has(cls, m.group(2)):
                stale.setdefault(f"{m.group(1)}.{m.group(2)}", rel)
    assert not stale, stale


def test_a_stale_name_is_found():
    assert resolves("pipelines.engine.runtime.RunContext") and resolves("pipelines.engine.runtime.RunContext.lineage")
    assert not resolves("pipelines.runtime.RunContext") and not resolves("pipelines.engine.runtime.provenance_of")
