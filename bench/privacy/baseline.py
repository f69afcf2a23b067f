"""The regex masks the privacy step had before Presidio (pipelines/methods/privacy.py at f287ce0), kept here
only as the benchmark's baseline: the same patterns, applied the same way, on the raw text."""

from __future__ import annotations

import re

_MASKS = [
    (
        r"(?i)([?&](?:e-?mail|mail|name|first_?name|last_?name|full_?name|user|user_?name|user_?id|uid|login|phone|tel|"
        r"mobile|address|addr|zip|postcode|dob|birthday|token|access_token|auth|session|session_?id|sid|api_?key|key|ref|"
        r"referrer|fbclid|gclid|igshid|share_?id|invite|utm_[a-z]+)=)[^&#\s)\]>\"']*",
        r"\g<1>[redacted]",
    ),
    (r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", "[email]"),
    (r"(?i)(reddit\.com/u(?:ser)?/)[A-Za-z0-9_-]+", r"\g<1>[user]"),
    (r"(?i)(^|[^A-Za-z0-9_/])(/?u/)[A-Za-z0-9_-]{3,20}", r"\g<1>\g<2>[user]"),
    (r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\b\d{3}[\s.-])\d{3,4}[\s.-]\d{4}\b", "[phone]"),
    (r"\+\d{1,3}(?:[\s.-]\d{2,4}){2,4}\b", "[phone]"),
]
_COMPILED = [(re.compile(p), r) for p, r in _MASKS]
_TOKEN = re.compile(r"[A-Za-z0-9_-]{3,40}")
PLACEHOLDER = re.compile(r"\[(?:email|phone|user|redacted)\]")


def handle_like(name: str) -> bool:
    return len(name) >= 4 and (any(c.isdigit() or c in "_-" for c in name) or any(c.isupper() for c in name[1:]))


def mask(texts: list[str], names: set[str] = frozenset()) -> list[str]:
    names = {n for n in names if handle_like(n)}
    out = []
    for text in texts:
        for pattern, repl in _COMPILED:
            text = pattern.sub(repl, text)
        if names:
            text = _TOKEN.sub(lambda m: "[user]" if m.group(0).lower() in names else m.group(0), text)
        out.append(text)
    return out
