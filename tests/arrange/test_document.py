"""The Arrange document without Qt: lanes and clips, every edit undoable, snap, tempo, and the
project round trip (embedded takes and MIDI, files that went missing)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from studio.arrange.document import ArrangeDocument, Source, new_id, source_from_file
from studio.arrange.send import send_to_arrange
from studio.core.document import DocumentError
from studio.core.media import MidiClip, Note
from studio.music.document import Clip
from studio.project import Project


def melody(bars: int = 2, bpm: float = 120.0) -> Clip:
    notes = [Note(i * 1.0, 60 + (i % 5), 0.75, 100, 0) for i in range(4 * bars)]
    notes += [Note(i * 4.0, 36, 3.5, 90, 1) for i in range(bars)]
    return Clip.from_midi(MidiClip(notes=notes, bpm=bpm, programs={0: 0, 1: 33}))


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def audio_source(seconds=2.0, rate=44100, name="tone") -> Source:
    return Source(new_id(), "audio", name, samples=tone(seconds, rate), sample_rate=rate,
                  seconds=seconds)  # fmt: skip


def test_send_music_makes_a_lane_per_track_and_takes_the_tempo():
    project = Project()
    clips = send_to_arrange(project, "music", melody(bpm=90))
    doc = project.document("arrange")
    assert len(clips) == 2 and [lane.kind for lane in doc.lanes] == ["midi", "midi"]
    assert doc.bpm == 90 and doc.length_beats == 8
    assert doc.seconds == pytest.approx(8 * 60 / 90)
    doc.undo()  # the whole send is one step
    assert not doc.clips and not doc.lanes and doc.bpm == 120


def test_move_trim_split_loop_fade_with_snap_and_undo():
    doc = ArrangeDocument(snap=1.0)
    clip = doc.add_source(audio_source(4.0), at=0)  # 4 s at 120 BPM: 8 beats
    assert clip.length == pytest.approx(8)
    doc.move_clip(clip.id, 2.4)
    assert doc.clip(clip.id).start == 2.0  # snapped to the beat
    doc.trim_clip(clip.id, start=3.2)
    moved = doc.clip(clip.id)
    assert moved.start == 3.0 and moved.offset == pytest.approx(0.5) and moved.end == 10.0
    right = doc.split_clip(clip.id, 6.0)
    assert right is not None and right.offset == pytest.approx(2.0)
    assert doc.clip(clip.id).length == 3.0 and right.length == 4.0
    doc.set_clip(right.id, loop=True, fade_in=1.0, fade_out=9.0)
    assert doc.clip(right.id).fade_out == 4.0  # at most the clip's length
    labels = doc.undo_stack.labels()
    assert labels[-4:] == ["Move clip to 1.3", "Trim clip", "Split clip at 2.3",
                           "Clip fade in, fade out, loop"]  # fmt: skip
    for _ in range(4):
        doc.undo()
    assert doc.clips == (clip,)


def test_lanes_gain_pan_mute_solo_and_slider_moves_merge():
    doc = ArrangeDocument()
    a = doc.add_source(audio_source(), at=0).lane
    b = doc.add_source(audio_source(), at=0).lane
    steps = len(doc.undo_stack.labels())
    for gain in (-1.0, -2.0, -3.0):
        doc.set_lane(a, gain_db=gain)
    assert len(doc.undo_stack.labels()) == steps + 1  # one drag, one step
    doc.set_lane(b, solo=True)
    assert not doc.audible(doc.lane(a)) and doc.audible(doc.lane(b))
    doc.undo()
    assert doc.audible(doc.lane(a))
    doc.undo()
    assert doc.lane(a).gain_db == 0.0


def test_one_video_lane_takes_pictures_and_video(tmp_path):
    from PIL import Image

    picture = tmp_path / "p.png"
    Image.fromarray(np.full((36, 64, 3), 200, np.uint8)).save(picture)
    doc = ArrangeDocument()
    doc.add_file(picture, at=0)
    doc.add_file(picture, at=16)
    assert [lane.kind for lane in doc.lanes] == ["video"] and len(doc.clips) == 2
    with pytest.raises(DocumentError):
        doc.add_source(audio_source(), at=0, lane_id=doc.lanes[0].id)


def test_tempo_change_moves_midi_and_keeps_audio_seconds():
    doc = ArrangeDocument()
    doc.add_source(Source(new_id(), "midi", "m", midi=melody()), at=4)
    assert doc.seconds_at(4) == pytest.approx(2.0)
    doc.set_tempo(60)
    assert doc.seconds_at(4) == pytest.approx(4.0)
    doc.set_tempo(120, tempo_changes=[(4.0, 60.0)])
    assert doc.seconds_at(6) == pytest.approx(4.0)
    assert doc.beat_at(4.0) == pytest.approx(6.0)


def test_project_round_trip_with_missing_file(tmp_path):
    wav = tmp_path / "loop.wav"
    soundfile.write(str(wav), tone(1.0, 48000), 48000)
    project = Project()
    send_to_arrange(project, "music", melody())
    doc = project.document("arrange")
    doc.add_source(audio_source(1.0, 22050, "take"), at=2)
    doc.add_file(wav, at=4)
    doc.set_lane_effects(doc.lanes[0].id, reverb=0.4)
    doc.set_master(gain_db=-2.0, compress=0.3)
    path = project.save(tmp_path / "song")
    project.close()
    files = sorted(p.name for p in (path / "arrange" / "media").iterdir())
    assert len(files) == 3 and sum(f.endswith(".mid") for f in files) == 2  # the file stays put
    wav.unlink()
    again = Project.open(path, lock=False)
    back = again.document("arrange")
    assert len(back.lanes) == 4 and len(back.clips) == 4
    assert back.lanes[0].effects.reverb == 0.4 and back.master_effects.compress == 0.3
    assert back.source(back.clips[2].source).samples.shape == (22050,)
    assert any("loop.wav is missing" in m for m in again.messages)
    assert back.undo_stack.labels() == []  # history labels are in document.json, not replayed


def test_source_from_file_refuses_what_it_cannot_read(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(DocumentError, match="Arrange takes"):
        source_from_file(bad)
    with pytest.raises(DocumentError, match="does not exist"):
        source_from_file(tmp_path / "gone.wav")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVE")
    with pytest.raises(DocumentError, match="not readable audio"):
        source_from_file(broken)
