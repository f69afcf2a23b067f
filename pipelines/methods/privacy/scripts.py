"""Names the English NER cannot see, by script-aware rules: Chinese (Han), Korean (Hangul, alone in
another language's text; with an honorific see recognizers.KO_NAME), Arabic and Devanagari script,
romanized Korean, and Latin-script names that a given-name lexicon knows ("Théophile Bernier said").

Names in these scripts are found by what they are made of and what stands around them:
- Han: a family name from the list of common ones (plus compound ones) and one or two characters,
  alone in text of another script (`My boss, 刘倩, ...`), or in Chinese text after a word that
  introduces a person (我叫, 室友, 碰到了, 跟...) or before a title or a verb of speech (先生, 说).
- Arabic and Devanagari: words of the script alone in text of another script (a run of up to four
  words holding a known name), two names in a row from the lexicon, or a known name after a title
  or a word that introduces a person (السيد, زميلي; श्री, मेरे दोस्त) or before a postposition
  (ने, से, को, जी).
- Romanized Korean: a common family name and a given name of Korean syllables (Kim Min-jun, Minjun
  Park, Lee Ji Hoon).
- Latin: a given name of the lexicon followed by one or two capitalised words, neither an English
  word that opens sentences; only where the NER did not tag them already (an extra pass, cheap).

The lexicon (sources/data/names/lexicon.json.gz) is an extract of names-dataset (MIT), written by
scripts/make_name_lexicon.py; the common family names of Chinese and Korean are lists written here.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from pathlib import Path

from presidio_analyzer import LocalRecognizer, RecognizerResult

from pipelines.methods.privacy.names import _PARTICLES
from pipelines.methods.privacy.recognizers import _KO_SURNAMES

LEXICON = Path(__file__).resolve().parents[3] / "sources" / "data" / "names" / "lexicon.json.gz"

# the ~150 commonest Chinese family names (about 85% of people), less characters that are far more
# often words of their own (和, 时, 但, 由, 都, 那, 来, 全, 于, 与, 上, 国, 公, 文, 明, 方, 安, 成, 平,
# 常, 信, 向, 关, 白, 高, 马, 金): those still count after a cue word or before a title
ZH_SURNAMES = set(
    "赖洪卓王李张刘陈杨黄赵吴周徐孙朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范"
    "石廖贾夏韦付邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁"
    "岳翟殷詹申欧耿兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶"
)
ZH_SURNAMES_WITH_CUE = ZH_SURNAMES | set("和时但由都那来全于与国公文明方安成平常信向关白高马金")
# the Hundred Family Surnames and other common ones: for a name alone in other text, or after a cue
ZH_SURNAMES_ANY = ZH_SURNAMES_WITH_CUE | set(
    "赖宫卓司洪甄郎莘景褚吉钮嵇滑荣荀羊於惠家封芮羿储汲邴糜松井富巫乌巴弓牧隗山车宓蓬郗班仰秋仲伊仇栾暴钭厉戎"
    "祖幸韶郜蓟薄印宿怀邰从鄂索咸籍蔺屠池阴郁胥能苍双闻党贡劳逄姬申扶堵宰郦雍却璩桑桂濮寿通边扈燕冀郏浦农别瞿"
    "阎充慕连茹习宦艾鱼容古慎戈庾终暨居衡步耿满弘匡寇广禄阙东殳沃利蔚越夔隆师巩厍晁勾敖融冷訾阚那简空毋沙乜养"
    "鞠须丰巢蒯相查后荆红竺权逯盖益桓晋楚闫法汝鄢涂钦岳帅缑亢况郈有琴梁丘左丘商牟佘佴伯赏南宫墨哈谯笪年爱阳佟"
)
ZH_COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙", "宇文", "司徒", "夏侯")
_ZH_BEFORE = (
    "我叫|名叫|叫做|我是|室友|朋友|同事|老板|老公|老婆|丈夫|妻子|男朋友|女朋友|男友|女友|邻居|同学|哥哥|姐姐|弟弟|妹妹|"
    "妈妈|爸爸|儿子|女儿|舅舅|阿姨|叔叔|经理|上司|碰到了|碰到|遇到了|遇到|遇见了|见到了|见到|告诉|跟|和|给|对|找|问|让|叫"
)
_ZH_TITLE = "先生|女士|小姐|老师|医生|同学|经理|教授|博士|阿姨|说|告诉|打电话|认为|觉得"  # a person for sure
_ZH_AFTER = (  # what may follow a name (where a given name ends)
    _ZH_TITLE + "|从来|总是|还|却|又|也|就|都|不|没|是|的|在|把|被|给|跟|和|会|要|想|让|问|回|这|那"
)
_ZH_BEFORE_END = re.compile(rf"(?:{_ZH_BEFORE})$")
_ZH_TITLE_START = re.compile(rf"(?:{_ZH_TITLE})")
_ZH_AFTER_START = re.compile(rf"(?:{_ZH_AFTER})")
HAN = r"\u3400-\u4dbf\u4e00-\u9fff"
_HAN_RUN = re.compile(rf"[{HAN}]+")
_LATIN_LETTER = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]")

HANGUL_RUN = re.compile(r"[가-힣]+(?: [가-힣]+)?")
KO_SURNAMES = tuple(_KO_SURNAMES.split("|"))  # the honorific rule's list (recognizers.KO_NAME)

ARABIC_WORD = re.compile(r"[\u0621-\u065f\u0670-\u06d3]+")
_AR_RUN = re.compile(r"[\u0621-\u065f\u0670-\u06d3]+(?:\s+[\u0621-\u065f\u0670-\u06d3]+)*")
_AR_MARKS = re.compile(r"[\u064b-\u065f\u0670]")  # short vowels, shadda: the lexicon is written without
# words the lexicon holds (names can be words) that are far more often the word: never a name here
_AR_STOP = set(
    "في من على إلى عن مع هذا هذه ذلك تلك كان كانت يكون قد لا لم لن ما ماذا هو هي هم نحن أنا أنت التي الذي الذين كل "
    "بعض أو ثم إن أن إنه أنه لكن حتى إذا عند بين بعد قبل يوم يوما اليوم أمس غدا جدا أيضا فقط لي له لها هنا هناك كيف "
    "متى أين لماذا نعم شكرا سعيدا جميل جميلة كبير صغير أبدا دائما المال المتجر الأطباق يغسل سيعيد قال قالت".split()
)
_AR_BEFORE = {
    "السيد", "السيدة", "الأستاذ", "الأستاذة", "الدكتور", "الدكتورة", "الآنسة", "المهندس", "الشيخ", "الحاج",
    "زميلي", "زميلتي", "صديقي", "صديقتي", "أخي", "أختي", "اسمي", "التقيت", "قابلت", "قال", "قالت", "السكن",
    "مديري", "مديرتي", "جاري", "جارتي", "زوجي", "زوجتي",
}  # fmt: skip
DEVANAGARI_WORD = re.compile(r"[\u0900-\u0963\u0966-\u097f]+")
_HI_RUN = re.compile(r"[\u0900-\u0963\u0966-\u097f]+(?:\s+[\u0900-\u0963\u0966-\u097f]+)*")
_HI_BEFORE = {
    "श्री", "श्रीमती", "सुश्री", "डॉ", "डॉक्टर", "कुमारी", "दोस्त", "रूममेट", "नाम", "भाई", "बहन", "पति", "पत्नी",
    "पड़ोसी", "बॉस", "मैनेजर", "सहकर्मी",
}  # fmt: skip
_HI_AFTER = {"ने", "से", "को", "का", "की", "के", "जी", "साहब", "कभी", "हमेशा"}
_HI_MET = {"मिला", "मिली", "मिले", "बात", "पूछा", "कहा"}  # "X Y से मिला": met X Y
# words that join the parts of an Arabic name: bin, bint, ibn, Abd, Abu, Umm, Al, Banu, Bani
_AR_LINKS = {"بن", "بنت", "ابن", "عبد", "أبو", "ابو", "أم", "آل", "بنو", "بني"}
_HI_STOP = set(
    "मैं में है हैं था थी थे कल आज और कि वह यह वे ये नहीं बहुत पर भी तो ही हम तुम आप मेरा मेरे मेरी उस इस उन इन कभी "
    "क्या कौन कैसे कहाँ जब तब अब एक दो बाज़ार बाजार मौसम अच्छा खुला घर काम पैसे कहा मिला मिली नमस्ते धन्यवाद".split()
)

KO_ROMAN_SURNAMES = (
    "Kim|Lee|Yi|Rhee|Park|Pak|Bak|Choi|Choe|Jung|Jeong|Chung|Kang|Cho|Jo|Yoon|Yun|Jang|Chang|Lim|Im|Han|Oh|Seo|Suh|"
    "Shin|Sin|Kwon|Hwang|Ahn|An|Song|Yoo|Yu|Ryu|Hong|Jeon|Jun|Chun|Ko|Koh|Go|Moon|Mun|Yang|Son|Sohn|Bae|Baek|Paik|"
    "Heo|Huh|Nam|Noh|Roh|Ha|Kwak|Sung|Seong|Cha|Joo|Ju|Woo|Min|Na|Jin|Ji|Eom|Um|Chae|Won|Cheon|Bang|Gong|Hyun|Byun"
)
_KO_SYL = (
    r"(?:[gkndtrlmbpsjchyw]|kk|tt|pp|ss|jj|ch|kh|th|ph|sh)?"
    r"(?:a|ae|ya|yae|eo|e|yeo|ye|o|wa|wae|oe|yo|u|wo|we|wi|yu|eu|ui|i|oo|ee|ou)"
    r"(?:ng|n|m|l|k|p|t|g|b)?"
)
_KO_GIVEN = rf"[A-Z]{_KO_SYL}(?:-{_KO_SYL}|{_KO_SYL}|\s[A-Z]{_KO_SYL})"


@functools.lru_cache(maxsize=1)
def ko_romanized() -> re.Pattern:
    """Surname first or last; an English stop word is no given name ("Then Ha Chae-won")."""
    from spacy.lang.en.stop_words import STOP_WORDS

    stop = "|".join(sorted((w.title() for w in STOP_WORDS if w.isalpha()), key=len, reverse=True))
    return re.compile(
        rf"\b(?P<a>(?:{KO_ROMAN_SURNAMES})\s+{_KO_GIVEN})\b(?![-\w])"
        rf"|\b(?!(?:{stop})\b)(?P<b>{_KO_GIVEN}\s+(?:{KO_ROMAN_SURNAMES}))\b(?![-\w])"
    )


# given names that are first of all English words, often capitalised at the start of a sentence
COMMON_WORD_NAMES = set(
    "will may mark grant bill rose june summer hope faith joy chase dawn art max page major price rich sky case "
    "guy ray jack gene pat sue don ken norm miles earl duke king prince lord sterling august april march sunny "
    "star angel amber ruby pearl ivy holly lily daisy iris violet crystal autumn winter river brook forest "
    "stone golden young long short little small black white brown green gray grey north south east west "
    "christian hunter archer carter cooper baker taylor mason parker porter tanner fisher miller walker bishop "
    "dean deacon judge justice royal noble patience prudence grace charity constance honor glory harmony "
    "melody destiny trinity journey liberty london paris sydney dallas austin houston phoenix jordan israel "
    "china india asia africa georgia carolina virginia florida nevada dakota kansas montana victoria".split()
)
VENUE_WORDS = set(
    "Hotel Street Road Avenue Lane Drive Park Square Station Airport School College University Hospital Church "
    "Bank Center Centre Club Restaurant Cafe Bar Company Inc Ltd Group Hall House Tower Bridge River Lake "
    "Mountain Valley Beach Island Museum Library Theater Theatre Stadium Mall Market Store Shop Studio".split()
)
_CAP_WORD = re.compile(r"\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?)\b")
_LATIN_PARTICLES = _PARTICLES | {"della", "dos", "das"}  # the NER filter's particles (names.py), and more
_PARTICLE_GAP = re.compile(r"\s+(?:(?:" + "|".join(map(re.escape, sorted(_LATIN_PARTICLES))) + r")\s+)?")


@functools.lru_cache(maxsize=1)
def lexicon() -> dict[str, frozenset[str]]:
    with gzip.open(LEXICON, "rt", encoding="utf-8") as f:
        data = json.load(f)
    return {k: frozenset(v) for k, v in data.items() if isinstance(v, list)}


class _PersonRule(LocalRecognizer):
    """A name rule on Presidio's interface: PERSON, English pipeline, nothing to load."""

    def __init__(self):
        super().__init__(supported_entities=["PERSON"], name=type(self).__name__, supported_language="en")

    def load(self) -> None:
        pass


def _mostly_other_script(text: str, start: int, end: int, script: re.Pattern) -> bool:
    """The run [start, end) stands in text written mostly in Latin letters (a name dropped into an
    English comment), not in a sentence of its own script."""
    rest = text[:start] + text[end:]
    latin = len(_LATIN_LETTER.findall(rest))
    own = sum(len(m.group()) for m in script.finditer(rest))
    return latin > 2 * own and latin >= 6


class ScriptNameRecognizer(_PersonRule):
    """Han, Hangul (alone), Arabic and Devanagari names; see the module's docstring."""

    QUICK = re.compile(rf"[{HAN}가-힣\u0621-\u064a\u0900-\u097f]")

    def analyze(self, text, entities, nlp_artifacts=None):
        if not self.QUICK.search(text):
            return []
        spans = [*self.han(text), *self.hangul(text), *self.words(text, "arabic"), *self.words(text, "devanagari")]
        return [RecognizerResult("PERSON", s, e, 0.7) for s, e in spans]

    # -- Han --------------------------------------------------------------------------------------

    def han(self, text: str):
        for run in _HAN_RUN.finditer(text):
            s, e = run.span()
            chunk = run.group()
            if 2 <= len(chunk) <= 4 and _mostly_other_script(text, s, e, _HAN_RUN):
                # two characters are a word as often as a name (寿司): the commoner family names only
                common = ZH_SURNAMES_WITH_CUE if len(chunk) == 2 else ZH_SURNAMES_ANY
                if chunk[:2] in ZH_COMPOUND or chunk[0] in common:
                    yield s, e
                continue
            yield from self._han_in_chinese(text, s, chunk)

    def _han_in_chinese(self, text: str, offset: int, chunk: str):
        """In Chinese text: a family name and a given name after a word that introduces a person, or
        before a title or a verb of speech (`一张桌子`, `黄山` are not names)."""
        i = 0
        while i < len(chunk):
            size = 2 if chunk[i : i + 2] in ZH_COMPOUND else 1 if chunk[i] in ZH_SURNAMES_ANY else 0
            if not size:
                i += 1
                continue
            cued = _ZH_BEFORE_END.search(chunk[:i]) is not None
            if chunk[i] not in ZH_SURNAMES and size == 1 and not cued:
                i += 1
                continue
            end = self._given_end(chunk, i + size)
            if end and (cued or _ZH_TITLE_START.match(chunk[end:])):
                yield offset + i, offset + end
                i = end
                continue
            i += 1

    @staticmethod
    def _given_end(chunk: str, start: int) -> int | None:
        """Where a given name of one or two characters after `start` ends: the longer one when a
        title, a verb, a particle or the end of the run follows it."""
        for size in (2, 1):
            end = start + size
            if end <= len(chunk) and (end == len(chunk) or _ZH_AFTER_START.match(chunk[end:])):
                return end
        return start + 2 if start + 2 <= len(chunk) else None

    # -- Hangul alone ----------------------------------------------------------------------------

    def hangul(self, text: str):
        for run in HANGUL_RUN.finditer(text):
            chunk = run.group().replace(" ", "")
            if (
                2 <= len(chunk) <= 4
                and chunk.startswith(KO_SURNAMES)
                and _mostly_other_script(text, *run.span(), HANGUL_RUN)
            ):
                yield run.span()

    # -- Arabic and Devanagari --------------------------------------------------------------------

    def words(self, text: str, script: str):
        """Arabic or Devanagari names: a run of two to four words holding a known name in text of
        another script; in text of their own script, a window of one or two words holding a known
        name after a word that introduces a person, before a postposition (Hindi), or two known
        names in a row; never a window holding a common word (`_AR_STOP`, `_HI_STOP`)."""
        arabic = script == "arabic"
        run_re, word_re = (_AR_RUN, ARABIC_WORD) if arabic else (_HI_RUN, DEVANAGARI_WORD)
        lex = lexicon()
        given, names = lex[f"{script}_given"], lex[f"{script}_given"] | lex[f"{script}_family"]
        before, after, stop = (_AR_BEFORE, set(), _AR_STOP) if arabic else (_HI_BEFORE, _HI_AFTER, _HI_STOP)
        links = _AR_LINKS if arabic else set()

        def bare(word: str) -> str:
            return _AR_MARKS.sub("", word) if arabic else word

        def known(word: str) -> bool:
            w = bare(word)
            return w not in stop and (w in names or (arabic and w.startswith("ال") and w[2:] in names))

        for run in run_re.finditer(text):
            words = [
                (m.start() + run.start(), m.end() + run.start(), bare(m.group())) for m in word_re.finditer(run.group())
            ]
            isolated = 2 <= len(words) <= 6 and _mostly_other_script(text, *run.span(), run_re)
            if isolated and not any(w in stop for _, _, w in words):  # a phrase dropped into English: a name
                yield run.span()
                continue
            if len(words) < 2:
                continue
            spans = []
            for i in range(len(words)):
                w = words[i][2]
                if w in before:  # the one or two words after a cue (more where links join them)
                    k = i + 1
                    while k < len(words) and words[k][2] in before:  # "التقيت صديقي ...": my friend, no name
                        k += 1
                    end = min(k + 2, len(words))
                    while (
                        end < len(words)
                        and end - k < 6
                        and (words[end - 1][2] in links or words[end][2] in links or known(words[end][2]))
                    ):
                        end += 1
                    window = words[k:end]
                    while window and (window[-1][2] in stop or window[-1][2] in after):
                        window = window[:-1]
                    if window and (len(window) == 2 or known(window[0][2])) and not any(x in stop for *_, x in window):
                        spans.append((window[0][0], window[-1][1]))
                if w in after and i > 0:  # the one or two words before a postposition
                    window = [x for x in words[max(0, i - 2) : i]]
                    while window and (window[0][2] in stop or window[0][2] in before):
                        window = window[1:]
                    agent = w == "ने" or (w == "से" and i + 1 < len(words) and words[i + 1][2] in _HI_MET)
                    if window and (any(known(x) for _, _, x in window) or (agent and len(window) == 2)):
                        spans.append((window[0][0], window[-1][1]))
                if (
                    i + 1 < len(words)
                    and w in given
                    and not w.startswith("ال")
                    and w not in stop
                    and known(words[i + 1][2])
                ):
                    spans.append((words[i][0], words[i + 1][1]))  # a given name and another name
            yield from spans


class RomanizedKoreanRecognizer(_PersonRule):
    """Kim Min-jun, Minjun Park, Lee Ji Hoon."""

    def analyze(self, text, entities, nlp_artifacts=None):
        from pipelines.methods.privacy.names import lexicons

        words = lexicons()[0]
        out = []
        for m in ko_romanized().finditer(text):
            group = "a" if m.group("a") else "b"
            parts = m.group(group).split()
            given = parts[1] if group == "a" else parts[0]
            if len(parts) == 2 and "-" not in given and given.lower() in words:
                continue  # an English word, not a given name: "Park Hotel", "Young Park"
            out.append(RecognizerResult("PERSON", m.start(group), m.end(group), 0.6))
        return out


class GivenNameRecognizer(_PersonRule):
    """A given name of the lexicon (not a stop word, not one of COMMON_WORD_NAMES, not a place) and
    the one or two capitalised words after it (particles between: de, van, del...), not stop words:
    "Théophile Bernier said", "Almudena Alcolea Romeu", "Michael Herring"."""

    def analyze(self, text, entities, nlp_artifacts=None):
        from spacy.lang.en.stop_words import STOP_WORDS

        from pipelines.methods.privacy.names import lexicons

        dictionary, known_given, places = lexicons()
        given = lexicon()["latin_given"]
        out = []
        caps = list(_CAP_WORD.finditer(text))
        for k, m in enumerate(caps):
            first = m.group(1)
            low = first.lower()
            if first not in given or low in STOP_WORDS or low in COMMON_WORD_NAMES or low in places:
                continue
            end, j = m.end(), k + 1
            taken = 0
            while j < len(caps) and taken < 2:
                gap = text[end : caps[j].start()]
                if not _PARTICLE_GAP.fullmatch(gap):
                    break
                if caps[j].group(1).lower() in STOP_WORDS or caps[j].group(1) in VENUE_WORDS:
                    break  # "Park Hotel", "Jordan Street": a place or a firm, not a person
                end, j, taken = caps[j].end(), j + 1, taken + 1
            if not taken:
                continue
            found = [w for w in re.split(r"[\s-]+", text[m.start() : end]) if w.lower() not in _LATIN_PARTICLES]
            if all(w.lower() in dictionary for w in found) and low not in known_given:
                continue  # English words only ("Cookie Server"), as the NER's filter drops them
            out.append(RecognizerResult("PERSON", m.start(), end, 0.6))
        return out


def script_recognizers() -> list[LocalRecognizer]:
    return [ScriptNameRecognizer(), RomanizedKoreanRecognizer(), GivenNameRecognizer()]
