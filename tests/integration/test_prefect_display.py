"""What a Prefect user sees of a run: a rerun's steps served from the step cache are task runs in
Prefect's cache-hit state (Completed, named "Cached"), read back from the real API the flow reported to."""

from __future__ import annotations

import asyncio

import pytest

from pipelines.engine.request import RunRequest
from tests import personality_data as pdata

pytestmark = pytest.mark.integration

STEPS = ["read", "validate_answers", "dedupe_respondents", "key_and_score"]


def task_states(flow_run_id) -> dict[str, tuple[str, str, str]]:
    """task name -> (state type, state name, message) of one flow run's task runs, from the API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    async def read():
        async with get_client() as client:
            # limit and sort given: Prefect 3.8.8's server refuses the client's nulls (HTTP 422)
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
            return {r.name.rsplit("-", 1)[0]: (r.state.type.value, r.state.name, r.state.message or "") for r in runs}

    return asyncio.run(read())


def test_a_rerun_shows_its_cached_steps_as_cached_task_runs(tmp_path, prefect_server):
    from pipelines.flows.run import run_recipe

    pdata.write_csv(tmp_path / "a.csv")
    request = RunRequest(
        recipe="personality",
        inputs=(str(tmp_path / "a.csv"),),
        output=str(tmp_path / "out"),
        cache_dir=str(tmp_path / "cache"),
    )
    first = run_recipe(request, return_state=True)
    assert first.is_completed(), first.message
    computed = task_states(first.state_details.flow_run_id)
    assert set(STEPS) <= set(computed)
    assert all(computed[s][:2] == ("COMPLETED", "Completed") for s in STEPS), computed

    again = run_recipe(request, return_state=True)
    assert again.is_completed(), again.message
    cached = task_states(again.state_details.flow_run_id)
    assert set(STEPS) <= set(cached), cached  # present in the run graph, not absent
    for step in STEPS:
        kind, name, message = cached[step]
        assert (kind, name) == ("COMPLETED", "Cached"), (step, cached[step])
        assert "output found in the step cache" in message and "in=" in message

    # a step whose input changed runs again: only the steps after a changed input are recomputed
    pdata.write_csv(tmp_path / "b.csv")
    changed = run_recipe(
        request.model_copy(update={"inputs": (str(tmp_path / "a.csv"), str(tmp_path / "b.csv"))}), return_state=True
    )
    states = task_states(changed.state_details.flow_run_id)
    assert states["read"][1] == "Completed", states


def test_the_readme_failure_notification_is_accepted_by_the_server(prefect_server):
    """The README's Automation (a failed or crashed scheduled run sends a notification), run as
    written against the real server with a webhook block, and read back from it."""
    import re
    import uuid

    from prefect.automations import Automation
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    from tests.conftest import REPO

    readme = (REPO / "docs" / "operations" / "schedules.md").read_text()
    section = readme.split("**Failure notifications**", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:1]
    block = CustomWebhookNotificationBlock(
        name="curate-test", url="http://127.0.0.1:9/hook", json_data={"text": "{{subject}}: {{body}}"}
    )
    block_id = block.save(f"curate-test-{uuid.uuid4().hex[:8]}")
    exec(compile(code, "docs/operations/schedules.md", "exec"), {"SLACK_BLOCK_ID": block_id})
    stored = Automation.read(name="curate run failed")
    assert stored.trigger.expect == {"prefect.flow-run.Failed", "prefect.flow-run.Crashed"}
    assert stored.trigger.match_related.root == {"prefect.resource.name": "curate-scheduled-run"}
    assert str(stored.actions[0].block_document_id) == str(block_id)
    stored.delete()
