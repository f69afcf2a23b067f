"""Run one corpus case the way `curate run` does (tests/bad_inputs/corpus.py), in-process and without
Prefect's server (the flow's body is called directly, Dask inline), and check its outcome: the exact
error line, or a run whose every row is accounted for and whose quarantine names the expected
(file, row, field)."""

from __future__ import annotations

import json
import shutil
import traceback
from pathlib import Path
from unittest import mock

import polars as pl

from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.redaction import redact
from schemas.errors import CurateError


class _State:
    def __init__(self, value):
        self.value = value

    def is_failed(self) -> bool:
        return False

    def result(self, **_):
        return self.value


def _flow_body(request, return_state=True):
    from pipelines.flows import run as flow

    with mock.patch.object(flow, "DaskRuntime", lambda address=None: DaskRuntime(address, inline=True)):
        return _State(flow._run(request))


def run(case: dict, folder: Path, cache: Path) -> dict:
    """{"status": "ok" | "error" | "traceback", "line": the error line, "trace": ...}"""
    from pipelines.cli import main as cli

    inputs = [folder / p for p in case["inputs"]]
    config = folder / case["config"] if case["config"] else None
    out = folder / "out"
    try:
        with mock.patch("pipelines.flows.run.run_recipe", _flow_body):
            cli.run_one(
                cli._request(
                    case["recipe"], inputs, out, config, {}, cache, False, None, allow_existing=case["allow_existing"]
                )
            )
        return {"status": "ok"}
    except CurateError as e:
        return {"status": "error", "line": f"error: {redact(str(e))}"}
    except Exception:
        return {"status": "traceback", "trace": traceback.format_exc()}


def prepare(case: dict, folder: Path, cache: Path) -> None:
    if case["setup"] == "rerun-with-user-files":  # a first run, then the user adds files to its folder
        first = run(case, folder, cache)
        assert first["status"] == "ok", first
        (folder / "out" / "data" / "extra").mkdir()
        (folder / "out" / "data" / "extra" / "mine.txt").write_text("x")
        (folder / "out" / "plots" / "mine.png").write_text("p")
    elif case["setup"] != "keep" and (folder / "out").exists():
        shutil.rmtree(folder / "out")


def check(case: dict, folder: Path, outcome: dict, sample_rows: dict[str, int] | None = None) -> list[str]:
    """What is wrong with `outcome` for `case`; empty when it is as expected."""
    expect = case["expect"]
    if outcome["status"] == "traceback":
        return [f"traceback:\n{outcome['trace']}"]
    problems = []
    if outcome["status"] == "error":
        line = outcome["line"]
        if "\n" in line:
            problems.append(f"error of several lines: {line!r}")
        want = expect.get("error") or expect.get("error_starts")
        if want is None:
            if not expect.get("clean"):
                problems.append(f"unexpected error: {line}")
        else:
            want = want.replace("{case}", str(folder))
            if expect.get("error") and line != want:
                problems.append(f"error line differs:\n  got:  {line}\n  want: {want}")
            if expect.get("error_starts") and not line.startswith(want):
                problems.append(f"error line differs:\n  got:  {line}\n  want: {want}...")
        return problems
    if "error" in expect or "error_starts" in expect:
        return [f"ran, but should have failed with: {expect.get('error') or expect.get('error_starts')}"]
    out = folder / "out"
    report = json.loads((out / "report.json").read_text())
    for step in report["steps"]:
        total = step["kept"] + sum(step["dropped"].values()) + step["quarantined"]
        if total != step["in"]:
            problems.append(f"step {step['name']}: in={step['in']} but accounted {total}")
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    if quarantine.height != report["quarantined_total"]:
        problems.append(f"quarantine.parquet has {quarantine.height} rows, the report {report['quarantined_total']}")
    got = {(Path(f).name, r, fld) for f, r, fld in quarantine.select("source_file", "row", "field").iter_rows()}
    for file, row, field in expect.get("quarantine", []):
        if (file, row, field) not in got:
            problems.append(f"({file}, row {row}, {field}) not quarantined; quarantine: {sorted(got, key=str)[:10]}")
    errors = quarantine["error"].to_list()
    for text in expect.get("quarantine_error_has", []):
        if not any(text.replace("{case}", str(folder)) in e for e in errors):
            problems.append(f"no quarantine error has {text!r}; errors: {errors[:3]}")
    for config, files in expect.get("record_files", {}).items():  # records name inputs as given, none mixed
        frame = pl.read_parquet(out / "data" / config / "*.parquet")
        counts = dict(frame["source"].struct.field("file").value_counts().iter_rows())
        if sorted(counts) != sorted(str(folder / f) for f in files) or len(set(counts.values())) != 1:
            problems.append(f"{config}: records per file {counts}; want as many from each of {files}")
        mixed = quarantine.filter(pl.col("error").str.contains("duplicate respondent"))
        if mixed.height:
            problems.append(
                f"respondents of two files collide: {mixed.select('source_file', 'row', 'error').rows()[:3]}"
            )
    if sample_rows is not None and expect.get("same_as_sample"):
        first = report["steps"][0]
        if first["in"] != sample_rows.get(case["recipe"]):
            problems.append(f"read {first['in']} rows, the UTF-8 sample {sample_rows.get(case['recipe'])}")
    card = (out / "README.md").read_text(encoding="utf-8")
    for text in expect.get("card_has", []):
        if text not in card:
            problems.append(f"card lacks {text!r}")
    body = card.split("\n---\n", 1)[-1]  # the YAML header holds the text as data; the body must not
    for text in expect.get("card_lacks", []):
        if text in body:
            problems.append(f"card has {text!r}")
    if expect.get("encoding") and f"read as {expect['encoding']} text" not in card:
        problems.append(f"card does not state the encoding {expect['encoding']}")
    for rel, content in expect.get("kept_files", {}).items():
        path = folder / rel
        if not path.is_file() or path.read_text() != content:
            problems.append(f"{rel}: the user's file was not kept")
    return problems
