"""Write sources/data/names/lexicon.json.gz: the given names and family names the privacy step's
script-aware name rules look for (pipelines/methods/privacy/scripts.py), taken from names-dataset
(philipperemy/name-dataset, MIT: first and last names with their countries and rank per country,
from public profiles of 105 countries). Its data take 3.2 GB of memory to load, so the project ships
this extract instead of depending on it; to write it again:

    uv run --with names-dataset==3.3.1 python scripts/make_name_lexicon.py

Kept: names in Latin script ranked in the top MAX_RANK_LATIN of a country of LATIN_COUNTRIES (given
names only: a capitalised word after one is read as the family name), and names in Arabic and
Devanagari script ranked in the top MAX_RANK of a country where the script is written. Names that
are also very common words of their language are left to the rules' context (scripts.py)."""

from __future__ import annotations

import gzip
import json
import pickle
import re
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "sources" / "data" / "names" / "lexicon.json.gz"
MAX_RANK = 5000
MAX_RANK_LATIN = 4000
LATIN_COUNTRIES = [
    "US", "GB", "IE", "CA", "AU", "NZ", "FR", "BE", "CH", "DE", "AT", "NL", "ES", "MX", "AR", "CO", "CL",
    "PE", "IT", "PT", "BR", "PL", "SE", "NO", "DK", "FI", "TR", "PH", "ID", "NG", "ZA", "KR", "VN",
]  # fmt: skip
SCRIPTS = {
    "arabic": (
        r"^[\u0621-\u064a\u0660-\u0669\u0671-\u06d3 ]+$",
        ["EG", "SA", "IQ", "MA", "DZ", "JO", "AE", "SY", "LB", "KW", "QA", "OM", "YE", "TN", "LY", "SD", "PS", "BH"],
    ),
    "devanagari": (r"^[\u0900-\u097f ]+$", ["IN", "NP"]),  # few ranked: every one the data holds
}
UNRANKED = {"devanagari"}
LATIN = re.compile(r"^[A-Z][a-zà-öø-ÿ'’-]+$")


def ranked(entries: dict, countries: list[str], limit: int | None) -> set[str]:
    """The names seen in one of `countries`, ranked within `limit` there (None: at any rank)."""
    out = set()
    for name, info in entries.items():
        info = info or {}
        if limit is None:
            if any(c in (info.get("country") or {}) for c in countries):
                out.add(name)
            continue
        ranks = info.get("rank") or {}
        if any(ranks.get(c) is not None and ranks[c] <= limit for c in countries):
            out.add(name)
    return out


def main() -> None:
    base = Path(__import__("names_dataset").__file__).parent / "v3"
    first = pickle.load(gzip.open(base / "first_names.pkl.gz"))
    last = pickle.load(gzip.open(base / "last_names.pkl.gz"))
    lexicon = {
        "source": f"names-dataset {version('names-dataset')} (MIT), scripts/make_name_lexicon.py",
        "latin_given": sorted(n for n in ranked(first, LATIN_COUNTRIES, MAX_RANK_LATIN) if LATIN.match(n)),
    }
    for script, (pattern, countries) in SCRIPTS.items():
        rx = re.compile(pattern)
        for part, entries in (("given", first), ("family", last)):
            limit = None if script in UNRANKED else MAX_RANK
            words = {w for n in ranked(entries, countries, limit) if rx.match(n) for w in n.split() if len(w) > 1}
            lexicon[f"{script}_{part}"] = sorted(words)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", encoding="utf-8") as f:
        json.dump(lexicon, f, ensure_ascii=False, separators=(",", ":"))
    print({k: len(v) for k, v in lexicon.items() if isinstance(v, list)}, OUT.stat().st_size)


if __name__ == "__main__":
    main()
