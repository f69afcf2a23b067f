"""Recognizers of our own, on Presidio's interfaces, for what its predefined ones do not cover:
Reddit user names, obfuscated e-mails, secrets in URL query strings, Ethereum wallets, street
addresses (US/UK, French, German, Korean), names introduced by a title or "my name is", and phone
numbers of any region (Presidio's own phone recognizer loops over a fixed list of regions).

Each returns the span to mask; the placeholder comes from the entity type (see `PLACEHOLDERS`).
"""

from __future__ import annotations

import ipaddress
import re

import phonenumbers
from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import EmailRecognizer

# -- helpers --------------------------------------------------------------------------------------


# what a text must hold for a kind to be there at all: a cheap test before the recognizer's own
# patterns (most comments hold no digit, and the full patterns cost ten times more than the test)
DIGIT = re.compile(r"\d")
DIGIT_OR_COLON = re.compile(r"[\d:]")
HANGUL = re.compile("[가-힣]")


def _skips(quick, text: str) -> bool:
    if quick is None:
        return False
    return quick not in text if isinstance(quick, str) else quick.search(text) is None


class RegexRecognizer(LocalRecognizer):
    """Spans of one regex group (group `span`, or the whole match) as one entity, with a fixed score.
    A `quick` test (a substring, or a compiled pattern to search) skips texts that cannot match, which
    keeps the cost of rare kinds near zero on ordinary prose."""

    def __init__(
        self,
        entity: str,
        pattern: str,
        *,
        flags: int = 0,
        score: float = 0.9,
        quick: str | re.Pattern | None = None,
        name: str | None = None,
    ):
        self.entity = entity
        self.regex = re.compile(pattern, flags)
        self.score = score
        self.quick = quick
        super().__init__(supported_entities=[entity], name=name or f"{entity.title()}Regex", supported_language="en")

    def load(self) -> None:
        pass

    def spans(self, text: str):
        if _skips(self.quick, text):
            return
        for m in self.regex.finditer(text):
            group = "span" if "span" in self.regex.groupindex else 0
            if m.start(group) < m.end(group):
                yield m.start(group), m.end(group)

    def analyze(self, text, entities, nlp_artifacts=None):
        return [RecognizerResult(self.entity, s, e, self.score) for s, e in self.spans(text)]


# -- Reddit ---------------------------------------------------------------------------------------

# u/name, /u/name (the prefix stays, so the text keeps saying a user was named), reddit.com/user/name
REDDIT_USER = r"(?:(?<![\w/])/?u/|reddit\.com/u(?:ser)?/)(?P<span>[A-Za-z0-9_-]{3,20})"

# -- e-mails --------------------------------------------------------------------------------------

_TLDS = (
    "com|org|net|edu|gov|io|co|uk|fr|de|kr|ca|au|us|info|me|be|ch|at|nl|es|it|jp|in|ru|br|eu|biz|"
    "xyz|app|dev|mail|online|live|email"
)
_DOT = r"\s*(?:\.|\(dot\)|\[dot\]|\[\.\]|\(\.\)|\{dot\}|<dot>|\bdot\b|\bpoint\b|\bpunkt\b)\s*"
_AT = r"\s*(?:@|%40|\(at\)|\[at\]|\{at\}|<at>|\bat\b|\barobase\b|\bchez\b)\s*"
# "jane dot doe at gmail dot com", "jane.doe [at] gmail [dot] com", "jane(at)gmail.com"; the
# domain must end in a known top-level domain and at least one part must be spelled out, else the
# ordinary e-mail recognizer has it (and "meet at noon. com" is not an address)
OBFUSCATED_EMAIL = (
    rf"(?<![\w.])(?P<span>[A-Za-z0-9_%+-]+(?:{_DOT}[A-Za-z0-9_%+-]+)*{_AT}"
    rf"[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*{_DOT}(?:{_TLDS}))\b"
)
_SPELLED = re.compile(r"\(|\[|\{|<|%40|\s@|@\s|\s\.|\.\s|\b(?:at|dot|point|punkt|arobase|chez)\b", re.I)
_BARE_AT = re.compile(r"\s(?:at|chez|arobase)\s", re.I)  # the word alone, no bracket, no @
_SPELLED_DOT = re.compile(r"\b(?:dot|point|punkt)\b|[\[({<]\s*(?:\.|dot)\s*[\])}>]", re.I)
_AT_FORM = re.compile(_AT.strip(r"\s*"), re.I)
_DOT_TLD = re.compile(rf"{_DOT[3:]}(?:{_TLDS})\b", re.I)  # the dot form, spaces, the domain


class ObfuscatedEmailRecognizer(RegexRecognizer):
    def __init__(self):
        super().__init__("EMAIL_ADDRESS", OBFUSCATED_EMAIL, flags=re.I, score=0.9, name="ObfuscatedEmailRecognizer")

    def spans(self, text: str):
        # the pattern holds an "at" form and ends in a "dot" form and a domain: both searched first
        if _AT_FORM.search(text) is None or _DOT_TLD.search(text) is None:
            return
        for s, e in super().spans(text):
            found = text[s:e]
            if not _SPELLED.search(found):
                continue
            if _BARE_AT.search(found) and not _SPELLED_DOT.search(found):  # "meet at noon. com" is prose
                continue
            yield s, e


class OfflineEmailRecognizer(EmailRecognizer):
    """Presidio's e-mail recognizer, with the top-level domain checked against tldextract's
    bundled snapshot of the public suffix list (the default fetches the list from the internet)."""

    def __init__(self):
        import tldextract

        self._extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
        super().__init__()

    def validate_result(self, pattern_text: str):
        return self._extract(pattern_text).fqdn != ""


# -- URLs -----------------------------------------------------------------------------------------

# query parameters that say where in a page one is, not who one is: kept
SAFE_PARAMS = {
    "v",
    "t",
    "list",
    "index",
    "page",
    "p",
    "lang",
    "hl",
    "gl",
    "sort",
    "order",
    "tab",
    "q",
    "query",
    "search",
    "s",
    "start",
    "limit",
    "format",
    "context",
    "sort_by",
    "type",
    "id",
    "feature",
    "si",
}
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.I)
_PARAM = re.compile(r"[?&;]([A-Za-z0-9_.-]+)=([^&;#\s<>\"')\]]+)")


class UrlParamRecognizer(RegexRecognizer):
    """The values of query parameters in URLs (tokens, e-mails, names, tracking ids), except those
    in `SAFE_PARAMS`; the URL itself stays readable: `...?user=<URL_PARAM>&page=2`."""

    def __init__(self):
        super().__init__("URL_PARAM", r"x^", score=1.0, name="UrlParamRecognizer")

    def spans(self, text: str):
        if "?" not in text:
            return
        for url in _URL.finditer(text):
            query = url.group(0).find("?")
            if query < 0:
                continue
            for m in _PARAM.finditer(url.group(0), query):
                if m.group(1).lower() not in SAFE_PARAMS:
                    yield url.start() + m.start(2), url.start() + m.end(2)


# -- crypto ---------------------------------------------------------------------------------------

ETHEREUM = r"\b(?P<span>0x[0-9a-fA-F]{40})\b"

# -- phones ---------------------------------------------------------------------------------------

# national formats are read as these regions' numbers; a number written with +country code is
# read for any of phonenumbers' regions
DEFAULT_PHONE_REGIONS = ("US", "GB", "FR", "DE", "KR", "CA", "AU", "IN", "IE", "NZ", "ES", "IT", "BE", "CH", "NL")
_DIGITS = re.compile(r"\d[\d\s().-]{5,}\d")
_SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")  # a US SSN, not a phone number


class Ipv6Recognizer(LocalRecognizer):
    """IPv6 addresses in every notation Python's `ipaddress` accepts (compressed `::`, embedded
    IPv4); Presidio's pattern stops short on some compressed forms."""

    _CANDIDATE = re.compile(r"(?<![\w:.])(?=[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:)[0-9A-Fa-f:.]{3,45}(?![\w:])")

    def __init__(self):
        super().__init__(supported_entities=["IP_ADDRESS"], name="Ipv6Recognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if "::" not in text and text.count(":") < 3:
            return []
        out = []
        for m in self._CANDIDATE.finditer(text):
            value = m.group(0).rstrip(".:")
            try:
                ipaddress.IPv6Address(value)
            except ValueError:
                continue
            out.append(RecognizerResult("IP_ADDRESS", m.start(), m.start() + len(value), 0.95))
        return out


class AnyRegionPhoneRecognizer(LocalRecognizer):
    """phonenumbers' matcher (valid numbers only), international numbers of every region and
    national numbers of `regions`; a text without a run of 7+ digit-ish characters is skipped."""

    def __init__(self, regions=DEFAULT_PHONE_REGIONS, leniency=phonenumbers.Leniency.VALID):
        self.regions = regions
        self.leniency = leniency
        super().__init__(supported_entities=["PHONE_NUMBER"], name="AnyRegionPhoneRecognizer", supported_language="en")

    def load(self) -> None:
        pass

    def analyze(self, text, entities, nlp_artifacts=None):
        if not _DIGITS.search(text):
            return []
        seen: set[tuple[int, int]] = set()
        out = []
        for region in self.regions:
            for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=self.leniency):
                if (m.start, m.end) not in seen and not _SSN_SHAPE.fullmatch(m.raw_string):
                    seen.add((m.start, m.end))
                    out.append(RecognizerResult("PHONE_NUMBER", m.start, m.end, 0.9))
        return out


# numbers in a phone's shape that phonenumbers does not hold valid (an area code not in service,
# "555" numbers): (555) 123-4567, 555-867-5309, +44 20 7946 0958
PHONE_SHAPE = (
    r"(?<![\w+])(?P<span>(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\b\d{3}[\s.-])\d{3,4}[\s.-]\d{4}\b"
    r"|\+\d{1,3}(?:[\s.-]\d{2,4}){2,4}\b)"
)


# -- addresses ------------------------------------------------------------------------------------

_US_SUFFIX = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Ter|"
    "Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Crescent|Close|Grove|Gardens|Row|Mews|"
    "Loop|Plaza|Ridge|Point|Pike|Path|Alley|Hill|Hills|Park|Walk|View|Heights|Crossing|Run|Pass|Port|"
    "Ports|Springs|Spring|Station|Summit|Valley|Village|Villages|Ville|Vista|Well|Wells|Estates|Falls|"
    "Ferry|Field|Fields|Flat|Flats|Ford|Forest|Forge|Fork|Forks|Fort|Freeway|Garden|Gateway|Glen|Glens|"
    "Green|Greens|Harbor|Harbors|Haven|Hollow|Island|Islands|Isle|Junction|Junctions|Key|Keys|Knoll|"
    "Knolls|Lake|Lakes|Landing|Light|Lights|Lock|Locks|Lodge|Manor|Manors|Meadow|Meadows|Mill|Mills|"
    "Mission|Motorway|Mount|Mountain|Mountains|Neck|Orchard|Oval|Overpass|Parks|Parkways|Pine|Pines|"
    "Plain|Plains|Prairie|Radial|Ramp|Ranch|Rapid|Rapids|Rest|Ridges|River|Roads|Route|Shoal|Shoals|"
    "Shore|Shores|Skyway|Spur|Spurs|Squares|Stravenue|Stream|Streets|Throughway|Trace|Track|Trafficway|"
    "Tunnel|Turnpike|Underpass|Union|Unions|Via|Viaduct|Views|Ways|Alley|Annex|Arcade|Bayou|Beach|Bend|"
    "Bluff|Bluffs|Bottom|Branch|Bridge|Brook|Brooks|Burg|Burgs|Bypass|Camp|Canyon|Cape|Causeway|Center|"
    "Centers|Circles|Cliff|Cliffs|Club|Common|Commons|Corner|Corners|Course|Courts|Cove|Coves|Creek|"
    "Crest|Curve|Dale|Dam|Divide|Drives|Estate|Expressway|Extension|Extensions|Fall|Wall|Inlet|Land|"
    "Crossroad|Crossroads|Fields|Gate|Hollow|Lodge|Meadow|Moor|Quay|Rise|Side|Vale|Wharf|Wood|Yard"
)
_CAP = r"[A-Z][a-zA-Z'’-]+\.?"
US_ADDRESS = (
    rf"\b(?P<span>\d{{1,6}}[A-Z]?\s+(?:(?:[NSEW]|North|South|East|West)\.?\s+)?(?:{_CAP}\s+){{0,3}}"
    rf"(?:{_US_SUFFIX})\b\.?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|#)\s*[\w-]+)?"
    rf"(?:,?\s+{_CAP}(?:\s+{_CAP}){{0,2}},?\s+[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?)?)"
)
# "Flat 3, 12 Smith Road" / "Apt. 5 ..." lead-ins
US_UNIT_LEAD = (
    rf"\b(?P<span>(?:Apt\.?|Apartment|Suite|Flat|Unit|Studio)\s+[\w-]+,?\s+(?:\d{{1,6}}\s+)?(?:{_CAP}\s+){{0,3}}"
    rf"(?:{_US_SUFFIX})\b)"
)
UK_POSTCODE = r"\b(?P<span>(?:GIR 0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}))\b"
US_ZIP_TAIL = rf"\b(?P<span>{_CAP}(?:\s+{_CAP}){{0,2}},\s+(?:AL|AK|AZ|AR|CA|CO|CT|DE|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|DC)\s+\d{{5}}(?:-\d{{4}})?)\b"
_FR_TYPE = (
    "rue|avenue|av\\.|boulevard|bd|place|chemin|allée|allee|impasse|quai|route|cours|square|voie|passage|"
    "rond-point|faubourg|sentier|villa|cité|hameau|parvis|promenade|esplanade|montée|ruelle"
)
FR_ADDRESS = (
    rf"(?i:\b(?P<span>\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+(?:{_FR_TYPE})\s+(?:(?:de\s+la|de|du|des|la|le|les|d['’]|l['’])\s*)?"
    rf"[A-ZÀ-Ýa-zà-ÿ'’-]+(?:\s+(?:de|du|des|la|le|les|et|d['’]|l['’])?\s*[A-ZÀ-Ý][a-zà-ÿ'’-]+){{0,3}}"
    rf"(?:,?\s+\d{{5}}\s+[A-ZÀ-Ý][A-Za-zÀ-ÿ'’ -]+?(?=[.,;!?\n]|$| \w+ ))?))"
)
_DE_TYPE = "straße|strasse|str\\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|steig|pfad|markt|hof|berg|park|tor"
DE_ADDRESS = (
    rf"\b(?P<span>(?:[A-ZÄÖÜ][\wäöüß-]*(?i:{_DE_TYPE})|(?:Am|An der|Im|Auf der|Zum|Zur)\s+[A-ZÄÖÜ][\wäöüß-]+)"
    rf"\s+\d{{1,4}}\s?[a-z]?(?:[-/]\d{{1,4}})?\b(?:,?\s+\d{{5}}\s+[A-ZÄÖÜ][\wäöüß-]+(?:\s[a-z]+\.?\s[A-ZÄÖÜ][\wäöüß-]+)?)?)"
)
# without a house number: "rue Victor Hugo", "avenue des Champs-Élysées" (only types that are not
# also English words, and a capitalised name after them)
_FR_TYPE_NO_NUMBER = "rue|avenue|boulevard|impasse|allée|chemin|quai|faubourg"
FR_STREET = (
    rf"\b(?P<span>(?i:{_FR_TYPE_NO_NUMBER})\s+(?:(?:de\s+la|de|du|des|la|le|les|d['’]|l['’])\s*)?"
    rf"[A-ZÀ-Ý][a-zà-ÿ'’-]+(?:[\s-]+(?:de\s+|du\s+|des\s+|la\s+|le\s+)?[A-ZÀ-Ý][a-zà-ÿ'’-]+){{0,3}}"
    rf"(?:,?\s+\d{{5}}\s+[A-ZÀ-Ý][A-Za-zÀ-ÿ'’-]+)?)"
)
_UNIT_WORD = re.compile("Apt|Apartment|Suite|Flat|Unit|Studio")
_FR_STREET_WORD = re.compile(rf"\b(?:{_FR_TYPE_NO_NUMBER})\s", re.I)
KO_ADDRESS = (
    r"(?P<span>(?:[가-힣]+(?:특별시|광역시|특별자치시|특별자치도|도)\s+)?(?:[가-힣]+(?:시|군|구)\s+){0,2}"
    r"(?:[가-힣]+(?:읍|면|동)\s+)?[가-힣0-9]+(?:로|길|가|거리)\s?(?:지하\s?)?\d+(?:-\d+)?(?:\s*\([가-힣0-9, ]+\))?"
    r"(?:\s*[0-9]+(?:동|층|호))*)"
)

# -- names ----------------------------------------------------------------------------------------

_NAME = r"[A-Z][a-zà-ÿ'’-]+(?:[ -][A-Z][a-zà-ÿ'’-]+){0,2}"
# a title or an introduction before a capitalised name: "Mr. Dubois", "my name is Jane Doe"
TITLED_NAME = (
    rf"(?:\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Miss|Mme|Mlle|M|Herr|Frau|Sir|Madame|Monsieur)\.?\s+"
    rf"|\b(?:[Mm]y name is|[Nn]amed|[Cc]alled|[Ii]ch heiße|[Jj]e m'appelle|[Jj]e m’appelle)\s+)(?P<span>{_NAME})"
)


# Korean names: a common family name and one or two syllables, followed by an honorific (씨, 님...)
# or after a word for a relation (친구, 룸메이트...); the small English model does not read Hangul
_KO_SURNAMES = (
    "김|이|박|최|정|강|조|윤|장|임|한|오|서|신|권|황|안|송|류|유|전|홍|고|문|양|손|배|백|허|남|심|노|하|곽|성|차|"
    "주|우|구|민|나|진|지|엄|채|원|천|방|공|현|함|변|염|여|추|도|소|석|선|설|마|길|연|위|표|명|기|반|왕|금|옥|육|"
    "인|맹|제|모|탁|국|어|은|편|용|남궁|황보|제갈|선우|독고"
)
_KO_RELATION = (
    "친구|룸메이트|동생|언니|오빠|누나|형|엄마|아빠|어머니|아버지|남편|아내|남자친구|여자친구|남친|여친|상사|동료|사장님|"
    "선배|후배|이웃|시어머니|장모님|사촌|삼촌|이모|고모|선생님"
)
KO_NAME = (
    rf"(?:(?<=[\s(\"'])|^)(?P<span>(?:{_KO_SURNAMES})[가-힣]{{1,2}})(?=\s?(?:씨|님|선생님|군|양)(?:[가-힣]|\b|\s|$))"
    rf"|(?:{_KO_RELATION})\s+(?P<rel>(?:{_KO_SURNAMES})[가-힣]{{1,2}})(?=\s?(?:[은는이가을를와과도의에]|에게|한테|씨|님)?(?:\s|[.,!?]|$))"
)


class KoreanNameRecognizer(RegexRecognizer):
    def __init__(self):
        super().__init__("PERSON", KO_NAME, score=0.7, name="KoreanNameRecognizer")

    def spans(self, text: str):
        if not re.search("[가-힣]", text):
            return
        for m in self.regex.finditer(text):
            group = "span" if m.group("span") else "rel"
            yield m.start(group), m.end(group)


class LuhnCardRecognizer(RegexRecognizer):
    """Card numbers of 13 to 19 digits, in groups or not, of any issuer, that pass the Luhn check
    (Presidio's recognizer knows only some issuers' prefixes: 2-series Mastercard, UnionPay... slip)."""

    def __init__(self):
        super().__init__(
            "CREDIT_CARD",
            r"(?<![\d-])(?P<span>\d(?:[ -]?\d){12,18})(?![\d-])",
            score=0.9,
            quick=DIGIT,
            name="LuhnCardRecognizer",
        )

    def spans(self, text: str):
        for s, e in super().spans(text):
            digits = [int(c) for c in text[s:e] if c.isdigit()][::-1]
            total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
            if total % 10 == 0 and len(set(digits)) > 2:
                yield s, e


# -- identifiers of devices, accounts and papers ------------------------------------------------

# MAC addresses: six hex pairs with colons or hyphens, or Cisco's three dotted quads
MAC = r"(?<![\w:-])(?:[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:-])"
# @handles (Twitter/X, Instagram, Telegram...): not the @ of an e-mail (a word character before it)
HANDLE = r"(?<![\w@.])@(?P<span>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)(?![\w@])"
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|janvier|février|mars|avril|mai|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|januar|februar|märz|juni|juli|oktober|dezember)"
)
_DATE = (
    rf"(?:\d{{1,2}}[./-]\d{{1,2}}[./-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{1,2}}-\d{{1,2}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th|er)?\.?\s+(?:of\s+)?{_MONTHS}\.?,?\s+\d{{4}}|{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
# a date of birth: a date within a few words after what says it is one
DATE_OF_BIRTH = (
    r"(?:\b(?:born|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday|n[ée]e?\s+le|geboren(?:\s+am)?|"
    rf"geburtsdatum|date\s+de\s+naissance)\b)[^.\n\d]{{0,25}}?(?P<span>{_DATE})"
)
# passport numbers after the word, in the shapes countries issue (US/UK 9 digits, DE C+8, FR 2+2+5,
# and the common letter(s) + digits); the context word is required: these shapes are everywhere else
PASSPORT = (
    r"(?i:\b(?:passport|passeport|reisepass|pasaporte|passaporto)(?:\s+(?:number|no\.?|num(?:ber|éro)?|nr\.?|#|n°|id))?"
    r"\s*(?:is|was|:|=|-)?)\s*(?P<span>[A-Z]{0,2}\d{6,9}|[CFGHJK][0-9CFGHJKLMNPRTVWXYZ]{8}|\d{2}[A-Z]{2}\d{5})\b"
)
# licence plates after the word: 2-8 letters and digits in up to three groups, at least one digit
PLATE = (
    r"(?i:\b(?:licen[cs]e\s+plate|number\s+plate|plate(?:\s+(?:number|no\.?))?|registration(?:\s+number)?|"
    r"reg(?:\.|istration)?\s+(?:no\.?|number)|immatriculation|kennzeichen|matr[ií]cula)"
    r"\s*(?:is|was|:|=|-|reads|read)?)\s*(?P<span>(?=[A-Z0-9 -]*\d)(?=[A-Z0-9 -]*[A-Z])[A-Z0-9]{1,4}(?:[ -][A-Z0-9]{1,4}){0,2})\b"
)
IBAN_ANY_CASE = r"\b(?P<span>[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{4}){2,7}(?:[ ]?[A-Za-z0-9]{1,3})?)\b"


def iban_ok(text: str) -> bool:
    """The ISO 13616 check: the country and check digits moved to the end, letters as numbers, mod 97."""
    code = re.sub(r"\s", "", text).upper()
    if not 15 <= len(code) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in code[4:] + code[:4])
    return int(digits) % 97 == 1


class IbanAnyCaseRecognizer(RegexRecognizer):
    """IBANs as people type them, lower case included (Presidio's recognizer matches upper case only),
    each confirmed by its mod-97 check."""

    def __init__(self):
        super().__init__("IBAN_CODE", IBAN_ANY_CASE, score=1.0, quick=DIGIT, name="IbanAnyCaseRecognizer")

    def spans(self, text: str):
        for s, e in super().spans(text):
            while e - s >= 15:  # the pattern may have taken a word after the number: drop it and check again
                if iban_ok(text[s:e]):
                    yield s, e
                    break
                cut = text.rfind(" ", s, e)
                if cut < 0:
                    break
                e = cut


VERSION_BEFORE = re.compile(
    r"\b(?:version|ver\.?|release|build|firmware|kernel|update|upgrade\s+to|python|node|v)\s*$", re.I
)


class _Quick:
    """A Presidio recognizer that first checks that the text holds what its patterns need."""

    quick: re.Pattern

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        if self.quick.search(text) is None:
            return []
        return super().analyze(text, entities, nlp_artifacts, regex_flags)


def predefined() -> list[LocalRecognizer]:
    """Presidio's checksum-validated recognizers, each behind its quick test (a Bitcoin address
    may hold no digit: that one has none)."""
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        IbanRecognizer,
        IpRecognizer,
        UsSsnRecognizer,
    )

    def quick(cls, pattern):
        return type(cls.__name__, (_Quick, cls), {"quick": pattern})()

    class VersionAwareIp(_Quick, IpRecognizer):
        """Presidio's IP recognizer, less the dotted numbers a version word introduces (4.2.1.7)."""

        quick = DIGIT_OR_COLON

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            found = super().analyze(text, entities, nlp_artifacts, regex_flags)
            return [r for r in found if not VERSION_BEFORE.search(text, max(0, r.start - 24), r.start)]

    return [
        quick(CreditCardRecognizer, DIGIT),
        quick(IbanRecognizer, DIGIT),
        VersionAwareIp(),
        quick(UsSsnRecognizer, DIGIT),
        CryptoRecognizer(),
    ]


def recognizers() -> list[LocalRecognizer]:
    return [
        RegexRecognizer(
            "REDDIT_USER",
            REDDIT_USER,
            flags=re.I,
            score=1.0,
            quick=re.compile("u/|user/", re.I),
            name="RedditUserRecognizer",
        ),
        ObfuscatedEmailRecognizer(),
        OfflineEmailRecognizer(),
        UrlParamRecognizer(),
        RegexRecognizer("CRYPTO", ETHEREUM, score=0.9, quick="0x", name="EthereumRecognizer"),
        AnyRegionPhoneRecognizer(),
        Ipv6Recognizer(),
        RegexRecognizer("PHONE_NUMBER", PHONE_SHAPE, score=0.6, quick=DIGIT, name="PhoneShapeRecognizer"),
        RegexRecognizer("ADDRESS", US_ADDRESS, score=0.7, quick=DIGIT, name="UsAddressRecognizer"),
        RegexRecognizer("ADDRESS", US_UNIT_LEAD, score=0.7, quick=_UNIT_WORD, name="UsUnitAddressRecognizer"),
        RegexRecognizer("ADDRESS", US_ZIP_TAIL, score=0.7, quick=DIGIT, name="UsZipRecognizer"),
        RegexRecognizer("ADDRESS", UK_POSTCODE, score=0.6, quick=DIGIT, name="UkPostcodeRecognizer"),
        RegexRecognizer("ADDRESS", FR_ADDRESS, score=0.7, quick=DIGIT, name="FrAddressRecognizer"),
        RegexRecognizer("ADDRESS", FR_STREET, score=0.7, quick=_FR_STREET_WORD, name="FrStreetRecognizer"),
        RegexRecognizer("ADDRESS", DE_ADDRESS, score=0.7, quick=DIGIT, name="DeAddressRecognizer"),
        RegexRecognizer("ADDRESS", KO_ADDRESS, score=0.7, quick=HANGUL, name="KoAddressRecognizer"),
        KoreanNameRecognizer(),
        LuhnCardRecognizer(),
        IbanAnyCaseRecognizer(),
        RegexRecognizer("MAC_ADDRESS", MAC, score=0.9, quick=re.compile(r"[0-9A-Fa-f]{2}[:.-]"), name="MacRecognizer"),
        RegexRecognizer("HANDLE", HANDLE, score=0.8, quick="@", name="HandleRecognizer"),
        RegexRecognizer(
            "DATE_OF_BIRTH", DATE_OF_BIRTH, flags=re.I, score=0.9, quick=DIGIT, name="DateOfBirthRecognizer"
        ),
        RegexRecognizer(
            "PASSPORT",
            PASSPORT,
            score=0.9,
            quick=re.compile(r"pass|reisepass", re.I),  # a German number may hold no digit
            name="PassportRecognizer",
        ),
        RegexRecognizer("PLATE", PLATE, score=0.8, quick=DIGIT, name="PlateRecognizer"),
        RegexRecognizer("PERSON", TITLED_NAME, score=0.7, name="TitledNameRecognizer"),
    ]
