import mido
import numpy as np
import pytest

from studio.core.media import AudioClip, Image, Mask, MidiClip, Note


def test_midi_clip_round_trips_through_a_standard_midi_file(tmp_path, midi_clip):
    midi_clip.provenance = {"engine": "test", "seed": 7}
    path = midi_clip.save(tmp_path / "a.mid")
    # another tool (mido) reads it as a normal type-1 file
    mid = mido.MidiFile(str(path))
    assert mid.type == 1
    assert sum(1 for m in mid if m.type == "note_on" and m.velocity) == 4
    back = MidiClip.load(path)
    assert [(n.pitch, n.start, n.duration) for n in back.notes] == [
        (n.pitch, n.start, pytest.approx(n.duration, abs=1e-3)) for n in midi_clip.notes
    ]
    assert back.bpm == pytest.approx(120.0)


def test_drum_channel_and_program_survive(tmp_path):
    clip = MidiClip([Note(0, 36, 0.25, 100, 9), Note(0.5, 60, 1, 80, 0)], programs={0: 40})
    back = MidiClip.load(clip.save(tmp_path / "d.mid"))
    assert {n.channel for n in back.notes} == {0, 9}
    assert back.programs == {0: 40}


def test_corrupt_midi_file_gives_a_readable_error(tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi at all")
    with pytest.raises(ValueError, match="bad.mid is not a readable MIDI file"):
        MidiClip.load(bad)


def test_note_validation():
    with pytest.raises(ValueError):
        Note(0, 200, 1)
    with pytest.raises(ValueError):
        Note(0, 60, 0)


def test_audio_clip_wav_round_trip(tmp_path):
    t = np.linspace(0, 1, 8000, endpoint=False)
    clip = AudioClip(0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    back = AudioClip.load_wav(clip.save_wav(tmp_path / "a.wav"))
    assert back.sample_rate == 8000 and back.duration == pytest.approx(1.0)
    assert np.abs(back.samples - clip.samples).max() < 1e-3


def test_corrupt_wav_gives_a_readable_error(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....nope")
    with pytest.raises(ValueError, match="bad.wav"):
        AudioClip.load_wav(bad)


def test_image_and_mask_shapes():
    assert Image(np.zeros((4, 6, 3), np.uint8)).size == (6, 4)
    with pytest.raises(ValueError):
        Image(np.zeros((4, 6), np.uint8))
    m = Mask(np.full((2, 3), 2.0))
    assert m.alpha.max() == 1.0 and m.size == (3, 2)


def test_tempo_and_meter_changes_survive_a_round_trip(tmp_path):
    clip = MidiClip(
        [Note(0, 60, 1), Note(8, 62, 1)],
        bpm=90,
        beats_per_bar=3,
        tempo_changes=[(6.0, 140.0)],
        meter_changes=[(6.0, 6, 8)],
    )
    back = MidiClip.load(clip.save(tmp_path / "changes.mid"))
    assert back.bpm == pytest.approx(90) and (back.beats_per_bar, back.beat_unit) == (3, 4)
    assert back.tempo_changes == [(6.0, pytest.approx(140.0))]
    assert back.meter_changes == [(6.0, 6, 8)]


def test_type_0_files_open(tmp_path):
    mid = mido.MidiFile(type=0)
    track = mido.MidiTrack()
    track += [
        mido.Message("note_on", channel=0, note=60, velocity=90, time=0),
        mido.Message("note_on", channel=9, note=36, velocity=100, time=0),
        mido.Message("note_off", channel=0, note=60, time=480),
        mido.Message("note_off", channel=9, note=36, time=0),
    ]
    mid.tracks.append(track)
    mid.save(str(tmp_path / "t0.mid"))
    clip = MidiClip.load(tmp_path / "t0.mid")
    assert {(n.channel, n.pitch, n.duration) for n in clip.notes} == {(0, 60, 1.0), (9, 36, 1.0)}


def test_overlapping_same_pitch_notes_pair_first_in_first_out(tmp_path):
    mid = mido.MidiFile(type=0)
    track = mido.MidiTrack()
    track += [
        mido.Message("note_on", note=60, velocity=90, time=0),
        mido.Message("note_on", note=60, velocity=80, time=240),
        mido.Message("note_off", note=60, time=240),
        mido.Message("note_off", note=60, time=240),
    ]
    mid.tracks.append(track)
    mid.save(str(tmp_path / "o.mid"))
    notes = MidiClip.load(tmp_path / "o.mid").notes
    assert [(n.start, n.duration, n.velocity) for n in notes] == [(0.0, 1.0, 90), (0.5, 1.0, 80)]


def test_tracks_sharing_a_channel_become_separate_tracks(tmp_path):
    mid = mido.MidiFile(type=1)
    for pitch, program in ((72, 52), (60, 52), (48, 32)):
        track = mido.MidiTrack()
        track += [
            mido.Message("program_change", channel=0, program=program, time=0),
            mido.Message("note_on", channel=0, note=pitch, velocity=80, time=0),
            mido.Message("note_off", channel=0, note=pitch, time=480),
        ]
        mid.tracks.append(track)
    mid.save(str(tmp_path / "parts.mid"))
    clip = MidiClip.load(tmp_path / "parts.mid")
    assert sorted((n.channel, n.pitch) for n in clip.notes) == [(0, 72), (1, 60), (2, 48)]
    assert clip.programs == {0: 52, 1: 52, 2: 32}
