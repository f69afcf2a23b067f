"""Services shared by the integration suites: one real Prefect server for the session (flows
report to it, as scheduled runs do), and the Argilla stack fixtures."""

from __future__ import annotations

import os

import pytest

from pipelines.engine.prefect_server import prefect_server as start_prefect_server
from tests.integration.argilla_fixtures import argilla_client, argilla_stack, argilla_workspace  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def prefect_server(tmp_path_factory):
    if os.environ.get("PREFECT_API_URL"):  # a server given from outside
        yield os.environ["PREFECT_API_URL"]
        return
    home = tmp_path_factory.mktemp("prefect-home")
    with start_prefect_server(home) as url:
        os.environ["PREFECT_API_URL"] = url
        os.environ["PREFECT_HOME"] = str(home)
        yield url
        os.environ.pop("PREFECT_API_URL", None)
