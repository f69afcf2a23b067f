"""Respondents with hand-computed scores, written in every input format the recipe reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sources.ipip import FIXED_FIELDS, load_key


def raw_answers_120() -> dict[str, list[int]]:
    """case -> raw answers (0 = missing) for items 1..120."""
    return {
        "1": [5] * 120,  # every answer 5
        "2": [((i - 1) % 5) + 1 for i in range(1, 121)],  # N items 1, E 2, O 3, A 4, C 5
        "3": [3] * 60 + [0] * 60,  # exactly half answered: kept
        "4": [3] * 59 + [0] * 61,  # fewer than half: insufficient_answers
        "5": [0 if i in (1, 31, 61) else 3 for i in range(1, 121)],  # N1 has 1 of 4: null
    }


# Hand computations (IPIP-NEO-120 key: N has 24 items, 7 reverse keyed; A has 24, 17 reverse keyed;
# N1 = items 1, 31, 61, 91, all positive; A2 = 9, 39, 69, 99 and C6 = 30, 60, 90, 120, all reverse).
EXPECTED_120 = {
    "1": {"N": (17 * 5 + 7 * 1) / 24, "A": (7 * 5 + 17 * 1) / 24, "N1": 5.0, "A2": 1.0, "C6": 1.0},
    "2": {"N": (17 * 1 + 7 * 5) / 24, "A": (7 * 4 + 17 * 2) / 24, "N1": 1.0, "A2": 2.0, "C6": 1.0},
    "3": {"N": 3.0, "A": 3.0, "N1": 3.0, "A2": 3.0, "C6": 3.0},
    "5": {"N": 3.0, "A": 3.0, "N1": None, "A2": 3.0, "C6": 3.0},
}


def keyed(raw: list[int], instrument: int = 120) -> list[int]:
    signs = load_key(instrument)["keyed"].to_list()
    return [0 if x == 0 else (6 - x if s < 0 else x) for x, s in zip(raw, signs)]


def frame_120(keyed_answers: bool = False) -> pd.DataFrame:
    rows = []
    for case, raw in raw_answers_120().items():
        answers = keyed(raw) if keyed_answers else raw
        rows.append(
            {
                "case": int(case),
                "sex": 2,
                "age": 30 + int(case),
                "country": "USA",
                **{f"i{i}": a for i, a in enumerate(answers, 1)},
            }
        )
    return pd.DataFrame(rows)


def write_csv(path: Path, keyed_answers: bool = False) -> Path:
    frame_120(keyed_answers).to_csv(path, index=False)
    return path


def write_sav(path: Path) -> Path:
    import pyreadstat

    frame = frame_120()
    frame.columns = [c.upper() for c in frame.columns]
    pyreadstat.write_sav(frame, path)
    return path


def write_dta(path: Path) -> Path:
    import pyreadstat

    pyreadstat.write_dta(frame_120(), path)
    return path


def dat_line(case: str, answers: list[int], country: str = "USA") -> str:
    values = {
        "case": case,
        "sex": 2,
        "age": 30 + int(case),
        "sec": 1,
        "min": 2,
        "hour": 3,
        "day": 4,
        "month": 5,
        "year": 110,
        "country": country,
    }
    head = "".join(str(values[n])[:w].ljust(w) if n == "country" else str(values[n]).rjust(w) for n, w in FIXED_FIELDS)
    return head + "".join(str(a) for a in answers)


def write_dat(path: Path) -> Path:
    """Johnson's fixed-width layout: answers keyed at collection."""
    lines = [dat_line(case, keyed(raw)) for case, raw in raw_answers_120().items()]
    path.write_text("\n".join(lines) + "\n")
    return path
