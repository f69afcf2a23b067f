"""Strict reading of what users hand us (sources/files.py, pipelines/engine/config.py), URL redaction
(pipelines/engine/redaction.py) and card escaping (data_cards/card.py), in-process and fast; the whole
corpus of hostile inputs through the CLI's path is tests/integration/test_bad_inputs.py."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest

from data_cards.card import md_text
from data_cards.licenses import check_license
from pipelines.engine.config import read_yaml_mapping, validated
from pipelines.engine.redaction import install_log_redaction, redact
from pipelines.recipes import personality
from schemas.errors import CurateError, InputFileError
from sources.files import check_distinct_names, encoding_read, input_name, load_yaml, read_text, read_text_table
from sources.tables import arrow_frame, read_table


def test_latin1_is_an_error_saying_where_never_u_fffd(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes("case,country\n1,Côte d'Ivoire\n".encode("latin-1"))
    with pytest.raises(InputFileError, match=r"r\.csv: not UTF-8 text: byte 0xf4 at line 2, column 4"):
        read_text_table(path)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig"])
def test_text_with_a_byte_order_mark_reads_as_written(tmp_path, encoding):
    path = tmp_path / "r.csv"
    path.write_bytes("case,country\n1,Côte d'Ivoire\n".encode(encoding))
    frame = read_text_table(path)
    assert frame.rows() == [("1", "Côte d'Ivoire")]
    assert encoding_read(path) == encoding
    assert read_table(path)[0]["country"].to_list() == ["Côte d'Ivoire"]


def test_colliding_and_repeated_columns_are_errors_naming_both(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("case,I1 ,i1\n1,2,3\n")
    with pytest.raises(InputFileError, match=r"column 'i1' appears as 'I1 ' and 'i1'"):
        read_text_table(path)
    path.write_text("case,i1,i1\n1,2,3\n")
    with pytest.raises(InputFileError, match=r"column 'i1' appears twice"):
        read_text_table(path)
    with pytest.raises(InputFileError, match=r"column 'i1' appears twice in the header"):
        read_table(path)


def test_a_header_without_rows_is_one_clear_error(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("case,i1\n")
    with pytest.raises(InputFileError, match=r"r\.csv: has a header but no data rows"):
        read_text_table(path)


def test_duplicate_yaml_keys_are_errors_naming_both_lines(tmp_path):
    path = tmp_path / "codebook.yaml"
    path.write_text("survey: S\nquestions:\n  - var: q1\n    weight: 1\n    weight: 2\n")
    with pytest.raises(InputFileError, match=r"line 5: duplicate key 'weight' \(first at line 4\)"):
        load_yaml(path, "codebook")
    path.write_bytes("license: mit\ndataset_name: Côte\n".encode("utf-16"))
    assert read_yaml_mapping(path) == {"license": "mit", "dataset_name": "Côte"}
    assert read_text(path).startswith("license")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_options_are_refused(value):
    with pytest.raises(CurateError, match="min_answered_fraction: must be a finite number"):
        validated(personality.Config, {"min_answered_fraction": value}, None, "config")


def test_out_of_range_options_are_refused():
    with pytest.raises(CurateError, match="min_answered_fraction"):
        validated(personality.Config, {"min_answered_fraction": -0.5}, None, "config")


def test_url_credentials_are_redacted_in_text_and_log_records(caplog):
    assert redact("http://bob:pw@h:8000/v1 failed") == "http://***@h:8000/v1 failed"
    assert redact("tcp://u@10.0.0.1:8786 and a@b.c") == "tcp://***@10.0.0.1:8786 and a@b.c"
    install_log_redaction()
    with caplog.at_level(logging.INFO, logger="curate-test"):
        logging.getLogger("curate-test").info("calling %s", "https://key:secret@api.example/v1")
    assert "secret" not in caplog.text and "https://***@api.example/v1" in caplog.text


def test_card_text_is_inert_and_licenses_are_hub_ids():
    assert md_text("<script>x</script>\n---\nlicense: mit") == "&lt;script&gt;x&lt;/script&gt; --- license: mit"
    assert md_text("a `b` [c](d) | e") == "a \\`b\\` \\[c\\](d) \\| e"
    assert check_license("CC-BY-4.0") == "cc-by-4.0"
    assert check_license("other", "Lab licence") == "other:Lab licence"
    with pytest.raises(ValueError, match="not a Hugging Face Hub license id"):
        check_license("gpl-99")
    with pytest.raises(ValueError, match="needs the license's name"):
        check_license("other")


def test_json_columns_of_mixed_types_become_text(tmp_path):
    import datasets

    path = tmp_path / "s.jsonl"
    path.write_text('{"ID": "a1", "x": "t"}\n{"ID": 2, "x": "u"}\n{"ID": null, "x": "v"}\n')
    ds = datasets.load_dataset("json", data_files=[str(path)], split="train", cache_dir=str(tmp_path / "hf"))
    frame = arrow_frame(ds.data.table)
    assert frame.schema["ID"] == pl.String
    assert frame["ID"].to_list() == ["a1", "2", None]


def test_inputs_are_named_as_given_normalized(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert input_name("d1/resp.csv") == "d1/resp.csv"
    assert input_name(Path("./d1//resp.csv")) == "d1/resp.csv"
    assert input_name("d1/../d2/resp.csv") == "d2/resp.csv"
    assert input_name("../up/resp.csv") == "../up/resp.csv"
    assert input_name(tmp_path / "resp.csv") == f"{tmp_path}/resp.csv"  # absolute when typed so
    shipped = Path(__file__).resolve().parents[1] / "sources" / "samples" / "personality" / "ipip120_responses.csv"
    assert input_name(shipped) == "sources/samples/personality/ipip120_responses.csv"  # not this machine's path


def test_two_inputs_with_one_file_name_are_two_inputs(tmp_path):
    a, b = tmp_path / "d1" / "resp.csv", tmp_path / "d2" / "resp.csv"
    check_distinct_names([a, b])
    check_distinct_names([Path("d1/resp.csv"), Path("d2/resp.csv")])
    with pytest.raises(InputFileError, match=r"d1/resp\.csv: is given twice \(as d1/resp\.csv and \./d1/resp\.csv\)"):
        check_distinct_names([Path("d1/resp.csv"), "./d1/resp.csv"])


def test_a_prefect_server_too_slow_to_start_is_one_line_not_a_bug(tmp_path):
    """A busy machine is not a bug: when Prefect's temporary API server does not answer within its
    start-up timeout (here 0 s, so the real server cannot make it), `curate run` says what to do in
    one line and exits 2, without a traceback."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**os.environ, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0", "CURATE_LLM_EMBEDDED": "0"}
    env.pop("PREFECT_API_URL", None)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli.main",
            "run",
            "values",
            "-o",
            str(out),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--quiet",
            "-i",
            str(REPO / "sources/samples/values/values_w1.csv"),
            "-i",
            str(REPO / "sources/samples/values/codebook.yaml"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "a bug in curate" not in proc.stderr
    assert "did not start within 0 s" in proc.stderr and "PREFECT_API_URL" in proc.stderr
