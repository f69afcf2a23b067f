"""Generated inputs of realistic size for the real-size tier (tests/integration/test_real_size.py)
and the reproductions in bench/: Reddit dumps (zstd NDJSON, Pushshift's shape), inventory response
files. Deterministic for a seed; every text is written from templates (scripts/reddit_synthetic.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import zstandard

from scripts.reddit_synthetic import aita_text, comment, submission, vote_text

T0 = 1672531200  # 2023-01-01 UTC


def write_zst(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as out:
        for rec in records:
            out.write(orjson.dumps(rec) + b"\n")
    return path


def reddit_dump(
    folder: Path, submissions: int, comments_per: int, seed: int = 0, subreddit: str = "AmItheAsshole"
) -> list[Path]:
    """RS_2023-01.zst and RC_2023-01.zst: `submissions` AITA posts with `comments_per` top-level
    verdict comments each (authors from a pool, so that pseudonyms repeat)."""
    rng = np.random.default_rng(seed)
    posts, comments = [], []
    for i in range(submissions):
        title, body = aita_text(rng)
        sid = f"p{i:x}"
        posts.append(
            submission(
                sid,
                subreddit,
                f"poster_{rng.integers(10 * submissions)}",
                T0 + 60 * i,
                f"{title} ({i})",
                f"{body}\n\nPost {i}.",
                num_comments=comments_per,
            )
        )
        for j in range(comments_per):
            comments.append(
                comment(
                    f"c{i:x}x{j:x}",
                    sid,
                    None,
                    subreddit,
                    f"voter_{rng.integers(5000)}",
                    T0 + 60 * i + 30 + j,
                    vote_text(rng),
                )
            )
    return [write_zst(folder / "RS_2023-01.zst", posts), write_zst(folder / "RC_2023-01.zst", comments)]


def inventory_csv(path: Path, instrument: str, respondents: int, seed: int = 0, missing: float = 0.05) -> Path:
    """A CSV of `respondents` answering a shipped instrument (its item columns, a case number, sex,
    age and country as survey files write them), a share of answers left blank."""
    import polars as pl

    from sources.instruments import shipped

    inst = shipped()[instrument]
    scale = inst.response_scale
    rng = np.random.default_rng(seed)
    answers = rng.integers(scale.min, scale.max + 1, size=(respondents, len(inst.columns))).astype(float)
    answers[rng.random(answers.shape) < missing] = np.nan
    countries = ["United States", "UK", "Philippin", "Deutschland", "India", "Canada", "Republic of Korea", "Brasil"]
    frame = pl.DataFrame(
        {
            "case": np.arange(1, respondents + 1),
            "sex": rng.choice(["1", "2"], respondents),
            "age": rng.integers(16, 80, respondents),
            "country": rng.choice(countries, respondents),
            **{c.upper(): pl.Series(answers[:, k]).cast(pl.Int64, strict=False) for k, c in enumerate(inst.columns)},
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path


def survey(folder: Path, respondents: int, questions: int, seed: int = 0) -> list[Path]:
    """Survey microdata (CSV) of `respondents` x `questions` answers with weights, strata and PSUs,
    countries in survey spellings, and its codebook: respondents x questions answers in all."""
    import polars as pl

    rng = np.random.default_rng(seed)
    countries = [
        "United States",
        "USA",
        "Deutschland",
        "Germany",
        "Republic of Korea",
        "South Korea",
        "Brasil",
        "India",
        "Nigeria",
        "Viet Nam",
        "Mexico",
        "Japan",
    ]
    data = {
        "id": np.arange(1, respondents + 1),
        "country": rng.choice(countries, respondents),
        "sex": rng.choice([1, 2], respondents),
        "weight": np.round(rng.gamma(4.0, 0.25, respondents), 4),
        "stratum": rng.integers(1, 41, respondents),
    }
    data["psu"] = data["stratum"] * 10 + rng.integers(1, 4, respondents)  # 3 PSUs a stratum
    for q in range(1, questions + 1):
        answers = rng.integers(1, 5, respondents)  # 1..4
        answers[rng.random(respondents) < 0.03] = 9  # refused
        data[f"q{q}"] = answers
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "survey.csv"
    pl.DataFrame(data).write_csv(csv)
    qs = "\n".join(
        f"  - {{var: q{q}, text: Question {q}, ordinal: true, options: {{1: Strongly agree, 2: Agree, "
        f"3: Disagree, 4: Strongly disagree}}, refusal: {{9: Refused}}}}"
        for q in range(1, questions + 1)
    )
    book = folder / "codebook.yaml"
    book.write_text(
        f'survey: Generated Values Survey\nwave: "2024"\nweight: weight\nrespondent_id: id\n'
        f"groups:\n  - country\n  - {{var: sex, labels: {{1: Male, 2: Female}}}}\n"
        f"design: {{strata: stratum, psu: psu}}\nquestions:\n{qs}\n"
    )
    return [csv, book]


def moral_stories(folder: Path, stories: int, seed: int = 0) -> Path:
    """A Moral Stories-shaped benchmark (a local Hugging Face dataset folder) of `stories` rows."""
    import polars as pl

    rng = np.random.default_rng(seed)
    names = ["Daniel", "Maria", "Kenji", "Amara", "Lucas", "Priya", "Olga", "Tom"]
    rows = []
    for i in range(stories):
        n = names[rng.integers(len(names))]
        rows.append(
            {
                "ID": f"gen-{i:05d}",
                "norm": "It is kind to help people who ask for help.",
                "situation": f"{n}'s neighbor asks for help carrying boxes up the stairs (story {i}).",
                "intention": f"{n} wants to get home and rest.",
                "moral_action": f"{n} carries the boxes upstairs with the neighbor.",
                "moral_consequence": "The neighbor thanks them and invites them for tea.",
                "immoral_action": f"{n} pretends not to hear and walks past.",
                "immoral_consequence": "The neighbor struggles alone and drops a box.",
            }
        )
    path = folder / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(path)
    return path


def personas_and_prompts(folder: Path, personas: int, prompts: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    people = [
        {
            "persona_id": f"p{i}",
            "synthetic": True,
            "demographics": {"age": int(rng.integers(18, 80)), "country": ["Japan", "Brazil", "Kenya"][i % 3]},
            "self_description": f"I am person {i}; I like clear, practical answers and I value fairness.",
        }
        for i in range(personas)
    ]
    asks = [
        {"prompt_id": f"q{i}", "prompt": f"How should I handle disagreement number {i} with a friend?"}
        for i in range(prompts)
    ]
    a, b = folder / "personas.jsonl", folder / "prompts.jsonl"
    a.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in people))
    b.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in asks))
    return [a, b]


def inventory_items(path: Path, items: int) -> Path:
    """An `expand` input: `items` inventory items (IPIP-NEO-120's texts, repeated with a suffix)."""
    import polars as pl

    key = pl.read_csv(Path(__file__).resolve().parent.parent / "sources" / "data" / "ipip_neo" / "ipip_neo_120.csv")
    rows = [
        {
            **r,
            "instrument": "IPIP-NEO-120",
            "item_no": i + 1,
            "text": r["text"] if i < key.height else f"{r['text']} ({i // key.height})",
        }
        for i, r in ((i, key.row(i % key.height, named=True)) for i in range(items))
    ]
    frame = pl.DataFrame(rows).select("instrument", "item_no", "text", "domain", "facet_code", "facet_name", "keyed")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path


def dedup_table(path: Path, rows: int, seed: int = 0) -> Path:
    """`rows` texts, ids unique (parquet): docstring sentences of the standard library, then triples
    of them (each once), and about a tenth planted as 1-3 edited variants of an original (case, a
    word dropped, a typo, punctuation: tests/dedup_corpus.py)."""
    import polars as pl

    from tests.dedup_corpus import stdlib_sentences, variant

    rng = np.random.default_rng(seed)
    base = stdlib_sentences(4000)
    variants = int(rows * 0.1)
    originals, seen = list(base[: rows - variants]), set()
    while len(originals) < rows - variants:
        i, j, k = (int(x) for x in rng.integers(len(base), size=3))
        if len({i, j, k}) == 3 and (i, j, k) not in seen:
            seen.add((i, j, k))
            originals.append(f"{base[i]} {base[j]} {base[k]}")
    texts = originals + [variant(originals[int(rng.integers(len(originals)))], rng) for _ in range(variants)]
    order = rng.permutation(len(texts))
    frame = pl.DataFrame({"id": [f"row-{i:06d}" for i in range(len(texts))], "text": [texts[i] for i in order]})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path
