"""Pseudonyms, normalization, masks and the redaction of quarantined lines (pipelines/methods/privacy/).

The masker (Presidio + spaCy's small English model) is loaded once per session by the fixture;
every case below is a real run of it."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.engine.dask_runtime import DaskRuntime
from pipelines.methods.privacy import (
    KEY_ENV,
    PLACEHOLDERS,
    PrivacyConfig,
    Pseudonymize,
    PseudonymKey,
    handle_like,
    mask_columns,
    masker,
    normalize_text,
    redact_raw,
)


@pytest.fixture(scope="session")
def full():
    return masker(True)


@pytest.fixture(scope="session")
def rules():
    return masker(False)


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


# -- normalization --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, normalized",
    [
        ("a &amp;amp; b &lt;3 &gt; &#64; &quot;x&quot;", 'a & b <3 > @ "x"'),  # Reddit's double encoding
        ("０６ １２ ３４ ５６ ７８ ｊａｎｅ", "06 12 34 56 78 jane"),  # full width (NFKC)
        ("ﬁle ①", "file 1"),  # ligature, circled digit
        ("ja\u200bne\u200c@\u2060exa\ufeffmple.com", "jane@example.com"),  # zero-width
        ("\u202eevil\u202c \u2066x\u2069 \u200fy\u200e", "evil x y"),  # bidi controls
        ("soft\u00adhyphen", "softhyphen"),
        (
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467 ok",
            "family \U0001f468\u200d\U0001f469\u200d\U0001f467 ok",
        ),
        ("ㅋㅋㅋ ㅠㅠ 안녕하세요", "ㅋㅋㅋ ㅠㅠ 안녕하세요"),  # compatibility jamo kept
        ("plain ascii stays", "plain ascii stays"),
    ],
)
def test_normalize(raw, normalized):
    assert normalize_text(raw) == normalized


def test_masks_apply_to_the_normalized_text(rules):
    out, counts = rules.mask(
        ["call ０６ １２ ３４ ５６ ７８", "j\u200ban\u200be@example.com", "https://x.org/r?id=1&amp;token=abc123def"]
    )
    assert out == ["call <PHONE>", "<EMAIL>", "https://x.org/r?id=1&token=<URL_PARAM>"]
    assert counts == {"PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1, "URL_PARAM": 1}


# -- each kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, masked",
    [
        # phones: US, international of several regions, national French/German/Korean/UK
        ("call 202-555-0143 or (415) 555-2671", "call <PHONE> or <PHONE>"),
        ("ring +44 20 7946 0958 or +1 202 555 0143", "ring <PHONE> or <PHONE>"),
        (
            "+33 6 12 34 56 78, +49 1512 3456789, +82 10-1234-5678, +91 98765 43210, +55 11 91234-5678",
            "<PHONE>, <PHONE>, <PHONE>, <PHONE>, <PHONE>",
        ),
        (
            "appelle au 06 12 34 56 78 ou 030 12345678, 010-1234-5678, 07700 900123",
            "appelle au <PHONE> ou <PHONE>, <PHONE>, <PHONE>",
        ),
        # e-mails: plain, obfuscated, encoded
        ("mail jane.doe.1987@example.com now", "mail <EMAIL> now"),
        ("jane dot doe at gmail dot com", "<EMAIL>"),
        ("write to jane.doe [at] gmail [dot] com or jane(at)web.de", "write to <EMAIL> or <EMAIL>"),
        ("mail jane&#64;example.org", "mail <EMAIL>"),
        # cards (Luhn), IBANs (check digits), IPs, SSN, crypto
        ("card 4012 8888 8888 1881 or 5555-5555-5555-4444", "card <CARD> or <CARD>"),
        ("Mastercard 2223 0031 2200 3222", "Mastercard <CARD>"),
        ("IBAN DE89 3704 0044 0532 0130 00 or FR1420041010050500013M02606", "IBAN <IBAN> or <IBAN>"),
        ("from 203.0.113.7 and 2001:db8::8a2e:370:7334", "from <IP> and <IP>"),
        ("My SSN is 219-09-9999.", "My SSN is <SSN>."),
        (
            "BTC 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy, ETH 0x52908400098527886E0F7030069857D2E4169EE7",
            "BTC <CRYPTO>, ETH <CRYPTO>",
        ),
        # URLs: secret query values, the rest of the link kept
        (
            "https://x.org/a?email=jane%40example.com&token=abc123&page=2",
            "https://x.org/a?email=<URL_PARAM>&token=<URL_PARAM>&page=2",
        ),
        ("https://youtube.com/watch?v=abc123", "https://youtube.com/watch?v=abc123"),
        # Reddit
        ("thanks u/Jane_Doe_1987 and /u/MarkTwainFan42!", "thanks u/<USER> and /u/<USER>!"),
        ("see https://www.reddit.com/user/Jane_Doe_1987/ ok", "see https://www.reddit.com/user/<USER>/ ok"),
        # addresses
        ("We live at 1600 Pennsylvania Avenue NW, Washington, DC 20500.", "We live at <ADDRESS>."),
        ("Flat 3, 12 Smith Road, SW1A 1AA", "<ADDRESS>, <ADDRESS>"),
        ("j'habite 3 rue des Lilas, 75011 Paris.", "j'habite <ADDRESS>."),
        ("Ich wohne in der Goethestraße 12, 60313 Frankfurt.", "Ich wohne in der <ADDRESS>."),
        ("서울특별시 강남구 테헤란로 123 에 살아요", "<ADDRESS> 에 살아요"),
        # names: NER, titles, Korean honorifics
        ("Yesterday I ran into Margaret Vasseur at the store.", "Yesterday I ran into <PERSON> at the store."),
        ("Mr. Smith said no, and my name is Jane Doe.", "Mr. <PERSON> said no, and my name is <PERSON>."),
        ("어제 김민준 씨를 만났어요.", "어제 <PERSON> 씨를 만났어요."),
        # nothing personal: unchanged
        (
            "in 2019-2020 I paid 1,000,000 on 2023-11-14 at 10:30",
            "in 2019-2020 I paid 1,000,000 on 2023-11-14 at 10:30",
        ),
        (
            "NTA. Your mom is wrong. I'm 25F and my bf (27M) is mad.",
            "NTA. Your mom is wrong. I'm 25F and my bf (27M) is mad.",
        ),
    ],
)
def test_each_kind(full, text, masked):
    assert full.mask([text])[0][0] == masked


def test_author_names_of_the_thread(full):
    out, counts = full.mask(["I agree with jane_doe_1987 here", "no names"], {"jane_doe_1987"})
    assert out == ["I agree with <USER> here", "no names"] and counts == {"AUTHOR_NAME": 1}


def test_without_ner_names_stay_and_structured_kinds_do_not(rules):
    out, _ = rules.mask(["Margaret Vasseur called 202-555-0143"])
    assert out == ["Margaret Vasseur called <PHONE>"]


def test_placeholders_are_typed_and_counted(full):
    assert set(PLACEHOLDERS.values()) >= {"<PHONE>", "<EMAIL>", "<PERSON>", "<CARD>", "<IBAN>", "<IP>", "<USER>"}
    out, counts = full.mask(["Jane Doe: 202-555-0143, jane@example.com", None, "", "u/someone_1 at 10.0.0.1"])
    assert out == ["<PERSON>: <PHONE>, <EMAIL>", None, "", "u/<USER> at <IP>"]
    assert counts == {"PERSON": 1, "PHONE_NUMBER": 1, "EMAIL_ADDRESS": 1, "REDDIT_USER": 1, "IP_ADDRESS": 1}


def test_mask_columns_in_chunks_on_a_dask_runtime_agree_with_one_chunk(full):
    frame = pl.DataFrame(
        {
            "t": ["a@example.com b@example.org 202-555-0143", None, "call +33 6 12 34 56 78"],
            "u": ["u/someone_1", "x", "nothing here"],
            "n": [1, 2, 3],
        }
    )
    one, counts = mask_columns(frame, ["t", "u", "missing"])
    with DaskRuntime(inline=True) as dask:
        chunked, chunked_counts = mask_columns(frame, ["t", "u"], dask=dask, chunk=2)
    assert one.equals(chunked) and counts == chunked_counts
    assert one["t"].to_list() == ["<EMAIL> <EMAIL> <PHONE>", None, "call <PHONE>"] and one["n"].to_list() == [1, 2, 3]
    assert counts == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 2, "REDDIT_USER": 1}


# -- quarantined raw lines ------------------------------------------------------------------------


def test_redact_raw_line_hides_author_fields_ids_and_pii():
    raw = (
        b'{"id":"abc12","\\u0061uthor":"Jane_Doe_1987","author_fullname":"t2_ab","link_id":"t3_xyz99",'
        b'"permalink":"/r/AmItheAsshole/comments/xyz99/title/","body":"card 4012888888881881 iban '
        b'DE89370400440532013000 call +33 6 12 34 56 78 see t1_k9zz1","author_flair_text":"Jan'
    )
    out = redact_raw(raw)
    for secret in ("Jane_Doe_1987", "t2_ab", "abc12", "xyz99", "4012888888881881", "DE8937", "+33 6 12", "k9zz1"):
        assert secret not in out, secret
    assert '"author":"[redacted]"' in out and "<CARD>" in out and "<IBAN>" in out and "<PHONE>" in out
    assert "Jan" not in out.split("author_flair_text")[1]


def test_redact_raw_reads_escaped_full_width_digits_and_keeps_json_escapes():
    raw = b'{"body":"call \\uff10\\uff16 12 34 56 78 \\"quoted\\" \\ud83d\\ude00"}'
    out = redact_raw(raw, ner=False)
    assert "<PHONE>" in out and '\\"quoted\\"' in out and "\\ud83d\\ude00" in out


# -- the step -------------------------------------------------------------------------------------


def test_handle_like():
    assert handle_like("Jane_Doe_1987") and handle_like("MarkTwainFan42") and handle_like("kind-stranger")
    assert not handle_like("happy") and not handle_like("Bob")


def test_step_replaces_authors_flags_bots_and_masks(full):
    key = PseudonymKey(b"k", True)
    data = pl.DataFrame(
        {
            "author": ["Jane_Doe_1987", None, "AutoModerator", "RemindMeBot", "happy"],
            "title": ["AITA?", None, None, None, None],
            "selftext": ["I am Jane_Doe_1987, mail me a@example.com &amp; call 202-555-0143", None, None, None, None],
            "body": [None, "agree with jane_doe_1987", "rules", "reminder", "I am happy"],
        }
    )
    result = Pseudonymize(PrivacyConfig(key_id=key.key_id), key).run(data)
    out = result.data
    assert "author" not in out.columns
    assert out["author_pseudonym"].to_list()[:2] == [key.pseudonym("Jane_Doe_1987"), None]
    assert out["author_is_bot"].to_list() == [False, False, True, True, False]
    assert out["selftext"][0] == "I am <USER>, mail me <EMAIL> & call <PHONE>"
    assert out["body"][1] == "agree with <USER>" and out["body"][4] == "I am happy"
    masked = result.account.extra["masked"]
    assert masked == {"AUTHOR_NAME": 2, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1} and result.account.kept == 5


def test_ner_words_that_are_only_dictionary_words_are_not_names(full):
    text = "Convert the Queue before the Cookie Server returns. Karen and Faith Ruiz moved to Paris, Texas."
    assert full.mask([text])[0][0] == (
        "Convert the Queue before the Cookie Server returns. <PERSON> and <PERSON> moved to <LOCATION>, <LOCATION>."
    )


def test_mask_text_step_and_records(full):
    from pipelines.methods.privacy import MaskConfig, MaskText, mask_records

    data = pl.DataFrame({"story": ["Mail jane@example.com, Margaret Vasseur", None], "id": ["a", "b"]})
    result = MaskText(MaskConfig(columns=("story",), privacy_ner=False)).run(data)
    assert result.data["story"].to_list() == ["Mail <EMAIL>, Margaret Vasseur", None]
    assert result.account.extra["masked"] == {"EMAIL_ADDRESS": 1} and result.account.kept == 2
    rows, counts = mask_records([{"prompt": "I am Margaret Vasseur, call 202-555-0143", "n": 1}, {"n": 2}], ["prompt"])
    assert rows == [{"prompt": "I am <PERSON>, call <PHONE>", "n": 1}, {"n": 2}]
    assert counts == {"PERSON": 1, "PHONE_NUMBER": 1}


def test_reviewers_free_text_is_masked_in_the_exported_responses(full):
    from annotation.resolve import resolve_record
    from annotation.settings import Question, ReviewSpec

    spec = ReviewSpec(
        "situation",
        [],
        [Question("label", "label", "Label", options=["ok", "bad"]), Question("note", "text", "Notes", required=False)],
    )
    submitted = [("ann1", {"label": "ok", "note": "call Jane Doe at 202-555-0143"}), ("ann2", {"label": "ok"})]
    review = resolve_record(spec, submitted, [], 1)
    assert "202-555-0143" not in review["responses"] and "Jane Doe" not in review["responses"]
    assert "<PERSON> at <PHONE>" in review["responses"]


# -- the NER gate (pipelines/methods/privacy/names.py) ----------------------------------------------------


def test_ner_gate_skips_sentences_that_cannot_hold_a_kept_name():
    from pipelines.methods.privacy.names import ner_spans

    assert ner_spans("NTA. Your mom is wrong. I'm 25F and my bf (27M) is mad. AITA for this?") == []
    assert ner_spans("Tell your husband. Honestly, The Queue is full. May I ask why?") == []
    assert ner_spans("") == [] and ner_spans("어제 만났어요.") == []


@pytest.mark.parametrize(
    "text, sent",
    [
        ("nta. your mom is wrong. I told Margaret Vasseur that.", "I told Margaret Vasseur that."),
        ("you are fine. Karen said no!", "Karen said no!"),  # a name opening a sentence
        ("ok. we met élodie and Élodie Brun there.", "we met élodie and Élodie Brun there."),  # not ASCII
        ("ok then. I talked to Rose about it.", "I talked to Rose about it."),  # a given name and a word
        ("ok then. May said no.", "May said no."),  # a stop word and a name
        ("ok then. We moved to New jersey.", "We moved to New jersey."),  # a place after a word
        ("ok then. Mr. Vasseur and O'Malley came.", "Mr. Vasseur and O'Malley came."),  # no cut after Mr.
        ("it was fine.\nAnd then Jean-Luc left", "And then Jean-Luc left"),
    ],
)
def test_ner_gate_sends_each_sentence_that_may_hold_a_name(text, sent):
    from pipelines.methods.privacy.names import ner_spans

    assert [text[s:e] for s, e in ner_spans(text)] == [sent]


def test_ner_gate_merges_adjacent_sentences():
    from pipelines.methods.privacy.names import ner_spans

    text = "Bob came. Alice left. it rained. Carol stayed."
    assert [text[s:e] for s, e in ner_spans(text)] == ["Bob came. Alice left.", "Carol stayed."]


def test_ner_gate_loses_no_name_that_the_whole_text_ner_keeps(full, monkeypatch):
    """The gated masker and one that sends every whole text to the NER agree, on names planted in
    comments whose other sentences the gate skips."""
    import pipelines.methods.privacy.engine as engine

    texts = [
        "nta. your sister is wrong. I told Margaret Vasseur that this was not okay. she agreed.",
        "YTA. Then Adélaïde Grondin called my mother about it. honestly wow.",
        "Honestly? Sylvana Stolze said she would pay me back. She never did.",
        "my boss, Rose Bell, refused to sign the form. lol",
        "We moved to Texas last spring. it was hot. Tell Jamal I said hi.",
        "i'm so tired. the end.",
        "INFO. what did you say to your MIL?",
    ]
    gated, gated_counts = full.mask(texts)
    monkeypatch.setattr(engine, "ner_spans", lambda t: [(0, len(t))])
    whole, whole_counts = full.mask(texts)
    assert gated == whole and gated_counts == whole_counts
    assert gated_counts["PERSON"] >= 4 and "Vasseur" not in gated[0] and "Stolze" not in gated[2]


def test_ner_spans_are_widened_by_a_few_words_of_context():
    from pipelines.methods.privacy.names import ner_spans, with_context

    text = "it was a long day for us all. Karen came. and then we all went home to sleep. Bob left"
    spans = with_context(text, ner_spans(text), words=3)
    assert [text[s:e] for s, e in spans] == ["for us all. Karen came. and then we", "home to sleep. Bob left"]
    assert with_context(text, [(0, 6), (7, 13)], words=3) == [(0, 24)]  # overlapping contexts merge
