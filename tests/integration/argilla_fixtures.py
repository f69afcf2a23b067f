"""Fixtures for tests against a real Argilla server.

Import them where needed (or from a conftest):

    from tests.integration.argilla_fixtures import argilla_stack, argilla_client, argilla_workspace

`argilla_stack` uses the user's own server when ARGILLA_API_URL and ARGILLA_API_KEY are set;
otherwise it starts the local stack (annotation.stack) and stops it at the end of the session,
unless the stack was already running before (a developer's, or one that .ci/run started) or
CURATE_STACK_KEEP=1.
"""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(scope="session")
def argilla_stack():
    from annotation import stack

    was_up = stack.status()["up"]
    info = stack.up()
    yield info
    if not info.external and not was_up and os.environ.get("CURATE_STACK_KEEP") != "1":
        stack.down()


@pytest.fixture(scope="session")
def argilla_client(argilla_stack):
    import argilla as rg

    client = rg.Argilla(api_url=argilla_stack.url, api_key=argilla_stack.api_key, timeout=120)
    yield client


@pytest.fixture
def argilla_workspace(argilla_client):
    """A fresh workspace for one test; its datasets and itself are deleted afterwards."""
    import argilla as rg

    workspace = rg.Workspace(name=f"test-{uuid.uuid4().hex[:10]}", client=argilla_client).create()
    yield workspace
    for dataset in list(workspace.datasets):
        dataset.delete()
    workspace.delete()
