"""Hostile inputs, round two (tests/bad_inputs/round2.py): every case as a `curate` command line run
as the console script runs it, bounded in time and memory. No traceback, no hang, no silent change:
each case ends with the `error:` line written for it, or succeeds with every row accounted for and
what its checks ask. `CURATE_CORPUS_CASES=regex` runs the matching cases only,
`CURATE_CORPUS_RECIPES=a,b` those of these recipes (as tests/integration/test_bad_inputs.py)."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from tests.bad_inputs import round2
from tests.bad_inputs.cli import Outcome, curate
from tests.bad_inputs.corpus import BASE

pytestmark = pytest.mark.integration
MEMORY_MB = 1500  # how far one case may raise the process's peak memory


def fill(args: list[str], folder: Path) -> list[str]:
    return [a.replace("{case}", str(folder)) for a in args]


def accounted(folder: Path) -> list[str]:
    out = folder / "out"
    if not (out / "report.json").exists():
        return []
    report = json.loads((out / "report.json").read_text())
    problems = []
    for step in report["steps"]:
        total = step["kept"] + sum(step["dropped"].values()) + step["quarantined"]
        if total != step["in"]:
            problems.append(f"step {step['name']}: in={step['in']} but accounted {total}")
    height = pl.read_parquet(out / "quarantine.parquet").height
    if height != report["quarantined_total"]:
        problems.append(f"quarantine.parquet has {height} rows, the report {report['quarantined_total']}")
    return problems


def judge(case: round2.Case, folder: Path, outcome: Outcome, base: dict) -> list[str]:
    if outcome.code == "timeout":
        return [f"no end within {case.bound_s} s"]
    if outcome.traceback:
        return [f"traceback:\n{outcome.stderr[-3000:]}"]
    problems = []
    if outcome.grew_mb > MEMORY_MB:
        problems.append(f"raised the peak memory by {outcome.grew_mb:.0f} MB")
    failed = outcome.code != 0
    if failed:
        if outcome.code != 2 or len(outcome.errors) != 1:
            return [*problems, f"exit {outcome.code} with {len(outcome.errors)} error lines:\n{outcome.stderr[-2000:]}"]
        line = outcome.errors[0][len("error: ") :]
        if case.error is None and not case.clean:
            problems.append(f"unexpected error: {line}")
        elif case.error is not None:
            want = case.error.replace(r"\{case\}", re.escape(str(folder)))
            if not re.fullmatch(want, line):
                problems.append(f"error line differs:\n  got:  {line}\n  want: {case.error}")
    elif case.error is not None and not case.clean:
        problems.append(f"ran, but should have failed with: {case.error}")
    else:
        problems += accounted(folder)
    for check in case.checks:
        if not failed or getattr(check, "always", False):
            problems += check(folder, base)
    return problems


def test_round_two_hostile_inputs_end_as_written(tmp_path, monkeypatch):
    from pipelines.recipes import available

    monkeypatch.setenv("CURATE_PSEUDONYM_KEY", "round-two")  # pseudonyms equal across the cases' folders
    cases = round2.build()
    assert len(cases) >= 100
    targets = Counter(c.target for c in cases)
    assert set(targets) == {r for r in available() if r in BASE} | {"dedup", "publish"}, targets
    assert set(Counter(c.kind for c in cases)) == {"crash", "hang", "silent", "option", "unclear"}
    only = os.environ.get("CURATE_CORPUS_CASES")
    if only:
        cases = [c for c in cases if re.search(only, c.id)]
    recipes = [r for r in os.environ.get("CURATE_CORPUS_RECIPES", "").split(",") if r]  # one recipe's cases
    if recipes:
        assert set(recipes) <= set(targets), f"no cases for {set(recipes) - set(targets)}"
        cases = [c for c in cases if c.target in recipes]
    cases.sort(key=lambda c: not c.id.endswith("-baseline"))  # the baselines first: the others compare
    bases: dict[str, dict] = {}
    failures: dict[str, list[str]] = {}
    for case in cases:
        folder = tmp_path / case.id
        case.make(folder, round2.base_files(case.target) if case.target in BASE else {})
        problems = []
        for args in case.before:
            first = curate(fill(args, folder), 300)
            if first.code != 0:
                problems.append(f"`{' '.join(args[:2])}` before the case failed:\n{first.stderr[-2000:]}")
        if case.prepare:
            case.prepare(folder)
        for check in case.checks:
            if hasattr(check, "snapshot"):
                check.snapshot(folder)
        if not problems:
            outcome = curate(fill(case.args, folder), case.bound_s)
            base = bases.get(case.target, {})
            problems = judge(case, folder, outcome, base)
            if case.id.endswith("-baseline") and not problems:
                report = json.loads((folder / "out" / "report.json").read_text())
                bases[case.target] = {"rows_in": report["steps"][0]["in"], "digest": round2.data_digest(folder / "out")}
        if problems:
            failures[case.id] = problems
    assert not failures, f"{len(failures)} of {len(cases)} cases:\n" + "\n".join(
        f"{cid} [{next(c.kind for c in cases if c.id == cid)}]: {'; '.join(p)}" for cid, p in failures.items()
    )
