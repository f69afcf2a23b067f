"""Every output folder goes through pipelines/engine/dataset_dir.py, not only `curate run`'s: `curate dedup`'s
and `curate review pull`'s are claimed and locked before any work, written whole into a staging folder
and swapped in, with a manifest; a folder holding a user's files keeps them (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from filelock import FileLock

from pipelines.engine.dataset_dir import MANIFEST, lock_file
from schemas.errors import CurateError
from tests.dataset_writer import write

DEDUP_FILES = [
    "README.md",
    "data/duplicates/train-00000-of-00001.parquet",
    "data/kept/train-00000-of-00001.parquet",
    "plots/funnel.png",
    "quarantine.parquet",
    "report.json",
]


def dedup(tmp_path: Path, out: Path, **options) -> dict:
    from pipelines.cli.dedup import load_dedup_config, run_dedup

    source = tmp_path / "in.csv"
    if not source.exists():
        pl.DataFrame({"id": ["a", "b", "c", "d"], "text": ["x y", "X  y", "z", "x y"]}).write_csv(source)
    cfg = load_dedup_config("exact", None, {"text_column": "text", "id_column": "id"})
    return run_dedup(source, "exact", out, cfg, no_cache=True, engine="single", **options)


def manifest(out: Path) -> list[str]:
    return json.loads((out / MANIFEST).read_text())["files"]


def leftovers(parent: Path, out: Path) -> list[str]:
    """What a run left beside its output: nothing (no staging folder, no lock file)."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{out.name}."))


def test_dedup_output_is_staged_swapped_and_keeps_a_users_files(tmp_path, hf_cache):
    from data_cards.hub import validate_card_offline
    from tests.dataset_checks import load_every_config

    out = tmp_path / "dedup"
    report = dedup(tmp_path, out)
    assert report["facts"]["dedup"]["removed"] == 2
    assert manifest(out) == DEDUP_FILES
    # a dataset folder like every other command's: its configs load, its card is valid
    assert load_every_config(out, hf_cache) == {"kept": 2, "duplicates": 2}
    assert validate_card_offline(out) == []
    card = (out / "README.md").read_text()
    assert "Built by `curate dedup --method exact`" in card and "in.csv" in card and "2 removed" in card
    (out / "notes.md").write_text("mine")
    (out / "plots").mkdir(exist_ok=True)  # curate writes plots/funnel.png beside it
    (out / "plots" / "mine.png").write_bytes(b"png")
    dedup(tmp_path, out)  # again, into its own folder
    assert (out / "notes.md").read_text() == "mine" and (out / "plots" / "mine.png").read_bytes() == b"png"
    assert manifest(out) == DEDUP_FILES  # the user's files stay the user's
    assert pl.read_parquet(out / "data" / "kept")["id"].to_list() == ["a", "c"]
    assert leftovers(tmp_path, out) == []


def test_dedup_refuses_a_foreign_folder_and_a_locked_one(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("the user's")
    with pytest.raises(CurateError, match="is not a dataset folder written by curate"):
        dedup(tmp_path, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    dedup(tmp_path, foreign, allow_existing=True)  # --allow-existing: beside the user's files
    assert (foreign / "notes.txt").read_text() == "the user's" and manifest(foreign) == DEDUP_FILES
    out = tmp_path / "busy"
    with FileLock(lock_file(out)):  # another run holds the folder (flock: per open file, so in-process too)
        with pytest.raises(CurateError, match="another run is writing this folder"):
            dedup(tmp_path, out)
    assert not out.exists()


def reviewed_copy(source: Path) -> dict[str, pl.DataFrame]:
    frame = pl.read_parquet(source / "data" / "alpha" / "*.parquet")
    return {"alpha": frame.with_columns(pl.lit("reviewed").alias("tag"))}


def test_pull_writes_its_output_folder_whole_and_keeps_a_users_files(tmp_path):
    from annotation.pull import write_output

    source, out = tmp_path / "ds", tmp_path / "ds-reviewed"
    write(source, 50, "old")
    (source / "private.txt").write_text("the user's, not the dataset's")
    write_output(source, out, reviewed_copy(source), "reviewed by two annotators", [])
    files = manifest(out)
    assert "private.txt" not in files and not (out / "private.txt").exists()  # not copied as ours
    assert {"README.md", "report.json", "quarantine.parquet"} <= set(files)
    assert {f for f in files if f.startswith("data/")} == {
        f for f in json.loads((source / MANIFEST).read_text())["files"] if f.startswith("data/")
    }
    (out / "analysis.ipynb").write_text("{}")
    write_output(source, out, reviewed_copy(source), "reviewed again", [])
    assert (out / "analysis.ipynb").read_text() == "{}"  # a user's file in the output is kept
    assert "reviewed again" in (out / "README.md").read_text()
    assert set(pl.read_parquet(out / "data" / "alpha" / "*.parquet")["tag"]) == {"reviewed"}
    assert leftovers(tmp_path, out) == []


def test_pull_refuses_a_foreign_output_before_asking_argilla(tmp_path):
    from annotation.pull import pull

    source, out = tmp_path / "ds", tmp_path / "theirs"
    write(source, 10, "old")
    out.mkdir()
    (out / "thesis.tex").write_text("mine")

    class Unreachable:
        def workspaces(self, name):
            raise AssertionError("the output folder is checked before Argilla is asked")

    with pytest.raises(CurateError, match="is not a dataset folder written by curate"):
        pull(source, "ws", output=out, client=Unreachable())
    with FileLock(lock_file(tmp_path / "ds-reviewed")):
        with pytest.raises(CurateError, match="another run is writing this folder"):
            pull(source, "ws", client=Unreachable())
    assert (out / "thesis.tex").read_text() == "mine"
