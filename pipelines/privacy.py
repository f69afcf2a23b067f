"""Privacy for text from people: keyed pseudonyms for authors, masks for what identifies someone.

- Authors become `u_` + HMAC-SHA256(key, lower-cased name): the same author gets the same pseudonym
  in every run that uses the same key, and nobody can go back from a pseudonym to a name without the
  key. The key comes from `CURATE_PSEUDONYM_KEY`; without it a random key is drawn for the run, and
  the pseudonyms are then not stable across runs (the card says so). The key never enters a config,
  a cache key, a log or a file: only its fingerprint (`key_id`, an HMAC of a constant) does.
- In text: `u/name` mentions and reddit.com/user/name links, e-mail addresses, phone numbers, the
  values of personal URL query parameters (email=, name=, token=, utm_*=, ...), and the names of
  the run's own authors when they look like handles (see `handle_like`) are masked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

import polars as pl

from pipelines.steps import Account, Step, StepConfig, StepResult

KEY_ENV = "CURATE_PSEUDONYM_KEY"

# (kind, pattern, replacement), applied in this order (query values first, so that an e-mail in a
# query string is masked whole). Patterns use only syntax that Rust's regex (polars) and Python's
# `re` read alike: no look-around. Replacements use ${n}; `_python_repl` converts them.
MASKS: list[tuple[str, str, str]] = [
    ("url_query", r"(?i)([?&](?:e-?mail|mail|name|first_?name|last_?name|full_?name|user|user_?name|"
                  r"user_?id|uid|login|phone|tel|mobile|address|addr|zip|postcode|dob|birthday|token|"
                  r"access_token|auth|session|session_?id|sid|api_?key|key|ref|referrer|fbclid|gclid|"
                  r"igshid|share_?id|invite|utm_[a-z]+)=)[^&#\s)\]>\"']*", "${1}[redacted]"),
    ("email", r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "[email]"),
    ("user_link", r"(?i)(reddit\.com/u(?:ser)?/)[A-Za-z0-9_-]+", "${1}[user]"),
    ("user_mention", r"(?i)(^|[^A-Za-z0-9_/])(/?u/)[A-Za-z0-9_-]{3,20}", "${1}${2}[user]"),
    ("phone", r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\b\d{3}[\s.-])\d{3,4}[\s.-]\d{4}\b", "[phone]"),
    ("phone", r"\+\d{1,3}(?:[\s.-]\d{2,4}){2,4}\b", "[phone]"),
]
TOKEN = r"[A-Za-z0-9_-]{3,40}"
_PY_TOKEN = re.compile(r"[A-Za-z0-9_-]{3,40}")
_AUTHOR_FIELD = re.compile(r'"(author[A-Za-z_]*)"\s*:\s*(?:"(?:[^"\\]|\\.)*(?:"|$)|\{[^{}]*\}?|[^,}\]]+)')


def _python_repl(repl: str) -> str:
    return re.sub(r"\$\{(\d+)\}", r"\\g<\1>", repl)


_PY_MASKS = [(kind, re.compile(p), _python_repl(r)) for kind, p, r in MASKS]


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    stable: bool  # from the environment (stable across runs) or drawn for this run

    @classmethod
    def from_env(cls) -> "PseudonymKey":
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


def mask_expr(column: str) -> pl.Expr:
    expr = pl.col(column)
    for _, pattern, repl in MASKS:
        expr = expr.str.replace_all(pattern, repl)
    return expr.alias(column)


def mask_counts(frame: pl.DataFrame, columns: list[str]) -> dict[str, int]:
    """How many of each kind of mask apply to `columns` (counted before masking, in MASKS order)."""
    counts: dict[str, int] = {}
    if not frame.height:
        return counts
    for col in columns:
        masked = pl.col(col)
        for kind, pattern, repl in MASKS:
            n = frame.select(masked.str.count_matches(pattern).sum()).item() or 0
            counts[kind] = counts.get(kind, 0) + int(n)
            masked = masked.str.replace_all(pattern, repl)
    return counts


def mask_text(text: str) -> str:
    for _, pattern, repl in _PY_MASKS:
        text = pattern.sub(repl, text)
    return text


def handle_like(name: str) -> bool:
    """A user name that cannot be an ordinary word: a digit, `_` or `-`, or a capital inside.
    Only these are masked where they appear in text without `u/` (masking `happy` everywhere
    would damage text more than it protects anyone)."""
    return len(name) >= 4 and (any(c.isdigit() or c in "_-" for c in name) or any(c.isupper() for c in name[1:]))


def mask_names(frame: pl.DataFrame, column: str, names: set[str]) -> tuple[pl.DataFrame, int]:
    """Replace whole-word occurrences of `names` (lower-cased) in `column` with `[user]`."""
    if not names or not frame.height:
        return frame, 0
    lowered = list(names)
    hit = pl.col(column).str.extract_all(TOKEN).list.eval(pl.element().str.to_lowercase().is_in(lowered)).list.any()
    flagged = frame.with_columns(hit.fill_null(False).alias("_has_name"))
    count = int(flagged["_has_name"].sum())
    if not count:
        return frame, 0

    def replace(text: str) -> str:
        return _PY_TOKEN.sub(lambda m: "[user]" if m.group(0).lower() in names else m.group(0), text)

    fixed = pl.when(pl.col("_has_name")).then(
        pl.col(column).map_elements(replace, return_dtype=pl.String)).otherwise(pl.col(column))
    return flagged.with_columns(fixed.alias(column)).drop("_has_name"), count


def redact_raw(raw: bytes) -> str:
    """A raw dump line as it may be kept in the quarantine: author fields and masks applied.
    Used on lines that could not be read, so it works on text, not on parsed JSON."""
    text = raw.decode("utf-8", "replace")
    text = _AUTHOR_FIELD.sub(lambda m: f'"{m.group(1)}":"[redacted]"', text)
    return mask_text(text)


# -- the step -------------------------------------------------------------------------------------


class PrivacyConfig(StepConfig):
    key_id: str  # which key made the pseudonyms (part of the cache key; the secret is not)
    text_columns: tuple[str, ...] = ("title", "selftext", "body")
    mask_author_names: bool = True
    bots: tuple[str, ...] = ("AutoModerator", "Judgement_Bot_AITA")
    bot_pattern: str = r"(?i)(?:bot$|[_-]bot[_-])"  # e.g. RemindMeBot, some_bot_name


class Pseudonymize(Step):
    """Authors -> keyed pseudonyms (with `author_is_bot` kept as a flag), text masked. No row is
    dropped; the raw `author` column does not leave this step."""

    name = "privacy"
    version = "1"

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
            .fill_null(False).alias("author_is_bot"),
        )
        columns = [c for c in cfg.text_columns if c in out.columns]
        counts = mask_counts(out, columns)
        out = out.with_columns([mask_expr(c) for c in columns])
        if cfg.mask_author_names:
            names = {a.lower() for a in authors if handle_like(a)}
            counts["author_name"] = 0
            for c in columns:
                out, n = mask_names(out, c, names)
                counts["author_name"] += n
        out = out.drop("author")
        extra = {"masked": counts, "authors": len(authors), "key_id": cfg.key_id}
        return StepResult(out, Account(self.name, data.height, out.height, extra=extra))
