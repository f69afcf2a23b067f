"""Write the synthetic sample sources shipped in sources/samples/ (run again to regenerate them).

Personality: respondents drawn from a latent-trait model (domain trait -> facet trait -> answer),
written as respondents would answer (raw) to CSV, SPSS and Stata, and keyed to Johnson's fixed-width
.dat, with planted faults: answers out of range or not numbers, a repeated case, a respondent with
too few answers, and a malformed .dat line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sources.ipip import FIXED_FIELDS, load_key  # noqa: E402

OUT = REPO / "sources" / "samples"
COUNTRIES = ["USA", "UK", "Canada", "Australia", "India", "Germany", "Philippines", "Korea"]


def keyed_answers(rng: np.random.Generator, n: int, instrument: int) -> np.ndarray:
    """Keyed answers 1..5 (n x instrument) from a two-level latent model."""
    key = load_key(instrument)
    domains = key["domain"].to_list()
    facets = key["facet_code"].to_list()
    z_domain = {d: rng.normal(size=n) for d in "NEOAC"}
    z_facet = {f: 0.8 * z_domain[f[0]] + 0.6 * rng.normal(size=n) for f in sorted(set(facets))}
    out = np.empty((n, instrument), dtype=np.int8)
    for j, (d, f) in enumerate(zip(domains, facets)):
        latent = 3 + 1.1 * z_facet[f] + 0.8 * rng.normal(size=n)
        out[:, j] = np.clip(np.rint(latent), 1, 5)
    return out


def raw_from_keyed(keyed: np.ndarray, instrument: int) -> np.ndarray:
    signs = load_key(instrument)["keyed"].to_numpy()
    return np.where(signs < 0, 6 - keyed, keyed).astype(np.int8)


def demographics(rng: np.random.Generator, n: int, start: int) -> dict[str, list]:
    return {
        "case": list(range(start, start + n)),
        "sex": rng.choice([1, 2], size=n).tolist(),
        "age": rng.integers(16, 80, size=n).tolist(),
        "country": rng.choice(COUNTRIES, size=n).tolist(),
    }


def with_missing(rng: np.random.Generator, answers: np.ndarray, rate: float) -> np.ndarray:
    out = answers.copy()
    out[rng.random(answers.shape) < rate] = 0
    return out


def personality(rng: np.random.Generator) -> None:
    out = OUT / "personality"
    out.mkdir(parents=True, exist_ok=True)

    # CSV, 120 items, raw answers; 0 and blank both mean missing
    n = 60
    raw = with_missing(rng, raw_from_keyed(keyed_answers(rng, n, 120), 120), 0.02)
    frame = pd.DataFrame(demographics(rng, n, 1))
    frame["sex"] = frame["sex"].map({1: "male", 2: "female"})
    items = pd.DataFrame(raw, columns=[f"i{j}" for j in range(1, 121)]).astype(object)
    items.iloc[3, 10] = ""  # blank = missing
    items.iloc[7, 4] = "x"  # not a number -> quarantined
    items.iloc[12, 40] = 7  # out of range -> quarantined
    items.iloc[20, :70] = 0  # 50 of 120 answered -> insufficient_answers
    frame = pd.concat([frame, items], axis=1)
    dup = frame.iloc[[5]].copy()  # a repeated case -> quarantined
    frame = pd.concat([frame, dup], ignore_index=True)
    frame.to_csv(out / "ipip120_responses.csv", index=False)

    # Johnson's fixed-width IPIP120.dat: keyed at collection, 0 = missing
    n = 40
    keyed = with_missing(rng, keyed_answers(rng, n, 120), 0.01)
    demo = demographics(rng, n, 100001)
    lines = []
    for i in range(n):
        values = {
            "case": demo["case"][i], "sex": demo["sex"][i], "age": demo["age"][i],
            "sec": rng.integers(0, 60), "min": rng.integers(0, 60), "hour": rng.integers(0, 24),
            "day": rng.integers(1, 29), "month": rng.integers(1, 13), "year": rng.integers(99, 112),
            "country": demo["country"][i],
        }
        head = "".join(
            str(values[name])[:w].ljust(w) if name == "country" else str(values[name]).rjust(w)
            for name, w in FIXED_FIELDS
        )
        lines.append(head + "".join(str(v) for v in keyed[i]))
    lines.insert(17, lines[16][:90])  # a truncated line -> quarantined
    (out / "IPIP120.dat").write_text("\n".join(lines) + "\n")

    # SPSS, 300 items, raw answers
    n = 30
    raw = with_missing(rng, raw_from_keyed(keyed_answers(rng, n, 300), 300), 0.02)
    frame = pd.DataFrame(demographics(rng, n, 200001))
    frame = pd.concat([frame, pd.DataFrame(raw, columns=[f"I{j}" for j in range(1, 301)])], axis=1)
    frame.columns = [c.upper() for c in frame.columns]
    import pyreadstat

    pyreadstat.write_sav(
        frame, out / "ipip300_responses.sav",
        column_labels={"SEX": "Sex of respondent", "AGE": "Age in years"},
        variable_value_labels={"SEX": {1: "male", 2: "female"}},
    )

    # Stata, 120 items, raw answers
    n = 30
    raw = with_missing(rng, raw_from_keyed(keyed_answers(rng, n, 120), 120), 0.02)
    frame = pd.DataFrame(demographics(rng, n, 300001))
    frame = pd.concat([frame, pd.DataFrame(raw, columns=[f"i{j}" for j in range(1, 121)])], axis=1)
    pyreadstat.write_dta(frame, out / "ipip120_responses.dta")

    (out / "config.yaml").write_text(
        "# The samples are synthetic, written by scripts/make_samples.py: our own, CC0.\n"
        "license: cc0-1.0\n"
        "dataset_name: Sample Big Five profiles (synthetic IPIP-NEO responses)\n"
    )


def main() -> None:
    rng = np.random.default_rng(20261123)
    personality(rng)
    print(f"samples written under {OUT}")


if __name__ == "__main__":
    main()
