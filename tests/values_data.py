"""Twelve respondents with hand-computed distributions, written as CSV, SPSS and Stata microdata, and
their codebook (YAML and CSV)."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

NAN = float("nan")
# resp_id, country, sex, weight, q1 (1..3, 9 = refused), q2 (1..2, 8 = don't know); None = blank
ROWS = [
    (1, "A", 1, 1.0, 1, 1),
    (2, "A", 2, 2.0, 1, 2),
    (3, "A", 1, 1.0, 2, 1),
    (4, "A", 2, 4.0, 3, 8),
    (5, "A", 1, 2.0, 9, 1),
    (6, "B", 2, 1.0, 2, 2),
    (7, "B", 1, 1.0, 2, 2),
    (8, "B", 2, 2.0, 3, None),
    (9, "C", 1, 3.0, 1, 1),  # country C: one respondent, below min_n = 3
    (10, "A", 2, 1.0, None, 1),
    (11, "B", 1, -1.0, 1, 1),  # negative weight: quarantined
    (12, "B", 1, 1.0, 5, 1),  # q1 = 5 is not in the codebook: that answer quarantined, q2 kept
]
MIN_N = 3

# Hand computations (weights as above; respondent 11 is out, respondent 12's q1 is out).
# country A, q1: substantive 1 (w1), 2 (w2) -> option 1; 3 (w1) -> 2; 4 (w4) -> 3; 5 refused (w2)
#   W = 8, probs = [3/8, 1/8, 4/8], sum w^2 = 1 + 4 + 1 + 16 = 22, n_eff = 64 / 22, refusal 2 / 10
# country B, q1: 6, 7 (w1 each) -> 2; 8 (w2) -> 3: W = 4, probs = [0, 1/2, 1/2], n_eff = 16 / 6
# all, q1: option 1: 1 + 2 + 3 = 6; 2: 1 + 1 + 1 = 3; 3: 4 + 2 = 6; W = 15; sum w^2 = 37; refusal 2 / 17
# sex Male (1), q1: 1 (w1) -> 1, 3 (w1) -> 2, 7 (w1) -> 2, 9 (w3) -> 1: W = 6, probs = [4/6, 2/6, 0]
# sex Female (2), q1: 2 (w2) -> 1, 4 (w4) -> 3, 6 (w1) -> 2, 8 (w2) -> 3: W = 9, probs = [2/9, 1/9, 6/9]
# country A, q2: 1, 3, 5, 10 -> yes (w 1 + 1 + 2 + 1 = 5), 2 -> no (w2), 4 don't know (w4):
#   probs = [5/7, 2/7], refusal 4 / 11
# all, q2: yes 5 + 3 (r9) + 1 (r12) = 9, no 2 + 1 + 1 = 4: probs = [9/13, 4/13], refusal 4 / 17
EXPECTED = {
    ("country", "A", "q1"): {
        "probs": [3 / 8, 1 / 8, 4 / 8],
        "n": 4,
        "n_refused": 1,
        "n_missing": 1,
        "n_eff": 64 / 22,
        "refusal_mass": 2 / 10,
    },
    ("country", "B", "q1"): {
        "probs": [0.0, 0.5, 0.5],
        "n": 3,
        "n_refused": 0,
        "n_missing": 1,
        "n_eff": 16 / 6,
        "refusal_mass": 0.0,
    },
    ("all", "all", "q1"): {
        "probs": [6 / 15, 3 / 15, 6 / 15],
        "n": 8,
        "n_refused": 1,
        "n_missing": 2,
        "n_eff": 225 / 37,
        "refusal_mass": 2 / 17,
    },
    ("sex", "Male", "q1"): {"probs": [4 / 6, 2 / 6, 0.0], "n": 4, "n_eff": 36 / 12},
    ("sex", "Female", "q1"): {"probs": [2 / 9, 1 / 9, 6 / 9], "n": 4, "n_eff": 81 / 25},
    ("country", "A", "q2"): {"probs": [5 / 7, 2 / 7], "n": 5, "n_refused": 1, "refusal_mass": 4 / 11},
    ("all", "all", "q2"): {"probs": [9 / 13, 4 / 13], "n": 9, "n_refused": 1, "refusal_mass": 4 / 17},
}
# without weights respondent 11 counts too (its weight is not looked at): all, q1 = 4, 3, 2 of 9
UNWEIGHTED_ALL_Q1 = [4 / 9, 3 / 9, 2 / 9]

CODEBOOK_YAML = """\
survey: Test Survey
wave: "1"
weight: weight
respondent_id: resp_id
groups:
  - country
  - var: sex
    labels: {1: Male, 2: Female}
questions:
  - var: q1
    text: How much?
    ordinal: true
    options: {1: Low, 2: Mid, 3: High}
    refusal: {9: Refused}
  - var: q2
    text: Do you agree?
    options: {1: "Yes", 2: "No"}
    refusal: {8: Don't know}
"""

CODEBOOK_CSV = """\
role,var,name,text,code,label,refusal,ordinal
survey,,,Test Survey,,,,
wave,,,1,,,,
weight,weight,,,,,,
respondent_id,resp_id,,,,,,
group,country,,,,,,
group,sex,,,1,Male,,
group,sex,,,2,Female,,
question,q1,,How much?,1,Low,,yes
question,q1,,,2,Mid,,
question,q1,,,3,High,,
question,q1,,,9,Refused,yes,
question,q2,,Do you agree?,1,Yes,,
question,q2,,,2,No,,
question,q2,,,8,Don't know,yes,
"""


def frame(rows=ROWS) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=["resp_id", "country", "sex", "weight", "q1", "q2"])
    return out.astype({"q1": "float64", "q2": "float64"})  # None -> NaN, as a .sav or .dta stores it


def write_codebook(dir_: Path, text: str = CODEBOOK_YAML, name: str = "codebook.yaml") -> Path:
    path = dir_ / name
    path.write_text(text)
    return path


def write_csv(path: Path, rows=ROWS) -> Path:
    f = frame(rows).astype({"q1": "Int64", "q2": "Int64"})
    f.to_csv(path, index=False)
    return path


def write_sav(path: Path, rows=ROWS, labels: bool = False) -> Path:
    """SPSS: upper-case names (matched case-insensitively); with `labels`, the question text and the
    options as the file's variable and value labels, and 9 declared user-missing (a refusal)."""
    import pyreadstat

    f = frame(rows)
    f.columns = [c.upper() for c in f.columns]
    kwargs = {}
    if labels:
        kwargs = dict(
            column_labels={"Q1": "How much?"},
            variable_value_labels={
                "Q1": {1: "Low", 2: "Mid", 3: "High", 9: "No answer given"},
                "SEX": {1: "Male", 2: "Female"},
            },
            missing_ranges={"Q1": [9]},
        )
    pyreadstat.write_sav(f, path, **kwargs)
    return path


def write_dta(path: Path, rows=ROWS, labels: bool = False) -> Path:
    """Stata; with `labels`, q1's refusal is the extended missing value .a labelled "Refused"."""
    import pyreadstat

    f = frame(rows)
    kwargs = {}
    if labels:
        q1 = f["q1"].astype(object)
        q1[q1 == 9] = "a"
        f["q1"] = [v if isinstance(v, str) else None if math.isnan(v) else int(v) for v in q1]
        kwargs = dict(
            column_labels={"q1": "How much?"},
            variable_value_labels={"q1": {1: "Low", 2: "Mid", 3: "High", "a": "Refused"}},
            missing_user_values={"q1": ["a"]},
        )
    pyreadstat.write_dta(f, path, **kwargs)
    return path


WRITERS = {"csv": write_csv, "sav": write_sav, "dta": write_dta}
