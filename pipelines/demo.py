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
    return runs
