"""Write the demo's inputs of the recipes that call a model, under sources/samples/<recipe>/demo/:
a few rows of the full samples each (run again to regenerate them; `make_samples.py` calls it last).

`curate demo` sends every row of these to the model (the embedded llama.cpp engine on a laptop
CPU: about 10 tokens a second), so they are small: two or three rows per LLM step, and one planted
fault each so that the demo still shows a quarantined row. The full samples beside them are what
`curate run` and the tests read.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import polars as pl
import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sources.reddit.writer import write_dump  # noqa: E402

OUT = REPO / "sources" / "samples"
README = (
    "# Demo inputs\n\nA few rows of the samples one folder up, written by `scripts/make_demo_samples.py`: "
    "`curate demo` sends every row of them to the model, so they are small.\n"
)


def _lines(path: Path) -> list[str]:
    raw = zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(path.open("rb")).read()
    return raw.decode().splitlines()


def _id(line: str, field: str = "id") -> str | None:
    """The line's `field`, None for a line that is not JSON (the planted broken lines)."""
    try:
        return json.loads(line).get(field)
    except json.JSONDecodeError:
        return None


def personality() -> None:
    """Two respondents of the CSV, one with a non-number answer (quarantined) and a repeated case."""
    rows = list(csv.reader((OUT / "personality" / "ipip120_responses.csv").open(newline="")))
    header, data = rows[0], rows[1:]
    keep = [data[0], data[1], data[7], data[0]]  # data[7] has an "x"; data[0] again: a repeated case
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *keep])
    _write(OUT / "personality" / "demo" / "ipip120_responses.csv", buffer.getvalue())


def norms() -> None:
    """Three situations (two AITA posts, one with invented personal details to mask, and one
    confession) with their comments, and a few of what the filters drop: a foreign-language post, a
    short one, a deleted author, another subreddit, a bot, a reply, a line that is not JSON."""
    posts = {"p0", "p1", "q0", "f0", "s1", "s2", "s6"}
    comments = {"r1", "b1", "b2", "d1", "o1", "n1"}
    links = {f"t3_{p}" for p in posts}
    rs = [line for line in _lines(OUT / "norms" / "RS_2023-01.zst") if _id(line) in posts or _id(line) is None]
    rc = [
        line
        for line in _lines(OUT / "norms" / "RC_2023-01.zst")
        if _id(line) is None or _id(line) in comments or json.loads(line).get("link_id") in links
    ]
    out = OUT / "norms" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    write_dump(out / "RS_2023-01.zst", rs, frame_lines=4)
    write_dump(out / "RC_2023-01.zst", rc, frame_lines=7)


def expand() -> None:
    """Two items (neuroticism and extraversion) and the broken row."""
    items = pl.read_csv(OUT / "expand" / "items.csv", infer_schema=False)
    items.filter(pl.col("item_no").is_in(["1", "2", "999"])).write_csv(_path(OUT / "expand" / "demo" / "items.csv"))


def preferences() -> None:
    """Two personas; two prompts, one with the planted instruction, and the broken line."""
    personas = (OUT / "preferences" / "personas.jsonl").read_text().splitlines()
    _write(OUT / "preferences" / "demo" / "personas.jsonl", "\n".join(personas[:2]) + "\n")
    prompts = [
        line
        for line in (OUT / "preferences" / "prompts.jsonl").read_text().splitlines()
        if _id(line, "prompt_id") in (None, "q1", "q3")
    ]
    _write(OUT / "preferences" / "demo" / "prompts.jsonl", "\n".join(prompts) + "\n")


def translate() -> None:
    """Two stories and the one with an empty situation."""
    stories = pl.read_parquet(OUT / "translate" / "moral_stories" / "data" / "train-00000-of-00001.parquet")
    stories.filter(pl.col("ID").is_in(["ms-001", "ms-002", "ms-007"])).write_parquet(
        _path(OUT / "translate" / "demo" / "moral_stories.parquet")
    )


def _path(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, text: str) -> None:
    _path(path).write_text(text)


def main() -> None:
    personality()
    norms()
    expand()
    preferences()
    translate()
    for recipe in ("personality", "norms", "expand", "preferences", "translate"):
        (OUT / recipe / "demo" / "README.md").write_text(README)
    print(f"demo inputs written under {OUT}/*/demo/")


if __name__ == "__main__":
    main()
