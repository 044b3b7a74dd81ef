"""The evaluation metrics on hand-made clips whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from studio.core.media import DRUM_CHANNEL, Note
from studio.music.keys import Key
from studio.music.metrics import (
    harmony_report,
    implied_chords,
    instrument_range,
    mgeval_overlap,
    musegan_metrics,
    overlap_area,
    piece_features,
)

C_MAJOR = [60, 62, 64, 65, 67, 69, 71, 72]


def line(pitches, step=1.0, channel=0, start=0.0):
    return [Note(start + i * step, p, step, 80, channel) for i, p in enumerate(pitches)]


def test_features_of_a_c_major_scale():
    f = piece_features(line([60, 62, 65, 64, 69, 67, 72, 71]))  # two bars of quarters in C
    hist = f["pitch_class_histogram"]
    assert hist.sum() == pytest.approx(1.0)
    assert hist[0] == pytest.approx(2 / 8)  # C twice
    assert hist[1] == 0 and hist[6] == 0  # no C#, no F#
    assert f["note_density"][0] == pytest.approx(4.0)
    assert f["inter_onset_interval"][0] == pytest.approx(1.0)
    assert f["polyphony"][0] == pytest.approx(1.0)
    assert f["pitch_range"][0] == 12
    assert f["in_key_rate"][0] == 1.0
    assert f["repetition"][0] == 0.0  # no 4-note shape comes back


def test_chords_count_as_polyphony_and_motifs_as_repetition():
    chords = [Note(b, p, 1.0, 80, 0) for b in range(4) for p in (60, 64, 67)]
    assert piece_features(chords)["polyphony"][0] == pytest.approx(3.0)
    motif = [60, 62, 64, 60]
    f = piece_features(line(motif * 4))
    assert f["repetition"][0] > 0.5


def test_overlap_is_high_for_the_same_music_and_low_for_other_music():
    rng = np.random.default_rng(0)
    ref = [piece_features(line(list(rng.choice(C_MAJOR, 16)))) for _ in range(20)]
    same = [piece_features(line(list(rng.choice(C_MAJOR, 16)))) for _ in range(20)]
    chromatic_fast = [
        piece_features(line(list(rng.integers(30, 100, 64)), step=0.25)) for _ in range(20)
    ]
    close = mgeval_overlap(same, ref)
    far = mgeval_overlap(chromatic_fast, ref)
    assert close["mean"] > 0.7
    assert far["mean"] < close["mean"] - 0.3
    assert far["polyphony"] == 1.0  # both sets are one line: that feature agrees
    assert far["note_density"] < 0.1 and far["pitch_range"] < 0.2
    assert overlap_area(np.array([1.0, 1.1, 0.9]), np.array([1.0, 1.05, 0.95])) > 0.5


def test_musegan_metrics_on_two_tracks_and_drums():
    bars = [0.0, 4.0]
    melody = line([60, 64, 67], step=4 / 3, channel=0)  # bar 1 only, C E G held alike
    chords = [Note(0.0, p, 4.0, 80, 1) for p in (48, 52, 55)]  # C major under it, bar 1 only
    chords += [Note(4.0, p, 4.0, 80, 1) for p in (54, 58, 61)]  # F# major in bar 2
    drums = [Note(b * 0.5, 36, 0.1, 90, DRUM_CHANNEL) for b in range(16)]  # eighths: on grid
    m = musegan_metrics(melody + chords + drums, bars)
    assert m["empty_bars"] == pytest.approx(1 / 6)  # the melody's second bar of 3 tracks x 2
    assert m["used_pitch_classes"] == pytest.approx((3 + 3 + 3) / 3)
    assert m["qualified_notes"] == 1.0
    assert m["drum_pattern"] == 1.0
    assert m["tonal_distance"] == pytest.approx(0.0, abs=1e-9)  # same chord in bar 1
    triplets = [Note(b / 3, 38, 0.05, 90, DRUM_CHANNEL) for b in range(1, 12, 3)]
    assert musegan_metrics(triplets, bars)["drum_pattern"] == 0.0
    clash = musegan_metrics([Note(0, 60, 4, 80, 0), Note(0, 66, 4, 80, 1)], [0.0])
    assert clash["tonal_distance"] > 0.5
    assert math.isnan(musegan_metrics(melody, bars)["tonal_distance"])


def test_general_midi_ranges():
    assert instrument_range(40) == (55, 103)  # violin from G3
    assert instrument_range(41)[0] == 48  # viola from C3
    assert instrument_range(42)[0] == 36  # cello from C2
    assert instrument_range(32) == (28, 67)  # bass E1-G4
    assert instrument_range(0) == (21, 108)
    assert instrument_range(0, drum=True) == (27, 87)


def test_implied_chords_follow_the_melody():
    melody = line([60, 64, 67, 64]) + line([67, 71, 74, 71], start=4.0)
    chords = implied_chords(melody, [0.0, 4.0], 4.0, Key(0, "major"))
    assert chords[0].tones == frozenset({0, 4, 7})
    assert chords[1].tones == frozenset({7, 11, 2})


def test_harmony_report_counts_consonance_bass_and_range():
    melody = line([72, 76, 79, 76])  # C major arpeggio, one bar
    good = [Note(0.0, 48, 4.0, 80, 2), Note(0.0, 64, 4.0, 80, 1)]  # bass C3, tenor E4
    rep = harmony_report(melody, good, 2, {0: 0, 1: 41, 2: 32}, [0.0], 4.0, 4.0)
    assert rep["on_beat_consonant"] == 1.0
    assert rep["bass_lowest"] == 1.0
    assert rep["in_instrument_range"] == 1.0
    bad = [Note(0.0, 85, 4.0, 80, 2), Note(0.0, 61, 4.0, 80, 1)]  # "bass" above all; C#: clash
    rep = harmony_report(melody, bad, 2, {0: 0, 1: 41, 2: 32}, [0.0], 4.0, 4.0)
    assert rep["bass_lowest"] == 0.0
    assert rep["in_instrument_range"] == 0.5  # 85 is above the bass's G4
    assert rep["on_beat_consonant"] < 0.7


def test_pop909_chord_labels_read():
    from studio.music.evaluate import chord_label_tones

    assert chord_label_tones("B:maj") == frozenset({11, 3, 6})
    assert chord_label_tones("C#:min7") == frozenset({1, 4, 8, 11})
    assert chord_label_tones("G:7/3") == frozenset({7, 11, 2, 5})
    assert chord_label_tones("Bb:sus4") == frozenset({10, 3, 5})
    assert chord_label_tones("N") is None


def test_rhythm_similarity():
    from studio.music.metrics import rhythm_similarity

    eighths = line([60, 62] * 8, step=0.5)
    more_eighths = line([64, 65] * 8, step=0.5, start=8.0)
    quarters = line([60, 62] * 4, step=1.0)
    assert rhythm_similarity(eighths, more_eighths) == pytest.approx(1.0)
    assert rhythm_similarity(quarters, eighths) < 0.6
