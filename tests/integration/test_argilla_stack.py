"""The local Argilla stack, exercised through the real `argilla` SDK.

Starts (or reuses) Redis, OpenSearch with k-NN and argilla-server from annotation.stack, then
creates a workspace and a dataset with a vector field, logs records with vectors, and checks a
similar-vector search and a text search. Ends with `down` leaving no process behind, and a warm
`up` again for whoever runs next.
"""

from __future__ import annotations

import json
import math
import stat
import time
import urllib.request

import pytest

from tests.integration.argilla_fixtures import (  # noqa: F401  (pytest fixtures)
    argilla_client,
    argilla_stack,
    argilla_workspace,
)

pytestmark = pytest.mark.integration

DIM = 8


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _local_only(info) -> None:
    if info.external:
        pytest.skip("ARGILLA_API_URL points at a server of its own; the local stack is not used")


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def _cluster_vector(axis: int, jitter: float) -> list[float]:
    vector = [0.02] * DIM
    vector[axis] = 1.0
    vector[(axis + 1) % DIM] = jitter
    return _unit(vector)


# Three topics, each near one axis of the vector space; the texts share no words across topics.
TOPICS = {
    0: [
        "penguins huddle on antarctic ice",
        "emperor penguin chicks wait for fish",
        "a colony of penguins dives together",
        "penguins slide across the frozen shore",
    ],
    2: [
        "the court ruled on the appeal",
        "judges weighed the constitutional question",
        "a jury reached its verdict today",
        "the appeal went to the supreme court",
    ],
    5: [
        "bake the bread at high heat",
        "knead the dough until smooth",
        "sourdough needs a lively starter",
        "let the loaf cool before slicing",
    ],
}


def _records():
    import argilla as rg

    records = []
    for axis, texts in TOPICS.items():
        for i, text in enumerate(texts):
            records.append(
                rg.Record(
                    id=f"t{axis}-{i}",
                    fields={"text": text},
                    vectors={"embedding": _cluster_vector(axis, jitter=0.05 * (i + 1))},
                    metadata={"topic": f"topic{axis}"},
                )
            )
    return records


def test_stack_answers_with_knn_loaded(argilla_stack):
    _local_only(argilla_stack)
    from annotation import stack

    report = stack.status()
    assert report["up"], report
    assert all(s["healthy"] for s in report["services"].values()), report
    plugins = [row["component"] for row in _get_json(f"{argilla_stack.opensearch_url}/_cat/plugins?format=json")]
    assert "org.opensearch.knn.plugin.KNNPlugin" in plugins
    version = _get_json(argilla_stack.opensearch_url)["version"]["number"]
    assert version.startswith("2."), version


def test_up_again_is_fast_and_starts_nothing(argilla_stack):
    _local_only(argilla_stack)
    from annotation import stack

    began = time.monotonic()
    info = stack.up(verbose=False)
    assert info.started == ()
    assert time.monotonic() - began < 15
    assert info.url == argilla_stack.url


def test_owner_credentials_are_private_and_not_logged(argilla_stack):
    _local_only(argilla_stack)
    creds_file = argilla_stack.api_key_file
    assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(argilla_stack.env_file.stat().st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    assert creds["username"] == "argilla" and creds["api_key"] and creds["password"]
    for log in argilla_stack.log_dir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert creds["api_key"] not in text, log
        assert creds["password"] not in text, log


def test_owner_signs_in_with_the_sdk(argilla_client):
    me = argilla_client.me
    assert me.username and str(me.role).endswith("owner")


def test_vectors_similarity_and_text_search(argilla_stack, argilla_client, argilla_workspace):
    import argilla as rg

    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.LabelQuestion(name="ok", labels=["yes", "no"])],
        metadata=[rg.TermsMetadataProperty(name="topic")],
        vectors=[rg.VectorField(name="embedding", dimensions=DIM)],
    )
    dataset = rg.Dataset(
        name="stack-vectors", workspace=argilla_workspace, settings=settings, client=argilla_client
    ).create()
    records = _records()
    dataset.records.log(records)
    assert len(list(dataset.records)) == len(records)

    # similar to a vector near the "court" axis: the four court records come first, best first
    query = rg.Query(similar=rg.Similar(name="embedding", value=_cluster_vector(2, jitter=0.0)))
    hits = list(dataset.records(query=query, limit=6))
    ids = [record.id for record, _score in hits]
    scores = [score for _record, score in hits]
    assert set(ids[:4]) == {f"t2-{i}" for i in range(4)}, ids
    assert ids[0] == "t2-0", ids  # the smallest jitter is the nearest
    assert scores == sorted(scores, reverse=True)
    assert scores[3] > scores[4]

    # similar to a stored record (its own vector): its topic mates follow it
    anchor = list(dataset.records(query=rg.Query(query="sourdough"), with_vectors=True))
    assert [r.id for r in anchor] == ["t5-2"]
    hits = list(dataset.records(query=rg.Query(similar=rg.Similar(name="embedding", value=anchor[0])), limit=3))
    assert {record.id for record, _ in hits} <= {f"t5-{i}" for i in range(4)}, hits

    # full-text search over the text field
    found = {record.id for record in dataset.records(query=rg.Query(query="penguins"))}
    assert found == {"t0-0", "t0-2", "t0-3"}, found
    found = {record.id for record in dataset.records(query=rg.Query(query="appeal"))}
    assert found == {"t2-0", "t2-3"}, found

    # a metadata filter goes through the search engine as well
    filtered = rg.Query(filter=rg.Filter(("metadata.topic", "==", "topic5")))
    assert {record.id for record in dataset.records(query=filtered)} == {f"t5-{i}" for i in range(4)}

    if not argilla_stack.external:
        # the records index holds real Lucene HNSW vectors
        index = f"rg.{dataset.id}"
        mapping = _get_json(f"{argilla_stack.opensearch_url}/{index}/_mapping")[index]["mappings"]
        vectors = mapping["properties"]["vectors"]["properties"]
        (vector_mapping,) = vectors.values()
        assert vector_mapping["type"] == "knn_vector"
        assert vector_mapping["dimension"] == DIM
        assert vector_mapping["method"]["engine"] == "lucene"
        assert vector_mapping["method"]["name"] == "hnsw"


def test_down_leaves_no_process_then_up_again(argilla_stack):
    """Runs last in this module: stops the stack, checks with ps, and starts it again (warm)."""
    _local_only(argilla_stack)
    import subprocess

    from annotation import stack
    from annotation.stack.process import group_members

    pids = {name: s["pid"] for name, s in stack.status()["services"].items()}
    assert all(pids.values()), pids
    members = {pid: group_members(pid) for pid in pids.values()}
    assert len(members[pids["argilla-worker"]]) >= 2  # the worker pool forks its workers

    stopped = stack.down(verbose=False)
    assert set(stopped) == set(pids)
    for pgid in pids.values():
        assert group_members(pgid) == [], pgid
    ps = subprocess.run(["ps", "-eo", "pid,stat,args"], capture_output=True, text=True).stdout
    from annotation.stack.config import StackConfig

    data_dir = str(argilla_stack.data_dir)
    # this stack's Redis only: another stack (a developer's, on other ports) may run beside it
    redis = f"redis-server 127.0.0.1:{StackConfig.from_env(data_dir).redis_port}"
    leftovers = [
        line for line in ps.splitlines() if (data_dir in line or line.rstrip().endswith(redis)) and " Z" not in line
    ]
    assert leftovers == [], leftovers
    assert not stack.status()["up"]

    began = time.monotonic()
    info = stack.up(verbose=False)
    warm = time.monotonic() - began
    print(f"warm start after down: {warm:.1f}s")
    assert set(info.started) == set(pids)
    assert warm < 90
