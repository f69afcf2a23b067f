"""Privacy for text from people: keyed pseudonyms for authors, masks for what identifies someone.

- Authors become `u_` + HMAC-SHA256(key, lower-cased name): the same author gets the same pseudonym
  in every run that uses the same key, and nobody can go back from a pseudonym to a name without the
  key. The key comes from `CURATE_PSEUDONYM_KEY`; without it a random key is drawn for the run, and
  the pseudonyms are then not stable across runs (the card says so). The key never enters a config,
  a cache key, a log or a file: only its fingerprint (`key_id`, an HMAC of a constant) does.
- Text is normalized (`normalize`) and masked with typed placeholders (`engine`): phones of every
  region, e-mails (also obfuscated and encoded), cards, IBANs, IPs, SSNs, secrets in URL queries,
  crypto wallets, u/ names, street addresses, names and places (NER), and the names of the run's
  own authors when they look like handles (see `handle_like`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl

from pipelines.engine.steps import Account, Step, StepConfig, StepResult
from pipelines.methods.privacy.engine import mask_chunk, masker

KEY_ENV = "CURATE_PSEUDONYM_KEY"
_AUTHOR_FIELD = re.compile(r'"(author[A-Za-z_]*)"\s*:\s*(?:"(?:[^"\\]|\\.)*(?:"|$)|\{[^{}]*\}?|[^,}\]]+)')
# fields of a dump line that name a post, a comment or a user's account: redacted in quarantined lines
_ID_FIELD = re.compile(r'"(id|name|link_id|parent_id|permalink|url|subreddit_id)"\s*:\s*"(?:[^"\\]|\\.)*(?:"|$)')
_FULLNAME = re.compile(r"\bt[1-6]_[a-z0-9]{2,13}\b")
_PERMALINK = re.compile(r"(?i)(/comments/)[a-z0-9]{2,13}(/[^\s\"]*)?")
# \uXXXX escapes of a JSON line, read back so that a key written "\u0061uthor" or a number written
# in escaped full-width digits is seen as what it says (not quote, backslash, controls, surrogates)
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(m: re.Match) -> str:
    code = int(m.group(1), 16)
    if code < 0x20 or code in (0x22, 0x5C) or 0xD800 <= code <= 0xDFFF:
        return m.group(0)
    return chr(code)


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    stable: bool  # from the environment (stable across runs) or drawn for this run

    @classmethod
    def from_env(cls) -> PseudonymKey:
        value = os.environ.get(KEY_ENV, "")
        if value:
            return cls(value.encode(), True)
        return cls(secrets.token_bytes(32), False)

    def __repr__(self) -> str:  # never print the secret
        return f"PseudonymKey(key_id={self.key_id!r}, stable={self.stable})"

    @property
    def key_id(self) -> str:
        """A fingerprint that names the key (for cache keys and provenance) and reveals nothing."""
        return hmac.new(self.secret, b"curate-key-id", hashlib.sha256).hexdigest()[:16]

    def digest(self, value: str, size: int = 20) -> str:
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:size]

    def pseudonym(self, name: str) -> str:
        # Reddit names are case-insensitive: one person, one pseudonym
        return "u_" + self.digest("author:" + name.lower())

    def keyed_id(self, fullname: str) -> str:
        """A Reddit id (t3_abc, t1_xyz) as a keyed id, so published ids do not lead back to a post."""
        return fullname[:3] + self.digest("id:" + fullname, 16)


# -- masks ----------------------------------------------------------------------------------------


def mask_text(text: str, names: Iterable[str] = (), ner: bool = True) -> str:
    """One text normalized and masked (see `pipelines.methods.privacy.engine`)."""
    return masker(ner).mask([text], {n.lower() for n in names})[0][0]


def mask_columns(
    frame: pl.DataFrame,
    columns: Sequence[str],
    names: Iterable[str] = (),
    *,
    ner: bool = True,
    dask=None,
    chunk: int = 2000,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """`columns` of `frame` normalized and masked; masks counted per entity type. With a Dask
    runtime the texts go to the workers in chunks of `chunk` (each worker loads its masker once)."""
    columns = [c for c in columns if c in frame.columns]
    names = frozenset(n.lower() for n in names)
    texts = [t for c in columns for t in frame[c].to_list()]
    chunks = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    if dask is not None and len(chunks) > 1:
        parts = dask.map(mask_chunk, chunks, names=names, ner=ner)
    else:
        parts = [mask_chunk(c, names, ner) for c in chunks]
    masked = [t for out, _ in parts for t in out]
    counts: Counter = Counter()
    for _, c in parts:
        counts.update(c)
    n = frame.height
    out = frame.with_columns([pl.Series(c, masked[i * n : (i + 1) * n], pl.String) for i, c in enumerate(columns)])
    return out, {k: int(v) for k, v in sorted(counts.items())}


def handle_like(name: str) -> bool:
    """A user name that cannot be an ordinary word: a digit, `_` or `-`, or a capital inside.
    Only these are masked where they appear in text without `u/` (masking `happy` everywhere
    would damage text more than it protects anyone)."""
    return len(name) >= 4 and (any(c.isdigit() or c in "_-" for c in name) or any(c.isupper() for c in name[1:]))


def redact_raw(raw: bytes, ner: bool = True) -> str:
    """A raw dump line as it may be kept in the quarantine. Used on lines that could not be read,
    so it works on text, not on parsed JSON: JSON escapes read back, author fields and Reddit ids
    (id, name, link_id, parent_id, permalink, url, any t1_/t3_ fullname) redacted, then the text
    normalized and masked like published text (cards, IBANs, phones, e-mails, names...)."""
    text = raw.decode("utf-8", "replace")
    if "\\u" in text:
        text = _ESCAPE.sub(_unescape, text)
    text = _AUTHOR_FIELD.sub(lambda m: f'"{m.group(1)}":"[redacted]"', text)
    text = _ID_FIELD.sub(lambda m: f'"{m.group(1)}":"[redacted]"', text)
    text = _PERMALINK.sub(r"\1[redacted]", _FULLNAME.sub("<REDDIT_ID>", text))
    return mask_text(text, ner=ner)


# -- the step -------------------------------------------------------------------------------------


# The code that decides what the privacy steps output: a step that masks text names these in its
# `depends_on`, so that editing a recognizer invalidates its cached outputs (pipelines.engine.steps).
CODE_MODULES = (
    "pipelines.methods.privacy.step",
    "pipelines.methods.privacy.engine",
    "pipelines.methods.privacy.recognizers",
    "pipelines.methods.privacy.normalize",
)


class MaskOptions(StepConfig):
    """The masking option a recipe's config inherits (declared here, once)."""

    privacy_ner: bool = True  # names and places by spaCy NER (pipelines.methods.privacy.engine); off: rules only


class PrivacyOptions(MaskOptions):
    """The privacy step's options a recipe's config inherits (declared here, once)."""

    mask_author_names: bool = True  # handle-like author names in text become <USER>
    bots: tuple[str, ...] = ("AutoModerator", "Judgement_Bot_AITA")
    bot_pattern: str = r"(?i)(?:bot$|[_-]bot[_-])"  # e.g. RemindMeBot, some_bot_name


class PrivacyConfig(PrivacyOptions):
    key_id: str  # which key made the pseudonyms (part of the cache key; the secret is not)
    text_columns: tuple[str, ...] = ("title", "selftext", "body")


class Pseudonymize(Step):
    """Authors -> keyed pseudonyms (with `author_is_bot` kept as a flag), text normalized and masked
    with typed placeholders. No row is dropped; the raw `author` column does not leave this step."""

    name = "privacy"
    version = "2"
    needs = ("dask",)  # the run's DaskRuntime (given by the runtime): texts are masked on its workers
    depends_on = CODE_MODULES

    def __init__(self, config: PrivacyConfig, key: PseudonymKey):
        super().__init__(config)
        self.key = key

    def run(self, data: pl.DataFrame) -> StepResult:
        cfg = self.config
        authors = [a for a in data["author"].drop_nulls().unique().to_list()]
        mapping = {a: self.key.pseudonym(a) for a in authors}
        bots = {b.lower() for b in cfg.bots}
        author = pl.col("author")
        out = data.with_columns(
            author.replace_strict(mapping, default=None, return_dtype=pl.String).alias("author_pseudonym"),
            (author.str.to_lowercase().is_in(list(bots)) | author.str.contains(cfg.bot_pattern))
            .fill_null(False)
            .alias("author_is_bot"),
        )
        names = {a for a in authors if handle_like(a)} if cfg.mask_author_names else set()
        out, counts = mask_columns(out, cfg.text_columns, names, ner=cfg.privacy_ner, dask=self.dask)
        out = out.drop("author")
        extra = {"masked": counts, "authors": len(authors), "key_id": cfg.key_id}
        return StepResult(out, Account(self.name, data.height, out.height, extra=extra))


class MaskConfig(MaskOptions):
    columns: tuple[str, ...]


class MaskText(Step):
    """Free-text columns normalized and masked (no pseudonyms): for recipes whose text is not from
    Reddit dumps (translation sources, preference prompts). No row is dropped."""

    name = "mask_text"
    version = "1"
    needs = ("dask",)
    depends_on = CODE_MODULES

    def run(self, data: pl.DataFrame) -> StepResult:
        out, counts = mask_columns(data, self.config.columns, ner=self.config.privacy_ner, dask=self.dask)
        return StepResult(out, Account(self.name, data.height, out.height, extra={"masked": counts}))


def mask_records(rows: list[dict], fields: Sequence[str], ner: bool = True) -> tuple[list[dict], dict[str, int]]:
    """`fields` of each row (dicts, e.g. read from JSON Lines) normalized and masked; new dicts."""
    frame = pl.DataFrame(
        {f: [r.get(f) if isinstance(r.get(f), str) else None for r in rows] for f in fields},
        schema={f: pl.String for f in fields},
    )
    masked, counts = mask_columns(frame, fields, ner=ner)
    out = [
        {**r, **{f: m for f, m in zip(fields, vals) if isinstance(r.get(f), str)}}
        for r, vals in zip(rows, masked.iter_rows())
    ]
    return out, counts


def mask_text_answers(spec, submitted: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """Reviewers' answers to the free-text questions of a review spec (`kind == "text"`), masked
    before they enter the exported `review.responses` (a note may quote a phone number or a name)."""
    texts = {q.name for q in spec.questions if q.kind == "text"}
    if not texts or not any(isinstance(ans.get(t), str) and ans.get(t) for _, ans in submitted for t in texts):
        return submitted
    return [
        (annotator, {k: mask_text(v) if k in texts and isinstance(v, str) and v else v for k, v in ans.items()})
        for annotator, ans in submitted
    ]
