import numpy as np
import pytest

from studio.core.jobs import JobContext
from studio.core.media import MidiClip, Note
from studio.voice.sing import SingSettings, assign, melody_from_clip, sing, sing_clip, split_lyrics
from studio.voice.voices import world

FRAME = 0.005


def _track(audio, rate):
    f0, _ = world().harvest(
        audio.astype(np.float64), rate, frame_period=FRAME * 1000, f0_floor=70, f0_ceil=800
    )
    return f0


def _midi(f0):
    return np.where(f0 > 0, 69 + 12 * np.log2(np.maximum(f0, 1e-9) / 440.0), np.nan)


def test_lyrics_split_at_hyphens_and_vowels_with_melisma_marks(voice_cache):
    speaker = voice_cache.get(None)
    syllables = split_lyrics("Hap-py birthday _ to you", speaker.phonemes)
    assert [s.text for s in syllables] == ["Hap", "py", "birth", "day", "to", "you"]
    assert syllables[3].hold == 1  # "_" holds "day" over one more note
    assert all(s.phonemes for s in syllables)
    # without a phonemizer (an eSpeak voice) words split only at hyphens
    assert [s.text for s in split_lyrics("sing-ing loud")] == ["sing", "ing", "loud"]


def test_more_or_fewer_syllables_than_notes_follow_the_stated_rule():
    notes = [Note(i, 60, 1) for i in range(3)]
    plan, messages = assign(split_lyrics("one two three four five"), notes)
    assert plan == [(0, 0), (1, 0), (2, 0)]
    assert "2 syllables more than notes were not sung: four five" in messages[0]
    plan, messages = assign(split_lyrics("one"), notes)
    assert plan == [(0, 0), (-1, 0), (-1, 0)] and "2 notes have no syllable" in messages[0]


def test_melody_from_a_chordal_track_keeps_the_top_note():
    clip = MidiClip([Note(0, 60, 1), Note(0, 64, 1), Note(1, 62, 2), Note(2, 65, 1)])
    notes, messages = melody_from_clip(clip)
    assert [(n.start, n.pitch, n.duration) for n in notes] == [(0, 64, 1), (1, 62, 1), (2, 65, 1)]
    assert "chords" in messages[0]
    with pytest.raises(ValueError, match="track 5 has no notes"):
        melody_from_clip(clip, 5)
    with pytest.raises(ValueError, match="no notes"):
        melody_from_clip(MidiClip([]))


def test_sung_pitch_and_onsets_match_the_notes(voice_cache):
    # steps and leaps, a rest, held and short notes, at 120 BPM; it starts after half a second
    # (no pitch tracker locks on within the first frames of a file)
    pitches = [57, 60, 62, 64, 60, 65, 64, 62, 55, 60]
    starts = [1, 2, 3, 4, 5, 7, 8, 8.5, 9, 10]
    lengths = [0.9, 0.9, 0.9, 0.9, 1.5, 0.9, 0.45, 0.45, 0.9, 1.8]
    notes = [Note(s, p, d, 96) for s, p, d in zip(starts, pitches, lengths, strict=True)]
    result = sing(
        notes,
        120,
        "Sing a song of six-pence, a pock-et full of rye",
        SingSettings(),
        JobContext(),
        cache=voice_cache,
    )
    audio = result.audio
    midi = _midi(_track(audio.samples, audio.sample_rate))
    errors, onsets = [], []
    for sung in result.notes:
        a, b = int((sung.start + 0.05) / FRAME), int((sung.end - 0.05) / FRAME)
        inside = midi[a:b]
        inside = inside[~np.isnan(inside)]
        assert len(inside) > 0.5 * (b - a), f"note at {sung.start:.2f} s is not voiced"
        errors.extend(np.abs(inside - sung.note.pitch) * 100)
        # onset: the first frame from 100 ms before the note where the pitch is within 50 cents
        # and stays there for 40 ms
        close = np.abs(np.nan_to_num(midi, nan=0.0) - sung.note.pitch) < 0.5
        first = int((sung.start - 0.1) / FRAME)
        for k in range(max(first, 0), b):
            if close[k : k + 8].all():
                onsets.append(k * FRAME - sung.start)
                break
    assert np.median(errors) <= 25.0
    assert len(onsets) == len(notes)
    assert np.max(np.abs(onsets)) <= 0.030, np.round(np.array(onsets) * 1000)
    assert [n.syllable for n in result.notes][:4] == ["Sing", "a", "song", "of"]


def test_vibrato_and_glide_controls_shape_the_pitch(voice_cache):
    notes = [Note(0, 60, 3, 100)]

    def spread(depth):
        r = sing(
            notes, 60, "ah", SingSettings(vibrato_depth=depth), JobContext(), cache=voice_cache
        )
        midi = _midi(_track(r.audio.samples, r.audio.sample_rate))[
            int(1.0 / FRAME) : int(2.5 / FRAME)
        ]
        return np.nanstd(midi) * 100

    assert spread(0.0) < 10 < spread(80.0)


def test_singing_a_clip_with_its_accompaniment(voice_cache):
    clip = MidiClip(
        [Note(i, p, 1, 100, 0) for i, p in enumerate([60, 62, 64, 65])] + [Note(0, 48, 4, 80, 1)],
        bpm=120,
    )
    result = sing_clip(
        clip, "la la la la", SingSettings(), JobContext(), accompaniment=True, cache=voice_cache
    )
    assert result.audio.sample_rate == 44100 and result.audio.channels == 2
    assert result.audio.duration >= 2.0
    alone = sing_clip(clip, "la la la la", SingSettings(), JobContext(), cache=voice_cache)
    assert alone.audio.channels == 1
