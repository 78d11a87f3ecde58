"""Question language, accent-insensitive tokens and a small English→Vietnamese gloss.

`detect_language` decides whether a question is Vietnamese (with or without diacritics) or
English. `tokens` gives word tokens carrying both their lowercase form and their accent-folded
form (`fold_diacritics` from `ingest.clean`, one character per character, so offsets stay
valid). `gloss_english` maps English content words to accent-folded Vietnamese words; it gives
English questions a little lexical signal against Vietnamese articles when no embedding
similarity is available.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from assistant.models import Language
from ingest.clean import fold_diacritics

_WORD = re.compile(r"\w+")
_ENGLISH_WORD = re.compile(r"[a-z]+")

# A Vietnamese syllable written without marks: onset, vowel nucleus, coda. English words rarely
# fit ("how", "many", "members" do not), Vietnamese ones always do.
_VI_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
    r"(?:uye|uya|uoi|uou|ieu|yeu|oai|oay|oeo|uay|uai|ua|uo|ue|ui|uy|ia|ie|ye|oa|oe|oo|ai|ao"
    r"|au|ay|eo|eu|iu|oi|uu|a|e|i|o|u|y)"
    r"(?:ch|nh|ng|c|m|n|p|t)?"
)

# English function words and words typical of questions about the news. "the", "by" are also
# possible unaccented Vietnamese syllables but far more often English.
_EN_WORDS = frozenset(
    """the how what which who whom whose when where why many much is are was were be been
    being did does of and or for with from by about that this these those there their they
    it its has have had will would can could should according article articles party members
    member people year years percent percentage province provincial admitted disciplined
    any some into than then were during after before since until between""".split()
)
# Unaccented Vietnamese function and very common words (never English words).
_VI_WORDS = frozenset(
    """bao nhieu cua la nhung duoc khong nao dau gi ai khi luc ngay thang nam cac mot va voi
    trong cho tai den tu da se dang vien nguoi tinh huyen xa thanh pho co bi ve theo sau
    truoc nay thi ma nhu sao vi ong ba chi ho dan cong nghiep ket nap tren duoi lam ra vao
    nuoc viet hien nhat them cung van con nua chua gom""".split()
)


class Token(NamedTuple):
    """A word of a text: lowercase form, accent-folded form and its span in the text."""

    lower: str
    folded: str
    start: int
    end: int

    @property
    def accented(self) -> bool:
        return self.lower != self.folded


class _FoldTable(dict):  # type: ignore[type-arg]
    """`str.translate` table filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        folded = fold_diacritics(ch)
        value = folded if len(folded) == 1 else (ch.lower() if len(ch.lower()) == 1 else ch)
        self[code] = value
        return value


_FOLD_TABLE = _FoldTable()


def fold(text: str) -> str:
    """`fold_diacritics` that keeps one character per character, so offsets carry over."""
    if text.isascii():
        return text.lower()
    return text.translate(_FOLD_TABLE)


def tokens(text: str) -> list[Token]:
    """Word tokens of `text` (letters and digits; `30-6` gives `30`, `6`)."""
    folded = fold(text)
    lower = text.lower()
    if len(lower) != len(text):  # a rare character whose lowercase is longer
        lower = "".join(c.lower()[:1] or c for c in text)
    return [
        Token(lower[m.start() : m.end()], m.group(), m.start(), m.end())
        for m in _WORD.finditer(folded)
    ]


def is_vietnamese_syllable(folded: str) -> bool:
    """Whether an accent-folded word could be a Vietnamese syllable (`lai` yes, `party` no)."""
    return _VI_SYLLABLE.fullmatch(folded) is not None


def has_vietnamese_marks(text: str) -> bool:
    """Whether a word carries a Vietnamese letter or tone mark (đ, ă, â, ê, ô, ơ, ư, ´ ` ̉ ˜ .)."""
    return not text.isascii() and fold(text) != text.lower()


# Capitalised words after the first (runs of them: "Gia Lai", "Dak Doa"), words with Vietnamese
# letters, and numbers.
_NAME_OR_NUMBER = re.compile(r"(?<!^)\b[A-ZĐÀ-Ỹ][\w-]*(?:\s+[A-ZĐÀ-Ỹ][\w-]*)*|\b\d[\d.,/-]*")


def _spelled_vietnamese(word: str) -> bool:
    """A Vietnamese syllable, or one of the Central Highlands' with a final k (Đắk, Lắk)."""
    folded = fold(word)
    return is_vietnamese_syllable(folded) or (
        folded.endswith("k") and is_vietnamese_syllable(folded[:-1] + "c")
    )


def names_and_numbers(text: str) -> str:
    """The Vietnamese names and the numbers of an English question ("Gia Lai . 30").

    They are what BM25 adds to the dense search of an English question over Vietnamese
    articles. English words ("how", "do", "an") fold to Vietnamese syllables and only add noise.
    Names spelled alike in both languages (Paris, Pleiku, Seine) are left to the dense search,
    which already matches them: over them BM25 only ranks every passage of the article that
    names them. A Vietnamese name typed without its marks (Tran Quoc Tuan, Dak Lak) is what the
    model reads less well and the folded BM25 index matches exactly. Measured on the `train` and
    `dev` articles, hit@5: ViQuAD-en 0.684 with every name, 0.747 with Vietnamese names only
    (0.737 for dense search alone); taynguyen_qa `en` 0.638, 0.644 (0.597).
    """
    segments = []
    for match in _NAME_OR_NUMBER.finditer(text.strip()):
        words = match.group(0).split()
        if words[0][0].isdigit():
            segments.append(match.group(0))
            continue
        run: list[str] = []
        for word in [*words, ""]:  # "": ends the last run
            if word and _spelled_vietnamese(word):
                run.append(word)
            elif run:
                segments.append(" ".join(run))
                run = []
    return " . ".join(segments)


def detect_language(text: str) -> Language:
    """Guess whether a question is Vietnamese or English.

    Words with Vietnamese marks count for Vietnamese; for unaccented words, known function
    words decide, then whether the word could be a Vietnamese syllable at all ("members",
    "how" cannot). A Vietnamese name inside an English question ("Who is Huỳnh Quang Thái?")
    is outweighed by the English words around it. Empty or undecidable text is Vietnamese,
    the language of the archive.

    Args:
        text: A question or any short text.

    Returns:
        "vi" or "en".
    """
    vi = en = 0.0
    for m in _WORD.finditer(text):
        word = m.group()
        if word.isdigit():
            continue
        if has_vietnamese_marks(word):
            # A capitalized word inside the text is likely a name, which English quotes too.
            vi += 0.75 if word[0].isupper() and m.start() > 0 else 2.0
            continue
        lower = word.lower()
        if lower in _EN_WORDS:
            en += 2.0
        elif lower in _VI_WORDS:
            vi += 1.5
        elif len(word) > 1 and word.isupper():
            continue  # acronyms (UBND, TP, COVID) say nothing about the language
        elif _VI_SYLLABLE.fullmatch(lower):
            vi += 0.5
        elif lower.isalpha():
            en += 1.0
    return "en" if en > vi else "vi"


# English word (or two-word phrase) -> accent-folded Vietnamese words, alternatives split by
# "|". Covers the vocabulary of provincial news: party work, administration, economy, society.
_GLOSS: dict[str, str] = {
    "party member": "dang vien",
    "party committee": "dang uy|tinh uy",
    "people committee": "uy ban nhan dan",
    "organization board": "ban to chuc",
    "organisation board": "ban to chuc",
    "civil servant": "cong chuc",
    "public employee": "vien chuc",
    "poor household": "ho ngheo",
    "standing committee": "ban thuong vu",
    "executive committee": "ban chap hanh",
    "border guard": "bien phong",
    "per cent": "phan tram",
    "party": "dang",
    "member": "vien|thanh vien",
    "admit": "ket nap",
    "admission": "ket nap",
    "recruit": "ket nap|tuyen",
    "join": "ket nap|tham gia",
    "discipline": "ky luat",
    "disciplinary": "ky luat",
    "expel": "xoa ten|khai tru",
    "remove": "xoa ten",
    "province": "tinh",
    "provincial": "tinh",
    "committee": "uy ban|ban",
    "board": "ban",
    "organization": "to chuc",
    "organisation": "to chuc",
    "organize": "to chuc",
    "organise": "to chuc",
    "hold": "to chuc",
    "held": "to chuc",
    "conference": "hoi nghi",
    "meeting": "hoi nghi|cuoc hop",
    "resolution": "nghi quyet",
    "plan": "ke hoach",
    "guideline": "huong dan",
    "guidance": "huong dan",
    "issue": "ban hanh",
    "head": "truong ban|truong",
    "chief": "truong",
    "director": "giam doc",
    "deputy": "pho",
    "vice": "pho",
    "secretary": "bi thu",
    "chairman": "chu tich",
    "chairwoman": "chu tich",
    "president": "chu tich",
    "minister": "bo truong",
    "official": "can bo",
    "cadre": "can bo",
    "staff": "can bo|nhan vien",
    "candidate": "thi sinh|ung vien",
    "exam": "thi tuyen|ky thi",
    "examination": "thi tuyen|ky thi",
    "village": "thon|lang",
    "hamlet": "thon",
    "cell": "chi bo",
    "branch": "chi bo",
    "target": "chi tieu",
    "congress": "dai hoi",
    "term": "nhiem ky",
    "election": "bau cu",
    "inspection": "kiem tra",
    "supervision": "giam sat",
    "training": "dao tao",
    "train": "dao tao",
    "education": "giao duc",
    "management": "quan ly",
    "year": "nam",
    "month": "thang",
    "day": "ngay",
    "people": "nguoi|nhan dan",
    "person": "nguoi",
    "percent": "phan tram",
    "percentage": "phan tram|ty le",
    "rate": "ty le",
    "government": "chinh phu",
    "police": "cong an",
    "army": "quan doi",
    "military": "quan su",
    "health": "suc khoe|y te",
    "hospital": "benh vien",
    "doctor": "bac si",
    "patient": "benh nhan",
    "school": "truong",
    "student": "hoc sinh|sinh vien",
    "pupil": "hoc sinh",
    "teacher": "giao vien",
    "price": "gia",
    "gold": "vang",
    "rice": "gao|lua",
    "coffee": "ca phe",
    "pepper": "ho tieu",
    "durian": "sau rieng",
    "rubber": "cao su",
    "fruit": "trai cay",
    "farmer": "nong dan",
    "agriculture": "nong nghiep",
    "export": "xuat khau",
    "import": "nhap khau",
    "investment": "dau tu",
    "invest": "dau tu",
    "budget": "ngan sach",
    "tax": "thue",
    "land": "dat",
    "road": "duong",
    "bridge": "cau",
    "flood": "lu",
    "storm": "bao",
    "rain": "mua",
    "vaccine": "vac xin|vaccine",
    "death": "tu vong",
    "die": "tu vong|chet",
    "injure": "bi thuong",
    "accident": "tai nan",
    "fire": "chay",
    "arrest": "bat",
    "court": "toa an",
    "trial": "xet xu",
    "sentence": "an|tuyen phat",
    "fine": "phat",
    "million": "trieu",
    "billion": "ty",
    "thousand": "nghin|ngan",
    "hectare": "ha|hecta",
    "ton": "tan",
    "tonne": "tan",
    "city": "thanh pho",
    "district": "huyen",
    "commune": "xa",
    "ward": "phuong",
    "ethnic": "dan toc",
    "minority": "thieu so",
    "tourism": "du lich",
    "tourist": "du khach|khach du lich",
    "company": "cong ty",
    "enterprise": "doanh nghiep",
    "business": "doanh nghiep",
    "worker": "cong nhan|nguoi lao dong",
    "job": "viec lam",
    "employment": "viec lam",
    "poverty": "ngheo",
    "poor": "ngheo",
    "household": "ho",
    "house": "nha",
    "forest": "rung",
    "water": "nuoc",
    "electricity": "dien",
    "power": "dien",
    "festival": "le hoi",
    "gong": "cong chieng",
    "culture": "van hoa",
    "increase": "tang",
    "decrease": "giam",
    "reduce": "giam",
    "complete": "hoan thanh",
    "reach": "dat",
    "achieve": "dat",
    "speak": "phat bieu",
    "spoke": "phat bieu",
    "say": "cho biet|noi",
    "said": "cho biet|noi",
    "propose": "de nghi|de xuat",
    "request": "de nghi",
    "conclude": "ket luan",
    "conclusion": "ket luan",
    "internal": "noi bo",
    "political": "chinh tri",
    "politics": "chinh tri",
    "protection": "bao ve",
    "security": "an ninh",
    "chair": "chu tri|chu tich",
    "preside": "chu tri",
    "discuss": "thao luan",
    "discussion": "thao luan",
    "attend": "tham du",
    "emphasize": "nhan manh",
    "emphasise": "nhan manh",
    "sign": "ky",
    "build": "xay dung",
    "implement": "trien khai|thuc hien",
    "develop": "phat trien",
    "development": "phat trien",
    "support": "ho tro",
    "review": "so ket|tong ket",
    "launch": "phat dong|khoi cong",
    "visit": "tham",
    "award": "trao|tang",
    "announce": "cong bo",
    "approve": "phe duyet",
    "plant": "trong",
    "produce": "san xuat",
    "production": "san xuat",
    "harvest": "thu hoach",
    "yield": "nang suat",
    "area": "dien tich",
    "output": "san luong",
    "revenue": "doanh thu",
    "income": "thu nhap",
    "salary": "luong",
    "loan": "vay|cho vay",
    "bank": "ngan hang",
    "capital": "von",
    "project": "du an",
    "construction": "xay dung|thi cong",
    "traffic": "giao thong",
    "vehicle": "xe|phuong tien",
    "drug": "ma tuy",
    "smuggling": "buon lau",
    "crime": "toi pham",
    "victim": "nan nhan",
    "child": "tre em",
    "children": "tre em",
    "woman": "phu nu",
    "women": "phu nu",
    "youth": "thanh nien",
    "veteran": "cuu chien binh",
    "border": "bien gioi",
    "solution": "giai phap",
    "difficulty": "kho khan",
    "result": "ket qua",
    "task": "nhiem vu",
    "model": "mo hinh",
    "vietnam": "viet nam",
    "hanoi": "ha noi",
    "january": "thang 1",
    "february": "thang 2",
    "march": "thang 3",
    "april": "thang 4",
    "june": "thang 6",
    "july": "thang 7",
    "august": "thang 8",
    "september": "thang 9",
    "october": "thang 10",
    "november": "thang 11",
    "december": "thang 12",
}
_GLOSS_TWO = {k for k in _GLOSS if " " in k}


def _lemma(word: str) -> str:
    """The gloss key for an English word form: the word itself or a crude stem of it."""
    if word in _GLOSS:
        return word
    candidates = []
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    if word.endswith("ed"):
        candidates += [word[:-2], word[:-1], word[:-3] if word[-3:-2] == word[-4:-3] else ""]
    if word.endswith("ing"):
        candidates += [word[:-3], word[:-3] + "e"]
    for c in candidates:
        if c in _GLOSS:
            return c
    return word


def gloss_english(text: str) -> list[tuple[str, list[list[str]]]]:
    """Accent-folded Vietnamese renderings of the English words of `text`, word by word.

    Returns one `(english, alternatives)` pair per English word or known two-word phrase, in
    order; `alternatives` lists the renderings (`"party members"` -> `[["dang", "vien"]]`,
    `"committee"` -> `[["uy", "ban"], ["ban"]]`) and is empty for words without a gloss.
    """
    raw = _ENGLISH_WORD.findall(text.lower().replace("'s", ""))
    words = [_lemma(w) for w in raw]
    out: list[tuple[str, list[list[str]]]] = []
    i = 0
    while i < len(words):
        pair = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        if pair in _GLOSS_TWO:
            out.append((f"{raw[i]} {raw[i + 1]}", [a.split() for a in _GLOSS[pair].split("|")]))
            i += 2
            continue
        alternatives = _GLOSS.get(words[i], "")
        out.append((raw[i], [a.split() for a in alternatives.split("|")] if alternatives else []))
        i += 1
    return out
