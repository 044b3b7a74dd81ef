"""The text front end every voice engine shares: SSML subset, normalization and splitting.

``parse(text)`` turns plain text or SSML into :class:`Segment` s (clauses with their prosody and
the pause after them). Numbers, dates, ordinals, money, percentages and common abbreviations are
read out here, at our layer, so every engine says them the same way. Invalid SSML raises
:class:`SSMLError` naming the line and column.

Supported SSML: ``speak``, ``p``, ``s``, ``break`` (time, strength), ``prosody`` (rate, pitch,
volume), ``emphasis`` (level), ``say-as`` (interpret-as characters/spell-out, cardinal/number,
ordinal, date with format mdy/dmy/ymd), ``voice`` (name), ``lang`` and ``xml:lang`` on any element
(the segment's ``language``: the speech job picks a voice of that language). A document may start
with an XML declaration and use the SSML namespace, with or without a prefix.

Limits, checked before the work: at most :data:`MAX_TEXT_CHARS` characters, elements nested at most
:data:`MAX_DEPTH` deep, breaks adding up to at most :data:`MAX_BREAK_SECONDS`. One prosody value
may move pitch by :data:`PITCH_STEP_LIMIT` semitones and rate or volume by a factor within
:data:`RATE_STEP_LIMIT` / :data:`VOLUME_STEP_LIMIT`; what nesting adds up is clamped to
:data:`PITCH_RANGE`, :data:`RATE_RANGE` and :data:`VOLUME_RANGE`, so no engine ever sees a value it
cannot take. Splitting, normalization and parsing are linear in the length of the text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from xml.parsers import expat

__all__ = [
    "Segment",
    "SSMLError",
    "TextTooLong",
    "MAX_TEXT_CHARS",
    "MAX_DEPTH",
    "PITCH_RANGE",
    "RATE_RANGE",
    "VOLUME_RANGE",
    "parse",
    "normalize",
    "split_sentences",
    "looks_like_ssml",
    "spell_out",
    "readable",
]


class SSMLError(ValueError):
    """Invalid SSML; the message names the line and column."""


class TextTooLong(ValueError):
    """The text is longer than :data:`MAX_TEXT_CHARS`; the message says by how much."""


MAX_TEXT_CHARS = 2_000_000  # a long novel; more is refused before any work (split the file)
MAX_DEPTH = 100  # SSML elements inside each other
MAX_BREAK_SECONDS = 3600.0  # all <break>s of a document together
# What the engines take: clamped after nesting adds up (semitones, speed factor, gain).
PITCH_RANGE = (-12.0, 12.0)
RATE_RANGE = (0.25, 4.0)
VOLUME_RANGE = (0.0, 2.0)
# What one prosody attribute may ask for, relative to its parent; more is an error in the input.
PITCH_STEP_LIMIT = 24.0
RATE_STEP_LIMIT = (0.2, 4.0)
VOLUME_STEP_LIMIT = (0.0, 4.0)
MAX_SPOKEN_DIGITS = 21  # longer numbers are read digit by digit (num2words has no words for them)


@dataclass(frozen=True)
class Segment:
    """A clause to speak: normalized text, prosody, and the pause after it.

    ``rate`` multiplies the speed, ``pitch`` is in semitones, ``volume`` is a gain. ``start`` is
    the character offset of the clause in the input (for marks and highlighting). ``sentence``
    says the clause ends a sentence.
    """

    text: str
    start: int = 0
    rate: float = 1.0
    pitch: float = 0.0
    volume: float = 1.0
    voice: str | None = None
    pause_after: float = 0.0
    sentence: bool = True
    language: str | None = None  # from xml:lang; None: the voice's own


# -- normalization ---------------------------------------------------------------------------------

# Abbreviations read out in full (English). Keys are matched case-sensitively with their period.
ABBREVIATIONS = {
    "Dr.": "Doctor",
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Prof.": "Professor",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "St.": "Saint",
    "Mt.": "Mount",
    "Ave.": "Avenue",
    "Rd.": "Road",
    "Co.": "Company",
    "Inc.": "Incorporated",
    "Ltd.": "Limited",
    "Corp.": "Corporation",
    "Dept.": "Department",
    "Gen.": "General",
    "Capt.": "Captain",
    "Lt.": "Lieutenant",
    "approx.": "approximately",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "vs.": "versus",
    "Fig.": "Figure",
    "min.": "minutes",
    "Jan.": "January",
    "Feb.": "February",
    "Mar.": "March",
    "Apr.": "April",
    "Aug.": "August",
    "Sept.": "September",
    "Sep.": "September",
    "Oct.": "October",
    "Nov.": "November",
    "Dec.": "December",
}
# After these, a period never ends the sentence (a name or a number follows).
_NO_BREAK_AFTER = {
    "Dr.", "Mr.", "Mrs.", "Ms.", "Prof.", "St.", "Mt.", "Gen.", "Capt.", "Lt.", "e.g.", "i.e.",
    "vs.", "Fig.", "No.", "approx.",
}  # fmt: skip
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
SYMBOLS = {"&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "#": " number "}

_ABBR_RE = re.compile(
    r"(?<![\w.])("
    + "|".join(re.escape(k) for k in sorted(ABBREVIATIONS, key=len, reverse=True))
    + r")(?=\s|$|[,;:!?])"
)
_NUMBER_ABBR_RE = re.compile(r"\bNo\.\s*(?=\d)")
_ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_SLASH_DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})\b(\s*[ap]\.?m\.?)?", re.IGNORECASE)
_MONEY_RE = re.compile(r"([$€£])\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b")
# The look-behind starts a match only at the beginning of a run of digits: without it a long
# run is tried from every position (quadratic).
_PERCENT_RE = re.compile(r"(?<![\d,.])(-?\d[\d,]*(?:\.\d+)?)\s?%")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w])")
_CURRENCY = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}


def _n2w(value: float | int, lang: str, to: str = "cardinal") -> str:
    from num2words import num2words

    try:
        return str(num2words(value, lang=lang, to=to))
    except (NotImplementedError, OverflowError, ValueError, TypeError, ArithmeticError):
        pass
    try:
        return str(num2words(value, lang="en", to=to))
    except (NotImplementedError, OverflowError, ValueError, TypeError, ArithmeticError):
        return _digit_words(str(value), lang)


def _digit_words(digits: str, lang: str) -> str:
    """A number too long for words, read digit by digit ("one two three ...")."""
    names = _digit_names(lang)
    words = []
    for ch in digits:
        if "0" <= ch <= "9":
            words.append(names[int(ch)])
        elif ch == "." and lang == "en":
            words.append("point")
        elif ch == "-" and lang == "en":
            words.append("minus")
    return " ".join(words)


@functools.lru_cache(maxsize=32)
def _digit_names(lang: str) -> tuple[str, ...]:
    from num2words import num2words

    try:
        return tuple(str(num2words(d, lang=lang)) for d in range(10))
    except (NotImplementedError, OverflowError, ValueError, TypeError):
        return tuple(str(num2words(d, lang="en")) for d in range(10))


def _whole(digits: str, lang: str, to: str = "cardinal") -> str:
    """Words for a string of digits (commas allowed): num2words up to MAX_SPOKEN_DIGITS digits,
    digit by digit beyond (``int()`` of thousands of digits is slow, and refused past 4300)."""
    digits = digits.replace(",", "")
    if len(digits.lstrip("0")) > MAX_SPOKEN_DIGITS:
        return _digit_words(digits, lang)
    return _n2w(int(digits), lang, to)


def _lang(language: str) -> str:
    """num2words' language code for a voice language such as en_US or de."""
    code = language.replace("-", "_").split("_")[0].lower() or "en"
    return code


def _year(y: int, lang: str) -> str:
    return _n2w(y, lang, "year") if lang == "en" else _n2w(y, lang)


def _date(year: int, month: int, day: int, lang: str) -> str | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if lang == "en":
        return f"{MONTHS[month - 1]} {_n2w(day, lang, 'ordinal')}, {_year(year, lang)}"
    return f"{_n2w(day, lang, 'ordinal')} {_n2w(month, lang, 'ordinal')} {_n2w(year, lang)}"


def _number_words(
    sign: str | None, whole: str, frac: str | None, lang: str, year: bool = True
) -> str:
    if len(whole.replace(",", "").lstrip("0")) > MAX_SPOKEN_DIGITS or len(frac or "") > 12:
        words = _digit_words(whole.replace(",", "") + (f".{frac}" if frac else ""), lang)
        return ("minus " if sign and lang == "en" else "- " if sign else "") + words
    value = int(whole.replace(",", ""))
    plain = frac is None and sign is None and "," not in whole
    if year and plain and 1100 <= value <= 2099 and lang == "en":
        return _year(value, lang)  # a bare four-digit number in this range is read as a year
    if frac is not None:
        return ("minus " if sign and lang == "en" else "") + _n2w(float(f"{value}.{frac}"), lang)
    words = _n2w(value, lang)
    if sign:
        words = ("minus " if lang == "en" else "- ") + words
    return words


def normalize(text: str, language: str = "en") -> str:
    """Read out numbers, dates, times, money, percentages, ordinals, symbols and abbreviations.

    English gets every rule; other languages get numbers through num2words in that language.
    """
    lang = _lang(language)
    text = _NUMBER_ABBR_RE.sub("number ", text) if lang == "en" else text
    if lang == "en":
        text = _ABBR_RE.sub(lambda m: ABBREVIATIONS[m.group(1)], text)
    text = _ISO_DATE_RE.sub(lambda m: _date(int(m[1]), int(m[2]), int(m[3]), lang) or m[0], text)
    if lang == "en":
        text = _SLASH_DATE_RE.sub(
            lambda m: _date(int(m[3]), int(m[1]), int(m[2]), lang) or m[0], text
        )

    def time_words(m: re.Match[str]) -> str:
        hour, minute = int(m[1]), int(m[2])
        if hour > 23 or minute > 59:
            return m[0]
        suffix = (" " + m[3].replace(".", "").strip().upper()) if m[3] else ""
        if lang != "en":
            return f"{_n2w(hour, lang)} {_n2w(minute, lang)}{suffix}"
        if minute == 0:
            return f"{_n2w(hour, lang)}{suffix or ' o clock'}"
        mins = _n2w(minute, lang) if minute >= 10 else f"oh {_n2w(minute, lang)}"
        return f"{_n2w(hour, lang)} {mins}{suffix}"

    text = _TIME_RE.sub(time_words, text)

    def money(m: re.Match[str]) -> str:
        unit, sub = _CURRENCY[m[1]]
        digits = m[2].replace(",", "")
        one = digits.lstrip("0") == "1"
        words = f"{_whole(digits, lang)} {unit}{'' if one else 's'}"
        if m[3]:
            cents = int(m[3].ljust(2, "0"))
            if cents:
                plural = "pence" if sub == "penny" else "cents"
                words += f" and {_n2w(cents, lang)} {sub if cents == 1 else plural}"
        return words

    if lang == "en":
        text = _MONEY_RE.sub(money, text)

    def percent(m: re.Match[str]) -> str:
        whole, _, frac = m[1].lstrip("-").partition(".")
        sign = "-" if m[1].startswith("-") else None
        words = _number_words(sign, whole, frac or None, lang, year=False)
        return words + (" percent" if lang == "en" else " %")

    text = _PERCENT_RE.sub(percent, text)
    text = _ORDINAL_RE.sub(lambda m: _whole(m[1], lang, "ordinal"), text)
    text = _NUMBER_RE.sub(lambda m: _number_words(m[1], m[2], m[3], lang), text)
    for symbol, words in SYMBOLS.items():
        if lang == "en":
            text = text.replace(f" {symbol} ", words)
    return re.sub(r"[ \t]+", " ", text)


def spell_out(text: str, language: str = "en") -> str:
    """say-as characters: letters and digits one by one."""
    lang = _lang(language)
    out = []
    for ch in text:
        if ch.isdigit():
            out.append(_n2w(int(ch), lang))
        elif ch.isalpha():
            out.append(ch.upper())
        elif not ch.isspace():
            continue
    return ", ".join(out) if lang != "en" else " ".join(out)


# Which scripts a voice of a language reads. Unlisted languages accept every script.
_LATIN_LANGS = set(
    "af an ca cs cy da de en eo es et eu fi fr ga gd hr hu id is it la lb lt lv ms mt nb nl no "
    "pl pt ro sk sl sq sv sw tr vi".split()
)
_SCRIPT_OF_LANG = {
    **{code: "LATIN" for code in _LATIN_LANGS},
    **{c: "CYRILLIC" for c in "ru uk be bg sr mk kk ky".split()},
    "el": "GREEK", "ar": "ARABIC", "fa": "ARABIC", "he": "HEBREW", "hi": "DEVANAGARI",
    "ka": "GEORGIAN", "hy": "ARMENIAN", "th": "THAI", "zh": "CJK", "ja": "CJK", "ko": "HANGUL",
}  # fmt: skip


def _script(ch: str) -> str:
    try:
        name = unicodedata.name(ch)
    except ValueError:
        return "UNKNOWN"
    return name.split()[0]


def readable(text: str, language: str = "en") -> tuple[str, list[str]]:
    """Drop what a voice of ``language`` cannot read: emoji, pictographs and letters of other
    scripts. Returns (text, warnings); each warning says what was skipped."""
    script = _SCRIPT_OF_LANG.get(_lang(language))
    out: list[str] = []
    skipped: dict[str, int] = {}
    for ch in text:
        cat = unicodedata.category(ch)
        if cat in ("So", "Sk", "Cs", "Co", "Cn") or 0x1F000 <= ord(ch) <= 0x1FAFF:
            skipped["emoji and symbols"] = skipped.get("emoji and symbols", 0) + 1
            out.append(" ")
            continue
        if cat in ("Mn", "Cf") and ord(ch) in (0x200D, 0xFE0F, 0xFE0E):
            continue  # emoji joiners and variation selectors
        if script and cat.startswith("L"):
            own = _script(ch)
            if own != script and not (script == "CJK" and own in ("HIRAGANA", "KATAKANA")):
                skipped[f"{own.lower()} letters"] = skipped.get(f"{own.lower()} letters", 0) + 1
                out.append(" ")
                continue
        out.append(ch)
    warnings = [
        f"skipped {count} {what} the {language} voice cannot read"
        for what, count in skipped.items()
    ]
    return re.sub(r"[ \t]{2,}", " ", "".join(out)), warnings


# -- splitting -------------------------------------------------------------------------------------

# The look-behind starts a match only at the first of a run of stops ("......" is tried once, not
# from each of its dots: that was quadratic).
_SENTENCE_END_RE = re.compile(r"(?<![.!?…])([.!?…]+[\"'”’)\]]*)(\s+|$)")
_ENDS_SENTENCE_RE = re.compile(r"[.!?…][\"'”’)\]]*$")
_CLAUSE_RE = re.compile(r"([,;:—–])\s+")
CLAUSE_WORDS = 8  # sentences longer than this are spoken clause by clause (first sound sooner)
_LONGEST_ABBREVIATION = max(len(k) for k in _NO_BREAK_AFTER)


def _last_word(text: str, start: int, end: int) -> str:
    """The last whitespace-separated word of ``text[start:end]``, looking back only as far as
    the longest abbreviation (a longer word is none of them): constant time per stop."""
    i = end
    floor = max(start, end - _LONGEST_ABBREVIATION - 1)
    while i > floor and not text[i - 1].isspace():
        i -= 1
    if i == floor and i > start and not text[i - 1].isspace():
        return text[i - 1 : end]  # longer than any abbreviation
    return text[i:end]


def _strip_span(text: str, start: int, end: int) -> tuple[int, str] | None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return None
    return start + len(piece) - len(piece.lstrip()), stripped


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs. A period after a known abbreviation or an initial does not end
    a sentence; neither does one followed by a lower-case word. Linear in the length of
    ``text``."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in _SENTENCE_END_RE.finditer(text):
        end, after = m.end(1), m.end()
        if m.group(1).startswith(".") and after < len(text):
            last = _last_word(text, start, end)
            if (
                last in _NO_BREAK_AFTER
                or (len(last) == 2 and "A" <= last[0] <= "Z" and last[1] == ".")
                or text[after].islower()
            ):
                continue
        span = _strip_span(text, start, end)
        if span:
            out.append(span)
        start = after
    span = _strip_span(text, start, len(text))
    if span:
        out.append(span)
    return out


def _clauses(sentence: str) -> list[tuple[int, str]]:
    if len(sentence.split()) <= CLAUSE_WORDS:
        return [(0, sentence)]
    out: list[tuple[int, str]] = []
    start = 0
    covered = 0  # the words of sentence[start:] are counted up to here (each counted once)
    words = 0
    for m in _CLAUSE_RE.finditer(sentence):
        words += len(sentence[covered : m.end(1)].split())
        covered = m.end(1)
        if words >= 3:  # keep very short clauses with the next one
            out.append((start, sentence[start : m.end(1)].strip()))
            start = covered = m.end()
            words = 0
    if sentence[start:].strip():
        out.append((start, sentence[start:].strip()))
    return out


_SPEAK_RE = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?speak[\s/>]")


def looks_like_ssml(text: str) -> bool:
    """Whether ``text`` is an SSML document: it starts with an XML declaration, or its first
    element is ``<speak>`` (with a namespace prefix or not) after an optional byte-order mark,
    comments and doctype."""
    at = 0
    for _ in range(1000):  # a prolog of more than 1000 comments is not SSML worth guessing
        while at < len(text) and (text[at].isspace() or text[at] == "\ufeff"):
            at += 1
        for opener, closer in (("<?", "?>"), ("<!--", "-->"), ("<!DOCTYPE", ">")):
            if text.startswith(opener, at):
                begin = at + len(opener)
                if opener == "<!DOCTYPE":
                    bracket, end = text.find("[", begin), text.find(">", begin)
                    if 0 <= bracket < end:  # an internal subset: up to its "]"
                        begin = max(begin, text.find("]", bracket))
                close = text.find(closer, begin)
                if close < 0:
                    return opener != "<!--"  # unclosed: SSML-looking, let the parser say why
                at = close + len(closer)
                break
        else:
            break
    # A document with an XML declaration is XML: the parser names what is wrong with it rather
    # than the markup being read aloud.
    return _SPEAK_RE.match(text, at) is not None or text.lstrip("\ufeff \t\r\n").startswith("<?xml")


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


_LANG_TAG_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


@dataclass
class _Style:
    rate: float = 1.0
    pitch: float = 0.0
    volume: float = 1.0
    voice: str | None = None
    language: str | None = None


_RATE_WORDS = {
    "x-slow": 0.5,
    "slow": 0.75,
    "medium": 1.0,
    "default": 1.0,
    "fast": 1.3,
    "x-fast": 1.7,
}
_PITCH_WORDS = {
    "x-low": -6.0,
    "low": -3.0,
    "medium": 0.0,
    "default": 0.0,
    "high": 3.0,
    "x-high": 6.0,
}
_VOLUME_WORDS = {
    "silent": 0.0, "x-soft": 0.3, "soft": 0.6, "medium": 1.0, "default": 1.0, "loud": 1.4,
    "x-loud": 1.8,
}  # fmt: skip
_BREAK_STRENGTH = {
    "none": 0.0, "x-weak": 0.1, "weak": 0.2, "medium": 0.4, "strong": 0.7, "x-strong": 1.2,
}  # fmt: skip
_EMPHASIS = {"strong": (0.85, 1.5, 1.3), "moderate": (0.92, 1.0, 1.15), "none": (1, 0, 1),
             "reduced": (1.1, -1.0, 0.8)}  # fmt: skip
_ELEMENTS = {
    "speak", "p", "s", "break", "prosody", "emphasis", "say-as", "voice", "sub", "mark", "lang",
}  # fmt: skip
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_NS_SEP = "\x1f"  # expat joins namespace and local name with this (a character no name has)


def _parse_time(value: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*", value)
    if not m:
        raise ValueError(f"time {value!r} must be like 500ms or 1.5s")
    seconds = float(m[1]) / (1000.0 if m[2] == "ms" else 1.0)
    if seconds > 60:
        raise ValueError(f"time {value!r} is longer than 60 s")
    return seconds


def _relative(value: str, words: dict[str, float], base: float, kind: str) -> float:
    value = value.strip()
    if value in words:
        return words[value]
    m = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)\s*(%|st|dB)?", value)
    if not m:
        raise ValueError(f"{kind} {value!r} is not a word ({', '.join(words)}) or a number")
    number, unit = float(m[1]), m[2]
    if not abs(number) < 1e6:  # before any arithmetic: 10 ** (number / 20) overflows
        raise ValueError(f"{kind} {value!r} is far outside what a voice can do")
    signed = value[0] in "+-"
    if kind == "pitch":
        if unit == "st":
            step = number
        elif unit == "%":
            import math

            step = 12 * math.log2(max(1e-3, 1 + number / 100))
        else:
            raise ValueError(f"pitch {value!r} needs a unit: st (semitones) or %")
        if abs(step) > PITCH_STEP_LIMIT:
            raise ValueError(
                f"pitch {value!r} is outside -{PITCH_STEP_LIMIT:g}st..+{PITCH_STEP_LIMIT:g}st"
            )
        return base + step
    if kind == "volume" and unit == "dB":
        factor = 10 ** (number / 20)
    elif unit == "%":
        factor = (1 + number / 100) if signed else number / 100
    elif unit is None and kind == "rate":
        factor = number
    else:
        raise ValueError(f"{kind} {value!r} has an unknown unit")
    low, high = RATE_STEP_LIMIT if kind == "rate" else VOLUME_STEP_LIMIT
    if not low <= factor <= high:
        raise ValueError(f"{kind} {value!r} is outside {low:.0%}..{high:.0%}")
    return base * factor


class _SSMLBuilder:
    def __init__(self, source: str, language: str, voice: str | None) -> None:
        self.source = source
        self.language = language
        self.stack: list[tuple[str, _Style, dict[str, str]]] = []
        self.style = _Style(voice=voice)
        self.parts: list[tuple[int, str, _Style]] = []  # text runs with their style
        self.breaks: list[tuple[int, float]] = []  # (position in parts, seconds)
        self.sentence_marks: list[int] = []  # parts index where a new sentence/paragraph begins
        self.break_total = 0.0
        # Namespace processing: <speak xmlns="...synthesis">, <ssml:speak xmlns:ssml=...> and
        # xml:lang all arrive as (namespace, local name); an unbound prefix is an error.
        self.parser = expat.ParserCreate(namespace_separator=_NS_SEP)
        self.parser.StartElementHandler = self._start
        self.parser.EndElementHandler = self._end
        self.parser.CharacterDataHandler = self.data
        self.parser.StartDoctypeDeclHandler = self._doctype
        self.parser.EntityDeclHandler = self._entity
        self.parser.buffer_text = True
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def where(self) -> str:
        return f"line {self.parser.CurrentLineNumber}, column {self.parser.CurrentColumnNumber + 1}"

    def offset(self) -> int:
        line = self.parser.CurrentLineNumber
        return self._line_starts[min(line, len(self._line_starts)) - 1] + max(
            0, self.parser.CurrentColumnNumber
        )

    def fail(self, message: str) -> None:
        raise SSMLError(f"SSML error at {self.where()}: {message}")

    def _doctype(self, _name, _sysid, _pubid, has_internal_subset) -> None:
        if has_internal_subset:
            self.fail("SSML may not declare a DTD of its own")

    def _entity(self, *_args) -> None:
        self.fail("SSML may not declare entities")

    @staticmethod
    def _local(name: str) -> str:
        return name.rsplit(_NS_SEP, 1)[-1]

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        plain: dict[str, str] = {}
        for key, value in attrs.items():
            space, _, local = key.rpartition(_NS_SEP)
            plain[f"xml:{local}" if space == _XML_NS else local] = value
        self.start(self._local(name), plain)

    def _end(self, name: str) -> None:
        self.end(self._local(name))

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if not self.stack and name != "speak":
            self.fail(f"the root element must be <speak>, not <{name}>")
        if name not in _ELEMENTS:
            self.fail(f"<{name}> is not supported (use {', '.join(sorted(_ELEMENTS))})")
        if len(self.stack) >= MAX_DEPTH:
            self.fail(f"elements are nested more than {MAX_DEPTH} deep")
        style = replace(self.style)
        try:
            if "xml:lang" in attrs:
                lang = attrs["xml:lang"].strip()
                if not _LANG_TAG_RE.fullmatch(lang):
                    raise ValueError(f"xml:lang {lang!r} is not a language such as en-US or de")
                style.language = lang
            elif name == "lang":
                raise ValueError("<lang> needs an xml:lang attribute")
            if name == "prosody":
                # One value may ask for a sane step; what nesting adds up is clamped to what
                # the engines take (a pitch of +1000st corrupted the vocoder's memory).
                if "rate" in attrs:
                    rate = _relative(attrs["rate"], _RATE_WORDS, style.rate, "rate")
                    style.rate = _clamp(rate, RATE_RANGE)
                if "pitch" in attrs:
                    pitch = _relative(attrs["pitch"], _PITCH_WORDS, style.pitch, "pitch")
                    style.pitch = _clamp(pitch, PITCH_RANGE)
                if "volume" in attrs:
                    volume = _relative(attrs["volume"], _VOLUME_WORDS, style.volume, "volume")
                    style.volume = _clamp(volume, VOLUME_RANGE)
            elif name == "emphasis":
                level = attrs.get("level", "moderate")
                if level not in _EMPHASIS:
                    raise ValueError(
                        f"emphasis level {level!r} is not one of {', '.join(_EMPHASIS)}"
                    )
                rate, pitch, volume = _EMPHASIS[level]
                style.rate = _clamp(style.rate * rate, RATE_RANGE)
                style.pitch = _clamp(style.pitch + pitch, PITCH_RANGE)
                style.volume = _clamp(style.volume * volume, VOLUME_RANGE)
            elif name == "voice":
                if not attrs.get("name"):
                    raise ValueError("<voice> needs a name attribute")
                style.voice = attrs["name"]
            elif name == "break":
                if "time" in attrs:
                    seconds = _parse_time(attrs["time"])
                else:
                    strength = attrs.get("strength", "medium")
                    if strength not in _BREAK_STRENGTH:
                        raise ValueError(f"break strength {strength!r} is unknown")
                    seconds = _BREAK_STRENGTH[strength]
                self.break_total += seconds
                if self.break_total > MAX_BREAK_SECONDS:
                    raise ValueError(
                        f"the breaks add up to more than {MAX_BREAK_SECONDS / 60:g} minutes"
                    )
                self.breaks.append((len(self.parts), seconds))
            elif name == "say-as":
                kind = attrs.get("interpret-as", "")
                if kind not in ("characters", "spell-out", "cardinal", "number", "ordinal", "date"):
                    raise ValueError(
                        f"say-as interpret-as={kind!r} is not one of characters, spell-out, "
                        "cardinal, number, ordinal, date"
                    )
            elif name in ("p", "s"):
                self.sentence_marks.append(len(self.parts))
        except ValueError as exc:
            self.fail(str(exc))
        self.stack.append((name, self.style, attrs))
        self.style = style

    def end(self, name: str) -> None:
        _, style, _attrs = self.stack.pop()
        self.style = style
        if name in ("p", "s"):
            self.sentence_marks.append(len(self.parts))
            if name == "p":
                self.breaks.append((len(self.parts), _BREAK_STRENGTH["strong"]))

    def data(self, text: str) -> None:
        if not self.stack:
            return
        name, _, attrs = self.stack[-1]
        offset = self.offset()
        if name == "say-as":
            kind = attrs.get("interpret-as", "")
            if kind in ("characters", "spell-out"):
                text = spell_out(text, self.style.language or self.language)
            elif kind in ("cardinal", "number", "ordinal"):
                digits = text.strip().replace(",", "")
                if not re.fullmatch(r"-?\d+", digits):
                    self.fail(f"say-as {kind}: {text.strip()[:60]!r} is not a whole number")
                lang = _lang(self.style.language or self.language)
                to = "ordinal" if kind == "ordinal" else "cardinal"
                words = _whole(digits.lstrip("-"), lang, to)
                text = ("minus " if digits.startswith("-") and lang == "en" else "") + words
            elif kind == "date":
                text = self._date(text.strip(), attrs.get("format", "ymd"))
        elif name == "sub":
            text = attrs.get("alias", text)
        self.parts.append((offset, text, self.style))

    def _date(self, text: str, fmt: str) -> str:
        found = re.findall(r"\d+", text)
        if any(len(x) > 6 for x in found):
            self.fail(f"say-as date {text[:60]!r} is not a valid date")
        numbers = [int(x) for x in found]
        if len(numbers) != 3 or fmt not in ("ymd", "mdy", "dmy"):
            self.fail(
                f"say-as date {text!r} with format {fmt!r}: "
                "expected three numbers and ymd, mdy or dmy"
            )
        values = dict(zip(fmt, numbers, strict=True))
        language = self.style.language or self.language
        words = _date(values["y"], values["m"], values["d"], _lang(language))
        if words is None:
            self.fail(f"say-as date {text!r} is not a valid date")
        return str(words)

    def run(self) -> None:
        try:
            self.parser.Parse(self.source, True)
        except expat.ExpatError as exc:
            raise SSMLError(
                f"SSML error at line {exc.lineno}, column {exc.offset + 1}: "
                f"{expat.ErrorString(exc.code)}"
            ) from None


def _text_segments(
    text: str, base: int, style: _Style, language: str, pause: float
) -> Iterator[Segment]:
    for offset, sentence in split_sentences(text):
        clauses = _clauses(sentence)
        for i, (c_off, clause) in enumerate(clauses):
            spoken = normalize(clause, style.language or language).strip()
            if not spoken:
                continue
            last = i == len(clauses) - 1
            yield Segment(
                spoken,
                base + offset + c_off,
                style.rate,
                style.pitch,
                style.volume,
                style.voice,
                pause_after=pause if last else min(0.15, pause / 3),
                sentence=last,
                language=style.language,
            )


def parse(
    text: str,
    *,
    ssml: bool | None = None,
    language: str = "en",
    voice: str | None = None,
    sentence_pause: float = 0.3,
) -> list[Segment]:
    """Split plain text or SSML into segments ready for an engine.

    ``ssml=None`` treats text starting with ``<speak`` (after an XML declaration) as SSML.
    ``sentence_pause`` is the silence (seconds) after each sentence. Raises SSMLError (with line
    and column) for invalid SSML and TextTooLong past :data:`MAX_TEXT_CHARS`. Empty or blank
    input gives an empty list.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(
            f"the text has {len(text):,} characters; at most {MAX_TEXT_CHARS:,} are spoken at "
            "once (split it into parts)"
        )
    if ssml is None:
        ssml = looks_like_ssml(text)
    if not ssml:
        return list(_text_segments(text, 0, _Style(voice=voice), language, sentence_pause))
    builder = _SSMLBuilder(text, language, voice)
    builder.run()
    # Group the runs into sentences: <p>/<s> boundaries and breaks cut them; within a group the
    # runs join, then the ordinary sentence splitter applies.
    cuts = sorted(
        {0, len(builder.parts)} | set(builder.sentence_marks) | {i for i, _ in builder.breaks}
    )
    pauses: dict[int, float] = {}
    for index, seconds in builder.breaks:
        pauses[index] = max(pauses.get(index, 0.0), seconds)
    segments: list[Segment] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        # Runs with the same style stay together; a style change inside a sentence (emphasis on
        # one word) makes a new segment without a sentence pause.
        group: list[tuple[int, str, _Style]] = []
        for run in [*builder.parts[a:b], (-1, "", _Style(rate=-1))]:
            if group and run[2] != group[0][2]:
                joined = " ".join(t for _, t, _ in group)
                for seg in _text_segments(joined, 0, group[0][2], language, sentence_pause):
                    if not any(ch.isalnum() for ch in seg.text):
                        # the full stop after a styled word ends the sentence before it
                        if segments and _ENDS_SENTENCE_RE.search(seg.text):
                            segments[-1] = replace(
                                segments[-1], pause_after=seg.pause_after, sentence=True
                            )
                        continue
                    if not _ENDS_SENTENCE_RE.search(seg.text):
                        seg = replace(seg, pause_after=0.0, sentence=False)
                    segments.append(replace(seg, start=group[0][0] + seg.start))
                group = []
            if run[0] >= 0 and run[1].strip():
                group.append(run)
        if segments and b in pauses:
            last = segments[-1]
            segments[-1] = replace(last, pause_after=max(last.pause_after, pauses[b]))
    if segments and pauses.get(0):
        segments.insert(0, Segment("", 0, pause_after=pauses[0], sentence=False))
    return segments
