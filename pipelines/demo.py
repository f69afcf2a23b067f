"""The sample runs behind `curate demo`: every recipe on the sources shipped in sources/samples/."""

from __future__ import annotations

from pathlib import Path


def demo_runs(samples: Path) -> list[tuple[str, list[Path], Path | None]]:
    runs = []
    personality = samples / "personality"
    runs.append((
        "personality",
        sorted(p for p in personality.iterdir() if p.suffix in {".csv", ".dat", ".sav", ".dta"}),
        personality / "config.yaml",
    ))
    values = samples / "values"  # survey microdata in three formats + codebook (issue 4)
    runs.append((
        "values",
        sorted(p for p in values.iterdir() if p.suffix in {".csv", ".sav", ".dta"}) + [values / "codebook.yaml"],
        values / "config.yaml",
    ))
    # LLM recipes (issue 6): without CURATE_LLM_BASE_URL their LLM steps are skipped with a note saying why
    llm = {"expand": ["expand/items.csv"], "preferences": ["preferences/personas.jsonl", "preferences/prompts.jsonl"],
           "translate": ["translate/moral_stories/data/train-00000-of-00001.parquet"]}
    for recipe, files in llm.items():
        runs.append((recipe, [samples / f for f in files], samples / recipe / "config.yaml"))
    norms = samples / "norms"  # Reddit dumps, RS_/RC_ .zst (issue 9)
    runs.append(("norms", sorted(norms.glob("R[SC]_*.zst")), norms / "config.yaml"))
    return runs
