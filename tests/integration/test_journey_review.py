"""Journey 3, with the README's commands and relative paths: push preference pairs to Argilla, two
annotators answer through the API and a third in a real browser (the link `push` prints), pull and
publish, and `load_version` shows the human columns and the pairs the humans chose. Also: what annotators must not see is hidden, and the queue opens in
`review_priority` order."""

from __future__ import annotations

import os
import shutil
import subprocess

import polars as pl
import pytest

from tests.conftest import all_splits, curate_bin
from tests.integration.argilla_fixtures import argilla_client, argilla_stack, argilla_workspace  # noqa: F401
from tests.integration.browser_fixtures import browser, sign_in  # noqa: F401
from tests.integration.review_fixtures import (  # noqa: F401
    all_recipe_runs,
    annotator_names,
    annotators,
    review_runs,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def curate(cwd, env, *args):
    proc = subprocess.run([str(curate_bin()), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def test_review_journey_human_columns_and_human_chosen_pairs(
    argilla_stack, argilla_client, argilla_workspace, annotators, review_runs, browser, tmp_path, hf_cache
):
    from pipelines.engine.publish import load_version

    work = tmp_path / "project"
    shutil.copytree(review_runs["preferences"], work / "out" / "preferences")
    env = {**os.environ, **argilla_stack.client_env()}
    ws = argilla_workspace.name
    curate(work, env, "publish", "out/preferences", "--repo", "datasets/prefs", "--version", "1.0.0")
    pushed = curate(
        work, env, "review", "push", "out/preferences", "--config", "pairs", "--workspace", ws, "--no-vectors"
    )
    (link,) = [
        line.split("annotators open: ", 1)[1] for line in pushed.stdout.splitlines() if "annotators open: " in line
    ]

    pairs = pl.read_parquet(work / "out" / "preferences" / "data" / "pairs" / "*.parquet").sort("record_id")
    assert pairs.height >= 3
    rows = list(pairs.iter_rows(named=True))
    ann1, ann2, ann3 = annotators(ws, count=3)
    dataset_id = ann1.datasets()["preferences-pairs"]
    n = max(len(r["candidates"]) for r in rows)
    values = [f"candidate_{i + 1}" for i in range(n)]

    def order(best: int) -> list[dict]:  # `best` first, the others after in their order
        rest = [v for i, v in enumerate(values) if i != best]
        return [{"value": values[best], "rank": 1}] + [{"value": v, "rank": k + 2} for k, v in enumerate(rest)]

    def model_best(row) -> int:
        return next(i for i, c in enumerate(row["candidates"]) if c["text"] == row["chosen"])

    agree, split = rows[0], rows[1]
    other = (model_best(agree) + 1) % len(agree["candidates"])  # both humans prefer what the judge did not
    plan = [
        (ann1, {agree["record_id"]: order(other), split["record_id"]: order(0)}),
        (ann2, {agree["record_id"]: order(other), split["record_id"]: order(1)}),
    ]
    for annotator, answers in plan:
        given = annotator.records(dataset_id)
        for record_id, ranking in answers.items():
            annotator.respond(given[record_id], {"ranking": ranking})

    # the third annotator in the browser: the link opens their queue; the records two people submitted
    # are complete (min_submitted 2) and left it, so the UI shows one of the others, the judge's ranking
    # suggested. They reverse the suggested order with the keyboard (focus a candidate, press its rank:
    # the UI's own shortcut), submit, and the first annotator agrees through the API.
    page = sign_in(browser, argilla_stack.url, ann3)
    page.goto(link)
    page.get_by_text("Rank the answers as this persona would").first.wait_for()
    page.screenshot(path=tmp_path / "journey-browser-1.png")
    question = page.locator('[aria-label="Question: ranking"]')
    suggested = question.locator('[tabindex="0"][id^="candidate_"]').evaluate_all("els => els.map(e => e.id)")
    assert sorted(suggested) == values and len(suggested) >= 2, suggested  # in slot order, best first
    target = list(reversed(suggested))
    for rank, value in enumerate(target, start=1):
        question.locator(f'[id="{value}"]').focus()
        page.keyboard.press(str(rank))
        page.wait_for_timeout(500)  # the component takes a rank's digits for 300 ms, then refocuses
    page.screenshot(path=tmp_path / "journey-browser-2.png")
    page.get_by_role("button", name="Submit").click()
    in_browser = wait_for_response(argilla_client, dataset_id, ann3)
    print("screenshots:", tmp_path / "journey-browser-1.png", tmp_path / "journey-browser-2.png")
    assert in_browser["external_id"] not in (agree["record_id"], split["record_id"])
    browser_ranking = in_browser["values"]["ranking"]["value"]
    assert sorted(browser_ranking, key=lambda x: x["rank"]) == [
        {"value": v, "rank": k} for k, v in enumerate(target, start=1)
    ], browser_ranking
    ann1.respond(ann1.records(dataset_id)[in_browser["external_id"]], {"ranking": browser_ranking})

    proc = curate(
        work,
        env,
        "review",
        "pull",
        "out/preferences",
        "--workspace",
        ws,
        "--config",
        "pairs",
        "--publish-to",
        "datasets/prefs",
    )
    assert "1.1.0" in proc.stdout, proc.stdout
    out = all_splits(load_version(work / "datasets" / "prefs", "pairs", "1.1.0", cache_dir=hf_cache))
    for column in (
        "human_ranking",
        "human_ranking_answers",
        "human_ranking_agreement",
        "human_ranking_tie",
        "model_chosen",
        "model_rejected",
        "preference_source",
    ):
        assert column in out.column_names, out.column_names
    got = {r["record_id"]: r for r in out}
    a = got[agree["record_id"]]
    assert a["preference_source"] == "human" and a["human_ranking_agreement"] == 1.0 and a["human_ranking_tie"] is False
    assert a["chosen"] == agree["candidates"][other]["text"] != a["model_chosen"] == agree["chosen"]
    assert sorted(x["annotator"] for x in a["human_ranking_answers"]) == sorted([ann1.username, ann2.username])
    s = got[split["record_id"]]
    assert s["human_ranking_tie"] is True and s["preference_source"] == "human_tie" and s["chosen"] == split["chosen"]
    b = got[in_browser["external_id"]]
    assert sorted(x["annotator"] for x in b["human_ranking_answers"]) == sorted([ann1.username, ann3.username])
    best = next(x["value"] for x in browser_ranking if x["rank"] == 1)
    row_b = next(r for r in rows if r["record_id"] == in_browser["external_id"])
    assert b["preference_source"] == "human" and b["human_ranking_agreement"] == 1.0
    assert b["chosen"] == row_b["candidates"][int(best.split("_")[1]) - 1]["text"]
    assert b["chosen"] != b["model_chosen"] == row_b["chosen"]  # the browser's choice overrode the judge's
    for r in rows:
        if r["record_id"] not in (agree["record_id"], split["record_id"], in_browser["external_id"]):
            untouched = got[r["record_id"]]
            assert untouched["preference_source"] == "model" and untouched["human_ranking_answers"] is None
    card = (work / "datasets" / "prefs" / "README.md").read_text()
    assert "`human_ranking_answers`" in card


def wait_for_response(client, dataset_id: str, annotator, seconds: float = 90) -> dict:
    """The record the annotator's browser submitted, read as the owner: external_id and values."""
    import time

    user_id = annotator.http.get("/api/v1/me").json()["id"]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        items = client.api.http_client.get(
            f"/api/v1/datasets/{dataset_id}/records", params={"include": "responses", "limit": 1000}
        ).json()["items"]
        for item in items:
            for r in item["responses"]:
                if r["user_id"] == user_id and r["status"] == "submitted":
                    return {"external_id": item["external_id"], "values": r["values"]}
        time.sleep(0.5)
    raise AssertionError("the browser's submission never reached the server")


def test_annotators_do_not_see_the_community_verdict(argilla_client, argilla_workspace, all_recipe_runs):
    from annotation.push import ReviewOptions, push

    result = push(
        all_recipe_runs["norms"],
        "situations",
        argilla_workspace.name,
        ReviewOptions(vectors=False),
        client=argilla_client,
        progress=False,
    )
    dataset = argilla_client.datasets(result.dataset, workspace=argilla_workspace.name)
    meta = {m.name: m for m in dataset.settings.metadata}
    assert meta["community_judgment"].visible_for_annotators is False
    assert meta["subreddit"].visible_for_annotators is True
    assert dataset.settings.guidelines.startswith("# Judging everyday situations")


def test_the_queue_sorts_by_review_priority(argilla_client, argilla_workspace, annotators, review_runs):
    """Argilla 2.8 shuffles each annotator's queue (a random score seeded by the user) unless the
    request sorts, so priority order is a sort on the `review_priority` metadata: what the UI's
    Sort menu sends, checked here as the annotator."""
    from annotation.push import ReviewOptions, push

    run = review_runs["translate"]
    result = push(
        run, "translations", argilla_workspace.name, ReviewOptions(vectors=False), client=argilla_client, progress=False
    )
    frame = pl.read_parquet(run / "data" / "translations" / "*.parquet")
    expected = frame.sort("review_priority")["record_id"].to_list()
    (ann, _) = annotators(argilla_workspace.name)
    sort = [{"scope": {"entity": "metadata", "metadata_property": "review_priority"}, "order": "asc"}]
    response = ann.http.post(
        f"/api/v1/me/datasets/{result.dataset_id}/records/search",
        json={"query": {}, "sort": sort},
        params={"limit": 1000},
    )
    assert response.status_code == 200, response.text
    shown = [item["record"]["external_id"] for item in response.json()["items"]]
    assert shown == expected
