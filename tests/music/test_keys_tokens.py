import numpy as np
import pytest

from studio.core.media import MidiClip, Note
from studio.music.keys import Key, find_key, in_key_rate, parse_key


@pytest.mark.parametrize(
    "text, name",
    [
        ("D minor", "D minor"),
        ("F# major", "F# major"),
        ("Bb", "Bb major"),
        ("am", "A minor"),
        ("eb minor", "Eb minor"),
        ("C", "C major"),
    ],
)
def test_parse_key(text, name):
    assert parse_key(text).name == name


def test_parse_key_rejects_nonsense():
    with pytest.raises(ValueError, match="should look like"):
        parse_key("H dorian")


def test_minor_counts_harmonic_and_melodic_degrees():
    a_minor = parse_key("A minor")
    assert a_minor.contains(68) and a_minor.contains(66)  # G# and F#
    assert not a_minor.contains(70)  # Bb
    assert in_key_rate([60, 62, 61], Key(0, "major")) == pytest.approx(2 / 3)


def test_find_key_of_scales():
    g_major = [67, 69, 71, 72, 74, 76, 78, 79, 67, 71, 74]
    assert find_key(np.array(g_major)).name == "G major"
    d_minor = [62, 64, 65, 67, 69, 70, 72, 74, 62, 65, 69, 62]
    assert find_key(np.array(d_minor)).name == "D minor"


def test_clip_round_trips_through_tokens_exactly(tok, chorale):
    piece = tok.encode_clip(chorale, style="chorale")
    assert len(piece.tracks) == 4 and piece.n_bars == 4
    back = tok.decode(piece)
    key = lambda n: (n.start, n.pitch, n.duration, n.channel)  # noqa: E731
    assert sorted(map(key, back.notes)) == sorted(map(key, chorale.notes))
    assert back.programs == chorale.programs


def test_sequence_layout_and_fill(tok, chorale):
    piece = tok.encode_clip(chorale, style="chorale", key=Key(0, "major"))
    seq = tok.sequence(piece)
    names = [tok.names[i] for i in seq]
    assert names[:6] == ["BOS", "Key_C_major", "Meter_4/4", "Tempo_3", "Style_chorale", names[5]]
    assert names[6] == "Track_52" and names[-1] == "EOS"
    assert names.count("Bar") == 16 and names.count("TrackEnd") == 4
    fill = tok.sequence(piece, fill=[(1, 2)])
    fnames = [tok.names[i] for i in fill]
    assert fnames.count("Fill") == 1 and "FillStart" in fnames
    # the filled bar's notes moved after FillStart; total length grows by the markers only
    assert len(fill) == len(seq) + 3  # Fill, FillStart, FillEnd


def test_three_four_bars_follow_the_meter(tok):
    clip = MidiClip([Note(0, 60, 1), Note(3.5, 62, 0.5), Note(6, 64, 1)], beats_per_bar=3)
    piece = tok.encode_clip(clip)
    assert piece.meter == (3, 4) and piece.n_bars == 3
    bars = piece.tracks[0].bars
    assert [sum(1 for t in bar if t in tok.pitch_ids) for bar in bars] == [1, 1, 1]
    back = tok.decode(piece)
    assert [n.start for n in back.notes] == [0, 3.5, 6]


def test_drums_go_to_channel_ten(tok):
    clip = MidiClip([Note(0, 36, 0.25, 100, 9), Note(1, 38, 0.25, 100, 9)])
    piece = tok.encode_clip(clip)
    assert piece.tracks[0].drum
    assert tok.names[tok.sequence(piece)[6]] == "Track_Drums"
    assert {n.channel for n in tok.decode(piece).notes} == {9}
