"""The review flows against a real Argilla server: push, annotate through the API as two
annotators, pull with agreement and resolution, publish, re-push without duplicates, workspace
isolation, and a push killed half way then rerun.

Data: real outputs of the translate and preferences recipes (review_fixtures.review_runs).
Agreement is checked against `krippendorff.alpha` on reliability matrices the tests build from
the answers they submitted, not from what pull read back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import krippendorff
import numpy as np
import polars as pl
import pytest

from tests.conftest import all_splits, curate_bin
from tests.integration.argilla_fixtures import argilla_client, argilla_stack, argilla_workspace  # noqa: F401
from tests.integration.review_fixtures import (  # noqa: F401
    all_recipe_runs,
    annotator_names,
    annotators,
    review_runs,
    users_file,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

NAN = np.nan


def record_ids(run, config: str) -> list[str]:
    return sorted(pl.read_parquet(run / "data" / config / "*.parquet")["record_id"].to_list())


def server_records(client, dataset_id: str) -> list[dict]:
    response = client.api.http_client.get(
        f"/api/v1/datasets/{dataset_id}/records",
        params={"include": ["responses", "suggestions", "vectors"], "limit": 1000},
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def matrix(plan: dict[str, dict[str, dict]], question: str, units: list[str], code=lambda v: v) -> list[list[float]]:
    """raters x units for one question, from the answers the test submitted."""
    return [
        [code(plan[a][u][question]) if u in plan[a] and question in plan[a][u] else NAN for u in units]
        for a in sorted(plan)
    ]


# -- push, annotate, pull ----------------------------------------------------------------------


def test_push_annotate_pull_publish_and_repush(
    argilla_client, argilla_workspace, annotators, review_runs, tmp_path, hf_cache
):
    from annotation.pull import pull
    from annotation.push import ReviewOptions, push
    from pipelines.engine.publish import load_version

    run = review_runs["translate"]
    ws = argilla_workspace.name
    result = push(run, "translations", ws, ReviewOptions(), client=argilla_client, progress=False)
    ids = record_ids(run, "translations")
    assert (result.records, result.created, result.updated, result.vectors) == (len(ids), len(ids), 0, 384)

    # what the server holds: our ids, settings of the translation type, the model's suggestion, vectors
    dataset = argilla_client.datasets(result.dataset, workspace=ws)
    assert dataset.distribution.min_submitted == 2
    kinds = {q.name: type(q).__name__ for q in dataset.settings.questions}
    assert kinds == {
        "meaning": "RatingQuestion",
        "fluency": "RatingQuestion",
        "names": "LabelQuestion",
        "correction": "TextQuestion",
    }
    assert {"source", "language", "llm_model", "text_length", "review_priority", "confidence"} <= {
        m.name for m in dataset.settings.metadata
    }
    records = server_records(argilla_client, result.dataset_id)
    assert sorted(r["external_id"] for r in records) == ids
    first = records[0]
    assert first["metadata"]["llm_model"] == ["scripted-model"] and first["metadata"]["language"] == "fr"
    (suggestion,) = first["suggestions"]
    assert suggestion["agent"] == "scripted-model" and suggestion["type"] == "model"
    assert len(first["vectors"]["embedding"]) == 384

    # two annotators, signed in with their passwords, answer through the API
    ann1, ann2 = annotators(ws)
    r = ids
    plan = {
        ann1.username: {
            r[0]: dict(meaning=5, fluency=4, names="ok"),
            r[1]: dict(meaning=4, fluency=4, names="ok"),
            r[2]: dict(meaning=3, fluency=3, names="wrong", correction="la version corrigée"),
            r[3]: dict(meaning=5, fluency=5, names="ok"),
            r[4]: dict(meaning=2, fluency=2, names="ok"),
            r[5]: dict(meaning=4, fluency=3, names="not_applicable"),
        },
        ann2.username: {
            r[0]: dict(meaning=5, fluency=4, names="ok"),
            r[1]: dict(meaning=3, fluency=4, names="wrong"),
            r[2]: dict(meaning=3, fluency=2, names="wrong", correction="une autre version"),
            r[3]: dict(meaning=4, fluency=5, names="ok"),
        },
    }
    # ann1 submits r0 with the correction box as the UI pre-fills it: the model's translation, untouched
    untouched = next(rec for rec in records if rec["external_id"] == r[0])["suggestions"][0]["value"]
    plan[ann1.username][r[0]]["correction"] = untouched
    for annotator in (ann1, ann2):
        dataset_id = annotator.datasets()[result.dataset]
        given = annotator.records(dataset_id)
        assert set(given) == set(ids)  # min_submitted=2: everyone is given every record
        for record, values in plan[annotator.username].items():
            annotator.respond(given[record], values)
    ann2.respond(ann2.records(result.dataset_id)[r[4]], {}, status="discarded")
    ann2.respond(ann2.records(result.dataset_id)[r[5]], {"meaning": 1}, status="draft")  # drafts do not count

    repo = tmp_path / "repo"
    pulled = pull(run, ws, client=argilla_client, output=tmp_path / "reviewed", publish_to=str(repo))
    (review,) = pulled.reviews
    assert review.status == {"resolved": 3, "submitted": 3, "discarded": 0, "pending": 0}
    assert review.annotators == 2
    questions = {q["question"]: q for q in review.questions}

    # agreement equals krippendorff on the answers as submitted
    units = ids[:5]
    expected_meaning = {
        lvl: krippendorff.alpha(
            reliability_data=matrix(plan, "meaning", units), value_domain=[1, 2, 3, 4, 5], level_of_measurement=lvl
        )
        for lvl in ("ordinal", "interval")
    }
    assert questions["meaning"]["alpha"] == pytest.approx(expected_meaning)
    codes = {"ok": 0, "wrong": 1, "not_applicable": 2}
    expected_names = krippendorff.alpha(
        reliability_data=matrix(plan, "names", units, codes.get), value_domain=[0, 1, 2], level_of_measurement="nominal"
    )
    assert questions["names"]["alpha"]["nominal"] == pytest.approx(expected_names)
    assert questions["meaning"]["unanimous"] == pytest.approx(1 / 2)  # r0, r1, r2, r3 answered twice; r0 and r2 agree
    assert questions["fluency"]["unanimous"] == pytest.approx(3 / 4)
    assert questions["meaning"]["records_multi"] == 4

    # resolution in the record envelope
    out = pl.read_parquet(tmp_path / "reviewed" / "data" / "translations" / "*.parquet")
    reviews = {row["record_id"]: row["review"] for row in out.iter_rows(named=True)}
    assert reviews[r[0]]["status"] == "resolved" and reviews[r[0]]["agreement"] == 1.0
    # the untouched suggestion is recorded as accepted, not as a human correction
    first_row = out.filter(pl.col("record_id") == r[0]).row(0, named=True)
    assert json.loads(reviews[r[0]]["responses"])["accepted_suggestion"] == {"correction": [ann1.username]}
    assert first_row["human_correction"] is None
    assert [(a["annotator"], a["accepted_suggestion"]) for a in first_row["human_correction_answers"]] == [
        (ann1.username, True)
    ]
    assert reviews[r[1]]["status"] == "submitted"  # names tied: ok vs wrong
    assert json.loads(reviews[r[1]]["responses"])["ties"] == ["names"]
    resolved = json.loads(reviews[r[2]]["responses"])
    assert reviews[r[2]]["status"] == "resolved"
    assert resolved["resolution"] == {
        "meaning": 3.0,
        "fluency": 2.5,
        "names": "wrong",
        "correction": ["la version corrigée", "une autre version"],
    }
    assert sorted(reviews[r[2]]["annotators"]) == sorted(plan)
    assert reviews[r[3]]["status"] == "resolved"  # meaning 5 vs 4: the mean; no tie
    assert json.loads(reviews[r[3]]["responses"])["resolution"]["meaning"] == 4.5
    assert reviews[r[4]]["status"] == "submitted"  # one submitted, one discarded: below min_submitted
    assert json.loads(reviews[r[4]]["responses"])["discarded"] == [ann2.username]
    assert reviews[r[5]]["annotators"] == [ann1.username] and reviews[r[5]]["status"] == "submitted"

    # a new version whose card reports the agreement, readable with load_dataset
    card = (repo / "README.md").read_text()
    assert f"{expected_meaning['ordinal']:.3f} (ordinal)" in card and "Krippendorff" in card
    published = all_splits(load_version(repo, "translations", "1.0.0", cache_dir=hf_cache))
    statuses = sorted(row["status"] for row in published["review"])
    assert statuses == ["resolved"] * 3 + ["submitted"] * 3

    # pushing again updates: no duplicates, and the annotators' responses stay
    again = push(run, "translations", ws, ReviewOptions(), client=argilla_client, progress=False)
    assert (again.created, again.updated) == (0, len(ids))
    records = server_records(argilla_client, result.dataset_id)
    assert sorted(r["external_id"] for r in records) == ids
    assert sum(1 for rec in records for resp in rec["responses"] if resp["status"] == "submitted") == 10


def test_ranking_agreement_and_mean_rank_resolution(
    argilla_stack, argilla_client, argilla_workspace, annotators, review_runs, tmp_path
):
    from annotation.push import ReviewOptions, push

    run = review_runs["preferences"]
    ws = argilla_workspace.name
    result = push(
        run, "pairs", ws, ReviewOptions(vectors=False, min_submitted=2), client=argilla_client, progress=False
    )
    ids = record_ids(run, "pairs")[:4]
    dataset = argilla_client.datasets(result.dataset, workspace=ws)
    (ranking,) = [q for q in dataset.settings.questions if q.name == "ranking"]
    values = list(ranking.values)
    assert len(values) >= 2 and type(ranking).__name__ == "RankingQuestion"
    suggested = server_records(argilla_client, result.dataset_id)[0]["suggestions"]
    assert suggested and suggested[0]["agent"] == "scripted-model"

    def order(*picks):
        return [{"value": values[i], "rank": n + 1} for n, i in enumerate(picks)] + [
            {"value": v, "rank": len(picks) + 1 + k}
            for k, v in enumerate(v for j, v in enumerate(values) if j not in picks)
        ]

    ann1, ann2 = annotators(ws)
    plan = {
        ann1.username: {ids[0]: order(0, 1), ids[1]: order(1, 0), ids[2]: order(0, 1), ids[3]: order(1, 0)},
        ann2.username: {ids[0]: order(0, 1), ids[1]: order(0, 1), ids[2]: order(0, 1), ids[3]: order(0, 1)},
    }
    for annotator in (ann1, ann2):
        given = annotator.records(annotator.datasets()[result.dataset])
        for record, ranks in plan[annotator.username].items():
            annotator.respond(given[record], {"ranking": ranks})

    # through the command line this time; the numbers come back in the report's facts
    proc = subprocess.run(
        [
            str(curate_bin()),
            "review",
            "pull",
            str(run),
            "--workspace",
            ws,
            "--config",
            "pairs",
            "--output",
            str(tmp_path / "reviewed"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=curate_env(argilla_stack),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # ids[1] and ids[3] were ranked both ways (mean ranks 1.5 / 1.5): a tie, not a resolution
    assert "pairs (preferences-pairs): " in proc.stdout and "resolved=2" in proc.stdout, proc.stdout
    facts = json.loads((tmp_path / "reviewed" / "report.json").read_text())["facts"]["review"]
    question = {q["question"]: q for q in facts[0]["questions"]}["ranking"]
    units = [(rec, v) for rec in sorted(ids) for v in values]
    reference = [[next(x["rank"] for x in plan[a][rec] if x["value"] == v) for rec, v in units] for a in sorted(plan)]
    expected = krippendorff.alpha(
        reliability_data=reference, value_domain=list(range(1, len(values) + 1)), level_of_measurement="ordinal"
    )
    assert question["alpha"]["ordinal"] == pytest.approx(expected)
    assert question["unanimous"] == pytest.approx(2 / 4)
    out = pl.read_parquet(tmp_path / "reviewed" / "data" / "pairs" / "*.parquet")
    review = {row["record_id"]: row["review"] for row in out.iter_rows(named=True)}
    top = json.loads(review[ids[1]]["responses"])["resolution"]["ranking"]
    assert [(x["value"], x["rank"]) for x in top][:2] == [(values[0], 1), (values[1], 1)]  # 1.5 vs 1.5: shared
    top = json.loads(review[ids[0]]["responses"])["resolution"]["ranking"]
    assert [(x["value"], x["rank"]) for x in top][:2] == [(values[0], 1), (values[1], 2)]
    assert [review[i]["status"] for i in ids] == ["resolved", "submitted", "resolved", "submitted"]
    assert json.loads(review[ids[1]]["responses"])["ties"] == ["ranking"]


# -- users and workspaces ----------------------------------------------------------------------


def curate_env(argilla_stack) -> dict:
    return {**os.environ, **argilla_stack.client_env()}


def test_users_file_and_workspace_isolation(argilla_stack, argilla_client, argilla_workspace, review_runs, tmp_path):
    import argilla as rg

    from annotation.push import ReviewOptions, ensure_workspace, push
    from tests.integration.review_fixtures import Annotator

    other = ensure_workspace(argilla_client, f"test-{uuid.uuid4().hex[:10]}")
    tag = uuid.uuid4().hex[:6]
    ann1, ann2 = f"iso-{tag}-1", f"iso-{tag}-2"
    try:
        team = users_file(tmp_path / "team.json", {ann1: [argilla_workspace.name], ann2: [other.name]})
        creds = tmp_path / "team.credentials.json"
        command = [str(curate_bin()), "review", "users", str(team), "--credentials", str(creds)]
        made = subprocess.run(command, capture_output=True, text=True, timeout=300, env=curate_env(argilla_stack))
        assert made.returncode == 0, made.stderr[-2000:]
        assert f"users created: {ann1}, {ann2}" in made.stdout, made.stdout
        secrets = json.loads(creds.read_text())
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        assert all(s["password"] not in made.stdout + made.stderr for s in secrets.values())
        again = subprocess.run(command, capture_output=True, text=True, timeout=300, env=curate_env(argilla_stack))
        assert again.returncode == 0 and "users created: -" in again.stdout, again.stdout + again.stderr

        mine = push(
            review_runs["preferences"],
            "prompts",
            argilla_workspace.name,
            ReviewOptions(vectors=False),
            client=argilla_client,
            progress=False,
        )
        theirs = push(
            review_runs["preferences"],
            "personas",
            other.name,
            ReviewOptions(vectors=False),
            client=argilla_client,
            progress=False,
        )

        first = Annotator(argilla_stack.url, ann1, secrets[ann1]["password"])
        workspaces = {w["name"] for w in first.http.get("/api/v1/me/workspaces").json()["items"]}
        assert workspaces == {argilla_workspace.name}
        assert set(first.datasets()) == {mine.dataset}
        assert first.http.get(f"/api/v1/datasets/{theirs.dataset_id}").status_code == 403
        assert (
            first.http.post(f"/api/v1/me/datasets/{theirs.dataset_id}/records/search", json={"query": {}}).status_code
            == 403
        )
        assert first.http.get(f"/api/v1/datasets/{theirs.dataset_id}/records").status_code == 403
        record = server_records(argilla_client, theirs.dataset_id)[0]["id"]
        answer = first.http.post(
            f"/api/v1/records/{record}/responses",
            json={"values": {"realism": {"value": 3}, "consistent": {"value": "yes"}}, "status": "submitted"},
        )
        assert answer.status_code == 403
        # the same through the SDK, with the API key of the annotator's own account
        as_ann1 = rg.Argilla(api_url=argilla_stack.url, api_key=secrets[ann1]["api_key"])
        assert [d.name for d in as_ann1.datasets] == [mine.dataset]
        second = Annotator(argilla_stack.url, ann2, secrets[ann2]["password"])
        assert set(second.datasets()) == {theirs.dataset}
    finally:
        for dataset in list(other.datasets):
            dataset.delete()
        other.delete()
        http = argilla_client.api.http_client
        for user in http.get("/api/v1/users").json()["items"]:
            if user["username"] in (ann1, ann2):
                http.delete(f"/api/v1/users/{user['id']}")


# -- a push killed half way --------------------------------------------------------------------


def test_push_killed_half_way_then_rerun_completes_without_duplicates(
    argilla_stack, argilla_client, argilla_workspace, review_runs, tmp_path
):
    run = review_runs["translate"]
    ids = record_ids(run, "translations")
    name = f"killed-{uuid.uuid4().hex[:6]}"
    args = [
        str(curate_bin()),
        "review",
        "push",
        str(run),
        "--config",
        "translations",
        "--workspace",
        argilla_workspace.name,
        "--name",
        name,
        "--batch-size",
        "2",
    ]
    # first, a creation that died before publishing: a draft dataset of that name, without settings
    draft = argilla_client.api.http_client.post(
        "/api/v1/datasets", json={"name": name, "workspace_id": str(argilla_workspace.id)}
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft", draft.text
    marker = tmp_path / "paused"
    env = {
        **curate_env(argilla_stack),
        "CURATE_FAULT_PAUSE_AT": "review-push:batch:2",
        "CURATE_FAULT_FILE": str(marker),
    }
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the push never reached its second batch"
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)

    dataset = argilla_client.datasets(name, workspace=argilla_workspace.name)
    half = server_records(argilla_client, str(dataset.id))
    assert len(half) == 4  # two batches of two went in before the kill

    done = subprocess.run(args, env=curate_stack_env(argilla_stack), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"pushed {len(ids)} records" in done.stdout and f"{len(ids) - 4} new, 4 updated" in done.stdout, done.stdout
    records = server_records(argilla_client, str(dataset.id))
    assert sorted(r["external_id"] for r in records) == ids
    assert {r["id"] for r in records} >= {r["id"] for r in half}  # the first four are the same records, updated
    assert str(dataset.id) != draft.json()["id"]  # the draft was made again, with the settings


def curate_stack_env(argilla_stack) -> dict:
    env = curate_env(argilla_stack)
    env.pop("CURATE_FAULT_PAUSE_AT", None)
    return env


# -- every record type -------------------------------------------------------------------------


def test_every_record_type_pushes_with_its_settings(argilla_client, argilla_workspace, all_recipe_runs):
    """Each recipe's review spec against the server's own validation, on real recipe output."""
    from annotation.push import ReviewOptions, push
    from annotation.settings import review_specs

    for recipe, config in sorted(review_specs()):
        run = all_recipe_runs[recipe]
        if not (run / "data" / config).is_dir():
            continue  # expand's items config is personality's type too; every config of a demo run is here
        result = push(run, config, argilla_workspace.name, ReviewOptions(), client=argilla_client, progress=False)
        frame = pl.read_parquet(run / "data" / config / "*.parquet")
        assert (result.records, result.created) == (frame.height, frame.height), (recipe, config)
        dataset = argilla_client.datasets(result.dataset, workspace=argilla_workspace.name)
        records = server_records(argilla_client, result.dataset_id)
        assert len(records) == frame.height
        meta = {m.name for m in dataset.settings.metadata}
        for record in records[:20]:
            assert record["fields"] and set(record["metadata"]) <= meta, (recipe, config, record["metadata"])
        assert {"source", "language", "text_length"} <= meta, (recipe, config, meta)
        if result.vectors:
            assert sum(1 for r in records if r.get("vectors")) > 0, (recipe, config)
        print(f"{recipe}/{config}: {frame.height} records, {len(meta)} metadata, vectors {result.vectors}")


def test_curate_argilla_wraps_the_stack(argilla_stack):
    if argilla_stack.external:
        pytest.skip("ARGILLA_API_URL points at a server of its own; the local stack is not used")
    env = {k: v for k, v in os.environ.items() if k not in ("ARGILLA_API_URL", "ARGILLA_API_KEY")}
    status = subprocess.run(
        [str(curate_bin()), "argilla", "status"], capture_output=True, text=True, timeout=120, env=env
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"{argilla_stack.url}  up" in status.stdout and "argilla-server" in status.stdout
    up = subprocess.run([str(curate_bin()), "argilla", "up"], capture_output=True, text=True, timeout=300, env=env)
    assert up.returncode == 0 and up.stdout.strip() == argilla_stack.url, up.stdout + up.stderr
    assert "already running" in up.stderr and "argilla-owner.json" in up.stderr
