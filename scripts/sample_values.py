"""The synthetic sample survey of the `values` recipe (codebook, microdata in SPSS, Stata and CSV with
planted faults), written under sources/samples/values by scripts/make_samples.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

VALUES_CODEBOOK = """\
# Codebook of the synthetic sample survey (see README, recipe `values`). Written by
# scripts/make_samples.py; the microdata beside it are synthetic, our own, CC0.
survey: Sample Values Survey
lang: en
weight: weight
respondent_id: resp_id
ordinal: false            # for questions that do not say
groups:
  - country               # text in the CSV, value labels in the .dta, a constant for the .sav
  - var: agecat
    name: age_band
    labels: {1: "18-29", 2: "30-49", 3: "50-64", 4: "65+"}
  - var: sex
    labels: {1: Male, 2: Female, 3: Other}
  - var: educ
    name: education
    labels: {1: Primary, 2: Secondary, 3: Tertiary}
design: {strata: stratum, psu: psu, lonely_psu: adjust}   # design-based intervals and design effects; the
                                                        # 2023 wave has strata of one PSU (README: lonely PSUs)
files:
  values_w1.csv: {wave: "2023"}
  values_w1_japan.sav: {wave: "2023", columns: {country: Japan}}
  values_w2.dta: {wave: "2024"}
questions:
  - var: q1
    text: How important is family in your life?
    ordinal: true
    options: {1: Very important, 2: Rather important, 3: Not very important, 4: Not at all important}
    refusal: {8: Don't know, 9: Refused}
  - var: q2
    text: Generally speaking, would you say that most people can be trusted or that you need to be very careful in dealing with people?
    options: {1: Most people can be trusted, 2: Need to be very careful}
    refusal: {8: Don't know, 9: Refused}
  - var: q3
    text: How important is God in your life?
    ordinal: true
    options: {1: Not at all important, 2: Not very important, 3: Somewhat important, 4: Very important, 5: Extremely important}
    refusal: {8: Don't know, 9: Refused}
  - var: q4
    text: "Please tell me whether you think it is justifiable: claiming government benefits to which you are not entitled."
    ordinal: true
    options: {1: Never justifiable, 2: Rarely justifiable, 3: Sometimes justifiable, 4: Often justifiable, 5: Always justifiable}
    refusal: {8: Don't know, 9: Refused}
  - var: q5
    text: Which of these should be the most important aim of this country for the next ten years?
    options: {1: A high level of economic growth, 2: Strong defence forces, 3: People have more say about how things are done, 4: Making cities and countryside more beautiful}
    refusal: {8: Don't know, 9: Refused}
  - var: q6
    text: "People should take more responsibility to provide for themselves (1) or the government should take more responsibility to ensure that everyone is provided for (5)?"
    ordinal: true
    options: {1: People should take more responsibility, 2: Mostly people, 3: Both equally, 4: Mostly the government, 5: The government should take more responsibility}
    refusal: {8: Don't know, 9: Refused}
  - {var: q7, ordinal: true}  # text, options and refusal codes from the .sav and .dta labels
"""

VALUES_LATENT = {"United States": 0.3, "Germany": -0.4, "Japan": -0.8, "India": 0.9, "Brazil": 0.6}


def values_answers(rng: np.random.Generator, countries: list[str]) -> dict[str, np.ndarray]:
    """Codes for q1..q7 from a country-level latent value plus noise; about 3% refusals."""
    lean = np.array([VALUES_LATENT[c] for c in countries])
    n = len(countries)
    out = {}
    for var, k in [("q1", 4), ("q2", 2), ("q3", 5), ("q4", 5), ("q5", 4), ("q6", 5), ("q7", 4)]:
        latent = (k + 1) / 2 + lean * (k - 1) / 3 + rng.normal(scale=(k - 1) / 2.5, size=n)
        codes = np.clip(np.rint(latent), 1, k).astype(np.int64)
        if var == "q1":  # family: almost everyone says important
            codes = np.clip(codes - 1, 1, 4)
        refuse = rng.random(n)
        codes = np.where(refuse < 0.02, 8, np.where(refuse < 0.03, 9, codes))
        out[var] = codes
    return out


def values_people(rng: np.random.Generator, n: int, start: int) -> dict[str, np.ndarray]:
    return {
        "resp_id": np.arange(start, start + n),
        "agecat": rng.choice([1, 2, 3, 4], size=n, p=[0.22, 0.36, 0.25, 0.17]),
        "sex": rng.choice([1, 2, 3], size=n, p=[0.49, 0.49, 0.02]),  # Other: below min n everywhere
        "educ": rng.choice([1, 2, 3], size=n, p=[0.2, 0.5, 0.3]),
        "weight": np.round(rng.gamma(4.0, 0.25, size=n), 4),
        # the sample design: strata of 100 consecutive ids, clusters (PSUs) of 10 (no random draws,
        # so the answers stay as they were before the design was added)
        "stratum": np.arange(start, start + n) // 100,
        "psu": np.arange(start, start + n) // 10,
    }


def values(rng: np.random.Generator, samples: Path) -> None:
    """Sample survey microdata for recipe `values`: one wave in a CSV (two countries) and a .sav
    (Japan, named by the codebook), a second wave in a .dta (two countries as labelled codes), with
    planted faults: a negative, a missing and a non-numeric weight, codes not in the codebook, a group
    below the minimum n, and questions a file lacks (q7 in the CSV, q5 in wave 2)."""
    import pyreadstat

    out = samples / "values"
    out.mkdir(parents=True, exist_ok=True)

    # wave 2023, CSV: United States and Germany; no q7 (the codebook takes its options from labels)
    countries = list(rng.choice(["United States", "Germany"], size=500))
    frame = pd.DataFrame({"country": countries, **values_people(rng, 500, 1)})
    answers = values_answers(rng, countries)
    frame = pd.concat([frame, pd.DataFrame({k: v for k, v in answers.items() if k != "q7"})], axis=1)
    frame = frame.astype({"weight": object, "q1": object})
    frame.loc[10, "weight"] = -0.5  # negative -> quarantined
    frame.loc[11, "weight"] = ""  # missing -> quarantined
    frame.loc[12, "weight"] = "n/a"  # not a number -> quarantined
    frame.loc[20, "q1"] = 7  # not in the codebook -> quarantined, the rest of the row kept
    frame.loc[21, "q2"] = 5
    frame["q6"] = frame["q6"].astype("Int64")
    frame.loc[30:59, "q6"] = pd.NA  # q6 not asked of these respondents (blank)
    frame.to_csv(out / "values_w1.csv", index=False)

    # wave 2023, SPSS: Japan (country given by the codebook's files section), value labels and
    # variable labels in the file; refusals declared as user-missing values
    countries = ["Japan"] * 300
    frame = pd.DataFrame({**values_people(rng, 300, 10001), **values_answers(rng, countries)})
    frame["q7"] = frame["q7"].replace({8: 98, 9: 99})
    frame.loc[5, "weight"] = np.nan  # system missing -> quarantined
    frame.columns = [c.upper() for c in frame.columns]  # SPSS habit; matched case-insensitively
    labels = {f"Q{i}": opts for i, opts in enumerate(VALUES_LABELS, 1)}
    labels["AGECAT"] = {1: "18-29", 2: "30-49", 3: "50-64", 4: "65+"}
    labels["SEX"] = {1: "Male", 2: "Female", 3: "Other"}
    pyreadstat.write_sav(
        frame,
        out / "values_w1_japan.sav",
        column_labels={"Q7": "How interested would you say you are in politics?", "WEIGHT": "Design weight"},
        variable_value_labels=labels,
        missing_ranges={**{f"Q{i}": [8, 9] for i in range(1, 7)}, "Q7": [98, 99]},
    )

    # wave 2024, Stata: India and Brazil as labelled codes; q5 not asked in this wave; refusals of
    # q7 as Stata's extended missing values .a and .b
    codes = rng.choice([356, 76], size=400)
    names = {356: "India", 76: "Brazil"}
    frame = pd.DataFrame(
        {"country": codes, **values_people(rng, 400, 20001), **values_answers(rng, [names[c] for c in codes])}
    ).drop(columns="q5")
    frame.loc[7, "q4"] = 6  # not in the codebook -> quarantined
    q7 = frame["q7"].astype(object)
    q7[q7 == 8], q7[q7 == 9] = "a", "b"
    frame["q7"] = q7
    labels = {f"q{i}": opts for i, opts in enumerate(VALUES_LABELS, 1) if i != 5}
    labels["q7"] = {
        1: "Very interested",
        2: "Somewhat interested",
        3: "Not very interested",
        4: "Not at all interested",
        "a": "Don't know",
        "b": "Refused",
    }
    labels["country"] = names
    pyreadstat.write_dta(
        frame,
        out / "values_w2.dta",
        column_labels={"q7": "How interested would you say you are in politics?"},
        variable_value_labels=labels,
        missing_user_values={"q7": ["a", "b"]},
    )

    (out / "codebook.yaml").write_text(VALUES_CODEBOOK)
    (out / "config.yaml").write_text(
        "# The samples are synthetic, written by scripts/make_samples.py: our own, CC0.\n"
        "license: cc0-1.0\n"
        "dataset_name: Sample values survey (synthetic microdata)\n"
        "min_n: 30\n"
    )


VALUES_LABELS = [  # value labels stored in the .sav and .dta for q1..q7
    {
        1: "Very important",
        2: "Rather important",
        3: "Not very important",
        4: "Not at all important",
        8: "Don't know",
        9: "Refused",
    },
    {1: "Most people can be trusted", 2: "Need to be very careful", 8: "Don't know", 9: "Refused"},
    {
        1: "Not at all important",
        2: "Not very important",
        3: "Somewhat important",
        4: "Very important",
        5: "Extremely important",
        8: "Don't know",
        9: "Refused",
    },
    {
        1: "Never justifiable",
        2: "Rarely justifiable",
        3: "Sometimes justifiable",
        4: "Often justifiable",
        5: "Always justifiable",
        8: "Don't know",
        9: "Refused",
    },
    {
        1: "A high level of economic growth",
        2: "Strong defence forces",
        3: "People have more say about how things are done",
        4: "Making cities and countryside more beautiful",
        8: "Don't know",
        9: "Refused",
    },
    {
        1: "People should take more responsibility",
        2: "Mostly people",
        3: "Both equally",
        4: "Mostly the government",
        5: "The government should take more responsibility",
        8: "Don't know",
        9: "Refused",
    },
    {
        1: "Very interested",
        2: "Somewhat interested",
        3: "Not very interested",
        4: "Not at all interested",
        98: "Don't know",
        99: "Refused",
    },
]
