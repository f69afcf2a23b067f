"""Text normalisation for dedup, as one polars expression (vectorised, no Python per row)."""

from __future__ import annotations

import polars as pl

from pipelines.dedup.config import Normalization

# \p{P}: punctuation, \p{S}: symbols (math, currency, emoji). A run of them, with the spaces around
# it, becomes one space, so that "end.Start" does not fuse into one word.
PUNCTUATION = r"(?:\s*[\p{P}\p{S}])+\s*"
# Only what needs changing: two or more whitespace characters, or one that is not a plain space.
# (Matching every single space too would rewrite every row and cost three times as much.)
SPACES = r"\s{2,}|[^\S ]"


def normalized(expr: pl.Expr, rules: Normalization) -> pl.Expr:
    out = expr.cast(pl.String)
    if rules.nfkc:
        # ASCII text is already in NFKC; normalising only the others is most of the speed.
        ascii_only = out.str.len_bytes() == out.str.len_chars()
        out = pl.when(ascii_only).then(out).otherwise(out.str.normalize("NFKC"))
    if rules.lowercase:
        out = out.str.to_lowercase()
    if rules.punctuation == "remove":
        collapse = rules.whitespace == "collapse"
        out = out.str.replace_all(f"{PUNCTUATION}|{SPACES}" if collapse else r"[\p{P}\p{S}]+", " ")
    elif rules.whitespace == "collapse":
        out = out.str.replace_all(SPACES, " ")
    if rules.whitespace == "collapse":
        out = out.str.strip_chars()
    elif rules.whitespace == "remove":
        out = out.str.replace_all(r"\s+", "")
    return out
