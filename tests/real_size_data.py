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


def reddit_dump(folder: Path, submissions: int, comments_per: int, seed: int = 0,
                subreddit: str = "AmItheAsshole") -> list[Path]:
    """RS_2023-01.zst and RC_2023-01.zst: `submissions` AITA posts with `comments_per` top-level
    verdict comments each (authors from a pool, so that pseudonyms repeat)."""
    rng = np.random.default_rng(seed)
    posts, comments = [], []
    for i in range(submissions):
        title, body = aita_text(rng)
        sid = f"p{i:x}"
        posts.append(submission(sid, subreddit, f"poster_{rng.integers(10 * submissions)}", T0 + 60 * i,
                                f"{title} ({i})", f"{body}\n\nPost {i}.", num_comments=comments_per))
        for j in range(comments_per):
            comments.append(comment(f"c{i:x}x{j:x}", sid, None, subreddit, f"voter_{rng.integers(5000)}",
                                    T0 + 60 * i + 30 + j, vote_text(rng)))
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
    frame = pl.DataFrame({
        "case": np.arange(1, respondents + 1),
        "sex": rng.choice(["1", "2"], respondents),
        "age": rng.integers(16, 80, respondents),
        "country": rng.choice(countries, respondents),
        **{c.upper(): pl.Series(answers[:, k]).cast(pl.Int64, strict=False) for k, c in enumerate(inst.columns)},
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    return path
