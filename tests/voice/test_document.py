"""The Voice document without Qt: edits and undo, typing merged into one step, takes, projects
(save and open, a missing take), and plain files in and out."""

import json
import os

import numpy as np
import pytest
import soundfile

from studio.core.document import DocumentError
from studio.core.media import MidiClip, Note
from studio.project import Project
from studio.voice.document import SAMPLE_TEXT, Take, VoiceDocument, VoiceSettings
from studio.voice.speech import read_metadata


def _tone(seconds=0.5, rate=16000, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _take(doc, seconds=0.5, text="Hello there.", kind="speech"):
    return doc.add_take(
        Take(id=0, kind=kind, samples=_tone(seconds), sample_rate=16000, text=text,
             provenance={"engine": "voice", "voice": "espeak:en", "rate": 1.0, "ssml": None},
             marks=((0.0, text),))
    )  # fmt: skip


def test_a_new_document_shows_the_sample_and_counts_as_empty():
    doc = VoiceDocument()
    assert doc.text == SAMPLE_TEXT and doc.is_ssml
    assert doc.is_empty() and doc.takes == () and doc.take() is None
    assert doc.settings == VoiceSettings()


def test_typing_merges_into_one_undo_step_and_settings_are_steps():
    doc = VoiceDocument(text="")
    for typed in ("H", "He", "Hel", "Hello"):
        doc.set("Edit text", merge_key="text", text=typed)
    doc.change_settings("Rate 1.5 ×", merge_key="settings.rate", rate=1.25)
    doc.change_settings("Rate 1.5 ×", merge_key="settings.rate", rate=1.5)
    doc.change_settings("Voice: eSpeak English", voice="espeak:en")
    assert doc.undo_stack.labels() == ["Edit text", "Rate 1.5 ×", "Voice: eSpeak English"]
    assert doc.undo() == "Voice: eSpeak English"
    assert doc.settings.voice == VoiceSettings().voice and doc.settings.rate == 1.5
    assert doc.undo() == "Rate 1.5 ×" and doc.settings.rate == 1.0
    assert doc.undo() == "Edit text" and doc.text == ""
    assert not doc.undo_stack.can_undo
    assert doc.redo() == "Edit text" and doc.text == "Hello"


def test_a_take_is_one_step_selected_immutable_and_undone_with_its_selection():
    doc = VoiceDocument()
    seen = []
    doc.changed.connect(lambda name, value: seen.append(name))
    first = _take(doc)
    second = _take(doc, 1.0, "Second one.")
    assert (first.id, second.id) == (1, 2) and doc.selected == 2 and doc.take() is second
    assert "takes" in seen and "selected" in seen
    with pytest.raises(ValueError):
        second.samples[0] = 1.0  # the audio can't be changed in place
    assert doc.summary() == f"{len(SAMPLE_TEXT.split())} words, 2 takes, 1.5 s"
    doc.set_quiet(selected=1)  # choosing a take is not an undo step
    assert doc.undo_stack.labels() == ["Speak: take 1", "Speak: take 2"]
    doc.undo()
    assert [t.id for t in doc.takes] == [1] and doc.selected == 1
    doc.rename_take(1, "keeper")
    doc.remove_take(1)
    assert doc.takes == () and doc.selected == 0
    doc.undo()
    assert doc.take().label == "keeper"


def test_project_save_and_open_round_trip_with_the_takes_audio(tmp_path):
    project = Project()
    doc = project.document("voice")
    doc.set("Edit text", text="<speak>Hi <break time='200ms'/> you.</speak>", ssml=True)
    doc.set("Lyrics", lyrics="la la")
    doc.change_settings("Voice", voice="espeak:en", rate=1.3, transpose=-2, track=1,
                        plugin_params=(("seconds", 1.5),))  # fmt: skip
    doc.set_melody(MidiClip([Note(0, 60, 1), Note(1, 62, 1.5)], bpm=100), "song.mid")
    take = _take(doc, 0.75, "Hi you.")
    sung = _take(doc, 0.25, "la la", kind="song")
    doc.rename_take(sung.id, "the sung one")
    doc.set_quiet(selected=take.id, mode="sing")
    path = project.save(tmp_path / "song")
    project.close()
    folder = path / "voice"
    assert (folder / "takes" / "take-1.flac").is_file() and (folder / "melody.mid").is_file()
    assert json.loads((folder / "document.json").read_text())["fields"]["text"] == doc.text

    opened = Project.open(path)
    again = opened.document("voice")
    assert opened.messages == []
    for name in ("text", "ssml", "lyrics", "melody_name", "settings", "selected", "mode"):
        assert again.get(name) == doc.get(name), name
    assert [n.pitch for n in again.melody.notes] == [60, 62]
    assert [(t.id, t.kind, t.label, t.text, t.marks) for t in again.takes] == [
        (t.id, t.kind, t.label, t.text, t.marks) for t in doc.takes
    ]
    restored = again.take(take.id)
    assert restored.sample_rate == 16000 and restored.samples.shape == take.samples.shape
    assert np.allclose(restored.samples, take.samples, atol=1e-6)  # 24-bit FLAC
    assert restored.provenance["voice"] == "espeak:en"
    info = opened.info()["documents"]["voice"]
    assert "2 takes" in info["summary"] and info["provenance"]["takes"][0]["file"]
    opened.close()


def test_saving_again_does_not_rewrite_takes_already_on_disk(tmp_path):
    project = Project()
    doc = project.document("voice")
    _take(doc)
    path = project.save(tmp_path / "p")
    take_file = path / "voice" / "takes" / "take-1.flac"
    os.utime(take_file, (1, 1))
    doc.set("Edit text", text="changed")
    _take(doc)
    project.save()
    assert take_file.stat().st_mtime == 1  # not written again
    assert (path / "voice" / "takes" / "take-2.flac").is_file()
    doc.undo()  # the second take goes: its file goes at the next save
    project.save()
    assert not (path / "voice" / "takes" / "take-2.flac").exists()
    project.close()


def test_a_missing_take_gives_a_message_and_the_rest_opens(tmp_path):
    project = Project()
    doc = project.document("voice")
    doc.set("Edit text", text="Still here.")
    _take(doc)
    _take(doc)
    path = project.save(tmp_path / "p")
    project.close()
    (path / "voice" / "takes" / "take-1.flac").unlink()
    opened = Project.open(path)
    again = opened.document("voice")
    assert any("take 1" in m and "missing" in m for m in opened.messages)
    assert again.text == "Still here." and [t.id for t in again.takes] == [2]
    opened.close()


def test_a_newer_document_is_refused(tmp_path):
    doc = VoiceDocument()
    VoiceDocument.write_snapshot(doc.snapshot(), tmp_path)
    data = json.loads((tmp_path / "document.json").read_text())
    data["version"] = 99
    (tmp_path / "document.json").write_text(json.dumps(data))
    with pytest.raises(DocumentError, match="newer"):
        VoiceDocument.read(tmp_path)


def test_from_file_and_export_round_trip(tmp_path):
    (tmp_path / "a.txt").write_text("Plain words here.\n")
    (tmp_path / "b.ssml").write_text("<speak>Tagged.</speak>")
    plain = VoiceDocument.from_file(tmp_path / "a.txt")
    assert plain.text == "Plain words here.\n" and plain.ssml is None and not plain.is_ssml
    tagged = VoiceDocument.from_file(tmp_path / "b.ssml")
    assert tagged.ssml is True and tagged.is_ssml
    assert VoiceDocument.from_file(plain.export(tmp_path / "out.txt")).text == plain.text
    with pytest.raises(DocumentError, match="no take yet"):
        plain.export(tmp_path / "out.wav")
    take = _take(plain, 0.5)
    _take(plain, 0.25)
    plain.set_quiet(selected=take.id)
    out = plain.export(tmp_path / "out.wav")
    samples, rate = soundfile.read(str(out), dtype="float32")
    assert rate == 16000 and len(samples) == len(take.samples)  # the selected take, not the last
    assert np.abs(samples).max() > 0.3
    assert read_metadata(out)["text"] == "Hello there."
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_from_file_refuses_bad_input(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "pic.png").write_bytes(b"\x89PNG")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x01")
    for name, match in (("empty.txt", "empty"), ("pic.png", "text file"),
                        ("bin.txt", "UTF-8|binary"), ("gone.txt", "does not exist")):  # fmt: skip
        with pytest.raises(DocumentError, match=match):
            VoiceDocument.from_file(tmp_path / name)
    with pytest.raises(DocumentError, match="exports"):
        VoiceDocument().export(tmp_path / "x.png")


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
