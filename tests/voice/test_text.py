import pytest

from studio.voice.text import SSMLError, normalize, parse, readable, split_sentences


def test_numbers_dates_money_and_abbreviations_are_read_out():
    said = normalize("Dr. Smith paid $5.20 on 2026-11-27 at 10:30, 50% of 1,250; the 3rd in 1999.")
    assert "Doctor Smith" in said
    assert "five dollars and twenty cents" in said
    assert "November twenty-seventh, twenty twenty-six" in said
    assert "ten thirty" in said
    assert "fifty percent" in said
    assert "one thousand, two hundred and fifty" in said
    assert "third" in said and "nineteen ninety-nine" in said
    assert not any(ch.isdigit() for ch in said)


def test_numbers_in_other_languages_use_that_language():
    assert normalize("Ich habe 21 Katzen.", "de_DE") == "Ich habe einundzwanzig Katzen."


def test_sentences_do_not_break_after_abbreviations_or_initials():
    sentences = [s for _, s in split_sentences("Dr. Who met J. R. Smith. Then he left! Did he?")]
    assert sentences == ["Dr. Who met J. R. Smith.", "Then he left!", "Did he?"]


def test_long_sentences_are_split_into_clauses_for_a_quick_first_sound():
    segments = parse(
        "This is a long sentence, which goes on and on, and then some more words end it."
    )
    assert [s.sentence for s in segments] == [False, False, True]
    assert segments[0].pause_after < segments[-1].pause_after


def test_ssml_prosody_break_say_as_and_voice():
    segments = parse(
        '<speak>Hello<break time="700ms"/><prosody rate="slow" pitch="+2st" volume="loud">slow'
        ' words.</prosody> <say-as interpret-as="characters">AB1</say-as>'
        ' <say-as interpret-as="date" format="mdy">12/25/2025</say-as>.'
        '<voice name="espeak:gmw/de">Hallo.</voice></speak>'
    )
    texts = [s.text for s in segments]
    assert texts[0] == "Hello" and segments[0].pause_after == pytest.approx(0.7)
    slow = segments[1]
    assert slow.rate == 0.75 and slow.pitch == 2.0 and slow.volume > 1.0
    assert "A B one December twenty-fifth, twenty twenty-five" in " ".join(texts)
    assert segments[-1].voice == "espeak:gmw/de" and segments[-1].text == "Hallo."


@pytest.mark.parametrize(
    ("ssml", "where", "what"),
    [
        ("<speak>Hi <foo/></speak>", "line 1, column 11", "<foo> is not supported"),
        ('<speak>\n  <break time="soon"/></speak>', "line 2, column 3", "500ms"),
        ("<speak>\nHi <prosody>x</speak>", "line 2, column 16", "mismatched tag"),
        ('<speak><prosody pitch="+2">x</prosody></speak>', "line 1, column 8", "needs a unit"),
    ],
)
def test_invalid_ssml_names_the_position(ssml, where, what):
    with pytest.raises(SSMLError) as err:
        parse(ssml)
    assert where in str(err.value) and what in str(err.value)


def test_emoji_and_foreign_scripts_are_skipped_with_a_warning():
    text, warnings = readable("Hi 😀 there Привет", "en_US")
    assert text.split() == ["Hi", "there"]
    assert any("emoji" in w for w in warnings) and any("cyrillic" in w for w in warnings)
    # a Russian voice keeps the Cyrillic
    assert "Привет" in readable("Привет", "ru")[0]


def test_empty_text_gives_no_segments():
    assert parse("") == [] and parse("   \n ") == [] and parse("<speak> </speak>") == []
