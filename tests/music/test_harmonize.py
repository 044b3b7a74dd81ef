"""Harmonize adds harmony: on-beat chord tones or consonances, the bass lowest, every voice in its
instrument's range, the melody kept exactly. The shipped small model, hand-made melodies."""

from __future__ import annotations

import pytest

from studio.core.media import MidiClip, Note
from studio.music.engine import MusicEngine, MusicRequest
from studio.music.metrics import harmony_report, instrument_range

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
