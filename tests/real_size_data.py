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
