"""Names the English NER cannot see (pipelines/methods/privacy/scripts.py): Han, Hangul, Arabic and
Devanagari script, romanized Korean, Latin names a given-name lexicon knows; overlapping results
masked whole; look-alikes in those scripts left as written."""

from __future__ import annotations

import pytest

from pipelines.methods.privacy.engine import masker, union_overlaps


@pytest.fixture(scope="module")
def rules():
    return masker(True)  # the name rules come with the names layer (the NER's), off in masker(False)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("My boss, 刘倩, refused to sign the form.", "刘倩"),
        ("昨天我在商店碰到了王帆。", "王帆"),
        ("我的室友谢璐从来不洗碗。", "谢璐"),
        ("王淑兰说她会还我钱。", "王淑兰"),
        ("Yesterday I ran into 김민수 at the store.", "김민수"),
        ("My roommate عبد الباقي شعبة never washes the dishes.", "شعبة"),
        ("التقيت شوقي البخاري أمس في المتجر.", "البخاري"),
        ("قال نائل بنو عمرو إنه سيعيد لي المال.", "عمرو"),
        ("उषा पटेल said she would pay me back.", "पटेल"),
        ("कल मैं बाज़ार में सोनल शर्मा से मिला।", "सोनल"),
        ("कुणाल चतुर्वेदी ने कहा कि वह पैसे लौटा देगी।", "चतुर्वेदी"),
        ("Then Ha Chae-won called my mother about it.", "Chae-won"),
        ("Yesterday I ran into Woo Jin Son at the store.", "Woo Jin"),
        ("Minjun Park said she would pay me back.", "Minjun"),
        ("Théophile Bernier said she would pay me back.", "Bernier"),
        ("Ayer me encontré con Almudena Alcolea Romeu en la tienda.", "Alcolea"),
    ],
)
def test_names_in_other_scripts_and_romanized_are_masked(rules, text, name):
    out = rules.mask([text])[0][0]
    assert "<PERSON>" in out and name not in out, out


@pytest.mark.parametrize(
    "text",
    [
        "我上周买了一张桌子，马上就到了。",
        "今天很高兴，周末我们去黄山。",
        "我的朋友说这家店的面条很好吃。",
        "كان يوما سعيدا في المدينة الجميلة.",
        "التقيت صديقي في السوق الكبير أمس.",
        "हम कल सुबह स्कूल से घर गए।",
        "मेरे दोस्त ने कहा कि फिल्म अच्छी थी।",
        "The word 사랑 means love, and 寿司 is sushi.",
        "He said شكرا and left.",
        "She wrote नमस्ते on the card.",
        "We stayed at the Park Hotel near Young Street.",
        "Return True if the Grant was approved.",
    ],
)
def test_look_alikes_in_those_scripts_stay_as_written(rules, text):
    out = rules.mask([text])[0][0]
    assert "<" not in out, out  # (full-width punctuation comes out as ASCII: the text is NFKC-normalized)


def test_overlapping_results_are_masked_as_one_span():
    from presidio_analyzer import RecognizerResult

    merged = union_overlaps(
        [
            RecognizerResult("PERSON", 5, 13, 0.85),
            RecognizerResult("PERSON", 5, 18, 0.6),
            RecognizerResult("LOCATION", 15, 22, 0.9),
            RecognizerResult("EMAIL_ADDRESS", 30, 40, 1.0),
        ]
    )
    assert [(r.entity_type, r.start, r.end) for r in merged] == [("LOCATION", 5, 22), ("EMAIL_ADDRESS", 30, 40)]


def test_the_lexicon_is_the_shipped_extract():
    from pipelines.methods.privacy.scripts import LEXICON, lexicon

    lex = lexicon()
    assert LEXICON.is_file() and LEXICON.stat().st_size < 1 << 20
    assert {"latin_given", "arabic_given", "arabic_family", "devanagari_given", "devanagari_family"} <= set(lex)
    assert "Maria" in lex["latin_given"] and "محمد" in lex["arabic_given"] and len(lex["devanagari_given"]) > 300


def test_the_rules_only_masker_leaves_names_to_the_names_layer():
    """translate turns names off (its stories' characters are invented): the script and lexicon name
    rules come with the NER, never in masker(False)."""
    assert masker(False).mask(["Théophile Bernier said 王帆 said"])[0] == ["Théophile Bernier said 王帆 said"]
