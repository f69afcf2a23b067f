"""Every LLM recipe, and the persona and rule-of-thumb steps, against the real embedded engine
(llama.cpp from the xllamacpp wheel serving Gemma 3 270M on loopback), on the demo's own inputs
(`curate demo`'s: a few rows each, sources/samples/*/demo/) and the recipes' defaults, with no cap:
exit 0, every row of every LLM step sent to the model (nothing dropped as over_llm_item_limit), no
request failed or aborted, every item accounted (published, or quarantined with its reason), token
usage equal to the server's own counters (llama.cpp's /metrics), and a rerun (step cache gone,
completion cache kept) that sends nothing to the model. One engine serves the whole module."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import polars as pl
import pytest

from pipelines.cli.demo import demo_runs
from pipelines.llm.embedded import EMBEDDED_WARNING, MODEL_ID, embedded_endpoint
from pipelines.llm.step import OVER_LIMIT
from tests.conftest import REPO, curate_bin
from tests.dataset_checks import load_every_config

pytestmark = pytest.mark.integration
SAMPLES = REPO / "sources" / "samples"
LLM_STEPS = {  # recipe: its LLM steps, in order
    "expand": ["generate_scenarios", "judge_scenarios"],
    "preferences": ["candidates", "judge"],
    "translate": ["translate"],
    "personality": ["persona"],
    "norms": ["rules_of_thumb"],
}
DEMO = {recipe: (inputs, config) for recipe, inputs, config in demo_runs(SAMPLES) if recipe in LLM_STEPS}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    os.environ["CURATE_CACHE_DIR"] = str(tmp_path_factory.mktemp("engine-cache"))  # model file, once
    with embedded_endpoint(tmp_path_factory.mktemp("engine-log")) as base_url:
        yield base_url


def counters(base_url: str) -> dict[str, float]:
    """llama.cpp's own token counters: prompt tokens it evaluated, prompt tokens it took from its
    prefix cache, tokens it generated (finished replies only)."""
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=30).text
    found = {name: float(value) for name, value in re.findall(r"^llamacpp:(\w+_total) ([0-9.e+]+)$", text, re.M)}
    return {
        "prompt": found["prompt_tokens_total"] + found["prompt_tokens_cached_total"],
        "cached_prompt": found["prompt_tokens_cached_total"],
        "completion": found["tokens_predicted_total"],
    }


def run(recipe: str, out: Path, cache: Path, base_url: str | None, embedded: str = "0"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_")}  # the defaults: no cap
    env.update(
        CURATE_CACHE_DIR=str(cache),
        CURATE_LLM_EMBEDDED=embedded,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    if base_url:
        env["CURATE_LLM_BASE_URL"] = base_url
    inputs, config = DEMO[recipe]
    args = [str(curate_bin()), "run", recipe, "--output", str(out), "--config", str(config)]
    for p in inputs:
        args += ["--input", str(p)]
    return subprocess.run(args, capture_output=True, text=True, timeout=1800, env=env)


def rows(out: Path, config: str) -> int:
    files = sorted((out / "data" / config).glob("*.parquet"))
    return sum(pl.read_parquet(f).height for f in files)


def published(recipe: str, out: Path, steps: dict) -> None:
    """What the LLM steps kept is what is published."""
    if recipe == "personality":
        assert rows(out, "personas") == steps["persona"]["kept"]
    elif recipe == "norms":
        assert rows(out, "rules_of_thumb") == steps["rules_of_thumb"]["extra"]["rules_out"] > 0
    elif recipe == "translate":
        assert rows(out, "translations") == steps["check_translations"]["kept"]
    elif recipe == "preferences":
        assert rows(out, "pairs") == steps["judge"]["kept"]
    elif recipe == "expand":
        assert rows(out, "scenarios") == steps["judge_scenarios"]["kept"]


@pytest.mark.parametrize("recipe", list(LLM_STEPS))
def test_recipe_on_the_embedded_engine(recipe, engine, tmp_path):
    assert all(p.parent.name == "demo" for p in DEMO[recipe][0]), DEMO[recipe]  # the demo's inputs
    before = counters(engine)
    proc = run(recipe, tmp_path / "out", tmp_path / "cache", engine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = counters(engine)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    steps = {s["name"]: s for s in report["steps"]}
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"], step
    quarantine = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    names = LLM_STEPS[recipe]
    usages = [steps[name]["extra"]["llm"] for name in names]
    for name, usage in zip(names, usages):
        s = steps[name]
        # every row went to the model: none dropped for a cap, one request at least per row
        per_row = 2 if name == "candidates" else 1  # candidates_per_prompt: 2 by default
        assert s["in"] > 0 and OVER_LIMIT not in s["dropped"], s
        assert usage["requests"] - usage.get("retries", 0) >= per_row * s["in"], usage
        assert usage["model"] == MODEL_ID and usage["backend"] == "http", usage
        assert usage.get("failed", 0) == 0 and usage.get("aborted", 0) == 0 and usage["cache_hits"] == 0, usage
        why = quarantine.filter(pl.col("step") == name)  # quarantined items, each with its reason
        assert why.height == s["quarantined"] and all(why["error"].to_list())
    published(recipe, tmp_path / "out", steps)
    # every config loads, an empty one (the 270M model's scenarios may all be quarantined) included
    assert load_every_config(tmp_path / "out", str(tmp_path / "hf")) == {
        p.name: rows(tmp_path / "out", p.name) for p in (tmp_path / "out" / "data").iterdir()
    }
    # the tokens we account are the server's own counters, exactly: the whole prompt (what it
    # evaluated and what it took from its prefix cache), the part from its cache, and what it generated
    ours = {
        "prompt": sum(u["prompt_tokens"] for u in usages),
        "cached_prompt": sum(u.get("cached_prompt_tokens", 0) for u in usages),
        "completion": sum(u["completion_tokens"] for u in usages),
    }
    assert ours == {k: after[k] - before[k] for k in ours}, (ours, before, after)
    assert ours["prompt"] > 0 and ours["completion"] > 0
    assert any(MODEL_ID in n and "not to make data anyone should use" in n for n in report["notes"])
    assert not any("CURATE_LLM_MAX_ITEMS" in n for n in report["notes"])
    card = (tmp_path / "out" / "README.md").read_text()
    first = usages[0]
    assert EMBEDDED_WARNING in card
    assert (
        f"{first['prompt_tokens']} prompt tokens ({first.get('cached_prompt_tokens', 0)} of them from the server's "
        f"prompt cache) + {first['completion_tokens']} completion tokens"
    ) in card

    # a rerun without the step cache: every completion comes from the completion cache
    for entry in (tmp_path / "cache").iterdir():
        if entry.name != "llm":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    before = counters(engine)
    proc = run(recipe, tmp_path / "again", tmp_path / "cache", engine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = {s["name"]: s for s in json.loads((tmp_path / "again" / "report.json").read_text())["steps"]}
    for name, usage in zip(names, usages):
        rerun = again[name]["extra"]["llm"]
        assert rerun.get("requests", 0) == 0, rerun
        assert rerun["cache_hits"] == usage["requests"] - usage.get("retries", 0), (usage, rerun)
        assert rerun["prompt_tokens"] == rerun["completion_tokens"] == 0, rerun
        assert (again[name]["kept"], again[name]["quarantined"]) == (steps[name]["kept"], steps[name]["quarantined"])
    assert counters(engine) == before  # nothing reached the server


def test_curate_run_starts_the_embedded_engine_when_no_endpoint_is_configured_and_stops_it(tmp_path):
    proc = run("expand", tmp_path / "out", tmp_path / "cache", None, embedded="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no LLM endpoint configured: starting the embedded llama.cpp engine" in proc.stderr
    assert "embedded llama.cpp engine stopped" in proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    generate = next(s for s in report["steps"] if s["name"] == "generate_scenarios")
    assert generate["extra"]["llm"]["model"] == MODEL_ID and OVER_LIMIT not in generate["dropped"]
    left = subprocess.run(["pgrep", "-f", f"pipelines.llm.embedded.*{tmp_path.name}"], capture_output=True)
    assert left.returncode == 1  # no engine process left behind
