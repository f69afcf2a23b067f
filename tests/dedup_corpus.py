"""A small dedup corpus for the distributed tests: real sentences (docstrings of the standard
library modules, shipped with Python) with planted variants, an oversized bucket, empty texts, and
the rows the validation must quarantine (null id, null text, an id repeated in another partition);
and the hand-written sentences with near variants of the single-process and CLI tests."""

from __future__ import annotations

import re

import numpy as np
import polars as pl

MODULES = (
    "argparse",
    "typing",
    "logging/__init__",
    "pathlib",
    "collections/__init__",
    "email/message",
    "http/client",
    "unittest/case",
    "tarfile",
    "zipfile/__init__",
    "asyncio/events",
    "inspect",
    "subprocess",
    "datetime",
    "decimal",
    "pydoc",
    "shutil",
    "tempfile",
    "threading",
    "ssl",
)


def stdlib_sentences(limit: int) -> list[str]:
    """Sentences of the docstrings in standard-library source files (parsed, not imported)."""
    import ast
    import sysconfig
    from pathlib import Path

    root = Path(sysconfig.get_paths()["stdlib"])
    out, seen = [], set()
    for name in MODULES:
        path = root / f"{name}.py"
        if not path.exists():
            path = root / name / "__init__.py"
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_bytes())):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for s in re.split(r"(?<=[.!?])\s+", " ".join((ast.get_docstring(node) or "").split())):
                key = " ".join(re.findall(r"\w+", s.lower()))
                if 6 <= len(s.split()) <= 30 and s[0].isupper() and key not in seen:
                    seen.add(key)
                    out.append(s)
                    if len(out) == limit:
                        return out
    return out


def variant(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    kind = rng.integers(4)
    if kind == 0:
        return text.upper()
    if kind == 1:
        i = int(rng.integers(1, len(words)))
        return " ".join(words[:i] + words[i + 1 :])
    if kind == 2:
        i = int(rng.integers(len(words)))
        w = words[i]
        words[i] = w[:1] + w[2:] + "e" if len(w) > 2 else w + "s"
        return " ".join(words)
    return text.rstrip(".") + "  !"


def corpus(rows: int = 1500, seed: int = 3, string_ids: bool = True) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    base = stdlib_sentences(rows)
    texts = list(base[: int(rows * 0.7)])
    while len(texts) < rows - 60:
        texts.append(variant(base[int(rng.integers(len(texts)))], rng))
    common = "Return a new list containing all items from the iterable in ascending order."
    texts += [common] * 20 + [variant(common, rng) for _ in range(30)]  # a bucket over max_bucket
    texts += ["", "!!! ...", "", "ok"]  # empty after normalisation; too short for one shingle
    order = rng.permutation(len(texts))
    texts = [texts[i] for i in order]
    ids = [f"doc-{i * 7919 % 100_003:06d}" for i in range(len(texts))] if string_ids else list(range(len(texts)))
    frame = pl.DataFrame({"id": ids, "text": texts, "score": rng.integers(0, 50, len(texts))})
    return frame


def with_bad_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """A null id, a null text and a repeated id (its first copy far earlier: another partition)."""
    bad = pl.DataFrame(
        {
            "id": [None, "late-null-text", frame["id"][3]],
            "text": ["orphan text here", None, "dup id row"],
            "score": [1, 2, 3],
        },
        schema=frame.schema,
    )
    return pl.concat([frame, bad])


# -- a hand-written corpus for the single-process tests: ten sentences, near variants of five --------


BASE = [
    "The committee approved the new budget after a long debate on Tuesday evening.",
    "Heavy rain is expected across the northern regions for the rest of the week.",
    "She finished reading the novel in one sitting and immediately started it again.",
    "The museum will extend its opening hours during the summer holidays this year.",
    "Local farmers are worried that the dry spring will reduce their harvest considerably.",
    "Our team released a new version of the library with faster parsing and fewer bugs.",
    "A small bakery on the corner sells the best sourdough bread in the whole town.",
    "The train to the airport was delayed by forty minutes because of a signal failure.",
    "Children at the school planted two hundred trees along the river bank last autumn.",
    "Researchers measured the temperature of the lake every morning for three months.",
]


def frame(texts: list[str], **extra) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"r{i:03d}" for i in range(len(texts))], "text": texts, **extra})


NEAR_VARIANTS = {
    0: "The comittee approved the new budget after a long debate on Tuesday evening.",  # typo
    1: "Heavy rain is expected across the northern regions for the rest of this week.",  # word change
    2: "She finished reading the novel in one sitting and immediately started it again",  # punct
    4: "Local farmers are worried that the dry spring will considerably reduce their harvest.",  # word order
    5: "With faster parsing and fewer bugs, our team released a new version of the library.",  # clauses
}


def near_corpus() -> pl.DataFrame:
    texts = BASE + [NEAR_VARIANTS[k] for k in sorted(NEAR_VARIANTS)]
    return frame(texts)
