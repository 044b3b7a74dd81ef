"""The Voice panel with the real voices: speak with marks, SSML errors, sing, export; the
widgets mirror the document (undo moves them back)."""

import numpy as np
import pytest

from studio.core.media import MidiClip, Note
from studio.ui.jobs import JobState
from studio.voice.document import Take, VoiceDocument, VoiceSettings
from studio.voice.speech import read_metadata


@pytest.fixture
def panel(qtbot, window):
    p = window.panels["voice"]
    qtbot.waitUntil(lambda: p.voice_combo.findData("piper:en_US-joe-medium") >= 0, timeout=20000)
    return p


def _finish(qtbot, handle):
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    return handle


def test_voice_picker_shows_licence_and_the_lessac_restriction(panel):
    assert panel.select_voice("piper:en_US-joe-medium")
    assert "Lessac" in panel.voice_note.text() and "commercial" in panel.voice_note.text()
    assert panel.voice_combo.count() > 100  # eSpeak NG's languages too
    assert panel.select_voice("espeak:gmw/de")
    assert panel.document.settings.voice == "espeak:gmw/de"
    assert not panel.variation.isEnabled()  # Piper only
    assert not panel.select_voice("piper:no-such-voice")


def test_settings_are_undoable_steps_the_widgets_follow(panel):
    doc = panel.document
    panel.rate.setValue(1.5)
    panel.pitch.setValue(-2.0)
    assert (doc.settings.rate, doc.settings.pitch) == (1.5, -2.0)
    assert doc.undo_stack.labels()[-2:] == ["Rate 1.50", "Pitch -2.0"]
    doc.undo()
    doc.undo()
    assert (panel.rate.value(), panel.pitch.value()) == (1.0, 0.0)
    panel.markup_combo.setCurrentIndex(2)
    assert doc.ssml is True
    doc.undo()
    assert panel.markup_combo.currentIndex() == 0


def test_speak_draws_the_waveform_with_sentence_marks_and_exports(qtbot, panel, tmp_path):
    panel.select_voice("piper:en_US-joe-medium")
    panel.editor.setPlainText("First sentence here. And a second one.")
    assert panel.document.text == "First sentence here. And a second one."
    handle = _finish(qtbot, panel.speak())
    assert handle.state == JobState.SUCCEEDED, handle.error
    qtbot.waitUntil(lambda: len(panel.document.takes) == 1)
    assert [text for _, text in panel.waveform.marks] == [
        "First sentence here.",
        "And a second one.",
    ]
    assert panel.waveform.duration > 1.5
    assert panel.export_button.isEnabled() and panel.takes_list.count() == 1
    export = _finish(qtbot, panel.export_to(tmp_path / "speech.ogg"))
    assert export.state == JobState.SUCCEEDED, export.error
    assert read_metadata(tmp_path / "speech.ogg")["text"].startswith("First sentence")


def test_invalid_ssml_is_reported_and_the_cursor_goes_there(qtbot, panel):
    panel.editor.setPlainText("<speak>\nHello <bogus/> there</speak>")
    handle = _finish(qtbot, panel.speak())
    assert handle.state == JobState.FAILED
    assert "line 2, column 7" in panel.status.text()
    assert panel.editor.textCursor().blockNumber() == 1
    assert panel.document.takes == ()


def test_sing_the_music_panels_melody_with_syllables_under_the_notes(qtbot, window, panel):
    clip = MidiClip([Note(i, p, 1) for i, p in enumerate([60, 62, 64, 65])], bpm=120)
    panel.context.shared["music.clip"] = clip  # what the Music panel shares
    panel.lyrics.setPlainText("hap-py birth _")
    assert panel.take_music_melody()
    assert panel.tabs.currentIndex() == 1 and panel.document.mode == "sing"
    assert panel.melody_view.labels == ["hap", "py", "birth", "_"]
    clip.notes.append(Note(4, 67, 1))  # the Music panel goes on: the voice keeps its copy
    assert len(panel.document.melody.notes) == 4
    handle = _finish(qtbot, panel.sing())
    assert handle.state == JobState.SUCCEEDED, handle.error
    qtbot.waitUntil(lambda: len(panel.document.takes) == 1)
    take = panel.document.take()
    assert take.kind == "song" and take.duration >= 2.0 and take.text == "hap-py birth _"
    assert panel.export_button.isEnabled()
    panel.document.undo()  # the take
    panel.document.undo()  # the melody
    assert panel.document.melody is None and panel.melody_view.notes == []


def test_a_document_from_a_project_shows_in_every_widget(panel):
    take = Take(id=4, kind="speech", samples=np.full(8000, 0.3, np.float32), sample_rate=8000,
                text="Saved words.", marks=((0.0, "Saved words."),))  # fmt: skip
    doc = VoiceDocument(
        text="Saved words.", ssml=False, lyrics="la",
        settings=VoiceSettings(engine="espeak", voice="espeak:gmw/de", rate=1.5),
        takes=(take,), selected=4, mode="sing",
    )  # fmt: skip
    panel.set_document(doc)
    assert panel.editor.toPlainText() == "Saved words." and panel.lyrics.toPlainText() == "la"
    assert panel.voice_combo.currentData() == "espeak:gmw/de" and panel.rate.value() == 1.5
    assert panel.engine_combo.currentData() == "espeak" and panel.markup_combo.currentIndex() == 1
    assert panel.tabs.currentIndex() == 1 and panel.takes_list.count() == 1
    assert panel.waveform.duration == pytest.approx(1.0) and panel.play_button.isEnabled()
    panel.editor.setPlainText("Changed.")  # the panel now edits the new document
    assert doc.text == "Changed." and doc.undo_stack.labels() == ["Edit text"]
