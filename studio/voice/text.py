"""The text front end every voice engine shares: SSML subset, normalization and splitting.

``parse(text)`` turns plain text or SSML into :class:`Segment` s (clauses with their prosody and
the pause after them). Numbers, dates, ordinals, money, percentages and common abbreviations are
read out here, at our layer, so every engine says them the same way. Invalid SSML raises
:class:`SSMLError` naming the line and column.

Supported SSML: ``speak``, ``p``, ``s``, ``break`` (time, strength), ``prosody`` (rate, pitch,
volume), ``emphasis`` (level), ``say-as`` (interpret-as characters/spell-out, cardinal/number,
ordinal, date with format mdy/dmy/ymd) and ``voice`` (name).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from xml.parsers import expat

__all__ = [
    "Segment",
    "SSMLError",
    "parse",
    "normalize",
    "split_sentences",
    "looks_like_ssml",
    "spell_out",
    "readable",
]


class SSMLError(ValueError):
    """Invalid SSML; the message names the line and column."""


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
_PERCENT_RE = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)\s?%")
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_NUMBER_RE = re.compile(r"(?<![\w.])(-)?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w])")
_CURRENCY = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}


def _n2w(value: float | int, lang: str, to: str = "cardinal") -> str:
    from num2words import num2words

    try:
        return str(num2words(value, lang=lang, to=to))
    except (NotImplementedError, OverflowError, ValueError, TypeError):
        return str(num2words(value, lang="en", to=to))


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
        whole = int(m[2].replace(",", ""))
        words = f"{_n2w(whole, lang)} {unit}{'' if whole == 1 else 's'}"
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
    text = _ORDINAL_RE.sub(lambda m: _n2w(int(m[1]), lang, "ordinal"), text)
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

_SENTENCE_END_RE = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+|$)")
_ENDS_SENTENCE_RE = re.compile(r"[.!?…][\"'”’)\]]*$")
_CLAUSE_RE = re.compile(r"([,;:—–])\s+")
CLAUSE_WORDS = 8  # sentences longer than this are spoken clause by clause (first sound sooner)


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs. A period after a known abbreviation or an initial does not end
    a sentence; neither does one followed by a lower-case word."""
    out: list[tuple[int, str]] = []
    start = 0
    for m in _SENTENCE_END_RE.finditer(text):
        end = m.end(1)
        before = text[start:end].split()
        last = before[-1] if before else ""
        rest = text[m.end() :]
        if m.group(1).startswith(".") and rest:
            if last in _NO_BREAK_AFTER or re.fullmatch(r"[A-Z]\.", last) or rest[:1].islower():
                continue
        sentence = text[start:end].strip()
        if sentence:
            out.append((start + len(text[start:end]) - len(text[start:end].lstrip()), sentence))
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append((start + len(text[start:]) - len(text[start:].lstrip()), tail))
    return out


def _clauses(sentence: str) -> list[tuple[int, str]]:
    if len(sentence.split()) <= CLAUSE_WORDS:
        return [(0, sentence)]
    out: list[tuple[int, str]] = []
    start = 0
    for m in _CLAUSE_RE.finditer(sentence):
        piece = sentence[start : m.end(1)].strip()
        if len(piece.split()) >= 3:  # keep very short clauses with the next one
            out.append((start, piece))
            start = m.end()
    if sentence[start:].strip():
        out.append((start, sentence[start:].strip()))
    return out


def looks_like_ssml(text: str) -> bool:
    return text.lstrip().startswith("<speak")


@dataclass
class _Style:
    rate: float = 1.0
    pitch: float = 0.0
    volume: float = 1.0
    voice: str | None = None


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
_ELEMENTS = {"speak", "p", "s", "break", "prosody", "emphasis", "say-as", "voice", "sub", "mark"}


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
    signed = value[0] in "+-"
    if kind == "pitch":
        if unit == "st":
            return base + number
        if unit == "%":
            import math

            return base + 12 * math.log2(max(1e-3, 1 + number / 100))
        raise ValueError(f"pitch {value!r} needs a unit: st (semitones) or %")
    if kind == "volume" and unit == "dB":
        return base * 10 ** (number / 20)
    if unit == "%":
        return base * (1 + number / 100) if signed else base * number / 100
    if unit is None and kind == "rate":
        return base * number
    raise ValueError(f"{kind} {value!r} has an unknown unit")


class _SSMLBuilder:
    def __init__(self, source: str, language: str, voice: str | None) -> None:
        self.source = source
        self.language = language
        self.stack: list[tuple[str, _Style, dict[str, str]]] = []
        self.style = _Style(voice=voice)
        self.parts: list[tuple[int, str, _Style]] = []  # text runs with their style
        self.breaks: list[tuple[int, float]] = []  # (position in parts, seconds)
        self.sentence_marks: list[int] = []  # parts index where a new sentence/paragraph begins
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.data
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

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if not self.stack and name != "speak":
            self.fail(f"the root element must be <speak>, not <{name}>")
        if name not in _ELEMENTS:
            self.fail(f"<{name}> is not supported (use {', '.join(sorted(_ELEMENTS))})")
        style = replace(self.style)
        try:
            if name == "prosody":
                if "rate" in attrs:
                    style.rate = _relative(attrs["rate"], _RATE_WORDS, style.rate, "rate")
                    if not 0.2 <= style.rate <= 4.0:
                        raise ValueError(f"rate {attrs['rate']!r} is outside 20%..400%")
                if "pitch" in attrs:
                    style.pitch = _relative(attrs["pitch"], _PITCH_WORDS, style.pitch, "pitch")
                if "volume" in attrs:
                    style.volume = _relative(attrs["volume"], _VOLUME_WORDS, style.volume, "volume")
            elif name == "emphasis":
                level = attrs.get("level", "moderate")
                if level not in _EMPHASIS:
                    raise ValueError(
                        f"emphasis level {level!r} is not one of {', '.join(_EMPHASIS)}"
                    )
                rate, pitch, volume = _EMPHASIS[level]
                style.rate *= rate
                style.pitch += pitch
                style.volume *= volume
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
                text = spell_out(text, self.language)
            elif kind in ("cardinal", "number", "ordinal"):
                digits = text.strip().replace(",", "")
                if not re.fullmatch(r"-?\d+", digits):
                    self.fail(f"say-as {kind}: {text.strip()!r} is not a whole number")
                text = _n2w(
                    int(digits),
                    _lang(self.language),
                    "ordinal" if kind == "ordinal" else "cardinal",
                )
            elif kind == "date":
                text = self._date(text.strip(), attrs.get("format", "ymd"))
        elif name == "sub":
            text = attrs.get("alias", text)
        self.parts.append((offset, text, self.style))

    def _date(self, text: str, fmt: str) -> str:
        numbers = [int(x) for x in re.findall(r"\d+", text)]
        if len(numbers) != 3 or fmt not in ("ymd", "mdy", "dmy"):
            self.fail(
                f"say-as date {text!r} with format {fmt!r}: "
                "expected three numbers and ymd, mdy or dmy"
            )
        values = dict(zip(fmt, numbers, strict=True))
        words = _date(values["y"], values["m"], values["d"], _lang(self.language))
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
            spoken = normalize(clause, language).strip()
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

    ``ssml=None`` treats text starting with ``<speak`` as SSML. ``sentence_pause`` is the silence
    (seconds) after each sentence. Raises SSMLError (with line and column) for invalid SSML.
    Empty or blank input gives an empty list.
    """
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
