"""Personality recipe: keying and scoring against hand computations, in every format; quarantine
rules; the accounting identity; errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.runtime import RunContext
from pipelines.recipes import personality
from schemas.errors import InputFileError
from sources.ipip import load_key, read_responses, sniff
from tests import personality_data as pdata


def run_build(tmp_path: Path, inputs: list[Path], **config):
    ctx = RunContext(recipe="personality", output=tmp_path / "out", dask=DaskRuntime(inline=True))
    out = personality.build(ctx, inputs, personality.Config(**config))
    return ctx, out


def scores(table: pl.DataFrame) -> dict[str, dict]:
    result = {}
    for row in table.iter_rows(named=True):
        d, f = row["domain_scores"][row["instrument_id"]], row["facet_scores"][row["instrument_id"]]
        result[row["respondent_id"]] = {"N": d["N"], "A": d["A"], "N1": f["N1"], "A2": f["A2"], "C6": f["C6"]}
    return result


def assert_expected(got: dict[str, dict]) -> None:
    assert set(got) == set(pdata.EXPECTED_120)
    for case, expected in pdata.EXPECTED_120.items():
        for name, value in expected.items():
            if value is None:
                assert got[case][name] is None, (case, name)
            else:
                assert got[case][name] == pytest.approx(value), (case, name)


def test_key_matches_the_published_structure():
    for n, reversed_count in [(120, 55), (300, 148)]:
        key = load_key(n)
        assert key.height == n
        assert (key["keyed"] == -1).sum() == reversed_count
        for item_no, domain, facet in key.select("item_no", "domain", "facet_code").iter_rows():
            assert domain == "NEOAC"[(item_no - 1) % 5]
            assert facet == f"{domain}{((item_no - 1) % 30) // 5 + 1}"
        assert set(key.group_by("facet_code").len()["len"].to_list()) == {n // 30}


@pytest.mark.parametrize(
    "writer, name, config",
    [
        (pdata.write_csv, "r.csv", {}),
        (pdata.write_sav, "r.sav", {}),
        (pdata.write_dta, "r.dta", {}),
        (pdata.write_dat, "IPIP120.dat", {}),  # keyed at source, known without a flag
        (lambda p: pdata.write_csv(p, keyed_answers=True), "keyed.csv", {"keyed": True}),
    ],
)
def test_scores_match_hand_computation_in_every_format(tmp_path, writer, name, config):
    path = writer(tmp_path / name)
    ctx, out = run_build(tmp_path, [path], **config)
    respondents = out.tables["respondents"]
    assert_expected(scores(respondents))
    assert ctx.report.step("key_and_score").dropped == {"insufficient_answers": 1}
    row = respondents.filter(pl.col("respondent_id") == "1").row(0, named=True)
    assert row["instrument"] == "IPIP-NEO-120"
    assert row["responses"][:9] == [5, 5, 5, 5, 5, 5, 5, 5, 1]  # item 9 is reverse keyed
    assert row["demographics"]["age"] == 31


def test_300_item_instrument_hand_computed(tmp_path):
    import pandas as pd
    import pyreadstat

    frame = pd.DataFrame([{"CASE": 9, **{f"I{i}": 5 for i in range(1, 301)}}])
    path = tmp_path / "r300.sav"
    pyreadstat.write_sav(frame, path)
    _, out = run_build(tmp_path, [path])
    row = out.tables["respondents"].row(0, named=True)
    assert row["instrument"] == "IPIP-NEO-300"
    # N: 60 items, 27 reverse keyed; N1: items 1..121 step 30 positive, 151..271 reverse
    assert row["domain_scores"]["ipip_neo_300"]["N"] == pytest.approx((33 * 5 + 27 * 1) / 60)
    assert row["facet_scores"]["ipip_neo_300"]["N1"] == pytest.approx(3.0)
    assert len(row["responses"]) == 300
    assert out.tables["items"]["instrument"].unique().to_list() == ["IPIP-NEO-300"]


def test_quarantine_names_file_row_and_field(tmp_path):
    frame = pdata.frame_120().astype(object)
    frame.loc[0, "i7"] = "x"  # case 1
    frame.loc[1, "i12"] = 9  # case 2
    dup = frame.iloc[[2]]  # case 3 again
    path = tmp_path / "bad.csv"
    pl.from_pandas(pd_concat(frame, dup).astype(str)).write_csv(path)
    ctx, out = run_build(tmp_path, [path])
    q = ctx.report.quarantine.sort("row")
    assert q.select("source_file", "row", "field", "step").rows() == [
        (str(path), 1, "i7", "validate_answers"),
        (str(path), 2, "i12", "validate_answers"),
        (str(path), 6, "case", "dedupe_respondents"),
    ]
    assert "i7: answer 'x' is not a number" in q["error"][0]
    assert "outside 1..5" in q["error"][1]
    assert f"first seen in {path} row 3" in q["error"][2]
    assert json.loads(q["raw"][0])["i7"] == "x"
    assert sorted(out.tables["respondents"]["respondent_id"].to_list()) == ["3", "5"]


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b], ignore_index=True)


def test_every_step_accounts_for_its_rows_on_the_samples(repo, tmp_path):
    samples = sorted((repo / "sources" / "samples" / "personality").glob("*.[cds]*[atv]"))
    assert {p.suffix for p in samples} == {".csv", ".dat", ".dta", ".sav"}
    ctx, out = run_build(tmp_path, samples)
    steps = ctx.report.to_dict()["steps"]
    for step in steps:
        assert step["in"] == step["kept"] + sum(step["dropped"].values()) + step["quarantined"]
    for before, after in zip(steps, steps[1:]):
        assert after["in"] == before["kept"]
    assert steps[-1]["kept"] == out.tables["respondents"].height
    assert ctx.report.quarantine.height == sum(s["quarantined"] for s in steps)
    assert ctx.report.step("read").quarantined == 1  # the truncated .dat line


def test_malformed_dat_line_is_quarantined_with_its_line_number(tmp_path):
    path = pdata.write_dat(tmp_path / "IPIP120.dat")
    lines = path.read_text().splitlines()
    lines.insert(1, lines[1][:80])
    path.write_text("\n".join(lines) + "\n")
    raw = read_responses(path)
    assert raw.malformed.select("row", "field").rows() == [(2, "line")]
    assert "80 characters, expected 151" in raw.malformed["error"][0]
    assert raw.frame.height == 5


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.csv", None, "file not found"),
        ("empty.csv", b"", "file is empty"),
        ("answers.xlsx", b"PK\x03\x04", "unsupported format '.xlsx'"),
        ("few.csv", b"case,i1,i2\n1,3,4\n", "match neither the 120- nor the 300-item"),
        ("noitems.csv", b"case,age\n1,20\n", "no item columns found"),
        ("broken.sav", b"this is not spss", "not a readable SPSS .sav file"),
        ("broken.dta", b"\x00\x01garbage", "not a readable Stata .dta file"),
        ("IPIP120.dat", b"   1 2 short line\n", "Johnson's IPIP-NEO files have 151"),
    ],
)
def test_bad_file_errors_name_the_file_and_the_problem(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputFileError) as err:
        sniff(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_cached_steps_are_reused_and_give_identical_output(tmp_path):
    from pipelines.engine.cache import StepCache

    path = pdata.write_csv(tmp_path / "r.csv")
    outs = []
    for _ in range(2):
        ctx = RunContext(
            recipe="personality",
            output=tmp_path / "o",
            cache=StepCache(tmp_path / "cache"),
            dask=DaskRuntime(inline=True),
        )
        outs.append(personality.build(ctx, [path], personality.Config()).tables["respondents"])
    entries = list((tmp_path / "cache" / "steps").glob("*/*"))
    assert len(entries) == 4  # one entry per step, written once
    assert outs[0].drop("created_at").equals(outs[1].drop("created_at"))


def test_own_scores_reads_keyed_scores_and_the_flat_ones_of_older_versions():
    from pipelines.recipes.personality.steps import own_scores

    keyed = {"bfi2": {"E": 1.0}, "hexaco60": None}
    assert own_scores({"instrument_id": "bfi2", "domain_scores": keyed}) == {"E": 1.0}
    assert own_scores({"_instrument": "hexaco60", "domain_scores": keyed}) == {}  # its instrument unscored
    assert own_scores({"instrument_id": "bfi2", "domain_scores": {"bfi2": None, "mfq30": None}}) == {}
    assert own_scores({"domain_scores": {"N": 1.0, "E": None}}) == {"N": 1.0, "E": None}  # published before keying
