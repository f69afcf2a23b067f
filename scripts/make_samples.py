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

from scripts.sample_values import values  # noqa: E402
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
    for j, (_d, f) in enumerate(zip(domains, facets)):
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
            "case": demo["case"][i],
            "sex": demo["sex"][i],
            "age": demo["age"][i],
            "sec": rng.integers(0, 60),
            "min": rng.integers(0, 60),
            "hour": rng.integers(0, 24),
            "day": rng.integers(1, 29),
            "month": rng.integers(1, 13),
            "year": rng.integers(99, 112),
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
        frame,
        out / "ipip300_responses.sav",
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


def norms(rng: np.random.Generator) -> None:
    """Reddit dumps for the norms recipe, in the real format (zstd, 2 GiB window, several frames):
    AITA and confessions posts with voting comments, and every case the recipe filters or
    quarantines: foreign-language, short, deleted, removed, stickied meta and link posts, an other
    subreddit, a duplicate, type drift, Arctic Shift's `_meta`, bots, replies, bad JSON lines, and
    invented personal details (example.com addresses, 555 numbers, user names) that must be masked."""
    from scripts import reddit_synthetic as syn
    from sources.reddit.writer import write_dump

    out = OUT / "norms"
    out.mkdir(parents=True, exist_ok=True)
    t0 = 1672531200  # 2023-01-01
    authors = [f"throwaway_aita_{i}" for i in range(1, 9)] + ["Jane_Doe_1987", "MarkTwainFan42"]
    posts, comments = [], []
    n_comment = 0

    def add_comments(link: str, sub: str, k: int, t: int) -> None:
        nonlocal n_comment
        for _ in range(k):
            n_comment += 1
            body = syn.vote_text(rng) if sub == "AmItheAsshole" else "Thank you for sharing this, it takes courage."
            comments.append(
                syn.comment(
                    f"c{n_comment}", link, None, sub, authors[rng.integers(len(authors))], t + 60 * n_comment, body
                )
            )

    for i in range(14):
        title, body = syn.aita_text(rng)
        pid, t = f"p{i}", t0 + 3600 * i
        posts.append(syn.submission(pid, "AmItheAsshole", authors[i % len(authors)], t, title, body))
        add_comments(pid, "AmItheAsshole", int(rng.integers(4, 9)), t)
    for i, text in enumerate(syn.CONFESSIONS):
        pid, t = f"q{i}", t0 + 86400 + 3600 * i
        posts.append(
            syn.submission(
                pid, "confessions", authors[(i + 3) % len(authors)], t, "I need to get this off my chest", text
            )
        )
        add_comments(pid, "confessions", 2, t)
    for i, (_lang, text) in enumerate(syn.FOREIGN.items()):
        posts.append(syn.submission(f"f{i}", "AmItheAsshole", authors[i], t0 + 7200 + i, "AITA ?", text))

    # personal details, invented: masked in the output
    posts[0]["selftext"] += (
        "\n\nEdit: people asked, you can email me at jane.doe.1987@example.com or call "
        "555-867-5309. My other post is at https://www.reddit.com/user/Jane_Doe_1987/ and "
        "u/MarkTwainFan42 knows the whole story."
    )
    comments[0]["body"] = (
        "NTA. I know MarkTwainFan42 from the forum, reach me at +44 20 7946 0958 or "
        "https://example.org/signup?email=jane%40example.com&ref=share"
    )
    # drift seen in the dumps
    posts[1]["created_utc"] = str(posts[1]["created_utc"])
    posts[2]["score"] = None
    posts[3]["edited"] = posts[3]["created_utc"] + 600.5
    posts[4]["_meta"] = {"retrieved_2nd_on": t0 + 999999, "removal_type": None, "was_deleted_later": False}
    comments[1]["created_utc"] = str(comments[1]["created_utc"])
    comments[2]["edited"] = True
    comments[3].pop("author")
    # what the filters drop
    posts += [
        syn.submission("s1", "AmItheAsshole", "throwaway_aita_2", t0 + 10, "AITA for this?", "Short post, no details."),
        syn.submission("s2", "AmItheAsshole", "[deleted]", t0 + 11, "AITA for leaving?", syn.CONFESSIONS[0]),
        syn.submission("s3", "AmItheAsshole", "throwaway_aita_3", t0 + 12, "AITA for asking?", "[removed]"),
        syn.submission(
            "s4",
            "AmItheAsshole",
            "AutoModerator",
            t0 + 13,
            "[META] Monthly rules reminder",
            syn.CONFESSIONS[1],
            stickied=True,
            distinguished="moderator",
        ),
        syn.submission(
            "s5",
            "AmItheAsshole",
            "throwaway_aita_4",
            t0 + 14,
            "AITA for this photo?",
            "",
            is_self=False,
            url="https://i.example.com/abc.jpg",
        ),
        syn.submission(
            "s6", "AskReddit", "throwaway_aita_5", t0 + 15, "What is your favorite food?", syn.CONFESSIONS[2]
        ),
        syn.submission("s7", "AmItheAsshole", None, t0 + 16, "AITA for moving out?", syn.CONFESSIONS[2]),
    ]
    posts.append(dict(posts[5]))  # the same post twice (overlapping dumps)
    comments += [
        syn.comment("r1", "p0", "t1_c1", "AmItheAsshole", "throwaway_aita_6", t0 + 500, "YTA for replying"),
        syn.comment("b1", "p0", None, "AmItheAsshole", "AutoModerator", t0 + 501, "NTA is the verdict, this is a bot"),
        syn.comment("b2", "p1", None, "AmItheAsshole", "RemindMeBot", t0 + 502, "I will be messaging you in 2 days"),
        syn.comment("d1", "p1", None, "AmItheAsshole", "[deleted]", t0 + 503, "[deleted]"),
        syn.comment("o1", "s6", None, "AskReddit", "throwaway_aita_7", t0 + 504, "Pizza, always pizza."),
        syn.comment("n1", "s1", None, "AmItheAsshole", "throwaway_aita_8", t0 + 505, "NTA but add details"),
    ]
    posts.insert(8, '{"id": "bad1", "subreddit": "AmItheAsshole", "title": "unterminated')
    comments.insert(10, '{"id": "badc", "author": "Jane_Doe_1987", "body": "call 555-867-5309"')
    write_dump(out / "RS_2023-01.zst", posts, frame_lines=7)
    write_dump(out / "RC_2023-01.zst", comments, frame_lines=13)
    (out / "config.yaml").write_text(
        "# The samples are synthetic, written by scripts/make_samples.py: our own, CC0.\n"
        "license: cc0-1.0\n"
        "dataset_name: Sample Reddit norms (synthetic AITA and confessions dumps)\n"
        "subreddits: [AmItheAsshole, confessions]\n"
    )


def llm_samples() -> None:
    """Inputs of the LLM recipes: inventory items (CSV), personas and prompts (JSONL, one prompt with
    a planted instruction, one broken line) and Moral Stories-style items as a local HF dataset repo."""
    import json

    from llm_sample_texts import BROKEN_ITEM, ITEM_NUMBERS, PERSONAS, PROMPTS, STORIES

    cc0 = "# The samples are our own (IPIP item texts: public domain), written by scripts/make_samples.py.\nlicense: cc0-1.0\n"
    out = OUT / "expand"
    out.mkdir(parents=True, exist_ok=True)
    items = (
        load_key(120)
        .filter(pl.col("item_no").is_in(ITEM_NUMBERS))
        .with_columns(pl.lit("IPIP-NEO-120").alias("instrument"))
    )
    items = items.select("instrument", "item_no", "text", "domain", "facet_code", "facet_name", "keyed")
    items = pl.concat([items.cast(pl.String), pl.DataFrame([BROKEN_ITEM])])
    items.write_csv(out / "items.csv")
    (out / "config.yaml").write_text(
        cc0 + "dataset_name: Sample TRAIT-style scenarios (from IPIP-NEO items)\nscenarios_per_item: 2\n"
    )

    out = OUT / "preferences"
    out.mkdir(parents=True, exist_ok=True)
    (out / "personas.jsonl").write_text("".join(json.dumps(p) + "\n" for p in PERSONAS))
    lines = [json.dumps(q) for q in PROMPTS]
    lines.insert(1, '{"prompt_id": "q-broken", "prompt": "unterminated')
    (out / "prompts.jsonl").write_text("\n".join(lines) + "\n")
    (out / "config.yaml").write_text(cc0 + "dataset_name: Sample persona-conditioned preference pairs\n")

    out = OUT / "translate" / "moral_stories"
    (out / "data").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(STORIES).write_parquet(out / "data" / "train-00000-of-00001.parquet")
    (out / "README.md").write_text(
        "---\nlicense: cc0-1.0\nlanguage: [en]\nconfigs:\n- config_name: default\n  data_files:\n"
        "  - split: train\n    path: data/train-*.parquet\n---\n\n# Sample moral stories\n\n"
        "Seven items with Moral Stories' fields (ID, norm, situation, intention, moral_action, moral_consequence,\n"
        "immoral_action, immoral_consequence), written for this project; ms-007 has an empty situation on purpose.\n"
    )
    (OUT / "translate" / "config.yaml").write_text(
        cc0 + "dataset_name: Sample moral stories translated into French (Histoires Morales style)\n"
        "target_lang: fr\nadapt_names: true\n"
    )


def main() -> None:
    rng = np.random.default_rng(20261123)
    personality(rng)
    values(np.random.default_rng(4), OUT)
    norms(np.random.default_rng(9))
    llm_samples()
    from scripts.make_demo_samples import main as demo_samples  # a few rows of the above, for `curate demo`

    demo_samples()
    print(f"samples written under {OUT}")


if __name__ == "__main__":
    main()
