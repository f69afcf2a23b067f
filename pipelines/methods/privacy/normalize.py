"""Text as it is published: Reddit's HTML entities unescaped, NFKC, invisible controls removed.

Masks run on this normalized text, and the normalized (masked) text is what is published, so that
a phone number written in full-width digits, an e-mail split by zero-width spaces or a URL whose
`&` Reddit encoded as `&amp;` is seen by the recognizers in its plain form.
"""

from __future__ import annotations

import html
import re
import unicodedata

# zero-width characters, soft hyphen, word joiner and invisible operators, BOM, and the bidi
# controls (marks, embeddings, overrides, isolates, Arabic letter mark)
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200e\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]"
)
# a zero-width joiner is kept only inside an emoji sequence (family, profession emoji)
_ZWJ = re.compile(
    r"(?<![\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F])\u200d|\u200d(?![\U0001F000-\U0001FAFF\u2600-\u27BF])"
)
# Hangul compatibility jamo (ㅋㅋ, ㅠㅠ) would become conjoining jamo under NFKC and render as
# broken syllables: they are left as written
_JAMO = re.compile(r"[\u3131-\u318e]+")


def _nfkc(text: str) -> str:
    if not _JAMO.search(text):
        return unicodedata.normalize("NFKC", text)
    out, last = [], 0
    for m in _JAMO.finditer(text):
        out.append(unicodedata.normalize("NFKC", text[last : m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(unicodedata.normalize("NFKC", text[last:]))
    return "".join(out)


def normalize_text(text: str) -> str:
    """HTML entities unescaped (twice: Reddit's dumps hold `&amp;amp;` for a typed `&amp;`), NFKC
    (full-width and other compatibility forms to their plain letters and digits), zero-width and
    bidi controls removed."""
    if "&" in text:
        text = html.unescape(html.unescape(text))
    if not text.isascii():
        text = _nfkc(text)
        text = _INVISIBLE.sub("", text)
        if "\u200d" in text:
            text = _ZWJ.sub("", text)
    return text
