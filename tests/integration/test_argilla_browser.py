"""One annotator in a real browser: headless Chromium (Debian's package, driven by Playwright)
signs in to the Argilla UI, opens the pushed dataset, answers the record shown and submits, and
`pull` sees that response.

Skips with the reason when Playwright or Chromium is missing and Chromium cannot be installed
(`apt-get install -y chromium`, tried when running as root). Screenshots of each stage are kept
in the test's tmp folder (their paths are printed).
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.integration.argilla_fixtures import argilla_client, argilla_stack, argilla_workspace  # noqa: F401
from tests.integration.browser_fixtures import browser, flat, shown, sign_in  # noqa: F401
from tests.integration.review_fixtures import annotator_names, annotators, review_runs  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def wait_for_submitted(client, dataset_id: str, seconds: float = 90) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        items = client.api.http_client.get(
            f"/api/v1/datasets/{dataset_id}/records", params={"include": "responses"}
        ).json()["items"]
        if any(r["status"] == "submitted" for item in items for r in item["responses"]):
            return
        time.sleep(0.5)
    raise AssertionError("the UI's submission never reached the server")


def test_annotator_submits_in_the_ui_and_pull_sees_it(
    browser, argilla_stack, argilla_client, argilla_workspace, annotators, review_runs, tmp_path
):
    from annotation.pull import pull
    from annotation.push import ReviewOptions, push

    run = review_runs["preferences"]
    ws = argilla_workspace.name
    pushed = push(
        run, "prompts", ws, ReviewOptions(vectors=False, min_submitted=1), client=argilla_client, progress=False
    )
    ann1, _ = annotators(ws)
    shots = []

    page = sign_in(browser, argilla_stack.url, ann1)
    page.get_by_text(pushed.dataset, exact=True).first.wait_for()
    shots.append(tmp_path / "1-home.png")
    page.screenshot(path=shots[-1])

    page.get_by_text(pushed.dataset, exact=True).first.click()
    page.wait_for_url("**/annotation-mode**")
    question = page.locator('[aria-label="Question: usable"]')
    question.get_by_text("Is this a usable prompt?").wait_for()
    prompt = page.locator(".content-area").first.inner_text().strip()
    shots.append(tmp_path / "2-record.png")
    page.screenshot(path=shots[-1])

    question.get_by_text("no", exact=True).click()
    page.locator('[aria-label="Question: note"] [contenteditable="true"]').fill("asks for personal advice")
    page.get_by_role("button", name="Submit").click()
    wait_for_submitted(argilla_client, pushed.dataset_id)
    page.locator(".content-area").first.wait_for()
    shots.append(tmp_path / "3-submitted.png")
    page.screenshot(path=shots[-1])
    print("screenshots:", *shots)
    assert all(s.stat().st_size > 10_000 for s in shots)  # rendered pages, not blank ones

    prompts = pl.read_parquet(run / "data" / "prompts" / "*.parquet")
    # the page shows the prompt as written, tags included (field text is escaped for the UI's HTML);
    # only runs of whitespace may differ (the browser's innerText of a pre-wrap block)
    (record_id,) = [r for r, p in prompts.select("record_id", "prompt").iter_rows() if p.split() == prompt.split()]
    pulled = pull(run, ws, configs=["prompts"], client=argilla_client, output=tmp_path / "reviewed")
    assert pulled.reviews[0].status["resolved"] == 1
    out = pl.read_parquet(tmp_path / "reviewed" / "data" / "prompts" / "*.parquet")
    review = out.filter(pl.col("record_id") == record_id)["review"].to_list()[0]
    assert review["status"] == "resolved" and review["annotators"] == [ann1.username]
    payload = json.loads(review["responses"])
    assert payload["submitted"] == [
        {"annotator": ann1.username, "values": {"usable": "no", "note": "asks for personal advice"}}
    ]
    assert payload["resolution"] == {"usable": "no", "note": ["asks for personal advice"]}


def test_the_printed_link_opens_the_queue_in_review_priority_order(
    browser, argilla_stack, argilla_client, argilla_workspace, annotators, review_runs, tmp_path
):
    """Argilla 2.8 lists an annotator's pending records in an order shuffled per user; the link
    `curate review push` prints carries the UI's own sort parameter, so the queue opens with
    `review_priority` 0, then 1, ... (each discarded record makes way for the next)."""
    from annotation.push import ReviewOptions, push

    run = review_runs["translate"]
    ws = argilla_workspace.name
    pushed = push(
        run, "translations", ws, ReviewOptions(vectors=False, min_submitted=1), client=argilla_client, progress=False
    )
    assert (
        pushed.url
        == f"{argilla_stack.url}/dataset/{pushed.dataset_id}/annotation-mode?sort=metadata.review_priority.asc"
    )
    frame = pl.read_parquet(run / "data" / "translations" / "*.parquet").sort("review_priority")
    assert frame.height >= 3
    situations = dict(frame.select("record_id", "situation").iter_rows())
    ann1, _ = annotators(ws)
    unsorted = [
        item["record"]["external_id"]
        for item in ann1.http.post(
            f"/api/v1/me/datasets/{pushed.dataset_id}/records/search", json={"query": {}}, params={"limit": 1000}
        ).json()["items"]
    ]
    print(
        "the server's unsorted queue for",
        ann1.username,
        unsorted,
        "; by review_priority:",
        frame["record_id"].to_list(),
    )

    page = sign_in(browser, argilla_stack.url, ann1)
    page.goto(pushed.url)
    seen = []
    for _ in range(3):
        seen.append(shown(page, situations))
        page.screenshot(path=tmp_path / f"priority-{len(seen)}.png")
        page.get_by_role("button", name="Discard").click()
        page.wait_for_function(
            "([old]) => !document.body.innerText.replace(/\\s+/g, ' ').includes(old)",
            arg=[flat(situations[seen[-1]])[:80]],
        )
    assert seen == frame["record_id"].to_list()[:3], (seen, frame.select("record_id", "review_priority").rows())
