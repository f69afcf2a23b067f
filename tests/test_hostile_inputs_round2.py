"""Hostile inputs, round two (each bounded in time, each one clear line naming the file or option):
CR-only line ends, recursive YAML anchors and alias bombs, dates that do not exist, a method section
that is not a mapping, list columns where text is expected, empty and non-finite --set values, a
time range that keeps nothing."""

from __future__ import annotations

import re
import time
from pathlib import Path

import polars as pl
import pytest

from schemas.errors import CurateError, InputFileError
from tests.conftest import REPO


def test_cr_only_line_ends_read_as_lines(tmp_path):
    from sources.files import read_header, read_text_table

    lf, cr = tmp_path / "lf.csv", tmp_path / "cr.csv"
    lf.write_bytes(b"id,text\n1,a b\n2,c d\n")
    cr.write_bytes(b"id,text\r1,a b\r2,c d\r")
    assert read_header(cr) == ["id", "text"]
    assert read_text_table(cr).equals(read_text_table(lf))


def test_cr_only_csv_dedups_like_its_lf_twin(tmp_path):
    from pipelines.cli.dedup import load_dedup_config, run_dedup

    cr = tmp_path / "cr.csv"
    cr.write_bytes(b"id,text\r1,the same text\r2,the same text\r3,another one\r")
    cfg = load_dedup_config("exact", None, {"text_column": "text", "id_column": "id"})
    report = run_dedup(cr, "exact", tmp_path / "out", cfg, no_cache=True, engine="single")
    assert report["facts"]["dedup"]["removed"] == 1 and report["steps"][0]["in"] == 3


def test_a_header_the_csv_module_cannot_read_is_one_line(tmp_path):
    from sources.files import read_header

    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id," + b"x" * 200_000 + b"\n1,a\n")  # a name past the csv module's field limit
    with pytest.raises(InputFileError, match="bad.csv: its header cannot be read: field larger than field limit"):
        read_header(bad)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("a: &x [1, *x]\n", "recursive anchor"),
        (
            "lol: &a [x, x, x, x, x, x, x, x, x]\n"
            + "".join(f"l{i}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9))
            + "whatever: *j\n",
            "alias bomb",
        ),
    ],
)
def test_yaml_anchors_that_never_end_or_explode_are_refused_at_once(tmp_path, text, problem):
    from pipelines.engine.config import read_yaml_mapping

    path = tmp_path / "config.yaml"
    path.write_text(text)
    began = time.monotonic()
    with pytest.raises(InputFileError, match=problem) as err:
        read_yaml_mapping(path)
    assert time.monotonic() - began < 10 and "config.yaml" in str(err.value) and "line" in str(err.value)


def test_a_date_that_does_not_exist(tmp_path):
    from pipelines.cli.main import parse_sets
    from pipelines.engine.config import read_yaml_mapping

    with pytest.raises(CurateError, match="'2023-02-30' is not a valid date"):
        parse_sets(["start=2023-02-30"])
    path = tmp_path / "config.yaml"
    path.write_text("subreddits: [AmItheAsshole]\nstart: 2023-02-30\n")
    with pytest.raises(InputFileError, match="line 2: '2023-02-30' is not a valid date"):
        read_yaml_mapping(path)
    assert str(parse_sets(["start=2023-02-28"])["start"]) == "2023-02-28"


def test_empty_and_non_finite_options_are_errors():
    from pipelines.cli.main import parse_sets
    from pipelines.recipes import get_recipe, load_config

    with pytest.raises(CurateError, match="no value"):
        parse_sets(["min_answered_fraction="])
    personality, preferences = get_recipe("personality"), get_recipe("preferences")
    for text, kind in (
        ("inf", "infinite"),
        ("1e400", "infinite"),
        ("nan", "NaN \\(not a number\\)"),
        (".nan", "not a number"),
    ):
        with pytest.raises(CurateError, match=f"must be a finite number.*{kind}"):
            load_config(preferences, None, parse_sets([f"min_margin={text}"]))
    with pytest.raises(CurateError, match="finite"):  # a bounded option: not its bound's message
        load_config(personality, None, {"min_answered_fraction": "NaN"})


def test_a_time_range_that_keeps_nothing_is_refused():
    from pipelines.recipes import get_recipe, load_config

    with pytest.raises(CurateError, match=r"start \(2023-03-01\) must be before end \(2023-02-01\)"):
        load_config(get_recipe("norms"), None, {"start": "2023-03-01", "end": "2023-02-01"})


def test_a_method_section_that_is_not_a_mapping(tmp_path):
    from pipelines.cli.dedup import load_dedup_config

    path = tmp_path / "dedup.yaml"
    path.write_text("near: 5\n")
    with pytest.raises(InputFileError, match="section `near:` must be a mapping"):
        load_dedup_config("near", path, {"text_column": "text", "id_column": "id"})


@pytest.mark.parametrize("engine", ["single", "dask"])
def test_a_list_column_as_text_is_one_line_on_both_engines(tmp_path, engine):
    from pipelines.cli.dedup import load_dedup_config, run_dedup

    path = tmp_path / "rows.parquet"
    pl.DataFrame({"id": ["a", "b"], "text": [["x", "y"], ["z"]]}).write_parquet(path)
    cfg = load_dedup_config("near", None, {"text_column": "text", "id_column": "id"})
    with pytest.raises(InputFileError, match=r"column text \(List\(String\)\) holds no text"):
        run_dedup(path, "near", tmp_path / "out", cfg, no_cache=True, engine=engine)
    assert not (tmp_path / "out").exists()


def test_personas_nested_too_deep_or_with_a_boolean_id_are_quarantined_with_the_field():
    import json

    from sources.jsonl import classify

    inner = "leaf"
    for _ in range(300):
        inner = {"k": inner}
    deep = {"persona_id": "p1", "self_description": "I like clear answers.", "demographics": {"nested": inner}}
    assert classify(json.dumps(deep).encode())[2].startswith("nested more than 32 levels deep")
    kind, record, error = classify(b'{"persona_id": true, "self_description": "I like clear answers."}')
    assert (kind, record) == ("persona_id", None) and "not True" in error
    assert classify(b'{"prompt_id": false, "prompt": "Why?"}')[0] == "prompt_id"
    assert classify(b'{"persona_id": 7, "self_description": "I like clear answers."}')[0] == "persona"


@pytest.mark.parametrize(
    "line, field",
    [
        (b'{"prompt_id": "q", "prompt": "Why?", "source": {"site": "reddit"}}', "source"),
        (b'{"prompt_id": "q", "prompt": "Why?", "source": ["a", "b"]}', "source"),
        (b'{"prompt_id": "q", "prompt": "Why?", "source": 3}', "source"),
        (b'{"persona_id": "p", "self_description": "I am me.", "synthetic": "no"}', "synthetic"),
        (b'{"persona_id": "p", "self_description": "I am me.", "synthetic": 0}', "synthetic"),
        (b'{"persona_id": "p", "self_description": "I am me.", "demographics": "34, Lisbon"}', "demographics"),
    ],
)
def test_optional_fields_of_the_wrong_kind_are_quarantined_naming_the_field(line, field):
    """A struct where text belongs crashed the records step (polars could not build the column), and
    `synthetic: "no"` was published as true; now each is quarantined with the field's name."""
    from sources.jsonl import classify

    kind, record, error = classify(line)
    assert (kind, record) == (field, None) and f"field {field!r} must be" in error
    assert classify(b'{"prompt_id": "q", "prompt": "Why?", "source": null}')[0] == "prompt"
    assert classify(b'{"persona_id": "p", "self_description": "I am me.", "synthetic": false}')[0] == "persona"


@pytest.mark.integration
def test_a_prompt_with_a_struct_source_is_a_quarantine_row_not_a_crash(tmp_path):
    import subprocess
    import sys

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"prompt_id": "q1", "source": {"a": 1}, "prompt": "Is it rude to leave?"}\n'
        '{"prompt_id": "q2", "prompt": "Fine prompt here."}\n',
        encoding="utf-8",
    )
    personas = REPO / "sources" / "samples" / "preferences" / "personas.jsonl"
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "pipelines.cli.main", "run", "preferences", "-i", str(prompts), "-i", str(personas)]
    run = subprocess.run([*cmd, "-o", str(out)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    quarantine = pl.read_parquet(out / "quarantine.parquet")
    assert quarantine.filter(pl.col("field") == "source")["row"].to_list() == [1]
    prompts_out = pl.read_parquet(next(out.glob("data/prompts/*.parquet")))
    assert prompts_out["prompt_id"].to_list() == ["q2"]


def test_a_symlinked_output_is_refused_and_left_as_it_is(tmp_path):
    from pipelines.engine.dataset_dir import claim_output
    from tests.dataset_writer import write

    real = tmp_path / "real"
    write(real, 3, "first")
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(CurateError, match="is a symbolic link"):
        with claim_output(link):
            pass
    assert link.is_symlink() and (real / "README.md").exists()


def test_one_file_under_two_names_is_refused(tmp_path):
    from sources.files import check_distinct_names

    data = tmp_path / "resp.csv"
    data.write_text("case,i1\n1,2\n")
    (tmp_path / "a.csv").symlink_to(data)
    with pytest.raises(InputFileError, match="is the same file as"):
        check_distinct_names([data, tmp_path / "a.csv"])
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputFileError, match="is given twice|is the same file as"):
        check_distinct_names([data, tmp_path / "sub" / ".." / "resp.csv"])


def test_utf16_without_a_byte_order_mark_is_named(tmp_path):
    from sources.files import read_header

    path = tmp_path / "u16.csv"
    path.write_bytes("case,i1,i2\n1,2,3\n".encode("utf-16-le"))
    with pytest.raises(InputFileError, match="UTF-16 text without a byte-order mark"):
        read_header(path)
    path.write_bytes("case,i1\n1,2\n".encode("utf-16"))  # with its mark: read
    assert read_header(path) == ["case", "i1"]


def test_publishing_refuses_a_repository_with_a_users_uncommitted_edit(tmp_path):
    from pipelines.engine.publish import publish, versions
    from tests.test_publish import make_run

    repo = tmp_path / "repo"
    publish(make_run(tmp_path, "run1"), str(repo), "1.0.0")
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nmy note\n")
    with pytest.raises(CurateError, match="has changes that curate did not make \\(README.md\\)"):
        publish(make_run(tmp_path, "run2", drop_case="1"), str(repo), "1.1.0")
    assert versions(repo) == ["v1.0.0"] and "my note" in (repo / "README.md").read_text()


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ({1: None, 2: ["a", "b"]}, "option 2: its label must be text, not list ['a', 'b']"),
        ({1: {"en": "yes"}}, "option 1: its label must be text, not dict"),
        ({1: True}, "option 1: its label must be text, not bool True"),
    ],
)
def test_codebook_labels_that_are_not_text_are_refused(tmp_path, options, said):
    """A list or mapping as an option's label was published as its Python text ("['a', 'b']")."""
    import yaml

    from sources.codebook import load_codebook

    data = yaml.safe_load((REPO / "sources" / "samples" / "values" / "codebook.yaml").read_text())
    data["questions"][0]["options"] = options
    (tmp_path / "cb.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(CurateError, match=re.escape(said)):
        load_codebook(tmp_path / "cb.yaml")
    data["questions"][0]["options"] = {1: "Yes", 2: 2.5, 3: None}  # text, a number, no label: fine
    (tmp_path / "cb.yaml").write_text(yaml.safe_dump(data))
    assert [o.label for o in load_codebook(tmp_path / "cb.yaml").questions[0].options] == ["Yes", "2.5", None]
    # written by hand, unquoted: YAML 1.1 would read Yes/No/On/Off as booleans ("True" was published)
    text = yaml.safe_dump(data).replace("1: 'Yes'", "1: Yes").replace("3: null", "3: off")
    (tmp_path / "cb.yaml").write_text(text)
    assert [o.label for o in load_codebook(tmp_path / "cb.yaml").questions[0].options] == ["Yes", "2.5", "off"]


def test_a_truncated_or_foreign_csv_line_is_quarantined_not_scored(tmp_path):
    """A footer line, or a row cut short, was read as a respondent with gaps and dropped later as
    insufficient_answers; now it is quarantined by the reader as the line it is. A row whose last
    answer is merely empty (`...,3,`) keeps its fields and stays a respondent."""
    from sources.ipip import read_responses

    sample = (REPO / "sources" / "samples" / "personality" / "demo" / "ipip120_responses.csv").read_text("utf-8")
    header, first, *rest = sample.strip("\n").split("\n")
    width = len(header.split(","))
    cut = ",".join(first.split(",")[:30])  # a row cut after 30 fields
    empty_last = ",".join(first.split(",")[:-1]) + ","  # all fields, the last one empty
    path = tmp_path / "r.csv"
    path.write_text("\n".join([header, first, cut, empty_last, *rest, "Exported by SurveyTool 3.2"]) + "\n", "utf-8")
    raw = read_responses(path)
    q = raw.malformed
    assert q["row"].to_list() == [2, len(rest) + 4]
    assert q["error"].to_list() == [
        f"row has 30 fields, the header has {width}: a truncated or foreign line",
        f"row has 1 field, the header has {width}: a truncated or foreign line",
    ]
    assert q["raw"].to_list() == [cut, "Exported by SurveyTool 3.2"]
    assert raw.frame["_row"].to_list() == [1, 3, *range(4, len(rest) + 4)]
    clean = tmp_path / "clean.csv"
    clean.write_text(sample, "utf-8")
    assert read_responses(clean).malformed.height == 0


def test_quarantined_preference_lines_keep_no_personal_data(tmp_path):
    """A persona line that fails to parse is kept in the quarantine as raw text: masked like the
    published personas (it held the e-mail and phone its persona would have had masked)."""
    import polars as pl

    from pipelines.recipes.preferences.steps import ReadRecords

    path = tmp_path / "personas.jsonl"
    path.write_text(
        '{"persona_id": "p1", "self_description": "I like plain answers."}\n'
        '{"persona_id": "p9", "self_description": "Write to maria.lopez@gmail.com or call +44 20 7946 0958" BROKEN\n',
        encoding="utf-8",
    )
    result = ReadRecords().run(pl.DataFrame({"path": [str(path)]}))
    raw = result.quarantine["raw"].to_list()
    assert len(raw) == 1 and "maria.lopez" not in raw[0] and "7946" not in raw[0]
    assert "<EMAIL>" in raw[0] and "BROKEN" in raw[0]
    assert result.account.kept == 1 and result.account.quarantined == 1


def test_inputs_that_are_not_regular_files_are_named_at_once(tmp_path):
    """A named pipe waited for a writer for ever, a device never ended; a link loop or a dangling link
    said only "file not found"."""
    import os

    from sources.files import check_readable

    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "gone.csv").symlink_to(tmp_path / "moved.csv")
    for path, said in [
        (tmp_path / "pipe.csv", "is a named pipe, not a regular file"),
        (Path("/dev/zero"), "is a device, not a regular file"),
        (tmp_path / "loop1", "is a loop of symbolic links"),
        (tmp_path / "gone.csv", f"file not found (a symbolic link to {tmp_path / 'moved.csv'})"),
    ]:
        began = time.monotonic()
        with pytest.raises(InputFileError, match=re.escape(said)):
            check_readable(path)
        assert time.monotonic() - began < 5


def test_a_number_too_large_for_a_float_is_infinite_whatever_its_bound():
    """`1e400` (text to YAML 1.1, inf to the model) met a bounded option's "less than or equal to 1"."""
    from pipelines.engine.config import validated
    from pipelines.recipes import get_recipe

    model = get_recipe("personality").Config
    for value in ("1e400", "-1E+400"):
        with pytest.raises(
            CurateError, match=re.escape(f"min_answered_fraction: must be a finite number, not '{value}': infinite")
        ):
            validated(model, {"min_answered_fraction": value}, None, "config")
    assert validated(model, {"min_answered_fraction": "5e-1"}, None, "config").min_answered_fraction == 0.5
