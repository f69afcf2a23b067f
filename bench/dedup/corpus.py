"""A dedup benchmark corpus of real English sentences with planted near-duplicates of known groups.

Text: docstrings of the Python standard library and of the packages installed in this environment
(real prose written by people, shipped with the interpreter and the packages, no download), split
into sentences. Natural duplicates are removed first (exact after normalisation, and pairs whose word
sets overlap by Jaccard >= 0.5), so that the only duplicates are the planted ones and the labels are
unambiguous.

Planted groups: a share of the sentences gets 1..5 variants each, every variant made by one to three
edits of the original:
- normalisation-only edits (an exact dedup must catch these): case, punctuation next to spaces,
  extra whitespace, compatibility characters (full-width letters, ligatures) that NFKC folds back;
- content edits (near and semantic dedup must catch these): typos, a word dropped or inserted,
  clauses reordered around a comma or "and".
Columns: id, text, group (the original's id for a planted group, else the row's own id),
exact_group (same, but only for variants made by normalisation-only edits), edits.
For more rows than there are sentences (the 1,000,000-row scale run), further rows are sentence
triples "A B C", each used once: still real text, and unique (longer rows than the sentences).
At 10M rows each sentence is in ~270 triples; `respin` (bench_dedup.py --respin 0.3) replaces that
share of each triple sentence's words with words drawn from the whole text, so that rows sharing
a sentence no longer become near-duplicates the labels do not know (two rows around one long
sentence: Jaccard of char 4-grams 0.48 median verbatim, 0.26 respun at 0.3; 200 pairs).
"""

from __future__ import annotations

import ast
import re
import sys
import sysconfig
import unicodedata
from pathlib import Path

import numpy as np
import polars as pl

CACHE = Path.home() / ".cache" / "curate-bench"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
CODEY = re.compile(r"[{}\[\]<>=_`|\\@#$%^*~]|::|\.\w+\(|>>>|\w\.\w")
NORMALISATION_EDITS = ("case", "punct", "space", "nfkc")
CONTENT_EDITS = ("typo", "drop", "insert", "reorder")
FILLERS = ("really", "also", "just", "actually", "usually", "simply", "then", "here")


# -- sentences -----------------------------------------------------------------------------------


def source_files() -> list[Path]:
    roots = {Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])}
    files = []
    for root in sorted(roots):
        files += sorted(p for p in root.rglob("*.py") if "test" not in p.parts and "tests" not in p.parts)
    return files


def docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append(doc)
    return out


def sentences_of(doc: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", doc):
        if para.lstrip().startswith((">>>", "..", ":", "-", "*")):
            continue
        flat = " ".join(para.split())
        for s in SENTENCE_END.split(flat):
            words = s.split()
            if 6 <= len(words) <= 40 and s[-1] in ".!?" and s[0].isupper() and not CODEY.search(s):
                if sum(c.isalpha() or c == " " for c in s) >= 0.9 * len(s):
                    out.append(s)
    return out


def real_sentences(limit: int | None = None, progress: bool = True) -> list[str]:
    """Unique sentences from docstrings, natural near-duplicates removed (cached on disk)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cached = CACHE / "sentences-v1.parquet"
    if cached.exists():
        found = pl.read_parquet(cached)["text"].to_list()
        return found[:limit] if limit else found
    files = source_files()
    seen, out = set(), []
    for k, path in enumerate(files):
        if progress and k % 2000 == 0:
            print(f"  reading docstrings: {k}/{len(files)} files, {len(out)} sentences", file=sys.stderr, flush=True)
        for doc in docstrings(path):
            for s in sentences_of(doc):
                key = " ".join(re.findall(r"\w+", s.lower()))
                if key not in seen:
                    seen.add(key)
                    out.append(s)
    out = drop_natural_near_duplicates(out)
    pl.DataFrame({"text": out}).write_parquet(cached)
    return out[:limit] if limit else out


def drop_natural_near_duplicates(sentences: list[str]) -> list[str]:
    """Keep one sentence of each group whose word sets overlap by Jaccard >= 0.5, so that the
    corpus has no duplicates but the planted ones."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from pipelines.methods.dedup import NearConfig, NearDedup

    cfg = NearConfig(shingle="word", ngram=1, threshold=0.5, num_perm=128, examples=0)
    kept = NearDedup(cfg).run(pl.DataFrame({"text": sentences})).data
    return kept["text"].to_list()


# -- planted variants ----------------------------------------------------------------------------


FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"}
LIGATURES = {"fi": "\ufb01", "fl": "\ufb02", "ff": "\ufb00"}


def edit(text: str, kind: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    if kind == "case":
        choice = rng.integers(3)
        return text.lower() if choice == 0 else text.upper() if choice == 1 else text.title()
    if kind == "punct":
        choice = rng.integers(3)
        if choice == 0:
            return text.rstrip(".!?")
        if choice == 1:
            return text.rstrip(".!?") + rng.choice(["!", "?", "...", " ."])
        i = int(rng.integers(0, max(1, len(words) - 1)))
        words[i] = words[i] + rng.choice([",", ";", " -", ":"])
        return " ".join(words)
    if kind == "space":
        i = int(rng.integers(1, len(words)))
        return (
            " ".join(words[:i]) + rng.choice(["  ", "\t", " \n "]) + " ".join(words[i:]) + rng.choice(["", " ", "  "])
        )
    if kind == "nfkc":
        for lig, char in LIGATURES.items():
            if lig in text:
                return text.replace(lig, char, 1)
        i = int(rng.integers(len(words)))
        words[i] = "".join(FULLWIDTH.get(c, c) for c in words[i])
        return " ".join(words)
    if kind == "typo":
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(len(words)))
            w = words[i]
            if len(w) < 3:
                continue
            j = int(rng.integers(1, len(w) - 1))
            op = rng.integers(4)
            words[i] = (
                w[:j] + w[j + 1] + w[j] + w[j + 2 :]
                if op == 0
                else w[:j] + w[j + 1 :]
                if op == 1
                else w[:j] + rng.choice(list("etaoinsr")) + w[j:]
                if op == 2
                else w[:j] + rng.choice(list("etaoinsr")) + w[j + 1 :]
            )
        return " ".join(words)
    if kind == "drop":
        i = int(rng.integers(1, len(words)))
        return " ".join(words[:i] + words[i + 1 :])
    if kind == "insert":
        i = int(rng.integers(1, len(words)))
        return " ".join(words[:i] + [str(rng.choice(FILLERS))] + words[i:])
    if kind == "reorder":
        body, end = (text[:-1], text[-1]) if text[-1] in ".!?" else (text, "")
        for sep in (", ", " and "):
            left, _, right = body.partition(sep)
            if left.strip() and right.strip():
                return f"{right[0].upper()}{right[1:]}{sep}{left[0].lower()}{left[1:]}{end}"
        cut = int(rng.integers(2, max(3, len(words) // 2)))
        return " ".join(words[cut:]).rstrip(".!?") + ", " + " ".join(words[:cut]).rstrip(".!?").lower() + end
    raise ValueError(kind)


def variant(text: str, rng: np.random.Generator) -> tuple[str, list[str]]:
    n = int(rng.integers(1, 4))
    content = rng.random() < 0.6  # 60% of variants carry a content edit
    kinds = list(rng.choice(NORMALISATION_EDITS, size=n - 1 if content else n))
    if content:
        kinds.append(str(rng.choice(CONTENT_EDITS)))
    rng.shuffle(kinds)
    for kind in kinds:
        text = edit(text, kind, rng)
    return text, kinds


def build_corpus(
    rows: int = 100_000, dup_share: float = 0.1, seed: int = 7, plain: bool = True, respin: float = 0.0
) -> pl.DataFrame:
    """`rows` rows: originals, and variants of `dup_share` of them (groups of 2..6 rows). With
    `plain` False the originals are all sentence triples (the later chunks of `build_scaled`); with
    `respin` each sentence of a triple has that share of its words replaced (see `_originals`)."""
    tail = ("" if plain else "-triples") + (f"-respin{respin}" if respin else "")
    cached = CACHE / f"corpus-v3-{rows}-{dup_share}-{seed}{tail}.parquet"
    if cached.exists():
        return pl.read_parquet(cached)
    rng = np.random.default_rng(seed)
    base = real_sentences()
    sizes = rng.integers(1, 6, size=rows)  # variants per planted original
    # originals = rows - variants; choose how many originals are planted so the total matches
    n_planted = int(rows * dup_share)
    n_variants = int(sizes[:n_planted].sum())
    n_originals = rows - n_variants
    originals = _originals(base, n_originals, rng, plain, respin)
    texts, groups, edits = list(originals), list(range(n_originals)), [""] * n_originals
    planted = rng.choice(n_originals, size=n_planted, replace=False)
    for g, count in zip(planted, sizes[:n_planted]):
        for _ in range(count):
            text, kinds = variant(originals[g], rng)
            if text == originals[g]:
                text = text + " "  # still an exact duplicate after normalisation, as labelled below
            texts.append(text)
            groups.append(int(g))
            edits.append(",".join(kinds))
    # exact truth from the texts themselves (stdlib NFKC, case, word characters), not from the edit
    # labels: a typo in a short word may change nothing, two variants may come out the same
    keys = [" ".join(re.findall(r"\w+", unicodedata.normalize("NFKC", t).lower())) for t in texts]
    order = rng.permutation(len(texts))  # planted rows anywhere in the table, not after their original
    frame = pl.DataFrame({"id": np.arange(len(texts)), "text": texts, "group": groups, "key": keys, "edits": edits})
    frame = frame.with_columns(pl.struct("group", "key").rank("dense").cast(pl.Int64).alias("exact_group"))
    frame = (
        frame[order.tolist()]
        .with_columns(pl.arange(0, len(texts)).alias("id"))
        .select("id", "text", "group", "exact_group", "edits")
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(cached)
    return frame


def _originals(base: list[str], n: int, rng: np.random.Generator, plain: bool = True, respin: float = 0.0) -> list[str]:
    if plain and n <= len(base):
        return [base[i] for i in rng.choice(len(base), size=n, replace=False)]
    # more rows than sentences: the sentences, then triples "A B C" of distinct sentences, each
    # triple once. Two triples share at most one sentence by chance, a Jaccard far below any
    # threshold (two-sentence rows sharing one would sit near 0.5 and blur the labels).
    # With `respin`, each sentence of a triple has that share of its words replaced by words drawn
    # from the whole text (by frequency): at 10M rows each of the ~98,600 sentences is in ~270
    # triples, and rows around one shared long sentence reach Jaccard 0.4-0.6, real near-duplicates
    # the labels do not know, whose number grows with the square of the rows. Respun, two copies of
    # a sentence share about half their words, and such rows fall below the estimate cutoff.
    out = list(base) if plain else []
    words = [s.split(" ") for s in base]
    vocab = np.array([w for ws in words for w in ws], dtype=object)
    seen = set()
    while len(out) < n:
        picks = rng.integers(len(base), size=(2 * (n - len(out)), 3))
        for i, j, k in picks.tolist():
            if len({i, j, k}) == 3 and (i, j, k) not in seen:
                seen.add((i, j, k))
                if respin:
                    out.append(" ".join(_respun(words[x], vocab, respin, rng) for x in (i, j, k)))
                else:
                    out.append(f"{base[i]} {base[j]} {base[k]}")
                if len(out) == n:
                    break
    return out


def _respun(words: list[str], vocab: np.ndarray, share: float, rng: np.random.Generator) -> str:
    swap = rng.random(len(words)) < share
    if not swap.any():
        return " ".join(words)
    new = iter(vocab[rng.integers(len(vocab), size=int(swap.sum()))].tolist())
    return " ".join(next(new) if s else w for w, s in zip(words, swap.tolist()))


def build_scaled(rows: int, chunk: int = 1_000_000, respin: float = 0.0, alike: bool = False) -> Path:
    """A parquet dataset (a folder of `chunk`-row files) of `rows` rows: the `chunk`-row corpus, then
    further chunks of sentence triples with planted groups of their own (seeds 8, 9, ...), ids and
    groups numbered on. Built chunk by chunk, so its memory is that of one chunk; chunks are cached
    once and shared by every size (the 3M dataset is the first three chunks of the 10M one). (Triples
    are drawn independently per chunk: about 0.1 triples repeat across 10 chunks, negligible noise.)
    `respin` > 0: every triple's sentences respun (`_originals`), the first chunk's too.
    `alike`: the first chunk is triples too (seed 7), without the ~98,600 single-sentence rows, so that
    every chunk is drawn the same way and 10M rows are ten chunks like the 1M one (with them, the
    first chunk's rows average 226.5 characters against 250.3: 10M rows had x10.9 its characters).
    The other chunks are the same files."""
    tag = f"-respin{respin}" if respin else ""
    chunks = CACHE / f"chunks-v1-{chunk}{tag}"
    folder = CACHE / f"scaled-v1-{rows}-{chunk}{tag}{'-alike' if alike else ''}"
    if (folder / "_done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    chunks.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, rows, chunk)):
        n = min(chunk, rows - start)
        name = f"part-{k:03d}{'-triples' if alike and k == 0 else ''}.parquet"
        path = chunks / name if n == chunk else folder / name
        if not path.exists():
            print(f"  building chunk {k + 1} of {-(-rows // chunk)} ({n:,} rows)", file=sys.stderr, flush=True)
            plain = k == 0 and not alike
            part = build_corpus(n, seed=7 + k, plain=plain, respin=respin)
            part = part.with_columns(pl.col("id") + start, pl.col("group") + start, pl.col("exact_group") + start)
            tmp = path.with_suffix(".tmp")
            part.write_parquet(tmp, row_group_size=50_000)
            tmp.rename(path)
            if not plain:
                (CACHE / f"corpus-v3-{n}-0.1-{7 + k}-triples{tag}.parquet").unlink(missing_ok=True)
        link = folder / f"part-{k:03d}.parquet"
        if path != link and not link.exists():
            link.symlink_to(path)
    (folder / "_done").write_text("")
    return folder


if __name__ == "__main__":
    s = real_sentences()
    print(len(s), "sentences; e.g.:")
    for t in s[:: max(1, len(s) // 8)]:
        print("  ", t)


# -- paraphrase corpus ---------------------------------------------------------------------------

# meaning-preserving rewrites of words common in docstrings (either direction)
SYNONYMS = (
    ("returns", "gives back"),
    ("return", "give back"),
    ("function", "routine"),
    ("specified", "given"),
    ("use", "employ"),
    ("used", "employed"),
    ("value", "result"),
    ("values", "results"),
    ("object", "instance"),
    ("objects", "instances"),
    ("create", "make"),
    ("creates", "makes"),
    ("list", "sequence"),
    ("if", "when"),
    ("file", "document"),
    ("method", "procedure"),
    ("default", "fallback"),
    ("argument", "parameter"),
    ("arguments", "parameters"),
    ("raise", "throw"),
    ("raises", "throws"),
    ("contains", "holds"),
    ("number", "count"),
    ("get", "obtain"),
    ("check", "verify"),
    ("set", "assign"),
    ("name", "label"),
    ("type", "kind"),
    ("can", "may"),
    ("should", "ought to"),
    ("new", "fresh"),
    ("given", "provided"),
    ("string", "text"),
)
CONTRACTIONS = (("does not", "doesn't"), ("is not", "isn't"), ("cannot", "can't"), ("do not", "don't"))
PREFIXES = ("Note that", "In other words,", "Basically,", "Put simply,", "As documented,")
# one word swapped for its opposite: a different statement that a sentence model scores close
ANTONYMS = (
    ("True", "False"),
    ("first", "last"),
    ("minimum", "maximum"),
    ("before", "after"),
    ("input", "output"),
    ("read", "write"),
    ("open", "close"),
    ("start", "end"),
    ("enable", "disable"),
    ("add", "remove"),
    ("include", "exclude"),
    ("lower", "upper"),
    ("increase", "decrease"),
    ("always", "never"),
    ("success", "failure"),
    ("local", "remote"),
    ("client", "server"),
)


def _swap_words(text: str, table, rng: np.random.Generator, limit: int) -> tuple[str, int]:
    """Swap up to `limit` whole words (either direction of each pair, case kept); how many swapped."""
    pairs = [(a, b) for a, b in table] + [(b, a) for a, b in table]
    found = [(a, b) for a, b in pairs if re.search(rf"\b{re.escape(a)}\b", text)]
    rng.shuffle(found)
    done = 0
    for a, b in found[:limit]:
        text, n = re.subn(rf"\b{re.escape(a)}\b", b, text, count=1)
        done += n
    return text, done


def paraphrase(text: str, rng: np.random.Generator) -> str:
    """A rewrite with the same meaning: synonyms, a contraction, a discourse prefix, a clause reorder
    (at least two of them when the sentence allows)."""
    out, swapped = _swap_words(text, SYNONYMS, rng, limit=int(rng.integers(1, 4)))
    out, contracted = _swap_words(out, CONTRACTIONS, rng, limit=1)
    changes = swapped + contracted
    if changes < 2 or rng.random() < 0.4:
        out = edit(out, "reorder", rng)
        changes += 1
    if changes < 2 or rng.random() < 0.3:
        out = f"{rng.choice(PREFIXES)} {out[0].lower()}{out[1:]}"
    return out


def build_paraphrase_corpus(rows: int = 10_000, seed: int = 11) -> pl.DataFrame:
    """`rows` rows with labelled paraphrase groups and look-alike statements that are not duplicates.

    15% of the originals get 1..4 paraphrases (`paraphrase`: same group). 5% get a contrast: the
    original with one word swapped for its opposite (True/False, first/last, read/write ...), labelled
    a group of its own, and half of the contrasts get 1..2 paraphrases of their own. A clustering that
    chains joins an original, its paraphrases, its contrast and the contrast's paraphrases: a cluster
    larger than any labelled group. Columns: id, text, group, kind (original, paraphrase, contrast)."""
    cached = CACHE / f"paraphrase-v1-{rows}-{seed}.parquet"
    if cached.exists():
        return pl.read_parquet(cached)
    rng = np.random.default_rng(seed)
    base = [s for s in real_sentences() if len(s.split()) >= 6]
    texts: list[str] = []
    groups: list[int] = []
    kinds: list[str] = []
    candidates = rng.permutation(len(base)).tolist()
    while len(texts) < rows and candidates:
        original = base[candidates.pop()]
        group = len(texts)
        texts.append(original), groups.append(group), kinds.append("original")
        if rng.random() < 0.15:
            for _ in range(int(rng.integers(1, 5))):
                texts.append(paraphrase(original, rng)), groups.append(group), kinds.append("paraphrase")
        if rng.random() < 0.05:
            contrast, swapped = _swap_words(original, ANTONYMS, rng, limit=1)
            if swapped:
                other = len(texts)
                texts.append(contrast), groups.append(other), kinds.append("contrast")
                if rng.random() < 0.5:
                    for _ in range(int(rng.integers(1, 3))):
                        texts.append(paraphrase(contrast, rng)), groups.append(other), kinds.append("paraphrase")
    texts, groups, kinds = texts[:rows], groups[:rows], kinds[:rows]
    order = rng.permutation(len(texts)).tolist()
    frame = pl.DataFrame({"text": texts, "group": groups, "kind": kinds})[order]
    frame = frame.with_row_index("id").with_columns(pl.col("id").cast(pl.Int64)).select("id", "text", "group", "kind")
    CACHE.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(cached)
    return frame
