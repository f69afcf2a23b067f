"""Fixtures for the review flows against a real Argilla server (see argilla_fixtures.py).

- `review_runs`: real recipe outputs made once per session: translate and preferences on the
  shipped samples with the loopback OpenAI-protocol server playing the model (so their LLM output
  and its model are real data of the recipes), written by the recipe flow's own code.
- `annotators`: two annotator accounts of this session (unique names, deleted at the end); each
  test puts them in its workspaces with a users file, and acts as them by signing in with their
  password (`Annotator`), as the UI does.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sources" / "samples"
LLM_INPUTS = {
    "translate": [SAMPLES / "translate" / "moral_stories" / "data" / "train-00000-of-00001.parquet"],
    "preferences": [SAMPLES / "preferences" / "personas.jsonl", SAMPLES / "preferences" / "prompts.jsonl"],
}


def run_recipe_here(recipe: str, inputs: list[Path], output: Path, cache: Path) -> Path:
    """The recipe flow's function without the Prefect engine around it (same steps, same writer)."""
    from pipelines.engine.request import RunRequest
    from pipelines.flows.run import run_recipe

    run_recipe.fn(
        RunRequest(
            recipe=recipe,
            inputs=tuple(str(p) for p in inputs),
            output=str(output),
            config_path=str(SAMPLES / recipe / "config.yaml"),
            cache_dir=str(cache),
            no_cache=True,
        )
    )
    return output


@pytest.fixture(scope="session")
def review_runs(tmp_path_factory) -> dict[str, Path]:
    from tests.llm_loopback import ScriptedServer
    from tests.llm_scripted import RecipeModel

    root = tmp_path_factory.mktemp("review-runs")
    saved = os.environ.get("CURATE_LLM_BASE_URL")
    with ScriptedServer(RecipeModel()) as server:
        os.environ["CURATE_LLM_BASE_URL"] = server.base_url
        try:
            runs = {r: run_recipe_here(r, files, root / r, root / "cache") for r, files in LLM_INPUTS.items()}
        finally:
            os.environ.pop("CURATE_LLM_BASE_URL", None)
            if saved is not None:
                os.environ["CURATE_LLM_BASE_URL"] = saved
    return runs


@dataclass
class Annotator:
    """Someone signed in through the API with their username and password (a bearer token)."""

    url: str
    username: str
    password: str

    def __post_init__(self):
        token = httpx.post(
            f"{self.url}/api/v1/token", data={"username": self.username, "password": self.password}, timeout=30
        )
        assert token.status_code == 201, token.text
        self.http = httpx.Client(
            base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )

    def datasets(self) -> dict[str, str]:
        return {d["name"]: d["id"] for d in self.http.get("/api/v1/me/datasets").json()["items"]}

    def records(self, dataset_id: str) -> dict[str, str]:
        """external_id -> Argilla id of the records this annotator is given."""
        response = self.http.post(
            f"/api/v1/me/datasets/{dataset_id}/records/search", json={"query": {}}, params={"limit": 1000}
        )
        assert response.status_code == 200, response.text
        return {item["record"]["external_id"]: item["record"]["id"] for item in response.json()["items"]}

    def respond(self, record_id: str, values: dict, status: str = "submitted") -> None:
        body = {"values": {q: {"value": v} for q, v in values.items()}, "status": status}
        response = self.http.post(f"/api/v1/records/{record_id}/responses", json=body)
        assert response.status_code == 201, response.text


@pytest.fixture(scope="session")
def annotator_names(argilla_client):
    """Three annotator usernames of this session (two through the API, a third for the browser);
    their accounts are deleted at the end."""
    tag = uuid.uuid4().hex[:6]
    names = [f"ann-{tag}-1", f"ann-{tag}-2", f"ann-{tag}-3"]
    yield names
    http = argilla_client.api.http_client
    users = {u["username"]: u["id"] for u in http.get("/api/v1/users").json()["items"]}
    for name in names:
        if name in users:
            http.delete(f"/api/v1/users/{users[name]}")


def users_file(path: Path, assignments: dict[str, list[str]]) -> Path:
    path.write_text(json.dumps({"users": [{"username": u, "workspaces": ws} for u, ws in assignments.items()]}))
    return path


@pytest.fixture
def annotators(argilla_client, argilla_stack, annotator_names, tmp_path_factory):
    """`put(workspace, ...)`: the annotators in the workspaces given, through a users file; returns
    the first `count` signed in as `Annotator`s. Passwords live in one credentials file per session."""
    from annotation.users import apply_users, load_users_file

    creds = tmp_path_factory.getbasetemp() / "annotators.credentials.json"

    def put(*workspaces: str, only: dict[str, list[str]] | None = None, count: int = 2) -> list[Annotator]:
        plan = only or {name: list(workspaces) for name in annotator_names}
        path = users_file(tmp_path_factory.mktemp("users") / "team.json", plan)
        apply_users(argilla_client, load_users_file(path), creds)
        secrets = json.loads(creds.read_text())
        return [Annotator(argilla_stack.url, name, secrets[name]["password"]) for name in annotator_names[:count]]

    return put


@pytest.fixture(scope="session")
def all_recipe_runs(review_runs, tmp_path_factory) -> dict[str, Path]:
    """Every recipe's output on the shipped samples (what `curate demo` runs), expand's LLM output
    from the loopback model: the data of every record type a review can be asked for."""
    from pipelines.cli.demo import demo_runs
    from tests.llm_loopback import ScriptedServer
    from tests.llm_scripted import RecipeModel

    root = tmp_path_factory.mktemp("all-runs")
    runs = dict(review_runs)
    with ScriptedServer(RecipeModel()) as server:
        os.environ["CURATE_LLM_BASE_URL"] = server.base_url
        try:
            for recipe, inputs, _config in demo_runs(SAMPLES):
                if recipe not in runs:
                    runs[recipe] = run_recipe_here(recipe, inputs, root / recipe, root / "cache")
        finally:
            os.environ.pop("CURATE_LLM_BASE_URL", None)
    return runs
