"""The privacy benchmark's corpus: personal data of 26 kinds planted in real prose (sentences of the
standard library's docstrings), with valid values from Faker, phonenumbers, Luhn, IBAN check digits
and Base58Check; `build` returns the planted comments, PII-free comments and the authors' names."""

from __future__ import annotations

import ast
import hashlib
import ipaddress
import random
import re
import sysconfig
from pathlib import Path

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
CODEY = re.compile(r"[{}\[\]<>=_`|\\@#$%^*~]|::|\.\w+\(|>>>|\w\.\w|\d")
ATTRIBUTION = re.compile(
    r"(?i)written by|contributed by|copyright|author|thanks to|credits|maintainer|\b[A-Z]\. ?[A-Z][a-z]+"
)


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
                        if (
                            8 <= len(words) <= 40
                            and s[0].isupper()
                            and s.endswith(".")
                            and not CODEY.search(s)
                            and not ATTRIBUTION.search(s)
                            and s not in seen
                        ):
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


INTL_REGIONS = [
    "FR",
    "DE",
    "GB",
    "KR",
    "IN",
    "BR",
    "JP",
    "MX",
    "NG",
    "ZA",
    "ES",
    "IT",
    "NL",
    "SE",
    "PL",
    "TR",
    "AU",
    "CN",
    "RU",
    "EG",
    "AR",
    "PH",
    "VN",
    "IE",
    "CH",
    "BE",
    "PT",
    "GR",
    "IL",
    "KE",
]


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
    "phone": [
        "You can call me at {v}.",
        "My number is {v} if anyone wants to talk.",
        "Text {v} after six.",
        "The number on the flyer was {v}.",
        "{v} is her cell.",
    ],
    "email": [
        "Email me at {v}.",
        "My address is {v} for anyone who wants the file.",
        "Write to {v}.",
        "Contact {v} for details.",
        "His mail was {v}, I checked.",
    ],
    "generic": [
        "It was {v}.",
        "See {v} for what I mean.",
        "The one I used was {v}.",
        "I wrote down {v}.",
        "Here it is: {v}.",
    ],
    "person": [
        "Yesterday I ran into {v} at the store.",
        "My roommate {v} never washes the dishes.",
        "I told {v} that this was not okay.",
        "{v} said she would pay me back.",
        "Then {v} called my mother about it.",
        "My boss, {v}, refused to sign the form.",
    ],
    "address": [
        "We live at {v}.",
        "The party was at {v}.",
        "Send it to {v}.",
        "He moved to {v} last year.",
        "Our old flat at {v} had mold.",
    ],
    "location": [
        "We moved to {v} last spring.",
        "I grew up in {v}.",
        "She works in {v} now.",
        "My family is from {v}.",
    ],
}


class Planter:
    def __init__(self, seed: int):
        from faker import Faker

        self.rng = random.Random(seed)
        self.fakers = {
            loc: Faker(loc)
            for loc in ("en_US", "fr_FR", "de_DE", "en_GB", "ko_KR", "es_ES", "nl_NL", "zh_CN", "ar_AA", "hi_IN")
        }
        for i, f in enumerate(self.fakers.values()):
            f.seed_instance(seed + i)

    def script_name(self, kind: str) -> tuple[str, list[str]]:
        rng, fk = self.rng, self.fakers
        if kind == "person_zh":
            v = fk["zh_CN"].name()
            return v, [v]
        if kind in ("person_ar", "person_hi"):
            f = fk["ar_AA" if kind == "person_ar" else "hi_IN"]
            v = f"{f.first_name()} {f.last_name()}"
            return v, [p for p in v.split() if len(p) >= 2]
        if kind == "person_ko_rom":
            surname, given = rng.choice(KO_ROM_SURNAMES), rng.choice(KO_ROM_GIVEN)
            given = rng.choice([given, given.replace("-", ""), given.replace("-", " ").title()])
            v = f"{surname} {given}" if rng.random() < 0.6 else f"{given} {surname}"
            return v, [p for p in re.split(r"[\s-]+", v) if len(p) >= 3] or [v]
        f = fk["es_ES"]  # person_es: one or two family names
        v = f"{f.first_name()} {f.last_name()}" + (f" {f.last_name()}" if rng.random() < 0.5 else "")
        return v, [p for p in re.split(r"[\s-]+", v) if len(p) >= 3]

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
            v = rng.choice(
                [
                    f"{first} dot {last} at {dom} dot {tld}",
                    f"{first}.{last} [at] {dom} [dot] {tld}",
                    f"{first}{last}(at){dom}.{tld}",
                    f"{first} at {dom} dot {tld}",
                    f"{first}_{last} AT {dom} DOT {tld}",
                    f"{first}.{last} {{at}} {dom}.{tld}",
                ]
            )
            return self.say("email", v), [first, last]
        if kind == "email_encoded":
            v = us.free_email()
            enc = rng.choice(
                [
                    v.replace("@", "&#64;"),
                    v.replace("@", "&#x40;"),
                    zero_width(v, rng),
                    fullwidth(v),
                    "mailto:" + v.replace("@", "%40"),
                ]
            )
            return self.say("email", enc), [v, v.split("@")[0]]
        if kind == "card":
            v = us.credit_card_number(card_type=rng.choice(["visa16", "mastercard", "amex", "discover"]))
            assert luhn_ok(v)
            sep = rng.choice([" ", "-", ""])
            v2 = sep.join(v[i : i + 4] for i in range(0, len(v), 4)) if len(v) == 16 else v
            return self.say("generic", v2), [v2, v]
        if kind == "iban":
            loc = rng.choice(["fr_FR", "de_DE", "en_GB", "es_ES", "nl_NL"])
            v = fk[loc].iban()
            v2 = " ".join(v[i : i + 4] for i in range(0, len(v), 4)) if rng.random() < 0.6 else v
            return "My IBAN is " + v2 + ", please send it there." if rng.random() < 0.5 else self.say("generic", v2), [
                v2,
                v,
            ]
        if kind == "ipv4":
            v = us.ipv4_public()
            return rng.choice(
                ["My IP address is {v}.", "The ban came from {v}.", "It logged {v} as the source."]
            ).format(v=v), [v]
        if kind == "ipv6":
            v = us.ipv6()
            v = ipaddress.IPv6Address(v).compressed if rng.random() < 0.5 else v
            return self.say("generic", v), [v]
        if kind == "ssn":
            v = us.ssn()
            return rng.choice(
                ["My SSN is {v}.", "They asked for my social security number, {v}, on the form.", "It was {v}."]
            ).format(v=v), [v]
        if kind == "url_token":
            user, token = us.user_name(), hashlib.sha1(str(rng.random()).encode()).hexdigest()[: rng.randint(12, 32)]
            v = rng.choice(
                [
                    f"https://{us.domain_name()}/reset?user={user}&amp;token={token}",
                    f"https://{us.domain_name()}/share?id=42&amp;email={user}%40gmail.com&amp;sig={token}",
                    f"https://{us.domain_name()}/invite?ref={user}&amp;session={token}&amp;page=2",
                ]
            )
            return self.say("generic", v), [token, user]
        if kind == "crypto_btc":
            v = base58check(bytes([rng.choice([0, 5])]) + rng.randbytes(20))
            return rng.choice(["Donations go to {v} if you want.", "Send the bitcoin to {v}.", "It was {v}."]).format(
                v=v
            ), [v]
        if kind == "crypto_eth":
            v = "0x" + rng.randbytes(20).hex()
            return rng.choice(["My wallet is {v}.", "Send ETH to {v}.", "It was {v}."]).format(v=v), [v]
        if kind == "reddit_user":
            v = rng.choice(["u/", "/u/"]) + us.user_name() + rng.choice(["", str(rng.randint(1, 99))])
            return rng.choice(["Thanks {v} for the advice.", "Like {v} said, just leave.", "{v} is right."]).format(
                v=v
            ), [v.split("u/")[1]]
        if kind == "mac":
            v = us.mac_address()
            v = rng.choice(
                [v, v.upper(), v.replace(":", "-"), ".".join(v.replace(":", "")[i : i + 4] for i in (0, 4, 8))]
            )
            return rng.choice(
                ["The router's MAC address is {v}.", "Whitelist {v} on the network.", "It was {v}."]
            ).format(v=v), [v]
        if kind == "handle":
            v = us.user_name() + rng.choice(["", str(rng.randint(1, 99))])
            return rng.choice(["Follow me on Instagram, @{v}.", "DM @{v} for details.", "Ask @{v}, she knows."]).format(
                v=v
            ), [v]
        if kind == "iban_lower":
            v = fk[rng.choice(["fr_FR", "de_DE", "en_GB", "es_ES", "nl_NL"])].iban().lower()
            v2 = " ".join(v[i : i + 4] for i in range(0, len(v), 4)) if rng.random() < 0.6 else v
            return rng.choice(["my iban is {v} if you want to pay me back.", "iban: {v}"]).format(v=v2), [v2, v]
        if kind == "email_spaced":
            first, last = us.first_name().lower(), us.last_name().lower()
            dom, tld = rng.choice(["gmail", "outlook", "yahoo", "proton"]), rng.choice(["com", "es", "fr", "de"])
            v = rng.choice([f"{first}.{last} @ {dom} . {tld}", f"{first}[at]{dom}[.]{tld}", f"{first} @ {dom}.{tld}"])
            return self.say("email", v), [first, last]
        if kind == "dob":
            d = us.date_of_birth(minimum_age=18, maximum_age=80)
            v = rng.choice(
                [d.strftime("%d %B %Y").lstrip("0"), d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%B %d, %Y")]
            )
            carrier = rng.choice(
                ["I was born on {v}.", "DOB: {v}.", "My date of birth is {v}, check it.", "Her birthday is {v}."]
            )
            return carrier.format(v=v), [v]
        if kind == "passport":
            v = rng.choice(
                [
                    "".join(rng.choice("0123456789") for _ in range(9)),
                    "C" + "".join(rng.choice("0123456789CFGHJKLMNPRTVWXYZ") for _ in range(8)),
                    f"{rng.randint(10, 99)}{rng.choice('ABCDEFGH')}{rng.choice('ABCDEFGH')}{rng.randint(10000, 99999)}",
                ]
            )
            carrier = rng.choice(["My passport number is {v}.", "Passport no. {v} expired last year.", "passport: {v}"])
            return carrier.format(v=v), [v]
        if kind == "plate":
            letters = "ABCDEFGHJKLMNPRSTVWXYZ"
            v = rng.choice(
                [
                    "".join(rng.choice(letters) for _ in range(3)) + " " + str(rng.randint(1000, 9999)),
                    f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(10, 99)} "
                    + "".join(rng.choice(letters) for _ in range(3)),
                    f"{rng.choice(letters)}{rng.choice(letters)}-{rng.randint(100, 999)}-{rng.choice(letters)}{rng.choice(letters)}",
                ]
            )
            carrier = rng.choice(
                ["The license plate was {v}.", "Plate number {v}, if anyone saw it.", "His number plate reads {v}."]
            )
            return carrier.format(v=v), [v]
        if kind == "author_name":
            v = rng.choice(authors)
            return rng.choice(["I agree with {v} here.", "What {v} wrote is spot on.", "{v} has a point."]).format(
                v=v
            ), [v]
        if kind in SCRIPT_NAMES:  # a name in its own script (or romanized), in English or its language
            v, parts = self.script_name(kind)
            native = NATIVE_CARRIERS.get(kind)
            if native and rng.random() < 0.5:
                return rng.choice(native).format(v=v), parts
            return self.say("person", v), parts
        if kind.startswith("person_"):
            loc = {"person_en": "en_US", "person_fr": "fr_FR", "person_de": "de_DE", "person_ko": "ko_KR"}[kind]
            f = fk[loc]
            v = f"{f.first_name()} {f.last_name()}" if loc != "ko_KR" else f.name()
            parts = [p for p in re.split(r"[\s-]+", v) if len(p) >= 3] if loc != "ko_KR" else [v]
            if loc == "ko_KR":
                return rng.choice(["어제 {v} 씨를 만났어요.", "제 룸메이트 {v} 는 설거지를 안 해요."]).format(
                    v=v
                ), parts
            return self.say("person", v), parts
        if kind.startswith("address_"):
            loc = {
                "address_us": "en_US",
                "address_gb": "en_GB",
                "address_fr": "fr_FR",
                "address_de": "de_DE",
                "address_ko": "ko_KR",
            }[kind]
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


STREET_WORDS = {
    "rue",
    "avenue",
    "street",
    "road",
    "suite",
    "apt.",
    "place",
    "chemin",
    "boulevard",
    "allée",
    "impasse",
    "quai",
    "route",
    "straße",
    "strasse",
    "weg",
    "gasse",
    "platz",
    "flat",
    "studio",
    "bis",
    "ter",
}
# names in other scripts, and romanized, with carriers in their own language half the time
SCRIPT_NAMES = ("person_zh", "person_ar", "person_hi", "person_ko_rom", "person_es")
NATIVE_CARRIERS = {
    "person_zh": ["昨天我在商店碰到了{v}。", "我的室友{v}从来不洗碗。", "{v}说她会还我钱。", "我跟{v}说这样不行。"],
    "person_ar": [
        "التقيت {v} أمس في المتجر.",
        "زميلي في السكن {v} لا يغسل الأطباق أبدا.",
        "قال {v} إنه سيعيد لي المال.",
    ],
    "person_hi": ["कल मैं बाज़ार में {v} से मिला।", "मेरे रूममेट {v} कभी बर्तन नहीं धोते।", "{v} ने कहा कि वह पैसे लौटा देगी।"],
    "person_es": ["Ayer me encontré con {v} en la tienda.", "Mi compañero de piso {v} nunca friega los platos."],
}
# romanized Korean names as people write them (Revised Romanization and older spellings)
KO_ROM_SURNAMES = [
    "Kim", "Lee", "Yi", "Park", "Pak", "Choi", "Jung", "Jeong", "Chung", "Kang", "Cho", "Jo", "Yoon", "Yun",
    "Jang", "Chang", "Lim", "Im", "Han", "Oh", "Seo", "Shin", "Kwon", "Hwang", "Ahn", "Song", "Yoo", "Hong",
    "Jeon", "Ko", "Moon", "Yang", "Son", "Bae", "Baek", "Heo", "Nam", "Noh", "Ha", "Kwak", "Sung", "Cha",
]  # fmt: skip
KO_ROM_GIVEN = [
    "Min-jun", "Seo-yeon", "Ji-hoon", "Ha-eun", "Do-yoon", "Ji-woo", "Seo-jun", "Su-bin", "Ye-jin", "Hyun-woo",
    "Jae-won", "Eun-ji", "So-yeon", "Dong-hyun", "Sung-min", "Young-ho", "Hye-jin", "Jin-woo", "Kyung-soo",
    "Mi-kyung", "Sang-hoon", "Ji-eun", "Yeon-woo", "Tae-yang", "Na-rae", "Woo-jin", "Hee-jung", "Seung-ho",
    "Da-eun", "Joon-young", "Bo-ra", "Chae-won", "Hyo-jin", "Ki-tae", "Eun-woo", "Ga-young", "Jung-hoon",
]  # fmt: skip
KINDS = [
    "phone_us",
    "phone_intl",
    "phone_national",
    "phone_fullwidth",
    "email",
    "email_obfuscated",
    "email_encoded",
    "card",
    "iban",
    "ipv4",
    "ipv6",
    "ssn",
    "url_token",
    "crypto_btc",
    "crypto_eth",
    "reddit_user",
    "author_name",
    "person_en",
    "person_fr",
    "person_de",
    "person_ko",
    *SCRIPT_NAMES,
    "address_us",
    "address_gb",
    "address_fr",
    "address_de",
    "address_ko",
    "mac",
    "handle",
    "iban_lower",
    "email_spaced",
    "dob",
    "passport",
    "plate",
]

# look-alikes of personal data that must come out unchanged (a changed one is a false positive)
CONTROLS = [
    "Upgrade to version {a}.{b}.{c}.{d} before Friday.",
    "It needs Python {a}.{b}.{c} or later and build {a}.{b}.{c}.{d}.",
    "We agreed to meet at noon. Company rules say so.",
    "The Fibonacci numbers {a}, {b}, {c} grow fast.",
    "The meeting on {b} March {y} ran late.",
    "I was born in a small town and moved at {a}.",
    "The ratio was {a}:{b}:{c}, printed on page {d}.",
    "My plate was empty by {a} pm.",
    "The passport office opens at {a}.",
    "Model RTX {a}0{b}0 runs hot.",
    "Email me @ {a}pm if it breaks.",
    "Item #{a}{b}{c}{d} costs {a}.{b} dollars.",
    "我上周买了一张桌子，马上就到了。",
    "今天很高兴，周末我们去黄山。",
    "我跟他说这样不行，明天再说。",
    "王国的历史很长，高山上有雪。",
    "我的朋友说这家店的面条很好吃。",
    "كان يوما سعيدا في المدينة الجميلة.",
    "قال إنه سيعود غدا إلى البيت.",
    "التقيت صديقي في السوق الكبير أمس.",
    "زميلي في العمل يحب القهوة كثيرا.",
    "आज मौसम बहुत अच्छा है और बाज़ार खुला है।",
    "मेरे दोस्त ने कहा कि फिल्म अच्छी थी।",
    "हम कल सुबह स्कूल से घर गए।",
    "उसने मुझे एक किताब दी और चला गया।",
    "The word 사랑 means love, and 寿司 is sushi.",
    "He said شكرا and left.",
    "She wrote नमस्ते on the card.",
    "In Chinese 你好 means hello.",
]


def controls(n: int, seed: int) -> list[str]:
    rng = random.Random(seed + 7)
    out = []
    for i in range(n):
        a, b, c, d = (rng.randint(1, 9) for _ in range(4))
        out.append(CONTROLS[i % len(CONTROLS)].format(a=a, b=b, c=c, d=d, y=rng.randint(1990, 2024)))
    return out


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


def clean_comments(n: int, seed: int) -> list[str]:
    """`n` more PII-free comments of the same host prose (for throughput at scale)."""
    rng = random.Random(seed + 1_000_003)
    sentences = prose_sentences()
    return [" ".join(rng.sample(sentences, rng.randint(2, 4))) for _ in range(n)]
