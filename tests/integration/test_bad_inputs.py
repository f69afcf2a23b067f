"""The bad-input corpus (tests/bad_inputs/corpus.py): every case through the CLI's code path
(`pipelines.cli.main.run_one`, the flow's body without Prefect's server, Dask inline). Each case ends as
expected: the exact one-line error, or a run whose quarantine names the bad (file, row, field), whose
every step accounts for its rows and which reads re-encoded samples (UTF-16, BOM, CRLF) to the same
row count. No case may end in a traceback."""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from tests.bad_inputs import corpus, runner

pytestmark = pytest.mark.integration


def test_every_bad_input_has_its_expected_outcome(tmp_path):
    root = tmp_path / "corpus"
    cases = corpus.build(root)
    assert len(cases) >= 120
    assert set(Counter(c["recipe"] for c in cases)) == set(corpus.BASE)
    only = [r for r in os.environ.get("CURATE_CORPUS_RECIPES", "").split(",") if r]  # one recipe's cases
    if only:
        assert set(only) <= set(corpus.BASE), f"no corpus for {set(only) - set(corpus.BASE)}"
        cases = [c for c in cases if c["recipe"] in only]
    recipes = {c["recipe"] for c in cases}
    order = sorted(cases, key=lambda c: not c["expect"].get("sample"))  # baselines first
    sample_rows: dict[str, int] = {}
    failures, outcomes = {}, Counter()
    for case in order:
        folder = root / case["id"]
        runner.prepare(case, folder, tmp_path / "cache")
        outcome = runner.run(case, folder, tmp_path / "cache")
        outcomes[outcome["status"]] += 1
        problems = runner.check(case, folder, outcome, sample_rows)
        if case["expect"].get("sample") and not problems:
            sample_rows[case["recipe"]] = json.loads((folder / "out" / "report.json").read_text())["steps"][0]["in"]
        if problems:
            failures[case["id"]] = problems
    assert set(sample_rows) == recipes  # every recipe's baseline ran
    assert outcomes["traceback"] == 0 and not failures, "\n".join(
        f"{cid}: {'; '.join(p)}" for cid, p in failures.items()
    )
