"""Values recipe: distributions, effective sample sizes and intervals against hand computations in
every microdata format; weights, refusals, a group below the minimum n, the accounting identity, file
labels, several files, bad input (the comparison metrics: tests/test_distributions.py)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from pipelines.engine.cache import StepCache
from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.runtime import RunContext
from pipelines.recipes import values
from schemas.errors import InputFileError
from sources.survey import canonical_code, load_codebook
from tests import values_data as vdata

Z = 1.959963984540054


def run_build(tmp_path: Path, inputs: list[Path], cache: StepCache | None = None, **config):
    ctx = RunContext(recipe="values", output=tmp_path / "out", cache=cache, dask=DaskRuntime(inline=True))
    out = values.build(ctx, inputs, values.Config(**config))
    return ctx, out


def dist(table: pl.DataFrame, attr: str, value: str, var: str, wave: str | None = "1") -> dict:
    rows = table.filter(
        (pl.col("group_attr") == attr)
        & (pl.col("group_value") == value)
        & (pl.col("var_name") == var)
        & (pl.col("wave") == wave if wave is not None else pl.col("wave").is_null())
    )
    assert rows.height == 1, (attr, value, var, rows.height)
    return rows.row(0, named=True)


def hand_wilson(p: float, n: float) -> tuple[float, float]:
    denom = 1 + Z * Z / n
    center = (p + Z * Z / (2 * n)) / denom
    half = Z / denom * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return max(0.0, center - half), min(1.0, center + half)


def assert_hand_computed(table: pl.DataFrame) -> None:
    for (attr, value, var), expected in vdata.EXPECTED.items():
        row = dist(table, attr, value, var)
        for name, want in expected.items():
            assert row[name] == pytest.approx(want), (attr, value, var, name)
        assert sum(row["probs"]) == pytest.approx(1.0)
        if "n_eff" in expected:
            for p, ci in zip(row["probs"], row["ci"]):
                low, high = hand_wilson(p, expected["n_eff"])
                assert (ci["low"], ci["high"]) == (pytest.approx(low), pytest.approx(high))


@pytest.mark.parametrize("fmt", ["csv", "sav", "dta"])
def test_distributions_match_hand_computation_in_every_format(tmp_path, fmt):
    data = vdata.WRITERS[fmt](tmp_path / f"survey.{fmt}")
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=vdata.MIN_N)
    table = out.tables["distributions"]
    assert_hand_computed(table)
    row = dist(table, "country", "A", "q1")
    assert row["options"] == ["Low", "Mid", "High"] and row["refusal_options"] == ["Refused"]
    assert row["refusal_probs"] == [pytest.approx(0.2)] and row["weighted"] is True
    assert row["survey"] == "Test Survey" and row["source"]["file"] == str(data)  # the path as given

    # country C (one respondent) is below min n for both questions; nothing else is dropped
    acc = ctx.report.step("distributions")
    assert acc.dropped == {"below_min_n": 2}
    assert table.filter(pl.col("group_value") == "C").height == 0
    assert acc.extra["below_min_n_groups"] == [
        {
            "survey": "Test Survey",
            "wave": "1",
            "group_attr": "country",
            "group_value": "C",
            "questions": 2,
            "max_n": 1,
            "max_answers": 1,
        }
    ]
    # groups: all, country A/B/C, sex Male/Female -> 6 x 2 questions, 2 dropped
    assert (acc.rows_in, acc.kept) == (12, 10)

    weights = ctx.report.step("validate_weights")
    assert (weights.rows_in, weights.kept, weights.quarantined) == (12, 11, 1)
    answers = ctx.report.step("validate_answers")
    # 11 respondents x 2 questions: blank q1 (r10) and q2 (r8) not asked, r12's q1 = 5 quarantined
    assert (answers.rows_in, answers.kept, answers.dropped, answers.quarantined) == (22, 19, {"not_asked": 2}, 1)
    assert answers.extra is not None and acc.extra["answers_counted"] == answers.kept
    quarantine = ctx.report.quarantine.sort("row")
    assert quarantine.select("step", "row", "field").rows() == [
        ("validate_weights", 11, "weight"),
        ("validate_answers", 12, "q1"),
    ]
    assert quarantine["error"][0] == "weight is negative (-1)" or quarantine["error"][0].startswith(
        "weight is negative"
    )
    assert "code '5' is not an option of q1" in quarantine["error"][1]
    assert all(q == str(data) for q in quarantine["source_file"])


def test_every_step_accounts_for_its_rows(tmp_path):
    data = vdata.write_csv(tmp_path / "s.csv")
    ctx, _ = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=vdata.MIN_N)
    for a in ctx.report.accounts:
        assert a.rows_in == a.kept + sum(a.dropped.values()) + a.quarantined, a.name
    assert ctx.report.quarantine.height == sum(a.quarantined for a in ctx.report.accounts)


def test_unweighted_run_and_known_wilson_values(tmp_path):
    data = vdata.write_csv(tmp_path / "s.csv")
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=1, weighted=False)
    table = out.tables["distributions"]
    overall = dist(table, "all", "all", "q1")
    assert overall["probs"] == pytest.approx(vdata.UNWEIGHTED_ALL_Q1)
    assert overall["n_eff"] == pytest.approx(overall["n"]) and overall["weighted"] is False
    # unweighted, the negative weight is not looked at: respondent 11 counts
    assert ctx.report.step("validate_weights").quarantined == 0
    male = dist(table, "sex", "Male", "q1")  # r1: 1, r3: 2, r7: 2, r9: 1, r11: 1 -> 3/5, 2/5, 0
    assert male["probs"] == pytest.approx([3 / 5, 2 / 5, 0.0])
    # Wilson's interval, published values: 3 of 5 -> (0.2307, 0.8824); 0 of 5 -> (0, 0.4345)
    assert (male["ci"][0]["low"], male["ci"][0]["high"]) == (
        pytest.approx(0.2307, abs=1e-4),
        pytest.approx(0.8824, abs=1e-4),
    )
    assert (male["ci"][2]["low"], male["ci"][2]["high"]) == (0.0, pytest.approx(0.4345, abs=1e-4))


def test_labels_and_refusals_from_the_files_own_metadata(tmp_path):
    """The codebook names q1 only: its text, options and refusal come from the .sav (user-missing 9)
    and the .dta (extended missing .a), and give the same distributions."""
    book = vdata.CODEBOOK_YAML.replace(
        "  - var: q1\n    text: How much?\n    ordinal: true\n    options: {1: Low, 2: Mid, 3: High}\n"
        "    refusal: {9: Refused}\n",
        "  - {var: q1, ordinal: true}\n",
    )
    assert "options: {1: Low" not in book
    for writer, name, refusal in [(vdata.write_sav, "s.sav", "No answer given"), (vdata.write_dta, "s.dta", "Refused")]:
        run_dir = tmp_path / name
        run_dir.mkdir()
        data = writer(run_dir / name, labels=True)
        ctx, out = run_build(run_dir, [data, vdata.write_codebook(run_dir, book)], min_n=vdata.MIN_N)
        table = out.tables["distributions"]
        assert_hand_computed(table)
        q = out.tables["questions"].filter(pl.col("var_name") == "q1").row(0, named=True)
        assert q["question"] == "How much?" and q["options"] == ["Low", "Mid", "High"]
        assert q["refusal_options"] == [refusal] and q["labels_from"] == "file"


def test_csv_codebook_reads_like_the_yaml_one(tmp_path):
    yaml_book = load_codebook(vdata.write_codebook(tmp_path))
    csv_book = load_codebook(vdata.write_codebook(tmp_path, vdata.CODEBOOK_CSV, "codebook.csv"))
    assert csv_book == yaml_book
    data = vdata.write_csv(tmp_path / "s.csv")
    _, out = run_build(tmp_path, [data, tmp_path / "codebook.csv"], min_n=vdata.MIN_N)
    assert_hand_computed(out.tables["distributions"])


def test_waves_and_countries_in_several_files_combine(tmp_path):
    """Wave 1 in a CSV (country from its column) and a .sav whose country the codebook names; wave 2
    in a .dta. Distributions are per wave; wave 1's whole sample spans both of its files."""
    rows_x = [(100 + i, "?", 1, 1.0, 1 + i % 3, 1) for i in range(4)]  # country X, from the codebook
    csv = vdata.write_csv(tmp_path / "w1.csv")
    sav = vdata.write_sav(tmp_path / "w1_x.sav", rows=rows_x)
    dta = vdata.write_dta(tmp_path / "w2.dta")
    book = vdata.CODEBOOK_YAML.replace('wave: "1"\n', "").replace(
        "questions:",
        'files:\n  w1.csv: {wave: "1"}\n  w1_x.sav: {wave: "1", columns: {country: X}}\n'
        '  w2.dta: {wave: "2"}\nquestions:',
    )
    ctx, out = run_build(tmp_path, [csv, sav, dta, vdata.write_codebook(tmp_path, book)], min_n=vdata.MIN_N)
    table = out.tables["distributions"]
    assert set(table["wave"]) == {"1", "2"} and set(table["survey"]) == {"Test Survey"}
    assert dist(table, "country", "A", "q1", wave="2")["probs"] == pytest.approx([3 / 8, 1 / 8, 4 / 8])
    x = dist(table, "country", "X", "q1", wave="1")  # codes 1, 2, 3, 1 with weight 1
    assert x["probs"] == pytest.approx([2 / 4, 1 / 4, 1 / 4]) and x["n_eff"] == pytest.approx(4)
    overall = dist(table, "all", "all", "q1", wave="1")  # hand: W 15 + 4, option 1: 6 + 2
    assert overall["probs"] == pytest.approx([8 / 19, 4 / 19, 7 / 19]) and overall["n"] == 12
    assert overall["source"]["file"] == f"{csv}, {sav}"  # the paths as given
    questions = out.tables["questions"]
    assert questions.select("wave", "var_name").sort("wave", "var_name").rows() == [
        ("1", "q1"),
        ("1", "q2"),
        ("2", "q1"),
        ("2", "q2"),
    ]
    nested = questions.filter((pl.col("wave") == "1") & (pl.col("var_name") == "q1"))["distributions"][0]
    assert {(d["group_attr"], d["group_value"]) for d in nested} == {
        ("all", "all"),
        ("country", "A"),
        ("country", "B"),
        ("country", "X"),
        ("sex", "Male"),
        ("sex", "Female"),
    }


def test_question_absent_from_a_file_is_reported_not_fatal(tmp_path):
    book = vdata.CODEBOOK_YAML + "  - {var: q9, options: {1: a, 2: b}}\n"
    data = vdata.write_csv(tmp_path / "s.csv")
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path, book)], min_n=vdata.MIN_N)
    assert ctx.report.facts["absent_questions"] == {str(data): ["q9"]}
    assert ctx.report.facts["absent_everywhere"] == ["q9"]
    assert any("q9" in note for note in ctx.report.notes)
    assert "q9" not in set(out.tables["questions"]["var_name"])
    section = next(s for s in out.sections if s.title == "Questions")
    assert "q9" in section.body


@pytest.mark.parametrize(
    "book, message",
    [
        (
            vdata.CODEBOOK_YAML.replace("weight: weight", "weight: wgt"),
            "the codebook's weight column 'wgt' is not in this file",
        ),
        (vdata.CODEBOOK_YAML.replace("survey: Test Survey\n", ""), "invalid codebook: survey: Field required"),
        (vdata.CODEBOOK_YAML + "colour: red\n", "invalid codebook: colour"),
        (vdata.CODEBOOK_YAML.replace("refusal: {9: Refused}", "refusal: {3: Refused}"), "code(s) ['3'] listed twice"),
        (vdata.CODEBOOK_YAML + "  - q8\n", "question q8: no options in the codebook and no value labels"),
        ("survey: [unclosed\n", "codebook is not valid YAML"),
    ],
)
def test_bad_codebook_or_file_is_one_error_naming_the_file(tmp_path, book, message):
    data = vdata.write_csv(tmp_path / "s.csv")
    if "q8" in book:  # q8 must exist in the file to need options
        pl.read_csv(data).with_columns(pl.lit(1).alias("q8")).write_csv(data)
    codebook = vdata.write_codebook(tmp_path, book)
    with pytest.raises(InputFileError) as err:
        values.check_inputs([data, codebook], values.Config())
    assert message in str(err.value)
    assert str(err.value).startswith(str(data) if "weight column" in message else str(codebook))


def test_inputs_need_exactly_one_codebook_and_some_microdata(tmp_path):
    data = vdata.write_csv(tmp_path / "s.csv")
    book = vdata.write_codebook(tmp_path)
    with pytest.raises(InputFileError, match="exactly one codebook"):
        values.check_inputs([data], values.Config())
    with pytest.raises(InputFileError, match="exactly one codebook"):
        values.check_inputs([data, book, vdata.write_codebook(tmp_path, name="other.yml")], values.Config())
    with pytest.raises(InputFileError, match="no microdata files"):
        values.check_inputs([book], values.Config())
    odd = tmp_path / "s.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(InputFileError, match="unsupported format '.xlsx'"):
        values.check_inputs([odd, book], values.Config())


def test_weight_problems_are_quarantined_with_the_reason(tmp_path):
    rows = vdata.ROWS[:4] + [
        (20, "A", 1, None, 1, 1),
        (21, "A", 1, "heavy", 1, 1),
        (22, "A", 1, "inf", 1, 1),
        (23, "A", 1, 0.0, 2, 1),
    ]
    data = vdata.write_csv(tmp_path / "s.csv", rows=rows)
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=1)
    errors = dict(ctx.report.quarantine.select("row", "error").rows())
    assert errors == {5: "weight is missing", 6: "weight 'heavy' is not a number", 7: "weight inf is not finite"}
    raw = ctx.report.quarantine.filter(pl.col("row") == 6)["raw"][0]
    assert '"weight":"heavy"' in raw and '"respondent_id":"21"' in raw
    # a zero weight is kept: it counts in n, not in the proportions
    a = dist(out.tables["distributions"], "country", "A", "q1")
    assert a["n"] == 5 and a["probs"] == pytest.approx([3 / 8, 1 / 8, 4 / 8])


@pytest.mark.parametrize("weighted", [True, False])
def test_a_repeated_respondent_id_is_quarantined_naming_the_first_row(tmp_path, weighted):
    rows = vdata.ROWS[:4] + [(2, "A", 2, 2.0, 3, 3), (3, "A", 1, "heavy", 1, 1), (2, "A", 1, 1.0, 1, 1)]
    data = vdata.write_csv(tmp_path / "s.csv", rows=rows)
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=1, weighted=weighted)
    q = ctx.report.quarantine.filter(pl.col("step") == "validate_weights").sort("row")
    repeat = f"respondent id '2' repeats row 2 of {data} (same survey and wave)"
    if weighted:  # a bad weight is named first; the repeat of id 3 is also bad for its weight
        assert q.select("row", "field", "error").rows() == [
            (5, "respondent_id", repeat),
            (6, "weight", "weight 'heavy' is not a number"),
            (7, "respondent_id", repeat),
        ]
    else:
        assert q.select("row", "field", "error").rows() == [
            (5, "respondent_id", repeat),
            (6, "respondent_id", f"respondent id '3' repeats row 3 of {data} (same survey and wave)"),
            (7, "respondent_id", repeat),
        ]
    assert '"respondent_id":"2"' in q["raw"][0]
    step = ctx.report.step("validate_weights")
    assert (step.rows_in, step.kept, step.quarantined) == (7, 4, 3)
    assert dist(out.tables["distributions"], "country", "A", "q1")["n"] == 4  # each respondent once


def test_resumes_from_the_step_cache_after_a_crash(tmp_path, monkeypatch):
    cache = StepCache(tmp_path / "cache")
    data = vdata.write_csv(tmp_path / "s.csv")
    book = vdata.write_codebook(tmp_path)

    def crash(self, frame):
        raise RuntimeError("killed")

    monkeypatch.setattr(values.ComputeDistributions, "run", crash)
    with pytest.raises(RuntimeError, match="killed"):
        run_build(tmp_path, [data, book], cache=cache, min_n=vdata.MIN_N)
    monkeypatch.undo()
    # the finished steps must come from the cache: running them again would fail
    for step in (values.ReadMicrodata, values.ValidateWeights, values.ValidateAnswers):
        monkeypatch.setattr(step, "run", crash)
    ctx, out = run_build(tmp_path, [data, book], cache=cache, min_n=vdata.MIN_N)
    assert_hand_computed(out.tables["distributions"])
    assert ctx.report.step("validate_answers").quarantined == 1


def test_records_carry_the_envelope_and_stable_ids(tmp_path):
    data = vdata.write_csv(tmp_path / "s.csv")
    _, first = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=vdata.MIN_N)
    _, second = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=vdata.MIN_N)
    for name in ("distributions", "questions"):
        a, b = first.tables[name], second.tables[name]
        assert a["record_id"].to_list() == b["record_id"].to_list()
        assert a["record_id"].n_unique() == a.height
        assert {"source", "license", "lang", "provenance", "review", "created_at"} <= set(a.columns)
    steps = [p["step"] for p in first.tables["distributions"]["provenance"][0]]
    assert steps == ["read", "validate_weights", "validate_answers", "distributions"]


def test_card_states_questions_groups_respondents_weighting_refusals_metrics(tmp_path):
    data = vdata.write_sav(tmp_path / "s.sav")
    _, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=vdata.MIN_N)
    titles = [s.title for s in out.sections]
    for title in ("Questions", "Respondents", "Groups", "Weighting", "Refusal handling", "Metric definitions"):
        assert title in titles
    body = {s.title: s.body for s in out.sections}
    assert "| `q1` | How much? | 1=Low; 2=Mid; 3=High | 9=Refused | ordinal |" in body["Questions"]
    assert "12 respondents read from 1 file(s); 1 quarantined for their weight; 11 used." in body["Respondents"]
    assert "| Test Survey | 1 | country | C | 2 | 1 |" in body["Groups"]
    assert "Weighted by column `weight`" in body["Weighting"]
    assert "Wilson" in body["Metric definitions"] and "Kish" in body["Metric definitions"]
    plots = {p.name: p for p in out.plots}
    assert plots["values_respondents"].data == {"A": 6, "B": 4, "C": 1}  # respondent 11 quarantined
    assert len(plots["values_design_effect"].data["design effect"]) == out.tables["distributions"].height


def test_demo_runs_the_shipped_values_samples(repo):
    from pipelines.cli.demo import demo_runs

    runs = {recipe: (inputs, config) for recipe, inputs, config in demo_runs(repo / "sources" / "samples")}
    inputs, config = runs["values"]
    assert {p.suffix for p in inputs} == {".csv", ".sav", ".dta", ".yaml"}
    assert all(p.exists() for p in inputs) and config.exists()
    values.check_inputs(inputs, values.Config())


def test_canonical_codes():
    assert [canonical_code(v) for v in (1, 1.0, "01", " 1 ", "1.0", "1.5", "x", "", None, float("nan"))] == [
        "1",
        "1",
        "1",
        "1",
        "1",
        "1.5",
        "x",
        None,
        None,
        None,
    ]


def test_a_run_over_some_of_the_codebooks_files_notes_the_others(tmp_path):
    book = vdata.CODEBOOK_YAML.replace(
        "questions:", 'files:\n  s.csv: {wave: "1"}\n  later.dta: {wave: "2"}\nquestions:'
    )
    data = vdata.write_csv(tmp_path / "s.csv")
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path, book)], min_n=vdata.MIN_N)
    assert any("later.dta" in note for note in ctx.report.notes)
    assert_hand_computed(out.tables["distributions"])


def test_row_slices_give_the_same_distributions(tmp_path, monkeypatch):
    monkeypatch.setattr(values.steps, "SLICE_ROWS", 4)  # 11 respondents in three slices
    data = vdata.write_dta(tmp_path / "s.dta")
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=vdata.MIN_N)
    assert_hand_computed(out.tables["distributions"])
    assert ctx.report.step("distributions").extra["answers_counted"] == 19


def test_every_group_below_min_n_leaves_questions_with_no_distributions(tmp_path):
    data = vdata.write_csv(tmp_path / "s.csv")
    ctx, out = run_build(tmp_path, [data, vdata.write_codebook(tmp_path)], min_n=1000)
    assert out.tables["distributions"].height == 0
    assert ctx.report.step("distributions").dropped == {"below_min_n": 12}
    questions = out.tables["questions"]
    assert questions["var_name"].to_list() == ["q1", "q2"]
    assert questions["distributions"].to_list() == [[], []]


def test_a_survey_without_waves(tmp_path):
    data = vdata.write_sav(tmp_path / "s.sav")
    book = vdata.write_codebook(tmp_path, vdata.CODEBOOK_YAML.replace('wave: "1"\n', ""))
    _, out = run_build(tmp_path, [data, book], min_n=vdata.MIN_N)
    table = out.tables["distributions"]
    assert table["wave"].null_count() == table.height
    assert dist(table, "all", "all", "q1", wave=None)["probs"] == pytest.approx(
        vdata.EXPECTED[("all", "all", "q1")]["probs"]
    )
    q = out.tables["questions"]
    assert q["wave"].null_count() == 2 and all(len(d) == 5 for d in q["distributions"].to_list())
