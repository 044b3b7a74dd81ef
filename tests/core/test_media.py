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
