"""Personal data planted in real prose: recall per kind, false positives, comments/s, for the privacy
step (Presidio + our recognizers + spaCy NER) against the regex step it replaced, in the same run.

    .venv/bin/python bench/privacy/bench_privacy.py                 # 40 instances per kind (>= 1,000)
    .venv/bin/python bench/privacy/bench_privacy.py --per-kind 10   # a quick run
    .venv/bin/python bench/privacy/bench_privacy.py --dask 100000   # + the step on a 2-worker Dask cluster

Host text: sentences of the docstrings of Python's standard library (real prose written by people,
shipped with the interpreter; no download), two to four per comment, the length of a Reddit comment.
Each planted comment carries one instance of one kind in a carrier sentence (with or without a
context phrase) at a random sentence boundary. Values come from Faker (seeded) in their locale's
formats, checked to be valid where a checksum or numbering plan exists (phones by phonenumbers,
cards by Luhn, IBANs by their check digits; Bitcoin addresses are built with a real Base58Check).

An instance counts as found when none of its secret parts (the value; for names each name; for an
address its number and street; for a URL the values of its secret parameters) is left in the output,
compared on the normalized text, case-blind. False positives: masks written into the same comments
without their plants (and into PII-free comments), per 1,000 words; precision = found / (found + FP).
Throughput: comments/s of each masker in this process (one core, wall clock), the ratio to the
baseline, and comments per CPU-second (the machine is shared: wall time depends on the neighbours,
CPU time much less), from which the time for 2M comments on 2 cores is projected.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.privacy import baseline  # noqa: E402
from bench.privacy.corpus import KINDS, build, clean_comments, controls  # noqa: E402

PLACEHOLDER = re.compile(r"<[A-Z_]+>")
# the kinds with a fixed shape; names and addresses are reported apart
STRUCTURED = {k for k in KINDS if not k.startswith(("person_", "address_"))}


def found(output: str, parts: list[str], host: str = "") -> bool:
    """Nothing of the instance is left: each part occurs in the output no more often than in the host
    sentences around it (a part of letters as a whole word, so "Son" is not found in "reason" and the
    host's own "moon" is not Moon Subin's; others, such as Han names, as a substring)."""
    from pipelines.methods.privacy.normalize import normalize_text

    low, around = normalize_text(output).lower(), normalize_text(host).lower()
    for p in parts:
        p = normalize_text(p).lower()
        if re.fullmatch(r"[a-z0-9à-ÿ'’-]+", p):
            word = re.compile(rf"(?<![\w]){re.escape(p)}(?![\w])")
            if len(word.findall(low)) > len(word.findall(around)):
                return False
        elif low.count(p) > around.count(p):
            return False
    return True


def run_masker(name, fn, cases, clean, names):
    planted = [" ".join(x for x in (pre, carrier, post) if x) for _, pre, carrier, post, _ in cases]
    hosts = [" ".join(x for x in (pre, post) if x) for _, pre, _, post, _ in cases]
    texts = planted + hosts + clean
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(texts, names)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    n = len(cases)
    o_planted, o_hosts, o_clean = out[:n], out[n : 2 * n], out[2 * n :]
    recall, missed = defaultdict(list), defaultdict(list)
    for (kind, pre, carrier, post, parts), o in zip(cases, o_planted):
        ok = found(o, parts, f"{pre} {post}")
        recall[kind].append(ok)
        if not ok:
            missed[kind].append(carrier)
    pattern = baseline.PLACEHOLDER if name == "regex (before)" else PLACEHOLDER
    fp_hosts = sum(len(pattern.findall(o)) for o in o_hosts)
    fp_clean_hits = [m for o in o_clean for m in pattern.findall(o)]
    clean_words = sum(len(t.split()) for t in clean) + sum(len(t.split()) for t in hosts)
    fp_examples = Counter()
    for _src, o in zip(clean + hosts, o_clean + o_hosts):
        for m in pattern.finditer(o):
            fp_examples[o[max(0, m.start() - 25) : m.end() + 10]] += 1
    return {
        "name": name,
        "recall": recall,
        "missed": missed,
        "fp": fp_hosts + len(fp_clean_hits),
        "words": clean_words,
        "rate": len(texts) / elapsed,
        "cpu_rate": len(texts) / cpu,
        "texts": len(texts),
        "fp_examples": fp_examples,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-kind", type=int, default=40)
    ap.add_argument("--clean", type=int, default=1000, help="PII-free comments for false positives")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show-missed", type=int, default=3)
    ap.add_argument("--controls", type=int, default=240, help="look-alike sentences that must stay unchanged")
    ap.add_argument(
        "--dask",
        type=int,
        default=0,
        metavar="N",
        help="also mask N comments partitioned on a Dask LocalCluster (bench_dask.py)",
    )
    ap.add_argument("--dask-workers", type=int, default=2)
    ap.add_argument("--dask-memory", default="3GB", help="memory limit per Dask worker")
    args = ap.parse_args()

    t0 = time.perf_counter()
    cases, clean, names = build(args.per_kind, args.clean, args.seed)
    print(
        f"corpus: {len(cases)} planted instances of {len(KINDS)} kinds, {len(clean)} PII-free comments "
        f"({time.perf_counter() - t0:.1f}s to build)"
    )

    from pipelines.methods.privacy.engine import masker

    t0 = time.perf_counter()
    full, rules = masker(True), masker(False)
    print(f"maskers loaded in {time.perf_counter() - t0:.1f}s")
    runs = [
        run_masker("regex (before)", baseline.mask, cases, clean, names),
        run_masker("presidio, no NER", lambda t, n: rules.mask(t, n)[0], cases, clean, names),
        run_masker("presidio + spaCy NER", lambda t, n: full.mask(t, n)[0], cases, clean, names),
    ]
    report(runs, args.show_missed)
    looks = controls(args.controls, args.seed)
    print(f"\nLook-alike controls ({len(looks)}, bench/privacy/corpus.py CONTROLS): changed by each masker\n")
    for name, fn in (
        ("presidio, no NER", lambda t, n: rules.mask(t, n)[0]),
        ("presidio + spaCy NER", lambda t, n: full.mask(t, n)[0]),
    ):
        out = fn(looks, names)
        changed = [(a, b) for a, b in zip(looks, out) if PLACEHOLDER.search(b)]
        print(f"{name}: {len(changed)}/{len(looks)} ({100 * len(changed) / max(len(looks), 1):.1f}%)")
        for a, b in changed[: args.show_missed]:
            print(f"    {a!r} -> {b!r}")
    if args.dask:
        from bench.privacy import bench_dask

        planted = [" ".join(x for x in (pre, carrier, post) if x) for _, pre, carrier, post, _ in cases]
        texts = (planted + clean_comments(max(0, args.dask - len(planted)), args.seed))[: args.dask]
        bench_dask.report(bench_dask.run(texts, names, args.dask_workers, args.dask_memory))


def report(runs, show_missed: int) -> None:
    kinds = list(runs[0]["recall"])
    head = "| kind | n | " + " | ".join(r["name"] for r in runs) + " |"
    print("\nRecall per kind (share of planted instances with nothing left of them)\n")
    print(head)
    print("|---|---:|" + "---:|" * len(runs))
    totals = [[0, 0, 0, 0] for _ in runs]  # structured found, n, other found, n
    for kind in kinds:
        n = len(runs[0]["recall"][kind])
        cells = []
        for r, t in zip(runs, totals):
            k = sum(r["recall"][kind])
            cells.append(f"{100 * k / n:.1f}%")
            idx = 0 if kind in STRUCTURED else 2
            t[idx] += k
            t[idx + 1] += n
        print(f"| {kind} | {n} | " + " | ".join(cells) + " |")
    for label, idx in (("all structured kinds", 0), ("names and addresses", 2)):
        print(
            f"| **{label}** | {totals[0][idx + 1]} | "
            + " | ".join(f"**{100 * t[idx] / max(t[idx + 1], 1):.1f}%**" for t in totals)
            + " |"
        )
    print("\n| | " + " | ".join(r["name"] for r in runs) + " |")
    print("|---|" + "---:|" * len(runs))
    print("| false positives (masks in PII-free text) | " + " | ".join(str(r["fp"]) for r in runs) + " |")
    print("| per 1,000 words | " + " | ".join(f"{1000 * r['fp'] / r['words']:.2f}" for r in runs) + " |")
    prec = []
    for r, t in zip(runs, totals):
        tp = t[0] + t[2]
        prec.append(f"{100 * tp / max(tp + r['fp'], 1):.1f}%")
    print("| precision, found / (found + FP) | " + " | ".join(prec) + " |")
    base = runs[0]["rate"]
    print("| comments/s, one process | " + " | ".join(f"{r['rate']:.0f}" for r in runs) + " |")
    print("| ratio to the regex step | " + " | ".join(f"{r['rate'] / base:.3f}" for r in runs) + " |")
    print("| comments per CPU-second | " + " | ".join(f"{r['cpu_rate']:.0f}" for r in runs) + " |")
    print(
        "| 2M comments on 2 cores, minutes (CPU-time rate) | "
        + " | ".join(f"{2_000_000 / (2 * r['cpu_rate']) / 60:.0f}" for r in runs)
        + " |"
    )
    print(f"\n(words of PII-free text: {runs[0]['words']}; texts per masker: {runs[0]['texts']})")
    for r in runs[1:]:
        print(f"\n{r['name']}: most frequent false positives")
        for ex, n in r["fp_examples"].most_common(8):
            print(f"  {n} x {ex!r}")
        if show_missed:
            print(f"{r['name']}: missed, up to {show_missed} per kind")
            for kind, carriers in r["missed"].items():
                for c in carriers[:show_missed]:
                    print(f"  {kind}: {c!r}")


if __name__ == "__main__":
    main()
