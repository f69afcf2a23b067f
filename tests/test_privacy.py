"""Pseudonyms and masks (pipelines/privacy.py)."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.privacy import (KEY_ENV, PrivacyConfig, Pseudonymize, PseudonymKey, handle_like, mask_counts,
                               mask_expr, mask_text, redact_raw)


def test_pseudonyms_are_keyed_stable_and_case_blind(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "a secret for tests")
    a, b = PseudonymKey.from_env(), PseudonymKey.from_env()
    assert a.stable and a.pseudonym("Jane_Doe_1987") == b.pseudonym("jane_doe_1987")
    assert a.pseudonym("Jane_Doe_1987") != a.pseudonym("MarkTwainFan42")
    assert "secret" not in repr(a) and a.key_id in repr(a)
    other = PseudonymKey(b"another key", True)
    assert other.pseudonym("Jane_Doe_1987") != a.pseudonym("Jane_Doe_1987")


def test_without_the_variable_a_random_key_per_run(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    a, b = PseudonymKey.from_env(), PseudonymKey.from_env()
    assert not a.stable and a.pseudonym("x_name_1") != b.pseudonym("x_name_1") and a.key_id != b.key_id


@pytest.mark.parametrize("text, masked", [
    ("mail jane.doe.1987@example.com now", "mail [email] now"),
    ("call 555-867-5309 or (555) 123-4567 or 555.123.4567", "call [phone] or [phone] or [phone]"),
    ("ring +44 20 7946 0958 or +1 555 123 4567", "ring [phone] or [phone]"),
    ("thanks u/Jane_Doe_1987 and /u/MarkTwainFan42!", "thanks u/[user] and /u/[user]!"),
    ("see https://www.reddit.com/user/Jane_Doe_1987/ ok", "see https://www.reddit.com/user/[user]/ ok"),
    ("https://x.org/a?email=jane%40example.com&token=abc123&page=2",
     "https://x.org/a?email=[redacted]&token=[redacted]&page=2"),
    ("https://youtube.com/watch?v=abc123", "https://youtube.com/watch?v=abc123"),
    ("in 2019-2020 I paid 1,000,000 on 2023-11-14 at 10:30", "in 2019-2020 I paid 1,000,000 on 2023-11-14 at 10:30"),
])
def test_masks_in_polars_and_python_agree(text, masked):
    assert mask_text(text) == masked
    assert pl.DataFrame({"t": [text]}).select(mask_expr("t")).item() == masked


def test_mask_counts():
    frame = pl.DataFrame({"t": ["a@example.com b@example.org 555-867-5309", None], "u": ["u/someone_1", "x"]})
    counts = mask_counts(frame, ["t", "u"])
    assert counts["email"] == 2 and counts["phone"] == 1 and counts["user_mention"] == 1


def test_redact_raw_line_hides_author_fields_and_pii():
    raw = b'{"id":"x","author":"Jane_Doe_1987","author_fullname":"t2_ab","body":"call 555-867-5309","author_flair_text":"Jan'
    out = redact_raw(raw)
    assert "Jane_Doe_1987" not in out and "555-867-5309" not in out and "Jan" not in out.split("author_flair_text")[1]
    assert '"id":"x"' in out


def test_handle_like():
    assert handle_like("Jane_Doe_1987") and handle_like("MarkTwainFan42") and handle_like("kind-stranger")
    assert not handle_like("happy") and not handle_like("Bob")


def test_step_replaces_authors_flags_bots_and_masks_names():
    key = PseudonymKey(b"k", True)
    data = pl.DataFrame({
        "author": ["Jane_Doe_1987", None, "AutoModerator", "RemindMeBot", "happy"],
        "title": ["AITA?", None, None, None, None],
        "selftext": ["I am Jane_Doe_1987, mail me a@example.com", None, None, None, None],
        "body": [None, "agree with jane_doe_1987", "rules", "reminder", "I am happy"],
    })
    result = Pseudonymize(PrivacyConfig(key_id=key.key_id), key).run(data)
    out = result.data
    assert "author" not in out.columns
    assert out["author_pseudonym"].to_list()[:2] == [key.pseudonym("Jane_Doe_1987"), None]
    assert out["author_is_bot"].to_list() == [False, False, True, True, False]
    assert out["selftext"][0] == "I am [user], mail me [email]"
    assert out["body"][1] == "agree with [user]" and out["body"][4] == "I am happy"
    assert result.account.extra["masked"]["author_name"] == 2 and result.account.kept == 5
