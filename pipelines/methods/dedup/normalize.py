"""Text normalisation for dedup, as one polars expression (vectorised, no Python per row)."""

from __future__ import annotations

import polars as pl

from pipelines.methods.dedup.config import Normalization

# \p{P}: punctuation, \p{S}: symbols (math, currency, emoji). A run of them, with the spaces around
# it, becomes one space, so that "end.Start" does not fuse into one word.
PUNCTUATION = r"(?:\s*[\p{P}\p{S}])+\s*"
# Only what needs changing: two or more whitespace characters, or one that is not a plain space.
# (Matching every single space too would rewrite every row and cost three times as much.)
SPACES = r"\s{2,}|[^\S ]"


def normalize_texts(texts: pl.Series, rules: Normalization) -> pl.Series:
    """`normalized` for a whole column, split in chunks so that it runs on every core."""
    return pl.DataFrame({"t": _in_chunks(texts.cast(pl.String))}).select(normalized(pl.col("t"), rules)).to_series()


def normalized_hashes(texts: pl.Series, rules: Normalization) -> pl.Series:
    """The 64-bit hash of each normalised text (seed 0), computed in the same parallel chunks as the
    normalisation (hashing the joined column afterwards runs on one core)."""
    return (
        pl.DataFrame({"t": _in_chunks(texts.cast(pl.String))})
        .select(normalized(pl.col("t"), rules).hash(seed=0))
        .to_series()
    )


def _in_chunks(texts: pl.Series) -> pl.Series:
    """The column in a few chunks per thread: polars runs a string expression on chunks in parallel
    (one chunk, as `scatter` leaves it, would use one core)."""
    parts = max(1, min(4 * pl.thread_pool_size(), texts.len() // 10_000))  # a few per thread: even load
    if parts == 1 or texts.n_chunks() >= parts:
        return texts
    step = -(-texts.len() // parts)
    return pl.concat([texts.slice(i, step) for i in range(0, texts.len(), step)], rechunk=False)


def normalized(expr: pl.Expr, rules: Normalization) -> pl.Expr:
    out = expr.cast(pl.String)
    if rules.nfkc:
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
