"""Harmonize adds harmony: on-beat chord tones or consonances, the bass lowest, every voice in its
instrument's range, the melody kept exactly. The shipped small model, hand-made melodies."""

from __future__ import annotations

import pytest

from studio.core.media import MidiClip, Note
from studio.music.engine import MusicEngine, MusicRequest
from studio.music.metrics import CONSONANT, harmony_report, instrument_range

# "Ode to Joy" in D major, on a flute: two phrases of 4 bars
ODE = [66, 66, 67, 69, 69, 67, 66, 64, 62, 62, 64, 66, 66, 64, 64, 64]


@pytest.fixture(scope="module")
def shipped():
    from studio.core.resources import resources_dir

    return MusicEngine.load(resources_dir() / "models" / "music" / "studio-music-small.safetensors")


def melody(program: int = 73) -> MidiClip:
    notes = [Note(i * 1.0, p, 1.0, 90, 0) for i, p in enumerate(ODE + ODE)]
    return MidiClip(notes, bpm=100, programs={0: program})


@pytest.mark.parametrize("instruments, seed", [([40, 41, 42], 0), ([52, 52, 32], 1), ([0], 2)])
def test_harmonize_meets_the_three_tests(shipped, instruments, seed):
    clip = melody()
    [out] = shipped.run(
        MusicRequest(mode="harmonize", clip=clip, instruments=instruments, seed=seed)
    )
    assert sorted(n for n in out.notes if n.channel == 0) == sorted(clip.notes)
    added = [n for n in out.notes if n.channel != 0]
    bass = out.provenance["bass_channel"]
    rep = harmony_report(clip.notes, added, bass, out.programs, clip.bar_starts(), 4.0, 32.0)
    assert rep["on_beat_notes"] >= 32  # voices sound through the piece
    assert rep["on_beat_consonant"] >= 0.85
    assert rep["bass_lowest"] >= 0.95
    for n in added:  # every voice in its instrument's range
        lo, hi = instrument_range(out.programs.get(n.channel, 0))
        assert lo <= n.pitch <= hi, n
    # three voices were added, each with notes in every bar
    voices = {n.channel for n in added}
    assert len(voices) == 3
    for c in voices:
        assert {int(n.start // 4) for n in added if n.channel == c} == set(range(8))


# C | Am | F | G, twice; each bar: root, third, fifth on beats 1-3, then a rest on beat 4 of every
# second bar (a phrase ending); the melody enters after one empty bar
CHORDS = [(0, "maj"), (9, "min"), (5, "maj"), (7, "maj")] * 2
TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}


def chord_melody() -> tuple[MidiClip, list[frozenset[int]]]:
    notes = []
    tones = [frozenset()]  # the empty first bar
    for bar, (root, quality) in enumerate(CHORDS, start=1):
        third, fifth = TRIADS[quality][1:]
        steps = (0, third, fifth, third) if bar % 2 else (0, third, fifth)
        for i, step in enumerate(steps):
            notes.append(Note(bar * 4.0 + i, 72 + (root + step) % 12, 1.0, 90, 0))
        tones.append(frozenset((root + i) % 12 for i in TRIADS[quality]))
    return MidiClip(notes, bpm=100, programs={0: 73}), tones


def test_harmony_follows_known_chords_and_is_not_the_melody_in_octaves(shipped):
    clip, tones = chord_melody()
    [out] = shipped.run(MusicRequest(mode="harmonize", clip=clip, instruments=[40, 41, 42], seed=3))
    added = [n for n in out.notes if n.channel != 0]
    bass_channel = out.provenance["bass_channel"]
    good = judged = octaves = with_melody = 0
    bass_beats = bass_low = 0
    for beat in range(36):
        chord = tones[beat // 4]
        mel = [n.pitch for n in clip.notes if n.start <= beat < n.end]
        sounding = [n for n in added if n.start <= beat < n.end]
        for n in sounding:
            judged += 1
            good += n.pitch % 12 in chord or (bool(mel) and abs(mel[0] - n.pitch) % 12 in CONSONANT)
            if mel and n.channel != bass_channel:
                with_melody += 1
                octaves += (n.pitch - mel[0]) % 12 == 0
        bass = [n.pitch for n in sounding if n.channel == bass_channel]
        if bass:
            bass_beats += 1
            others = [n.pitch for n in sounding if n.channel != bass_channel] + mel
            bass_low += min(bass) <= min(others, default=128)
    assert judged >= 48  # the voices sound through the piece
    assert good / judged >= 0.85  # chord tones of the known chords, or consonant
    assert bass_low / bass_beats >= 0.95
    assert octaves / with_melody < 0.35  # harmony, not the melody doubled
    for n in added:
        lo, hi = instrument_range(out.programs[n.channel])
        assert lo <= n.pitch <= hi, n
    # the bass mostly plays the chord's root where it starts a note
    bass_onsets = [n for n in added if n.channel == bass_channel]
    roots = [n.pitch % 12 == CHORDS[int(n.start // 4) - 1][0] for n in bass_onsets]
    assert sum(roots) / len(roots) >= 0.6
    # the voices enter with the melody: nothing before it
    assert min(n.start for n in added) >= 4.0
