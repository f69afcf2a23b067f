"""Every instrument of the registry (`sources.instruments.shipped()`), run through the personality
recipe alone, all mixed, and as a file of invalid rows only: exit without error, the right rows
kept, dropped at the missing-data threshold and quarantined, and every score equal to an independent
scorer written from the instrument's published key (tests/test_instruments.py types those keys in
from the publications). An instrument added to the registry without a reference key here fails."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from pipelines.engine.request import RunRequest
from pipelines.flows.run import run_recipe
from sources.instruments import shipped
from tests.test_instruments import BFI2, FFM, HEXACO60, MFQ30, NEO120_REVERSED, PVQ21, PVQRR, SD3, parse, plain_scores

REGISTRY = sorted(shipped())


def neo_key(items: int, reversed_items: set[int]) -> dict[str, str]:
    """Johnson's IPIP-NEO: facet f (1..30) holds items f, f+30, ...; its domain is NEOAC[(f-1) % 5]."""
    key = {}
    for f in range(1, 31):
        d = "NEOAC"[(f - 1) % 5]
        key[f"{d}{(f - 1) // 5 + 1}"] = ", ".join(
            f"{i}{'R' if i in reversed_items else ''}" for i in range(f, items + 1, 30)
        )
    return key


def reference(inst_id: str) -> dict:
    """The published key of an instrument in item-number space: domains, facets (None: not typed
    in), the answer range, the scoring options of `plain_scores`, and what a catch item must be."""
    if inst_id in ("ipip_neo_120", "ipip_neo_300"):
        n = int(inst_id.rsplit("_", 1)[1])
        # the 300-item reversed list is not typed in here: taken from the shipped key (Johnson's list);
        # the scale membership is the published rule, independent of the definition file
        rev = NEO120_REVERSED if n == 120 else {i.item for i in shipped()[inst_id].items if i.keyed < 0}
        facets = neo_key(n, rev)
        return {
            "domains": {d: ", ".join(v for k, v in facets.items() if k[0] == d) for d in "NEOAC"},
            "facets": facets,
            "lo": 1,
            "hi": 5,
            "options": {},
        }
    if inst_id == "bfi2":
        return {
            "domains": {d: ", ".join(v for k, v in BFI2.items() if k.startswith(d + "/")) for d in "EACNO"},
            "facets": {k.replace("/", "_"): v for k, v in BFI2.items()},
            "lo": 1,
            "hi": 5,
            "options": {},
        }
    if inst_id == "ipip_ffm50":
        offsets = {s: 10 * i for i, s in enumerate(FFM)}
        key = {s: ", ".join(f"{n + offsets[s]}{'R' if r else ''}" for n, r in parse(spec)) for s, spec in FFM.items()}
        return {"domains": key, "facets": None, "lo": 1, "hi": 5, "options": {}}
    known = {
        "hexaco60": (HEXACO60, 1, 5, {}),
        "mfq30": (MFQ30, 0, 5, {}),
        "sd3": (SD3, 1, 5, {}),
        "pvq21": (PVQ21, 1, 6, {"centered": True, "reverse_all": True}),
        "pvqrr": (PVQRR, 1, 6, {"centered": True}),
    }
    if inst_id not in known:
        pytest.fail(f"instrument {inst_id!r} is in the registry but has no published key in this test")
    key, lo, hi, options = known[inst_id]
    return {
        "domains": key,
        "facets": None,
        "lo": lo,
        "hi": hi,
        "options": options,
        "catch": {6: 0, 22: 5} if inst_id == "mfq30" else {},
    }


def out_of_scale(inst_id: str) -> int:
    """An answer above the response scale that is not one of its missing codes (PVQ-21: 7-9 are)."""
    scale = shipped()[inst_id].response_scale
    return next(v for v in range(scale.max + 1, scale.max + 100) if v not in scale.missing)


def respondents(inst_id: str, seed: int) -> tuple[list[list[float | None]], dict]:
    """Rows r1..r24 as item answers (None: blank): 20 with missing answers at rising rates (0-30%), r21 with
    exactly the minimum of scored items answered (kept), r22 one fewer (dropped), r23 an answer
    above the scale and r24 a word (both quarantined)."""
    inst, ref = shipped()[inst_id], reference(inst_id)
    rng = np.random.default_rng(seed)
    n = len(inst.items)
    scored = [i.item for i in inst.items if i.scale is not None]
    rows = []
    for k in range(20):
        x = rng.integers(ref["lo"], ref["hi"] + 1, size=n).astype(float)
        missing = rng.random(n) < 0.3 * k / 19  # at most 30%: above the minimum, scales may still go null
        rows.append([None if m else float(v) for v, m in zip(x, missing)])
    need = math.ceil(len(scored) * 0.5)
    for answered in (need, need - 1):
        row = [None] * n
        for item in scored[:answered]:
            row[item - 1] = float(ref["hi"])
        rows.append(row)
    for row in rows:
        for item, value in ref.get("catch", {}).items():  # MFQ-30's catch items passed
            row[item - 1] = float(value)
    bad_number = list(rows[0])
    bad_number[scored[0] - 1] = out_of_scale(inst_id)
    bad_word = list(rows[1])
    bad_word[scored[1] - 1] = "often"
    return rows + [bad_number, bad_word], ref


def write_csv(path: Path, inst_id: str, rows: list[list]) -> Path:
    inst = shipped()[inst_id]
    lines = [",".join(["case"] + [c.upper() for c in inst.columns])]
    for k, row in enumerate(rows, start=1):
        cells = ["" if v is None else (v if isinstance(v, str) else str(int(v))) for v in row]
        lines.append(",".join([f"{inst_id}-r{k}"] + cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def run(tmp_path: Path, name: str, files: list[Path]) -> tuple[dict, pl.DataFrame, pl.DataFrame]:
    out = tmp_path / name
    request = RunRequest(
        recipe="personality", inputs=tuple(str(f) for f in files), output=str(out), cache_dir=str(tmp_path / "cache")
    )
    summary = run_recipe.fn(request)
    assert isinstance(summary, dict), summary  # a failed run returns its Failed state
    respondents_ = pl.read_parquet(out / "data" / "respondents")
    return summary, respondents_, pl.read_parquet(out / "quarantine.parquet")


def check_scores(table: pl.DataFrame, inst_id: str, rows: list[list], ref: dict) -> int:
    """Every kept respondent's domain (and facet) scores equal the reference scorer's; returns how
    many scores were compared."""
    compared = 0
    mine = table.filter(pl.col("instrument_id") == inst_id)
    for field, key in (("domain_scores", ref["domains"]), ("facet_scores", ref["facets"])):
        if key is None:
            continue
        want = plain_scores(rows[:22], key, ref["lo"], ref["hi"], **ref["options"])  # r23, r24: quarantined
        for rid, got in zip(mine["respondent_id"], mine[field].struct.field(inst_id).to_list()):
            expected = want[int(rid.rsplit("-r", 1)[1]) - 1]
            for scale, value in expected.items():
                if value is None:
                    assert got[scale] is None, (inst_id, rid, scale, got[scale])
                else:
                    assert got[scale] == pytest.approx(value, abs=1e-12), (inst_id, rid, scale, got[scale], value)
                compared += 1
    return compared


@pytest.mark.parametrize("inst_id", REGISTRY)
def test_each_instrument_alone(inst_id, tmp_path):
    rows, ref = respondents(inst_id, seed=len(inst_id))
    path = write_csv(tmp_path / f"{inst_id}.csv", inst_id, rows)
    summary, table, quarantine = run(tmp_path, "out", [path])
    report = summary["report"]
    steps = {s["name"]: s for s in report["steps"]}
    for s in report["steps"]:
        assert s["in"] == s["kept"] + sum(s["dropped"].values()) + s["quarantined"], s
    assert sorted(quarantine["row"].to_list()) == [23, 24]
    assert steps["key_and_score"]["dropped"] == {"insufficient_answers": 1}
    assert sorted(table["respondent_id"].to_list(), key=lambda r: int(r.rsplit("r", 1)[1])) == [
        f"{inst_id}-r{k}" for k in range(1, 22)
    ]
    assert table.schema["domain_scores"] == pl.Struct({inst_id: table.schema["domain_scores"].to_schema()[inst_id]})
    assert ("facet_scores" in table.columns) == bool(shipped()[inst_id].facets)
    assert check_scores(table, inst_id, rows, ref) > 21


def test_all_instruments_mixed_in_one_run(tmp_path):
    files, expected = [], {}
    for inst_id in REGISTRY:
        rows, ref = respondents(inst_id, seed=len(inst_id))
        files.append(write_csv(tmp_path / f"{inst_id}.csv", inst_id, rows))
        expected[inst_id] = (rows, ref)
    summary, table, quarantine = run(tmp_path, "mixed", files)
    assert table.height == 21 * len(REGISTRY) and quarantine.height == 2 * len(REGISTRY)
    # one field per instrument: BFI-2's E and HEXACO-60's E are two fields, never one
    assert sorted(table.schema["domain_scores"].to_schema()) == REGISTRY
    for inst_id, (rows, ref) in expected.items():
        assert check_scores(table, inst_id, rows, ref) > 21
        others = table.filter(pl.col("instrument_id") != inst_id)["domain_scores"].struct.field(inst_id)
        assert others.null_count() == others.len()  # other instruments' rows hold null there


@pytest.mark.parametrize("inst_id", REGISTRY)
def test_a_file_of_invalid_rows_only(inst_id, tmp_path):
    inst = shipped()[inst_id]
    rows = [[float(out_of_scale(inst_id))] * len(inst.items) for _ in range(5)]
    path = write_csv(tmp_path / "bad.csv", inst_id, rows)
    summary, table, quarantine = run(tmp_path, "out", [path])
    assert table.height == 0 and summary["configs"]["respondents"] == 0
    assert quarantine.height == 5 and set(quarantine["step"]) == {"validate_answers"}
    card = (tmp_path / "out" / "README.md").read_text()
    assert "No respondent passed the steps above." in card and "### Config `respondents`: 0 rows" in card
    assert json.loads((tmp_path / "out" / "report.json").read_text())["facts"]["empty_configs"] == [
        "respondents",
        "items",
    ]
