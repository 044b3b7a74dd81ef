"""Continue and infill keep the piece: each track's range (prompt range +-4 semitones, inside its
General MIDI instrument), its density, and the meter map. The shipped small model, hand-made
clips."""

from __future__ import annotations

import pytest

from studio.core.media import DRUM_CHANNEL, MidiClip, Note
from studio.music.engine import MusicEngine, MusicRequest
from studio.music.metrics import instrument_range, notes_in, track_ranges

REEL = [62, 66, 69, 74, 71, 69, 66, 69, 74, 76, 78, 76, 74, 71, 69, 66]  # D4-F#5


@pytest.fixture(scope="module")
def shipped():
    from studio.core.resources import resources_dir

    return MusicEngine.load(resources_dir() / "models" / "music" / "studio-music-small.safetensors")


def reel(bars: int = 8) -> MidiClip:
    """Running eighths in D major on a fiddle over a plucked bass, ``bars`` bars of 4/4."""
    notes = []
    for bar in range(bars):
        for i in range(8):
            notes.append(Note(bar * 4 + i * 0.5, REEL[(bar * 8 + i) % 16], 0.5, 90, 0))
        for beat in (0, 2):
            notes.append(Note(bar * 4 + beat, (38, 45)[(bar + beat // 2) % 2], 2.0, 80, 1))
    return MidiClip(sorted(notes), bpm=120, programs={0: 110, 1: 32})


def check_new_notes(new, context, programs):
    ranges = track_ranges(context)
    assert new
    for n in new:
        lo, hi = ranges[n.channel]
        assert lo - 4 <= n.pitch <= hi + 4, n
        glo, ghi = instrument_range(programs.get(n.channel, 0), n.channel == DRUM_CHANNEL)
        assert glo <= n.pitch <= ghi, n


@pytest.mark.parametrize("seed", [0, 1])
def test_continue_keeps_range_and_density(shipped, seed):
    clip = reel()
    [out] = shipped.run(MusicRequest(mode="continue", clip=clip, bars=4, seed=seed, style="ryans"))
    new = [n for n in out.notes if n.start >= 32]
    check_new_notes(new, clip.notes, out.programs)
    prompt = len(notes_in(clip.notes, 16, 32)) / 4  # notes per bar in the last 4 prompt bars
    assert abs(len(new) / 4 - prompt) <= 0.35 * prompt
    assert all(n.start < 48 for n in new)
    # the fiddle keeps running: its new notes are mostly eighths, not quarter notes
    fiddle = [n for n in new if n.channel == 0]
    assert len(fiddle) >= 0.7 * 8 * 4


def test_infill_keeps_the_range_of_the_bars_around(shipped):
    clip = reel()
    [out] = shipped.run(MusicRequest(mode="infill", clip=clip, bar_range=(3, 4), seed=3))
    new = notes_in(out.notes, 8, 16)
    around = notes_in(clip.notes, 0, 8) + notes_in(clip.notes, 16, 32)
    check_new_notes(new, around, out.programs)
    assert abs(len(new) / 2 - len(around) / 6) <= 0.35 * len(around) / 6
    assert sorted(notes_in(out.notes, 16, 64)) == sorted(notes_in(clip.notes, 16, 64))


def test_continue_follows_the_meter_map(shipped):
    """Four bars of 4/4, then 3/4 from beat 16: the new bars are bars of 3/4 from beat 22."""
    clip = reel(6)
    clip.notes = [n for n in clip.notes if n.start < 16]
    clip.notes += [Note(16 + i * 0.5, REEL[i], 0.5, 90, 0) for i in range(12)]
    clip.meter_changes = [(16.0, 3, 4)]
    clip.length = 22.0
    assert clip.bar_starts() == [0, 4, 8, 12, 16, 19]
    [out] = shipped.run(MusicRequest(mode="continue", clip=clip, bars=2, seed=5))
    new = [n for n in out.notes if n.start >= 22 - 1e-9]
    assert new
    assert all(22 <= n.start < 28 for n in new)
    assert out.bar_starts() == [0, 4, 8, 12, 16, 19, 22, 25]


def test_infill_follows_the_meter_map(shipped):
    """Bars 5-6 of a clip in 4/4 that turns 3/4 at beat 16 are beats 16-22: only they change."""
    clip = reel(6)
    clip.notes = [n for n in clip.notes if n.start < 16]
    clip.notes += [Note(16 + i * 0.5, REEL[i % 16], 0.5, 90, 0) for i in range(24)]
    clip.meter_changes = [(16.0, 3, 4)]
    clip.length = 28.0
    assert clip.bar_starts() == [0, 4, 8, 12, 16, 19, 22, 25]
    [out] = shipped.run(MusicRequest(mode="infill", clip=clip, bar_range=(5, 6), seed=6))
    assert notes_in(out.notes, 16, 22)
    outside = [n for n in clip.notes if not 16 <= n.start < 22]
    assert sorted(n for n in out.notes if not 16 <= n.start < 22) == sorted(outside)


def test_infill_of_the_whole_clip_keeps_its_density(shipped):
    """With no bars around to follow, an infill keeps the density of the notes it replaces."""
    clip = reel(2)
    [out] = shipped.run(MusicRequest(mode="infill", clip=clip, bar_range=(1, 2), seed=7))
    assert abs(len(out.notes) - len(clip.notes)) <= 0.35 * len(clip.notes)
    check_new_notes(out.notes, clip.notes, out.programs)
