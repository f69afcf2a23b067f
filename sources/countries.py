"""Country names as respondents' files write them -> ISO 3166-1 (pycountry), the raw value kept.

Matching, in order: an alpha-2 or alpha-3 code, an ISO name, official name or common name (pycountry's
`lookup`), a few names the standard does not list but survey files use (UK, England, Korea, ...), and
finally a unique prefix of at least 4 letters, for fixed-width fields that cut names ("Philippin" in
Johnson's IPIP files is the Philippines). Anything else keeps its raw text with no code.
"""

from __future__ import annotations

from functools import lru_cache

import polars as pl
import pycountry

# Names survey files use that ISO 3166 does not list. "Korea" alone is the Republic of Korea, as in
# Johnson's IPIP-NEO files and most international surveys (North Korea is rarely surveyed).
ALIASES = {
    "uk": "GB", "u.k.": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "united states of america": "US", "u.s.a.": "US", "u.s.": "US",
    "america": "US", "korea": "KR", "south korea": "KR", "north korea": "KP", "russia": "RU", "iran": "IR",
    "vietnam": "VN", "syria": "SY", "laos": "LA", "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ",
    "moldova": "MD", "czech republic": "CZ", "holland": "NL", "the netherlands": "NL", "macedonia": "MK",
    "taiwan": "TW", "ivory coast": "CI", "burma": "MM", "brunei": "BN", "cape verde": "CV", "turkey": "TR",
}
MIN_PREFIX = 4


def display_name(country) -> str:
    return getattr(country, "common_name", None) or country.name


@lru_cache(maxsize=1)
def _names() -> list[tuple[str, str]]:
    """(lower-case name, alpha-2) for every name, official name and common name."""
    out = []
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(c, attr, None)
            if name:
                out.append((name.lower(), c.alpha_2))
    return out


@lru_cache(maxsize=4096)
def harmonize(raw: str | None) -> tuple[str | None, str | None]:
    """(alpha-2 code, display name) for a raw country value; (None, the raw text) when unknown."""
    if raw is None:
        return None, None
    text = " ".join(str(raw).split())
    if not text:
        return None, None
    key = text.lower()
    code = ALIASES.get(key)
    if code is None:
        try:
            code = pycountry.countries.lookup(text).alpha_2
        except LookupError:
            if len(key) >= MIN_PREFIX:
                found = {a2 for name, a2 in _names() if name.startswith(key)}
                found |= {a2 for alias, a2 in ALIASES.items() if alias.startswith(key)}
                code = found.pop() if len(found) == 1 else None
    if code is None:
        return None, text
    return code, display_name(pycountry.countries.get(alpha_2=code))


def harmonize_column(frame: pl.DataFrame, column: str = "country") -> pl.DataFrame:
    """`column` harmonized to the ISO display name (unknown values keep their text), with
    `<column>_code` (ISO alpha-2, null when unknown) and `<column>_raw` (as the file wrote it)."""
    if column not in frame.columns:
        return frame
    raw = frame[column].cast(pl.String)
    values = raw.drop_nulls().unique().to_list()
    pairs = {v: harmonize(v) for v in values}
    return frame.with_columns(
        raw.alias(f"{column}_raw"),
        raw.replace_strict(values, [pairs[v][1] for v in values], default=None, return_dtype=pl.String).alias(column),
        raw.replace_strict(values, [pairs[v][0] for v in values], default=None,
                           return_dtype=pl.String).alias(f"{column}_code"),
    )
