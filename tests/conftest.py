"""Shared fixtures. Every test gets its own step cache and Hugging Face cache, so nothing leaks
between tests or from a developer's earlier runs (see DESIGN.md on datasets' folder-name cache)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# `curate run` starts the embedded llama.cpp engine when no LLM endpoint is configured; tests opt in
# (tests/integration/test_llm_embedded.py), the others keep their LLM steps skipped.
os.environ.setdefault("CURATE_LLM_EMBEDDED", "0")
# the speed probe sends a few requests before the first LLM step; the scripted servers of the protocol
# tests answer a script, so they run without it (tests/test_llm_budget.py and the embedded engine's
# tests turn it on)
os.environ.setdefault("CURATE_LLM_PROBE", "0")


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CURATE_CACHE_DIR", str(tmp_path_factory.mktemp("curate-cache")))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf-datasets")))


@pytest.fixture(scope="session", autouse=True)
def _stop_prefect_servers():
    """Stop Prefect's temporary API servers (started by flows run in-process) while pytest still
    holds the console: at interpreter exit their stop message hit a closed stream, and a
    'Logging error' traceback ended every CI log."""
    yield
    from prefect.server.api.server import SubprocessASGIServer

    # a private registry (prefect is pinned <3.9); if it is gone, exit does the stopping as before
    for server in list(getattr(SubprocessASGIServer, "_instances", {}).values()):
        server.stop()


@pytest.fixture
def hf_cache(tmp_path_factory) -> str:
    """A fresh `cache_dir` for `datasets.load_dataset`."""
    return str(tmp_path_factory.mktemp("hf-load"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


def curate_bin() -> Path:
    return REPO / ".venv" / "bin" / "curate"


def all_splits(ds, column: str | None = None):
    """Rows of every split of a DatasetDict (published configs are split train/validation/test by a
    hash of their grouping key): a list of `column`'s values, or the concatenated Dataset."""
    import datasets

    whole = datasets.concatenate_datasets([ds[s] for s in ds]) if isinstance(ds, datasets.DatasetDict) else ds
    return whole[column] if column else whole
