from studio.core.terminal import printable


def test_control_characters_are_shown_not_obeyed():
    assert printable("\x1b]0;evil\x07") == "\\x1b]0;evil\\x07"
    assert printable("\x1b[2J a\tb\nc\x7f\x9b") == "\\x1b[2J a\\x09b\\x0ac\\x7f\\x9b"
    assert printable("abc\u202edcba") == "abc\\u202edcba"  # a right-to-left override
    assert printable("bad\udcff.mid") == "bad\\udcff.mid"  # a file name that is not UTF-8
    assert printable("Café – 東京 🎵") == "Café – 東京 🎵"
    assert printable(42) == "42"
