"""The non-LLM parts of the LLM recipes: reading and validating their inputs (quarantine with file,
row and field), the record types the model must fill, and the translation checks."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from pipelines.recipes import expand, preferences, translate
from schemas.errors import InputFileError
from tests.conftest import REPO

SAMPLES = REPO / "sources" / "samples"


def test_input_checks_name_the_file_before_the_run(tmp_path):
    bad_csv = tmp_path / "items.csv"
    bad_csv.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match=r"items\.csv: missing column\(s\) text, domain, keyed"):
        expand.check_inputs([bad_csv], expand.Config())
    with pytest.raises(InputFileError, match=r"expected JSON Lines"):
        preferences.check_inputs([bad_csv], preferences.Config())
    with pytest.raises(InputFileError, match=r"one format"):
        translate.check_inputs([tmp_path / "a.parquet", tmp_path / "b.csv"], translate.Config())
    expand.check_inputs([SAMPLES / "expand" / "items.csv"], expand.Config())  # the sample passes


def test_items_with_a_bad_key_are_quarantined_with_row_and_field():
    read = expand.ReadItems().run(pl.DataFrame({"path": [str(SAMPLES / "expand" / "items.csv")]})).data
    result = expand.ValidateItems().run(read)
    assert (result.account.rows_in, result.account.kept, result.account.quarantined) == (9, 8, 1)
    q = result.quarantine.row(0, named=True)
    assert (q["source_file"], q["row"], q["field"]) == (
        "sources/samples/expand/items.csv",
        9,
        "keyed",
    ) and "'maybe'" in q["error"]
    assert result.data["keyed"].dtype == pl.Int8 and set(result.data["keyed"]) == {1, -1}


def test_jsonl_reader_sorts_personas_from_prompts_and_quarantines_broken_lines():
    paths = [str(SAMPLES / "preferences" / f) for f in ("personas.jsonl", "prompts.jsonl")]
    result = preferences.ReadRecords().run(pl.DataFrame({"path": paths}))
    assert result.data["kind"].value_counts().sort("kind").rows() == [("persona", 3), ("prompt", 3)]
    q = result.quarantine.row(0, named=True)
    assert (q["source_file"], q["row"]) == ("sources/samples/preferences/prompts.jsonl", 2) and "not valid JSON" in q[
        "error"
    ]


def test_scenario_and_judgement_types_enforce_their_shape():
    model = expand.scenario_set_model(1, 2)
    opt = lambda k: {"text": "some option", "keyed": k}  # noqa: E731
    model.model_validate(
        {"scenarios": [{"question": "What would you do now?", "options": [opt("high"), opt("low")] * 2}]}
    )
    with pytest.raises(ValidationError, match="3 options keyed high"):
        model.model_validate(
            {"scenarios": [{"question": "What would you do now?", "options": [opt("high")] * 3 + [opt("low")]}]}
        )
    with pytest.raises(ValidationError):  # two scenarios where one was asked for
        model.model_validate(
            {"scenarios": [{"question": "What would you do now?", "options": [opt("high"), opt("low")] * 2}] * 2}
        )
    judgement = preferences.judgement_model(2)
    with pytest.raises(ValidationError, match="candidates 1..2 once each"):
        judgement.model_validate(
            {"scores": [{"candidate": 1, "score": 3}, {"candidate": 1, "score": 4}], "rationale": "x"}
        )


def test_local_copy_in_hf_format_loads_and_validates(hf_cache):
    rows = translate.load_rows([SAMPLES / "translate" / "moral_stories"], translate.LoadConfig())
    assert rows.height == 7 and {"ID", "norm", "immoral_consequence"} <= set(rows.columns)
    result = translate.ValidateSource(
        translate.ValidateConfig(id_field="ID", fields=translate.MORAL_STORIES_FIELDS)
    ).run(rows)
    assert result.account.quarantined == 1 and result.quarantine["field"][0] == "situation"
    assert result.quarantine["row"][0] == 7


def test_translation_checks_flag_wrong_language_and_length_but_drop_nothing():
    fields = ["situation", "moral_action"]
    src = {
        "situation": "Daniel's sister left her phone unlocked on the kitchen table while she showered.",
        "moral_action": "Daniel leaves the phone where it is and asks her later if everything is all right.",
    }
    good = {
        "t_situation": "La sœur de Damien a laissé son téléphone déverrouillé sur la table de la cuisine.",
        "t_moral_action": "Damien laisse le téléphone où il est et lui demande plus tard si tout va bien.",
    }
    english = {f"t_{f}": v for f, v in src.items()}
    short = {**good, "t_moral_action": "Il attend."}
    frame = pl.DataFrame([{**src, **t} for t in (good, english, short)])
    config = translate.CheckConfig(
        fields=fields,
        target_lang="fr",
        min_length_ratio=0.6,
        max_length_ratio=1.9,
        min_lang_field_chars=40,
        embedding_model=None,
        min_similarity=0.7,
    )
    result = translate.CheckTranslations(config).run(frame)
    q = result.data["quality"].to_list()
    assert result.data.height == 3 and result.account.extra["flagged_for_review"] == 2
    assert q[0]["flags"] == [] and q[0]["detected_lang"] == "fr" and q[0]["confidence"] > 0.9
    assert "language:en" in q[1]["flags"] and q[1]["confidence"] == 0
    assert (
        any(f.startswith("length_ratio:moral_action") for f in q[2]["flags"])
        and q[2]["confidence"] < q[0]["confidence"]
    )
