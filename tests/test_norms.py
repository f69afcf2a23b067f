"""The norms recipe's steps, and a whole build on test dumps without Prefect or Dask."""

from __future__ import annotations

import logging
import re

import orjson
import polars as pl
import pytest

from pipelines.engine.runtime import RunContext
from pipelines.methods.privacy import KEY_ENV
from pipelines.recipes import norms
from tests import reddit_dumps as fx


def verdicts(bodies: list[str], sub: str = "AmItheAsshole") -> list:
    data = pl.DataFrame({"body": bodies, "subreddit": [sub] * len(bodies)})
    return norms.ParseVerdicts(norms.VerdictConfig()).run(data).data["verdict"].to_list()


def test_one_vote_per_comment_the_first_code():
    assert verdicts(
        [
            "NTA. But YTA for the tone",
            "yta",
            "ESH!",
            "NAH",
            "INFO: when?",
            "YWBTA",
            "YWNBTA",
            "need more info",
            "NTAs all around",
            "lol",
        ]
    ) == ["NTA", "YTA", "ESH", "NAH", "INFO", "YTA", "NTA", None, None, None]
    assert verdicts(["NTA"], sub="confessions") == [None]


def test_vote_table_majority_and_tie():
    comments = pl.DataFrame({"link_id": ["t3_a"] * 3 + ["t3_b"] * 2, "verdict": ["NTA", "NTA", "YTA", "YTA", "ESH"]})
    table = {r["link_id"]: r for r in norms.vote_table(comments).to_dicts()}
    assert table["t3_a"]["judgment"] == "NTA" and table["t3_a"]["n_votes"] == 3
    dist = {d["label"]: (d["count"], d["share"]) for d in table["t3_a"]["label_distribution"]}
    assert dist["NTA"] == (2, pytest.approx(2 / 3)) and dist["INFO"] == (0, 0.0)
    assert table["t3_b"]["judgment"] is None  # a tie has no majority


def test_language_detection_is_seeded():
    texts = [
        "I told my sister she could not borrow my car for the weekend and she is angry.",
        "Je ne savais pas quoi faire quand ma soeur a pris ma voiture pendant le week-end.",
        "12345",
    ]
    first = norms.detect_languages(texts)
    assert [lang for lang, _ in first] == ["en", "fr", None]
    assert all(norms.detect_languages(texts) == first for _ in range(3))


def test_normalize():
    frame = pl.DataFrame({"t": ["  A &amp; B\u200b  \r\n\r\n\r\n\tC  "]})
    assert frame.select(norms.normalize("t")).item() == "A & B\n\nC"


@pytest.fixture
def built(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(KEY_ENV, "test-key")
    paths = fx.write_pair(tmp_path / "in")
    ctx = RunContext(recipe="norms", output=tmp_path / "out", cache=None, dask=None)
    with caplog.at_level(logging.DEBUG, logger="curate"):
        result = norms.build(ctx, paths, norms.Config(license="cc0-1.0"))
    return ctx, result, caplog.text


def test_build_situations_threads_and_accounts(built):
    ctx, result, _ = built
    situations, threads = result.tables["situations"], result.tables["threads"]
    # p1 and p2 pass (p15 too, the duplicate's better copy); p13 is French
    assert situations.height == 3 and threads.height == 3
    read = ctx.report.step("read_reddit")
    assert read.rows_in == 19 + 15 and read.quarantined == 8
    for account in ctx.report.accounts:
        account.check()
    sit = ctx.report.step("select_situations").dropped
    assert sit == {"author_deleted": 2, "deleted_or_removed": 2, "stickied": 1, "too_short": 1, "not_self_post": 1}
    assert ctx.report.step("detect_language").dropped == {"non_target_language": 1}
    assert ctx.report.step("dedupe_items").dropped == {"duplicate_id": 1}
    assert ctx.report.step("select_comments").dropped == {
        "not_top_level": 1,
        "bot_author": 2,
        "deleted_or_removed": 1,
        "post_not_selected": 1,
    }
    judged = {r["n_votes"]: r["judgment"] for r in situations.to_dicts()}
    assert judged == {4: "NTA", 2: None, 0: None}  # p1: NTA NTA YTA ESH; p15: NAH and YWBTA tie; p2: none
    labels = situations.filter(pl.col("n_votes") == 4)["label_distribution"][0].to_list()
    assert {d["label"]: d["count"] for d in labels}["NTA"] == 2
    # no endpoint and the embedded engine off (tests/conftest.py): no rules_of_thumb config, one note
    assert "rules_of_thumb" not in result.tables
    llm_notes = [n for n in ctx.report.notes if "LLM" in n]
    assert len(llm_notes) == 1 and llm_notes[0].startswith("No rules of thumb: the LLM step rules_of_thumb was skipped")
    assert "CURATE_LLM_EMBEDDED=0" in llm_notes[0]


def test_no_author_name_or_planted_pii_anywhere(built):
    ctx, result, logs = built
    texts = [orjson.dumps(ctx.report.to_dict()).decode(), logs]
    for table in [*result.tables.values(), ctx.report.quarantine]:
        texts.append(orjson.dumps(table.to_dicts(), default=str).decode())
    texts += [s.body for s in result.sections] + [result.card.personal_information]
    assert "step privacy: in=" in logs  # the logs were captured
    blob = "\n".join(texts).lower()
    for secret in fx.AUTHORS + fx.PII + ["test-key"]:
        assert secret.lower() not in blob, secret
    assert "<email>" in blob and "<phone>" in blob and "u/<user>" in blob
    privacy = next(s.body for s in result.sections if s.title == "Privacy treatment")
    assert "with spaCy en_core_web_sm NER" in privacy and re.search(r"<EMAIL> \(EMAIL_ADDRESS\): [1-9]", privacy)
    assert "names and places" in result.card.personal_information


def test_without_a_key_the_card_says_pseudonyms_are_not_stable(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    paths = fx.write_pair(tmp_path / "in", truncated=False)
    ctx = RunContext(recipe="norms", output=tmp_path / "out", cache=None, dask=None)
    result = norms.build(ctx, paths, norms.Config(privacy_ner=False))
    privacy = next(s.body for s in result.sections if s.title == "Privacy treatment")
    assert "Pseudonyms are not stable" in privacy and "NOT stable" in result.card.personal_information
    # the recipe option reaches the step (its provenance) and the card
    assert "rules only, no NER" in privacy and "names and places" not in result.card.personal_information
    assert orjson.loads(ctx.provenance["privacy"]["params"])["privacy_ner"] is False
