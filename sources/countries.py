"""Country names as respondents' files write them -> ISO 3166-1, the raw value kept.

Recognition uses the libraries' own tables: countrynames' (OpenSanctions; MIT) names in every language
and script, exactly as listed, then ISO codes, then pycountry's translations of the ISO names
("Korea, Republik"), exactly, then countrynames' normalized match (English names old and new:
"Swaziland", "Republic of Korea", "UAE", "DR Congo"; a short non-Latin name that folds onto a code,
as "مصر" onto MSR, is not taken from it), then a unique prefix of at least 4 letters of an ISO name, for fixed-width
fields that cut names ("Philippin" in Johnson's IPIP files). A subdivision (Scotland: GB-SCT)
counts as its country. Anything else is unrecognised: it keeps its text, with no code, and is
listed as such.

One naming style: the ISO 3166-1 English short name as pycountry carries it ("Korea, Republic of",
"Russian Federation", "Viet Nam", "United Kingdom"); Kosovo, outside ISO 3166-1, is "Kosovo" (XK, XKX).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import polars as pl
import pycountry

MIN_PREFIX = 4
KOSOVO = ("XK", "XKX", "Kosovo")  # a user-assigned code every survey of the Balkans uses


class Country(NamedTuple):
    alpha2: str | None
    alpha3: str | None
    name: str | None  # the ISO short name; the raw text when unrecognised


@lru_cache(maxsize=1)
def _names() -> list[tuple[str, str]]:
    """(lower-case name, alpha-2) for every ISO name, official name and common name."""
    out = []
    for c in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(c, attr, None)
            if name:
                out.append((name.lower(), c.alpha_2))
    return out


def _country(code: str | None) -> str | None:
    """The alpha-2 country of a countrynames code (a subdivision counts as its country: GB-SCT is GB);
    None for codes that are not a current country (FAIL, YUCS, SUHH, ...)."""
    if not code:
        return None
    code = code.split("-", 1)[0]
    return code if len(code) == 2 and (code == KOSOVO[0] or pycountry.countries.get(alpha_2=code)) else None


def _unique(pairs) -> dict[str, str]:
    """casefolded name -> alpha-2, for the names that name one country only."""
    seen: dict[str, set[str]] = {}
    for name, code in pairs:
        if name and code:
            seen.setdefault(" ".join(str(name).split()).casefold(), set()).add(code)
    return {name: codes.pop() for name, codes in seen.items() if len(codes) == 1}


@lru_cache(maxsize=1)
def _library_names() -> dict[str, str]:
    """countrynames' own table, exactly as written (names in every language and script)."""
    from countrynames.data import DATA

    return _unique((name, _country(code)) for code, names in DATA.items() for name in names)


@lru_cache(maxsize=1)
def _translated_names() -> dict[str, str]:
    """pycountry's own translations of the ISO names (its gettext catalogues, ~160 languages):
    "Korea, Republik" (de), "Federación Rusa" (es)."""
    import gettext
    from pathlib import Path

    pairs = []
    for folder in sorted(Path(pycountry.LOCALES_DIR).iterdir()):
        try:
            catalogue = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[folder.name])
        except OSError:
            continue
        for c in pycountry.countries:
            for attr in ("name", "official_name", "common_name"):
                english = getattr(c, attr, None)
                if english and (local := catalogue.gettext(english)) != english:
                    pairs.append((local, c.alpha_2))
    return _unique(pairs)


def _code(text: str) -> str | None:
    import countrynames
    from countrynames import normalize_name

    key = text.casefold()
    if key in _library_names():  # exactly as countrynames lists it
        return _library_names()[key]
    if text.isascii() and len(text) in (2, 3) and text.isalpha():  # an ISO code
        found = pycountry.countries.get(alpha_2=text.upper()) or pycountry.countries.get(alpha_3=text.upper())
        if found or text.upper() in KOSOVO[:2]:
            return found.alpha_2 if found else KOSOVO[0]
    if key in _translated_names():  # exact, before the normalized match (which folds "Нигери" onto Niger)
        return _translated_names()[key]
    normal = normalize_name(text) or ""
    if text.isascii() or len(normal) > 3:  # "مصر" folds to "msr", Montserrat's code: not a name match
        if code := _country(countrynames.to_code(text)):
            return code
    if len(key) >= MIN_PREFIX:  # a name cut by a fixed-width field
        found = {a2 for name, a2 in _names() if name.startswith(key)}
        return found.pop() if len(found) == 1 else None
    return None


@lru_cache(maxsize=4096)
def recognize(raw: str | None) -> Country:
    """The country a raw value names, or Country(None, None, the raw text) when unrecognised."""
    if raw is None:
        return Country(None, None, None)
    text = " ".join(str(raw).split())
    if not text:
        return Country(None, None, None)
    code = _code(text)
    if code is None:
        return Country(None, None, text)
    if code == KOSOVO[0]:
        return Country(*KOSOVO)
    country = pycountry.countries.get(alpha_2=code)
    return Country(code, country.alpha_3, country.name)


def harmonize(raw: str | None) -> tuple[str | None, str | None]:
    """(alpha-2 code, ISO short name) for a raw country value; (None, the raw text) when unrecognised."""
    found = recognize(raw)
    return found.alpha2, found.name


def harmonize_column(frame: pl.DataFrame, column: str = "country") -> pl.DataFrame:
    """`column` harmonized to the ISO short name (unrecognised values keep their text), with
    `<column>_code` (ISO alpha-2, null when unrecognised), `<column>_alpha3` and `<column>_raw` (as
    the file wrote it)."""
    if column not in frame.columns:
        return frame
    raw = frame[column].cast(pl.String)
    values = raw.drop_nulls().unique().to_list()
    found = [recognize(v) for v in values]

    def mapped(field: str, name: str) -> pl.Series:
        return raw.replace_strict(
            values, [getattr(f, field) for f in found], default=None, return_dtype=pl.String
        ).alias(name)

    return frame.with_columns(
        raw.alias(f"{column}_raw"),
        mapped("name", column),
        mapped("alpha2", f"{column}_code"),
        mapped("alpha3", f"{column}_alpha3"),
    )


def codes_of(name: str | None) -> tuple[str | None, str | None]:
    """(alpha-2, alpha-3) of an ISO short name as `recognize` gives it; (None, None) for any other text."""
    if name == KOSOVO[2]:
        return KOSOVO[0], KOSOVO[1]
    country = pycountry.countries.get(name=name) if name else None
    return (country.alpha_2, country.alpha_3) if country else (None, None)


def unrecognised(values) -> list[str]:
    """The values that name no country, as written (sorted, each once)."""
    return sorted(
        {" ".join(str(v).split()) for v in values if v is not None and str(v).strip() and recognize(v).alpha2 is None}
    )
