"""Every LLM recipe, and the persona and rule-of-thumb steps, against the real embedded engine
(llama.cpp from the xllamacpp wheel serving Gemma 3 270M on loopback): exit 0 on their defaults,
no request failed, every row accounted, token usage equal to the server's own counters, and a
rerun (step cache gone, completion cache kept) that sends nothing to the model.

Inputs stay small (2 rows per LLM step and 384 tokens per reply, as the demo does) so that the suite
fits a few minutes on 2 cores; one engine serves the whole module."""

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

from pipelines.llm.embedded import EMBEDDED_WARNING, MODEL_ID, embedded_endpoint
from tests.conftest import REPO, curate_bin

pytestmark = pytest.mark.integration
SAMPLES = REPO / "sources" / "samples"
RUNS = {  # recipe: (inputs, the LLM steps it runs)
    "expand": ([SAMPLES / "expand" / "items.csv"], ["generate_scenarios", "judge_scenarios"]),
    "preferences": ([SAMPLES / "preferences" / "personas.jsonl", SAMPLES / "preferences" / "prompts.jsonl"],
                    ["candidates", "judge"]),
    "translate": ([SAMPLES / "translate" / "moral_stories" / "data" / "train-00000-of-00001.parquet"], ["translate"]),
    "personality": ([SAMPLES / "personality" / "ipip120_responses.csv"], ["persona"]),
    "norms": (sorted((SAMPLES / "norms").glob("R[SC]_*.zst")), ["rules_of_thumb"]),
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    os.environ["CURATE_CACHE_DIR"] = str(tmp_path_factory.mktemp("engine-cache"))  # model file, once
    with embedded_endpoint(tmp_path_factory.mktemp("engine-log")) as base_url:
        yield base_url


def counters(base_url: str) -> dict[str, float]:
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=30).text
    return {name: float(value) for name, value in re.findall(r"^llamacpp:(\w+_total) ([0-9.e+]+)$", text, re.M)}


def run(recipe: str, out: Path, cache: Path, base_url: str | None, embedded: str = "0"):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_")}
    env.update(CURATE_CACHE_DIR=str(cache), CURATE_LLM_MAX_ITEMS="2", CURATE_LLM_MAX_TOKENS="384",
               CURATE_LLM_EMBEDDED=embedded,
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180")
    if base_url:
        env["CURATE_LLM_BASE_URL"] = base_url
    inputs, _ = RUNS[recipe]
    args = [str(curate_bin()), "run", recipe, "--output", str(out), "--config", str(SAMPLES / recipe / "config.yaml")]
    for p in inputs:
        args += ["--input", str(p)]
    return subprocess.run(args, capture_output=True, text=True, timeout=1200, env=env)


@pytest.mark.parametrize("recipe", list(RUNS))
def test_recipe_on_the_embedded_engine(recipe, engine, tmp_path):
    before = counters(engine)
    proc = run(recipe, tmp_path / "out", tmp_path / "cache", engine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    steps = {s["name"]: s for s in report["steps"]}
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"], step
    quarantine = pl.read_parquet(tmp_path / "out" / "quarantine.parquet")
    llm = [steps[name]["extra"]["llm"] for name in RUNS[recipe][1]]
    for name in RUNS[recipe][1]:
        s, usage = steps[name], steps[name]["extra"]["llm"]
        assert usage.get("failed", 0) == 0 and usage["model"] == MODEL_ID, usage
        assert s["dropped"].get("over_llm_item_limit", 0) == max(0, s["in"] - 2)
        why = quarantine.filter(pl.col("step") == name)  # quarantined items, each with its reason
        assert why.height == s["quarantined"] and all(why["error"].to_list())
    after = counters(engine)
    # the tokens we accounted are the server's: completions exactly; prompts at least what the server
    # evaluated (llama.cpp does not re-evaluate a prompt prefix it has cached)
    assert sum(u.get("completion_tokens", 0) for u in llm) == after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert sum(u.get("prompt_tokens", 0) for u in llm) >= after["prompt_tokens_total"] - before["prompt_tokens_total"] > 0
    assert any(MODEL_ID in n and "not to make data anyone should use" in n for n in report["notes"])
    assert EMBEDDED_WARNING in (tmp_path / "out" / "README.md").read_text()

    # a rerun without the step cache: every completion comes from the completion cache
    for entry in (tmp_path / "cache").iterdir():
        if entry.name != "llm":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    before = counters(engine)
    proc = run(recipe, tmp_path / "again", tmp_path / "cache", engine)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = {s["name"]: s for s in json.loads((tmp_path / "again" / "report.json").read_text())["steps"]}
    for name in RUNS[recipe][1]:
        usage = again[name]["extra"]["llm"]
        assert usage.get("requests", 0) == 0 and usage["cache_hits"] > 0, usage
        assert (again[name]["kept"], again[name]["quarantined"]) == (steps[name]["kept"], steps[name]["quarantined"])
    assert counters(engine).get("tokens_predicted_total") == before.get("tokens_predicted_total")


def test_curate_run_starts_the_embedded_engine_when_no_endpoint_is_configured_and_stops_it(tmp_path):
    proc = run("expand", tmp_path / "out", tmp_path / "cache", None, embedded="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "no LLM endpoint configured: starting the embedded llama.cpp engine" in proc.stderr
    assert "embedded llama.cpp engine stopped" in proc.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert next(s for s in report["steps"] if s["name"] == "generate_scenarios")["extra"]["llm"]["model"] == MODEL_ID
    left = subprocess.run(["pgrep", "-f", f"pipelines.llm.embedded.*{tmp_path.name}"], capture_output=True)
    assert left.returncode == 1  # no engine process left behind
