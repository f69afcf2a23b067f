"""Personal data planted in real prose: recall per kind, false positives, comments/s, for the privacy
step (Presidio + our recognizers + spaCy NER) against the regex step it replaced, in the same run.

    .venv/bin/python bench/privacy/bench_privacy.py                 # 40 instances per kind (>= 1,000)
    .venv/bin/python bench/privacy/bench_privacy.py --per-kind 10   # a quick run

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
import ast
import hashlib
import ipaddress
import random
import re
import sys
import sysconfig
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.privacy import baseline  # noqa: E402

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
CODEY = re.compile(r"[{}\[\]<>=_`|\\@#$%^*~]|::|\.\w+\(|>>>|\w\.\w|\d")
ATTRIBUTION = re.compile(r"(?i)written by|contributed by|copyright|author|thanks to|credits|maintainer|\b[A-Z]\. ?[A-Z][a-z]+")
PLACEHOLDER = re.compile(r"<[A-Z_]+>")
STRUCTURED = {"phone_us", "phone_intl", "phone_national", "phone_fullwidth", "email", "email_obfuscated",
              "email_encoded", "card", "iban", "ipv4", "ipv6", "ssn", "url_token", "crypto_btc", "crypto_eth",
              "reddit_user", "author_name"}


# -- host prose -----------------------------------------------------------------------------------


def prose_sentences(limit: int = 20000) -> list[str]:
    """Plain-English sentences of the standard library's docstrings (no code, no digits, no
    attributions: those would hold names or numbers that are not planted)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    seen, out = set(), []
    for path in sorted(root.rglob("*.py")):
        if {"test", "tests", "idlelib", "site-packages", "lib2to3"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_bytes())
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=True) or ""
                for para in doc.split("\n\n"):
                    para = " ".join(para.split())
                    for s in SENTENCE_END.split(para):
                        words = s.split()
                        if (8 <= len(words) <= 40 and s[0].isupper() and s.endswith(".") and not CODEY.search(s)
                                and not ATTRIBUTION.search(s) and s not in seen):
                            seen.add(s)
                            out.append(s)
                            if len(out) >= limit:
                                return out
    return out


# -- values ---------------------------------------------------------------------------------------

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check(payload: bytes) -> str:
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n, out = int.from_bytes(data, "big"), ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()][::-1]
    return sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0


INTL_REGIONS = ["FR", "DE", "GB", "KR", "IN", "BR", "JP", "MX", "NG", "ZA", "ES", "IT", "NL", "SE", "PL", "TR",
                "AU", "CN", "RU", "EG", "AR", "PH", "VN", "IE", "CH", "BE", "PT", "GR", "IL", "KE"]


def valid_phone(rng: random.Random, region: str):
    import phonenumbers

    base = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    digits = str(base.national_number)
    for _ in range(200):
        keep = max(3, len(digits) - 5)
        candidate = digits[:keep] + "".join(rng.choice("0123456789") for _ in digits[keep:])
        num = phonenumbers.parse("+" + str(base.country_code) + candidate)
        if phonenumbers.is_valid_number(num):
            return num
    return base


def fmt_phone(num, style: str) -> str:
    import phonenumbers

    f = phonenumbers.PhoneNumberFormat
    if style == "e164":
        return phonenumbers.format_number(num, f.E164)
    if style == "national":
        return phonenumbers.format_number(num, f.NATIONAL)
    return phonenumbers.format_number(num, f.INTERNATIONAL)


def fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


def zero_width(s: str, rng: random.Random) -> str:
    return "".join(c + ("\u200b" if rng.random() < 0.4 else "") for c in s)


# -- kinds ----------------------------------------------------------------------------------------
# each maker returns (carrier sentence, secret parts)

CONTEXT = {
    "phone": ["You can call me at {v}.", "My number is {v} if anyone wants to talk.", "Text {v} after six.",
              "The number on the flyer was {v}.", "{v} is her cell."],
    "email": ["Email me at {v}.", "My address is {v} for anyone who wants the file.", "Write to {v}.",
              "Contact {v} for details.", "His mail was {v}, I checked."],
    "generic": ["It was {v}.", "See {v} for what I mean.", "The one I used was {v}.", "I wrote down {v}.",
                "Here it is: {v}."],
    "person": ["Yesterday I ran into {v} at the store.", "My roommate {v} never washes the dishes.",
               "I told {v} that this was not okay.", "{v} said she would pay me back.",
               "Then {v} called my mother about it.", "My boss, {v}, refused to sign the form."],
    "address": ["We live at {v}.", "The party was at {v}.", "Send it to {v}.", "He moved to {v} last year.",
                "Our old flat at {v} had mold."],
    "location": ["We moved to {v} last spring.", "I grew up in {v}.", "She works in {v} now.",
                 "My family is from {v}."],
}


class Planter:
    def __init__(self, seed: int):
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers = {loc: Faker(loc) for loc in ("en_US", "fr_FR", "de_DE", "en_GB", "ko_KR", "es_ES", "nl_NL")}
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)

    def say(self, group: str, value: str) -> str:
        return self.rng.choice(CONTEXT[group]).format(v=value)

    def make(self, kind: str, authors: list[str]) -> tuple[str, list[str]]:
        rng, fk = self.rng, self.fakers
        us = fk["en_US"]
        if kind == "phone_us":
            v = fmt_phone(valid_phone(rng, "US"), rng.choice(["national", "intl", "e164"]))
            v = v if rng.random() < 0.7 else v.replace("(", "").replace(") ", "-").replace("-", ".")
            return self.say("phone", v), [v]
        if kind == "phone_intl":
            v = fmt_phone(valid_phone(rng, rng.choice(INTL_REGIONS)), rng.choice(["intl", "e164"]))
            return self.say("phone", v), [v]
        if kind == "phone_national":
            v = fmt_phone(valid_phone(rng, rng.choice(["FR", "DE", "GB", "KR"])), "national")
            return self.say("phone", v), [v]
        if kind == "phone_fullwidth":
            v = fmt_phone(valid_phone(rng, rng.choice(["US", "FR", "KR"])), rng.choice(["intl", "national"]))
            return self.say("phone", fullwidth(v)), [v]
        if kind == "email":
            v = rng.choice([us.free_email(), fk["fr_FR"].email(), fk["de_DE"].free_email(), us.company_email()])
            return self.say("email", v), [v]
        if kind == "email_obfuscated":
            first, last = us.first_name().lower(), us.last_name().lower()
            dom, tld = rng.choice(["gmail", "yahoo", "hotmail", "outlook", "proton"]), rng.choice(["com", "fr", "de"])
            v = rng.choice([f"{first} dot {last} at {dom} dot {tld}", f"{first}.{last} [at] {dom} [dot] {tld}",
                            f"{first}{last}(at){dom}.{tld}", f"{first} at {dom} dot {tld}",
                            f"{first}_{last} AT {dom} DOT {tld}", f"{first}.{last} {{at}} {dom}.{tld}"])
            return self.say("email", v), [first, last]
        if kind == "email_encoded":
            v = us.free_email()
            enc = rng.choice([v.replace("@", "&#64;"), v.replace("@", "&#x40;"), zero_width(v, rng),
                              fullwidth(v), "mailto:" + v.replace("@", "%40")])
            return self.say("email", enc), [v, v.split("@")[0]]
        if kind == "card":
            v = us.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex", "discover"]))
            assert luhn_ok(v)
            sep = rng.choice([" ", "-", ""])
            v2 = sep.join(v[i:i + 4] for i in range(0, len(v), 4)) if len(v) == 16 else v
            return self.say("generic", v2), [v2, v]
        if kind == "iban":
            loc = rng.choice(["fr_FR", "de_DE", "en_GB", "es_ES", "nl_NL"])
            v = fk[loc].iban()
            v2 = " ".join(v[i:i + 4] for i in range(0, len(v), 4)) if rng.random() < 0.6 else v
            return "My IBAN is " + v2 + ", please send it there." if rng.random() < 0.5 else self.say("generic", v2), [v2, v]
        if kind == "ipv4":
            v = us.ipv4_public()
            return rng.choice(["My IP address is {v}.", "The ban came from {v}.", "It logged {v} as the source."]).format(v=v), [v]
        if kind == "ipv6":
            v = us.ipv6()
            v = ipaddress.IPv6Address(v).compressed if rng.random() < 0.5 else v
            return self.say("generic", v), [v]
        if kind == "ssn":
            v = us.ssn()
            return rng.choice(["My SSN is {v}.", "They asked for my social security number, {v}, on the form.",
                               "It was {v}."]).format(v=v), [v]
        if kind == "url_token":
            user, token = us.user_name(), hashlib.sha1(str(rng.random()).encode()).hexdigest()[:rng.randint(12, 32)]
            v = rng.choice([f"https://{us.domain_name()}/reset?user={user}&amp;token={token}",
                            f"https://{us.domain_name()}/share?id=42&amp;email={user}%40gmail.com&amp;sig={token}",
                            f"https://{us.domain_name()}/invite?ref={user}&amp;session={token}&amp;page=2"])
            return self.say("generic", v), [token, user]
        if kind == "crypto_btc":
            v = base58check(bytes([rng.choice([0, 5])]) + rng.randbytes(20))
            return rng.choice(["Donations go to {v} if you want.", "Send the bitcoin to {v}.", "It was {v}."]).format(v=v), [v]
        if kind == "crypto_eth":
            v = "0x" + rng.randbytes(20).hex()
            return rng.choice(["My wallet is {v}.", "Send ETH to {v}.", "It was {v}."]).format(v=v), [v]
        if kind == "reddit_user":
            v = rng.choice(["u/", "/u/"]) + us.user_name() + rng.choice(["", str(rng.randint(1, 99))])
            return rng.choice(["Thanks {v} for the advice.", "Like {v} said, just leave.", "{v} is right."]).format(v=v), [v.split("u/")[1]]
        if kind == "author_name":
            v = rng.choice(authors)
            return rng.choice(["I agree with {v} here.", "What {v} wrote is spot on.", "{v} has a point."]).format(v=v), [v]
        if kind.startswith("person_"):
            loc = {"person_en": "en_US", "person_fr": "fr_FR", "person_de": "de_DE", "person_ko": "ko_KR"}[kind]
            f = fk[loc]
            v = f"{f.first_name()} {f.last_name()}" if loc != "ko_KR" else f.name()
            parts = [p for p in re.split(r"[\s-]+", v) if len(p) >= 3] if loc != "ko_KR" else [v]
            if loc == "ko_KR":
                return rng.choice(["어제 {v} 씨를 만났어요.", "제 룸메이트 {v} 는 설거지를 안 해요."]).format(v=v), parts
            return self.say("person", v), parts
        if kind.startswith("address_"):
            loc = {"address_us": "en_US", "address_gb": "en_GB", "address_fr": "fr_FR", "address_de": "de_DE",
                   "address_ko": "ko_KR"}[kind]
            f = fk[loc]
            street = f.street_address()
            if loc == "en_US" and rng.random() < 0.5:
                v = f"{street}, {f.city()}, {f.state_abbr()} {f.postcode()}"
            elif loc == "en_GB":
                v = f"{street}, {f.postcode()}"
            elif loc in ("fr_FR", "de_DE") and rng.random() < 0.5:
                v = f"{street}, {f.postcode()} {f.city()}"
            else:
                v = street
            parts = [p for p in re.split(r"[\s,]+", street) if len(p) >= 3 and p.lower() not in STREET_WORDS][:2]
            if loc == "ko_KR":
                return rng.choice(["저는 {v} 에 살아요.", "택배는 {v} 으로 보내 주세요."]).format(v=v), [street]
            return self.say("address", v), parts or [street]
        raise ValueError(kind)


STREET_WORDS = {"rue", "avenue", "street", "road", "suite", "apt.", "place", "chemin", "boulevard", "allée", "impasse",
                "quai", "route", "straße", "strasse", "weg", "gasse", "platz", "flat", "studio", "bis", "ter"}
KINDS = ["phone_us", "phone_intl", "phone_national", "phone_fullwidth", "email", "email_obfuscated", "email_encoded",
         "card", "iban", "ipv4", "ipv6", "ssn", "url_token", "crypto_btc", "crypto_eth", "reddit_user", "author_name",
         "person_en", "person_fr", "person_de", "person_ko", "address_us", "address_gb", "address_fr", "address_de",
         "address_ko"]


def build(per_kind: int, clean: int, seed: int):
    from faker import Faker

    rng = random.Random(seed)
    sentences = prose_sentences()
    planter = Planter(seed)
    handle = Faker("en_US")
    handle.seed_instance(seed)
    authors = [f"{handle.user_name()}_{rng.randint(10, 99)}" for _ in range(50)]
    cases = []  # (kind, host sentences, carrier, parts)
    for kind in KINDS:
        for _ in range(per_kind):
            host = rng.sample(sentences, rng.randint(2, 4))
            carrier, parts = planter.make(kind, authors)
            at = rng.randint(0, len(host))
            cases.append((kind, " ".join(host[:at]), carrier, " ".join(host[at:]), parts))
    clean_comments = [" ".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(clean)]
    return cases, clean_comments, {a.lower() for a in authors}


def found(output: str, parts: list[str]) -> bool:
    from pipelines.privacy.normalize import normalize_text

    low = normalize_text(output).lower()
    return not any(normalize_text(p).lower() in low for p in parts)


def run_masker(name, fn, cases, clean, names):
    planted = [" ".join(x for x in (pre, carrier, post) if x) for _, pre, carrier, post, _ in cases]
    hosts = [" ".join(x for x in (pre, post) if x) for _, pre, _, post, _ in cases]
    texts = planted + hosts + clean
    start, cpu = time.perf_counter(), time.process_time()
    out = fn(texts, names)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    n = len(cases)
    o_planted, o_hosts, o_clean = out[:n], out[n:2 * n], out[2 * n:]
    recall, missed = defaultdict(list), defaultdict(list)
    for (kind, _, carrier, _, parts), o in zip(cases, o_planted):
        ok = found(o, parts)
        recall[kind].append(ok)
        if not ok:
            missed[kind].append(carrier)
    pattern = baseline.PLACEHOLDER if name == "regex (before)" else PLACEHOLDER
    fp_hosts = sum(len(pattern.findall(o)) for o in o_hosts)
    fp_clean_hits = [m for o in o_clean for m in pattern.findall(o)]
    clean_words = sum(len(t.split()) for t in clean) + sum(len(t.split()) for t in hosts)
    fp_examples = Counter()
    for src, o in zip(clean + hosts, o_clean + o_hosts):
        for m in pattern.finditer(o):
            fp_examples[o[max(0, m.start() - 25):m.end() + 10]] += 1
    return {"name": name, "recall": recall, "missed": missed, "fp": fp_hosts + len(fp_clean_hits),
            "words": clean_words, "rate": len(texts) / elapsed, "cpu_rate": len(texts) / cpu, "texts": len(texts), "fp_examples": fp_examples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-kind", type=int, default=40)
    ap.add_argument("--clean", type=int, default=1000, help="PII-free comments for false positives")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show-missed", type=int, default=3)
    args = ap.parse_args()

    t0 = time.perf_counter()
    cases, clean, names = build(args.per_kind, args.clean, args.seed)
    print(f"corpus: {len(cases)} planted instances of {len(KINDS)} kinds, {len(clean)} PII-free comments "
          f"({time.perf_counter() - t0:.1f}s to build)")

    from pipelines.privacy.engine import masker

    t0 = time.perf_counter()
    full, rules = masker(True), masker(False)
    print(f"maskers loaded in {time.perf_counter() - t0:.1f}s")
    runs = [
        run_masker("regex (before)", baseline.mask, cases, clean, names),
        run_masker("presidio, no NER", lambda t, n: rules.mask(t, n)[0], cases, clean, names),
        run_masker("presidio + spaCy NER", lambda t, n: full.mask(t, n)[0], cases, clean, names),
    ]
    report(runs, args.show_missed)


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
        print(f"| **{label}** | {totals[0][idx + 1]} | " +
              " | ".join(f"**{100 * t[idx] / max(t[idx + 1], 1):.1f}%**" for t in totals) + " |")
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
    print("| 2M comments on 2 cores, minutes (CPU-time rate) | " +
          " | ".join(f"{2_000_000 / (2 * r['cpu_rate']) / 60:.0f}" for r in runs) + " |")
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
