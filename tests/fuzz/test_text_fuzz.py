"""Fuzzing the text and SSML front end of `voice say`: tricky plain text, generated SSML trees
(nesting, extreme prosody, prologs, namespaces, languages) and mutated documents."""

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import oracle, targets

_TOKENS = [
    "a", "b", "Hello", "world", ".", ". ", "a. b. ", "Dr.", "St.", "e.g.", "J.", "...", "…", "!",
    "?", ",", ", ", ";", " ", "\n", "\t", "1", "21", "1,250", "3.14", "-7", "12:30", "2026-11-27",
    "11/27/2026", "1st", "22nd", "$5.20", "€", "£3", "50%", "&", "+", "#", "😀", "Привет", "\u200d",
    "\ufeff", '"', "'", ")", "<speak>", "<", ">", "No. 5", "4" * 40, "9" * 400,
]  # fmt: skip

token_text = st.lists(st.sampled_from(_TOKENS) | st.text(max_size=6), max_size=300).map("".join)
# long runs of one token (quadratic splitting took 20 s on 100 KB); 120 KB with `make fuzz`
repeated = st.tuples(st.sampled_from(_TOKENS), st.integers(100, 30_000)).map(
    lambda t: (t[0] * t[1])[: targets.LONGEST]
)

_PROSODY = {
    "pitch": ["+1000st", "+12st", "-12st", "+24st", "x-high", "low", "+50%", "-90%", "+2", "3st",
              "+99999999999999999999st", "1e5st", "+0.5st"],
    "rate": ["200%", "300%", "10%", "x-fast", "slow", "2", "0", "-50%", "+1000%", "1.5"],
    "volume": ["+10dB", "+1000000dB", "-6dB", "loud", "silent", "200%", "+100000000000000000000dB",
               "0", "x-soft"],
}  # fmt: skip
_LANGS = ["en-US", "de", "fr-FR", "tlh", "zh-Hans-CN", "12", "", "en_GB", "x"]


@st.composite
def element(draw, depth: int = 0) -> str:
    if depth > 6 or draw(st.integers(0, 3)) == 0:
        return draw(token_text).replace("<", "&lt;").replace("&", "&amp;")
    name = draw(
        st.sampled_from(
            ["prosody", "prosody", "emphasis", "s", "p", "break", "say-as", "voice", "sub",
             "lang", "mark", "audio", "foo"]
        )
    )  # fmt: skip
    attrs = {}
    if name == "prosody":
        for key, values in _PROSODY.items():
            if draw(st.booleans()):
                attrs[key] = draw(st.sampled_from(values))
    elif name == "emphasis":
        attrs["level"] = draw(st.sampled_from(["strong", "moderate", "reduced", "none", "loud"]))
    elif name == "break":
        attrs[draw(st.sampled_from(["time", "strength"]))] = draw(
            st.sampled_from(["500ms", "60s", "61s", "1e3s", "strong", "weak", "x", "9" * 30 + "s"])
        )
    elif name == "say-as":
        attrs["interpret-as"] = draw(
            st.sampled_from(["characters", "cardinal", "ordinal", "date", "number", "telephone"])
        )
        attrs["format"] = draw(st.sampled_from(["ymd", "mdy", "dmy", "xyz"]))
    elif name == "voice":
        attrs["name"] = draw(st.sampled_from(["espeak:de", "nobody", ""]))
    elif name == "sub":
        attrs["alias"] = draw(st.sampled_from(["World Wide Web", ""]))
    if draw(st.integers(0, 4)) == 0:
        attrs["xml:lang"] = draw(st.sampled_from(_LANGS))
    attr_text = "".join(f' {k}="{v}"' for k, v in attrs.items())
    if name == "break" or draw(st.integers(0, 9)) == 0:
        return f"<{name}{attr_text}/>"
    inner = "".join(draw(st.lists(element(depth + 1), max_size=3)))
    if name == "say-as":
        inner = draw(st.sampled_from(["12", "2026-11-27", "1" * 500, "AB1", "x", "-3", ""]))
    times = draw(st.sampled_from([1, 1, 1, 2, 60, 150])) if name == "prosody" else 1
    return f"<{name}{attr_text}>" * times + inner + f"</{name}>" * times


@st.composite
def ssml(draw) -> str:
    body = "".join(draw(st.lists(element(), max_size=5)))
    prolog = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0" encoding="UTF-8"?>\n',
                "\ufeff",
                "<!-- a comment -->",
                '<?xml version="1.0"?><!DOCTYPE speak>',
            ]
        )
    )
    open_tag = draw(
        st.sampled_from(
            ["<speak>", '<speak version="1.1" xmlns="http://www.w3.org/2001/10/synthesis">',
             '<speak xml:lang="de-DE">', '<s:speak xmlns:s="http://www.w3.org/2001/10/synthesis">',
             "<s:speak>", "<speak "]
        )
    )  # fmt: skip
    close = "</s:speak>" if open_tag.startswith("<s:") else "</speak>"
    doc = prolog + open_tag + body + draw(st.sampled_from([close, "", close + "tail"]))
    if draw(st.integers(0, 4)) == 0:  # a cut or a spliced document
        at = draw(st.integers(0, max(0, len(doc))))
        doc = doc[:at] + draw(st.sampled_from(["", "<", "&", "]]>", "<speak>", "\x00"])) + doc[at:]
    return doc


@given(st.one_of(token_text, repeated))
@example("a. b. " * 3000)
@example("Call " + "4" * 400 + ".")
def test_any_plain_text_ends_in_segments_or_a_message(document):
    oracle.check(
        "text", lambda: targets.text(document, ssml=False), document,
        seconds=targets.TEXT_SECONDS, mib=targets.TEXT_MIB,
    )  # fmt: skip


@given(ssml())
@example('<speak><prosody pitch="+1000st">hello there</prosody></speak>')
@example("<speak>" + '<prosody pitch="+12st">' * 60 + "hello" + "</prosody>" * 60 + "</speak>")
@example('<?xml version="1.0"?><speak xmlns="http://www.w3.org/2001/10/synthesis">Hi</speak>')
def test_any_ssml_ends_in_segments_or_a_message(document):
    oracle.check(
        "ssml", lambda: targets.text(document), document, seconds=targets.TEXT_SECONDS,
        mib=targets.TEXT_MIB,
    )  # fmt: skip
