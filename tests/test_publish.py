"""Versioned publishing: tags, immutability, the diff, schema checks, and cards the Hub accepts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from huggingface_hub import DatasetCard

from data_cards.hub import validate_card_offline
from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.engine.layout import write_dataset_dir
from pipelines.engine.publish import diff_configs, load_version, publish, versions
from pipelines.engine.runtime import RunContext
from pipelines.recipes import personality
from schemas.errors import CurateError
from tests import personality_data as pdata
from tests.conftest import all_splits


def make_run(
    tmp_path: Path, name: str, drop_case: str | None = None, change_case: str | None = None, spec=None
) -> Path:
    frame = pdata.frame_120()
    if drop_case:
        frame = frame[frame["case"] != int(drop_case)]
    if change_case:
        frame.loc[frame["case"] == int(change_case), "i1"] = 5
    src = tmp_path / "src" / "responses.csv"  # one path, as a rerun would have: records name it as given
    src.parent.mkdir(exist_ok=True)
    frame.to_csv(src, index=False)
    out = tmp_path / name
    ctx = RunContext(recipe="personality", output=out, dask=DaskRuntime(inline=True))
    result = personality.build(ctx, [src], personality.Config(license="cc0-1.0"))
    write_dataset_dir(
        out,
        recipe="personality",
        result=result,
        report=ctx.report,
        inputs=[src],
        created_at=ctx.created_at.isoformat(),
        spec=spec or personality.RECIPE.hub,
    )
    return out


def test_two_versions_load_by_version_with_a_diff(tmp_path, hf_cache):
    repo = tmp_path / "repo"
    first = publish(make_run(tmp_path, "run1"), str(repo), "1.0.0")
    assert first["previous"] is None
    second = publish(
        make_run(tmp_path, "run2", drop_case="1", change_case="2"),
        str(repo),
        "1.1.0",
        message="drop case 1, fix case 2",
    )
    assert versions(repo) == ["v1.0.0", "v1.1.0"]
    diff = {d["config"]: d for d in second["diff"]}
    assert diff["respondents"] == {
        "config": "respondents",
        "rows": 3,
        "added": 0,
        "removed": 1,
        "changed": 1,
        "unchanged": 2,
    }
    assert diff["items"]["unchanged"] == 120 and diff["items"]["changed"] == 0

    v1 = load_version(repo, "respondents", "1.0.0", cache_dir=hf_cache)
    v2 = load_version(repo, "respondents", "1.1.0", cache_dir=hf_cache)
    assert sorted(all_splits(v1, "respondent_id")) == ["1", "2", "3", "5"]
    assert sorted(all_splits(v2, "respondent_id")) == ["2", "3", "5"]
    card = (repo / "README.md").read_text()
    assert "Changes from v1.0.0 to v1.1.0" in card and "| respondents | 3 | 0 | 1 | 1 | 2 |" in card
    changelog = (repo / "CHANGELOG.md").read_text()
    assert changelog.index("## v1.1.0") < changelog.index("## v1.0.0")
    assert not (repo / "quarantine.parquet").exists()  # quarantined raw rows stay with the run


def test_datasets_ignores_revision_for_local_folders(tmp_path, hf_cache):
    """Why `load_version` exists: datasets 5.2 loads a local folder's working tree whatever the
    revision. If this starts failing, datasets honours local revisions and the README can say so."""
    import datasets

    repo = tmp_path / "repo"
    publish(make_run(tmp_path, "run1"), str(repo), "1.0.0")
    publish(make_run(tmp_path, "run2", drop_case="1"), str(repo), "1.1.0")
    old = datasets.load_dataset(str(repo), "respondents", revision="v1.0.0", cache_dir=hf_cache)
    assert sum(old.num_rows.values()) == 3  # the working tree (v1.1.0), not v1.0.0's four rows


def test_a_version_is_immutable_and_must_be_semantic(tmp_path):
    run = make_run(tmp_path, "run1")
    repo = tmp_path / "repo"
    publish(run, str(repo), "1.0.0")
    again = publish(run, str(repo), "1.0.0")  # a rerun: the same data is not an error, and makes nothing
    assert again["version"] is None and again["unchanged_from"] == "v1.0.0"
    with pytest.raises(CurateError, match="version v1.0.0 exists and holds other data"):
        publish(make_run(tmp_path, "run2", drop_case="1"), str(repo), "1.0.0")
    with pytest.raises(CurateError, match="older than the latest"):
        publish(run, str(repo), "0.9.0")
    with pytest.raises(CurateError, match="not semantic"):
        publish(run, str(repo), "1.0")
    assert versions(repo) == ["v1.0.0"]


def test_data_failing_its_schema_is_refused(tmp_path):
    run = make_run(tmp_path, "run1")
    shards = sorted((run / "data" / "respondents").glob("*.parquet"))
    frame = pl.read_parquet(shards)
    for shard in shards:
        shard.unlink()
    pl.concat([frame, frame.head(1)]).drop("license").write_parquet(shards[0])
    with pytest.raises(CurateError) as err:
        publish(run, str(tmp_path / "repo"), "1.0.0")
    assert "envelope column 'license' is missing" in str(err.value)
    assert "1 duplicate record_id values" in str(err.value)
    assert not (tmp_path / "repo" / ".git").exists() or versions(tmp_path / "repo") == []


def test_card_header_is_valid_for_the_hub_and_datasets(tmp_path):
    from datasets.utils.metadata import MetadataConfigs

    run = make_run(tmp_path, "run1")
    card = DatasetCard.load(run / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "cc0-1.0"
    assert data["language"] == ["en"] and data["size_categories"] == ["n<1K"]
    assert data["task_categories"] and data["pretty_name"]
    configs = MetadataConfigs.from_dataset_card_data(card.data)
    assert set(configs) == {"respondents", "items"}
    assert configs["respondents"]["data_files"] == [
        {"split": "train", "path": "data/respondents/train-*.parquet"},
        {"split": "test", "path": "data/respondents/test-*.parquet"},
    ]
    assert configs["items"]["data_files"] == [{"split": "train", "path": "data/items/train-*.parquet"}]
    assert data["source_datasets"] == ["original"] and data["multilinguality"] == "monolingual"
    import re

    figures = re.findall(r"^!\[.*\]\((plots/[\w.-]+\.png)\)$", card.text, flags=re.M)
    assert {
        "plots/funnel.png",
        "plots/domain_scores.png",
        "plots/languages_respondents.png",
        "plots/languages_items.png",
        "plots/splits.png",
    } <= set(figures)
    for path in figures:  # every linked figure exists
        assert (run / path).exists()
    assert validate_card_offline(run) == []
    assert "DESIGN.md" not in card.text and str(run) not in card.text  # nothing a reader of the Hub lacks
    # every column of every config is described, with a type datasets would print
    for config in ("respondents", "items"):
        section = card.text.split(f"### Config `{config}`")[1].split("### Config")[0]
        rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \| (.*) \|$", section, flags=re.M)
        assert {r[0] for r in rows} == set(pl.read_parquet(run / "data" / config).columns)
        assert all(r[2].strip() for r in rows), [r[0] for r in rows if not r[2].strip()]
        assert not any("..." == r[1][-3:] for r in rows)


def test_published_configs_are_hub_typed_and_mix_with_hub_datasets(tmp_path, hf_cache):
    """`string` columns (not `large_string`), ClassLabel from `dataset_info`, and a config that
    `concatenate_datasets` joins with an ordinary Hub-style dataset built from plain Python strings."""
    import dataclasses

    import datasets
    import pyarrow.parquet as pq

    # the shipped spec: an items table holds the domains of any instrument (IPIP-NEO's E is not
    # HEXACO's E), so `domain` stays a string there
    shipped = datasets.load_dataset(str(make_run(tmp_path, "run0")), "items", split="train", cache_dir=hf_cache)
    assert shipped.features["domain"] == datasets.Value("string")
    # a spec that declares the labels: ClassLabel in `dataset_info`
    labelled = dataclasses.replace(
        personality.RECIPE.hub, class_labels={"items": {"domain": ["N", "E", "O", "A", "C"]}}
    )
    run = make_run(tmp_path, "run1", spec=labelled)
    for shard in (run / "data").rglob("*.parquet"):
        assert not [f.name for f in pq.read_schema(shard) if "large" in str(f.type)], shard
    items = datasets.load_dataset(str(run), "items", split="train", cache_dir=hf_cache)
    assert isinstance(items.features["domain"], datasets.ClassLabel)
    assert items.features["domain"].names == ["N", "E", "O", "A", "C"]
    assert items.features["text"] == datasets.Value("string")
    hub_style = datasets.Dataset.from_dict(
        {"text": ["I like parties.", "I worry."], "facet_name": ["Gregariousness", "Anxiety"]}
    )
    assert hub_style.features["text"] == datasets.Value("string")  # what Hub parquet files hold
    both = datasets.concatenate_datasets([items.select_columns(["text", "facet_name"]), hub_style])
    assert both.num_rows == items.num_rows + 2 and both[-1]["text"] == "I worry."

    # journey 4 on a published version: the config as `load_version` reads it from the repository
    # mixes with the Hub-style dataset, and the published card passes the offline card checks
    publish(run, str(tmp_path / "repo"), "1.0.0")
    published = load_version(tmp_path / "repo", "items", "1.0.0", split="train", cache_dir=hf_cache)
    assert isinstance(published.features["domain"], datasets.ClassLabel)
    mixed = datasets.concatenate_datasets([published.select_columns(["text", "facet_name"]), hub_style])
    assert mixed.num_rows == published.num_rows + 2
    assert validate_card_offline(tmp_path / "repo") == []


def test_offline_card_validation_finds_what_the_hub_would_reject(tmp_path):
    """The offline checks can fail: a language outside datasets' list, a row count that disagrees
    with the files, a config whose files are gone, a linked figure that is missing."""
    import shutil

    run = make_run(tmp_path, "run1")
    assert validate_card_offline(run) == []
    card = DatasetCard.load(run / "README.md")
    card.data.language = ["en", "klingon"]
    card.data.multilinguality = "polyglot"
    card.save(run / "README.md")
    (run / "plots" / "funnel.png").unlink()
    shutil.rmtree(run / "data" / "items")
    respondents = sorted((run / "data" / "respondents").glob("train-*.parquet"))
    pl.read_parquet(respondents[0]).head(1).write_parquet(respondents[0])
    problems = validate_card_offline(run)
    assert "language 'klingon' unknown" in problems and "multilinguality 'polyglot' unknown" in problems
    assert "figure plots/funnel.png is linked but missing" in problems
    assert any(p.startswith("config 'items' split 'train': no file matches") for p in problems), problems
    assert any(p.startswith("config 'respondents' split 'train': dataset_info says") for p in problems), problems


def test_splits_follow_the_grouping_key_and_are_stable():
    from data_cards.hub import DEFAULT_FRACTIONS, assign_splits, split_of

    frame = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(4000)],
            "thread_id": [f"t{i // 4}" for i in range(4000)],
            "split": ["train"] * 4000,
        }
    )
    out = assign_splits(frame, "thread_id", DEFAULT_FRACTIONS)
    assert out.columns == frame.columns and out["record_id"].to_list() == frame["record_id"].to_list()
    per_thread = out.group_by("thread_id").agg(pl.col("split").n_unique())
    assert per_thread["split"].max() == 1  # no thread in two splits
    shares = out["split"].value_counts(normalize=True).sort("split")
    share = dict(zip(shares["split"], shares["proportion"]))
    assert 0.76 < share["train"] < 0.84 and 0.07 < share["validation"] < 0.13 and 0.07 < share["test"] < 0.13
    # a key's split depends only on the key: the same in a later version with more rows, in any order
    later = assign_splits(
        pl.concat([frame.reverse(), frame.with_columns(pl.col("thread_id") + "x")]), "thread_id", DEFAULT_FRACTIONS
    )
    old = dict(zip(out["thread_id"], out["split"]))
    assert all(old[t] == s for t, s in zip(later["thread_id"], later["split"]) if t in old)
    assert split_of("t1", DEFAULT_FRACTIONS) == split_of("t1", dict(DEFAULT_FRACTIONS))
    assert set(assign_splits(frame, None, DEFAULT_FRACTIONS)["split"]) == {"train"}


def test_splits_are_configurable(tmp_path):
    from data_cards.hub import check_fractions

    with pytest.raises(CurateError, match="sum to 1"):
        check_fractions({"train": 0.5, "test": 0.1})
    with pytest.raises(CurateError, match="unknown split"):
        check_fractions({"train": 0.9, "dev": 0.1})
    out = tmp_path / "cfg"
    src = tmp_path / "src.csv"
    pdata.frame_120().to_csv(src, index=False)
    ctx = RunContext(recipe="personality", output=out, dask=DaskRuntime(inline=True))
    result = personality.build(ctx, [src], personality.Config())
    write_dataset_dir(
        out,
        recipe="personality",
        result=result,
        report=ctx.report,
        inputs=[src],
        created_at=ctx.created_at.isoformat(),
        splits={"fractions": {"train": 1.0}},
        spec=personality.RECIPE.hub,
    )
    assert [p.name for p in (out / "data" / "respondents").iterdir()] == ["train-00000-of-00001.parquet"]
    assert personality.Config(splits={"fractions": {"train": 0.9, "test": 0.1}}).splits.fractions["test"] == 0.1


def test_shards_and_row_groups_are_cut_by_bytes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from data_cards.hub import shards, write_parquet

    table = pa.table({"text": ["x" * 1000] * 5000})  # about 5 MB
    pieces = shards(table, shard_bytes=1_000_000)
    assert len(pieces) == 6 and sum(p.num_rows for p in pieces) == 5000
    write_parquet(table, tmp_path / "t.parquet", row_group_bytes=500_000)
    meta = pq.ParquetFile(tmp_path / "t.parquet").metadata
    assert meta.row_group(0).num_rows == 500_000 // 1004 == 498  # 1000 characters + a 4-byte offset a row
    assert meta.num_row_groups == 11


def test_diff_by_record_id_ignores_created_at():
    a = pl.DataFrame({"record_id": ["x", "y"], "v": [1, 2], "created_at": [1, 1]})
    b = pl.DataFrame({"record_id": ["y", "z"], "v": [3, 4], "created_at": [2, 2]})
    same = diff_configs({"c": a.with_columns(created_at=pl.lit(9))}, {"c": a})[0]
    assert (same.added, same.removed, same.changed, same.unchanged) == (0, 0, 0, 2)
    d = diff_configs({"c": b}, {"c": a})[0]
    assert (d.added, d.removed, d.changed, d.unchanged) == (1, 1, 1, 0)


def test_card_figures_are_drawn_once_per_data(tmp_path):
    """Figures are PNGs drawn from the data; the same data again is copied from the plot cache,
    different data is drawn anew."""
    import numpy as np

    from data_cards.plots import Plot, draw_all

    cache = tmp_path / "plots-cache"
    scores = Plot("scores", "Scores", "hist", {"N": np.linspace(1, 5, 200), "E": np.linspace(2, 4, 200)}, "score")
    bars = Plot("langs", "Languages", "bars", {"en": 3, "fr": 2})
    first = draw_all([scores, bars], tmp_path / "a", cache)
    assert [e["path"] for e in first] == ["plots/scores.png", "plots/langs.png"]
    assert len(list(cache.glob("*.png"))) == 2
    assert (tmp_path / "a" / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    draw_all([scores, bars], tmp_path / "b", cache)
    for name in ("scores.png", "langs.png"):
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "a" / name).read_bytes()
    assert len(list(cache.glob("*.png"))) == 2  # nothing drawn
    draw_all([Plot("langs", "Languages", "bars", {"en": 3, "fr": 5})], tmp_path / "c", cache)
    assert len(list(cache.glob("*.png"))) == 3
    assert (tmp_path / "c" / "langs.png").read_bytes() != (tmp_path / "a" / "langs.png").read_bytes()


def test_repository_paths_are_local_unless_the_hub_is_explicit(tmp_path, monkeypatch):
    from pipelines.engine.publish import resolve_repo

    monkeypatch.chdir(tmp_path)
    # the README's `datasets/big5` looks like a Hub id but is a folder, existing or not
    assert resolve_repo("datasets/big5") == ("local", tmp_path / "datasets" / "big5")
    assert resolve_repo("./big5") == ("local", tmp_path / "big5")
    assert resolve_repo("/abs/big5") == ("local", Path("/abs/big5"))
    assert resolve_repo("hf://my-org/big5") == ("hub", "my-org/big5")
    assert resolve_repo("hf://datasets/my-org/big5") == ("hub", "my-org/big5")
    assert resolve_repo("my-org/big5", hub=True) == ("hub", "my-org/big5")
    with pytest.raises(CurateError, match="not a Hub dataset id"):
        resolve_repo("hf://not an id")


def test_relative_repository_works_from_any_working_directory(tmp_path, monkeypatch, hf_cache):
    """The second version of a relative repository needs the first one's files (the diff), read
    through a git worktree: the path git gets must not depend on the working directory."""
    run1, run2 = make_run(tmp_path, "run1"), make_run(tmp_path, "run2", drop_case="1")
    monkeypatch.chdir(tmp_path)
    publish(run1, "datasets/big5", "1.0.0")
    second = publish(run2, "datasets/big5", "1.1.0")
    assert second["previous"] == "v1.0.0"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert versions(Path("../datasets/big5")) == ["v1.0.0", "v1.1.0"]
    assert sum(load_version("../datasets/big5", "respondents", "1.0.0", cache_dir=hf_cache).num_rows.values()) == 4
    assert not list((tmp_path / "datasets" / "big5" / ".git").glob("curate-worktrees/*"))  # cleaned up


def test_versions_of_a_missing_repository_is_an_error(tmp_path):
    with pytest.raises(CurateError, match="does not exist"):
        versions(tmp_path / "nope", must_exist=True)
    (tmp_path / "plain").mkdir()
    with pytest.raises(CurateError, match="not a dataset repository"):
        versions(tmp_path / "plain", must_exist=True)
    assert versions(tmp_path / "nope") == []  # for publishing, a missing repository has no versions yet


def test_unchanged_data_publishes_nothing(tmp_path):
    repo = tmp_path / "repo"
    publish(make_run(tmp_path, "run1"), str(repo), "1.0.0")
    again = publish(make_run(tmp_path, "run2"), str(repo), "1.0.1")  # the same data, run again
    assert again["version"] is None and again["unchanged_from"] == "v1.0.0"
    assert versions(repo) == ["v1.0.0"]
    changed = publish(make_run(tmp_path, "run3", change_case="2"), str(repo), "1.0.1")
    assert changed["version"] == "v1.0.1"


def test_next_version(tmp_path):
    from pipelines.engine.publish import next_version

    repo = tmp_path / "repo"
    assert next_version(repo) == "1.0.0"
    publish(make_run(tmp_path, "run1"), str(repo), "1.2.3")
    assert next_version(repo) == "1.2.4" and next_version(repo, "minor") == "1.3.0"


def test_published_card_names_the_repository_and_version(tmp_path, monkeypatch):
    run = make_run(tmp_path, "run1")
    before = (run / "README.md").read_text()
    assert "Not published yet" in before and str(run) not in before
    monkeypatch.chdir(tmp_path)
    publish(run, "datasets/big5", "1.0.0")
    card = (tmp_path / "datasets" / "big5" / "README.md").read_text()
    assert 'load_version("datasets/big5", "respondents", "1.0.0", split="train")' in card
    assert (
        'revision="v1.0.0"' in card and "Not published yet" not in card and str(tmp_path / "run1") not in card
    )  # the inputs are named as given (absolute here)
    assert validate_card_offline(tmp_path / "datasets" / "big5") == []


def test_each_shipped_recipe_declares_how_it_is_published():
    """The publishing facts are the recipe folder's (recipe.yaml outputs, card.py HUB, columns.yaml), not a
    table in data_cards (tests/test_recipe_contract.py holds every recipe to its contract)."""
    from pipelines.recipes import SHIPPED, available, get_recipe
    from pipelines.recipes.base import read_columns

    shipped = [name for name, folder in available().items() if folder.parent == SHIPPED]
    assert len(shipped) >= 6
    for name in shipped:
        recipe = get_recipe(name)
        assert recipe.hub.split_keys == recipe.contract.split_keys(), name  # from recipe.yaml outputs
        if (SHIPPED / name / "columns.yaml").is_file():  # optional: the card's column descriptions
            assert read_columns(SHIPPED / name / "columns.yaml"), name
    assert get_recipe("norms").hub.class_labels == {"situations": {"judgment": ["YTA", "NTA", "ESH", "NAH", "INFO"]}}
    from pipelines.recipes.expand.card import COLUMNS

    assert (
        COLUMNS["domain"] == "Big Five domain: N, E, O, A, C" and "question" in COLUMNS
    )  # personality's items + its own
    assert [n for n in shipped if get_recipe(n).needs_pseudonym_key] == ["norms"]
