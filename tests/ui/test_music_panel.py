import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QCheckBox, QComboBox, QSpinBox, QToolButton, QWidget

from studio.core.media import MidiClip, Note
from studio.music.document import MusicDocument
from studio.ui.dialogs import files
from studio.ui.jobs import JobState
from studio.ui.panels.music import panel as music_panel
from studio.ui.panels.music.tracks import COL_INSTR
from studio.ui.widgets.piano_roll_editor import KEYS_W, RULER_H


@pytest.fixture
def panel(qtbot, window):
    window.raise_panel("music")
    window.activateWindow()  # key sequences go to the active window
    qtbot.waitUntil(window.isActiveWindow)
    return window.panels["music"]


@pytest.fixture
def doc(panel):
    return panel.document


@pytest.fixture
def tiny_host(tiny_run, monkeypatch):
    from studio.core.models import ModelHost
    from studio.music.engine import MusicEngine

    host = ModelHost("music", lambda device: MusicEngine.load(tiny_run[1], device))
    monkeypatch.setattr(music_panel, "music_host", lambda model=None: host)
    return host


def point(editor, beat, pitch):
    return QPoint(int(editor.x_of(beat) + 3), int(editor.y_of(pitch) + editor.row_h / 2))


def edit_action(window, name):
    action = window.findChild(QAction, f"edit.{name}")
    return action if action is not None else None


def undo(window, doc):
    action = edit_action(window, "undo")
    if action is not None:
        action.trigger()
    else:
        doc.undo()


def redo(window, doc):
    action = edit_action(window, "redo")
    if action is not None:
        action.trigger()
    else:
        doc.redo()


def pitches(doc):
    return [(n.start, n.pitch) for n in doc.clip.notes]


def test_draw_undo_redo_move_delete(qtbot, window, panel, doc):
    editor = panel.editor
    editor.verticalScrollBar().setValue(int((127 - 72) * editor.row_h))
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=point(editor, 1.0, 64))
    assert pitches(doc) == [(1.0, 64)]
    undo(window, doc)
    assert doc.clip.notes == () and editor.clip.notes == []
    redo(window, doc)
    assert len(doc.clip.notes) == 1 and len(editor.clip.notes) == 1
    # drag the note two beats right and a tone up
    start, end = point(editor, 1.0, 64), point(editor, 3.0, 66)
    qtbot.mousePress(editor.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(editor.viewport(), end)
    qtbot.mouseRelease(editor.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert pitches(doc) == [(3.0, 66)]
    assert doc.selected_notes == doc.clip.notes  # the moved note stays selected
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Up)
    assert doc.clip.notes[0].pitch == 67
    qtbot.keyClick(editor, Qt.Key.Key_Plus)
    assert doc.clip.notes[0].velocity == 98
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert doc.clip.notes == ()
    for _ in range(4):
        undo(window, doc)
    assert pitches(doc) == [(1.0, 64)]
    assert [(n.start, n.pitch) for n in editor.clip.notes] == [(1.0, 64)]


def test_the_panel_has_no_undo_of_its_own(window, panel):
    names = {a.objectName() for a in panel.findChildren(QAction)}
    assert {"music.generate", "music.import", "music.export", "music.render"} <= names
    keys = [k.toString() for a in panel.findChildren(QAction) for k in a.shortcuts()]
    for reserved in ("Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+S", "Ctrl+O", "Ctrl+N"):
        assert reserved not in keys
    assert len(keys) == len(set(keys))
    assert {"Ctrl+Return", "Esc", "Ctrl+I", "Ctrl+E", "Space"} <= set(keys)
    texts = [b.text() for b in panel.findChildren(QToolButton)]
    assert not any("Undo" in t or "Redo" in t for t in texts)


def test_the_panel_shows_whatever_document_it_is_given(qtbot, panel):
    other = MusicDocument(bars=3, key="D minor", temperature=0.7, instruments="bass", snap=0.5)
    other.replace_clip("Import", MidiClip([Note(0, 60, 1, 90, 0), Note(0, 48, 1, 90, 3)]))
    other.set_quiet(bar_range=(1, 1))
    panel.set_document(other)
    assert panel.findChild(QSpinBox, "music.bars").value() == 3
    assert panel.findChild(QComboBox, "music.key").currentText() == "D minor"
    assert panel.findChild(QComboBox, "music.snap").currentData() == 0.5
    assert panel.editor.snap == 0.5 and panel.editor.bar_selection == (1, 1)
    assert panel.tracks.channels == [0, 3] and len(panel.editor.clip.notes) == 2
    other.undo()  # an undo in the document shows in the panel
    assert panel.tracks.channels == [] and panel.editor.clip.notes == []


def test_ruler_selects_bars_for_infill(qtbot, panel, doc):
    editor = panel.editor
    doc.replace_clip("Import", MidiClip([Note(i, 60 + i % 5, 1) for i in range(16)]))
    y = RULER_H // 2
    qtbot.mousePress(
        editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(editor.x_of(4.5)), y)
    )
    qtbot.mouseMove(editor.viewport(), QPoint(int(editor.x_of(9.0)), y))
    qtbot.mouseRelease(
        editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(editor.x_of(9.0)), y)
    )
    assert doc.bar_range == (2, 3)
    assert "2–3" in panel.controls.selection_label.text()
    assert not doc.undo_stack.undo_text().startswith("Select")  # selecting is not an undo step
    assert KEYS_W > 0


def test_transformer_generates_variations_with_previews_and_undo(qtbot, window, panel, doc,
                                                                 tiny_host):  # fmt: skip
    doc.set_quiet(key="D minor", bars=2, instruments="choir,bass", variations=2, seed=5)
    previews = []
    handle = panel.generate()
    handle.partial.connect(lambda clip: previews.append(len(clip.notes)))
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert previews  # bars showed up while they were written
    assert panel.controls.takes.count() == 2
    first = doc.clip
    assert first.notes and first.provenance_dict()["seed"] == 5
    assert first.program_map() == {0: 52, 1: 32}
    assert doc.undo_stack.labels() == ["Generate 2 bars"]
    takes = panel.controls.takes
    qtbot.mouseClick(takes.viewport(), Qt.MouseButton.LeftButton,
                     pos=takes.visualItemRect(takes.item(1)).center())  # fmt: skip
    assert doc.clip.provenance_dict()["seed"] == 6
    undo(window, doc)
    assert doc.clip is first
    undo(window, doc)
    assert doc.clip.notes == () and panel.controls.takes.count() == 0


def test_infill_keeps_the_other_bars(qtbot, panel, doc, tiny_host):
    notes = [Note(i * 1.0, 60 + (i * 3) % 12, 1.0) for i in range(16)]
    doc.replace_clip("Import", MidiClip(notes))
    doc.set_quiet(bar_range=(2, 2))
    handle = panel.generate("infill")
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    outside = [n for n in notes if not 4 <= n.start < 8]
    assert [n for n in doc.clip.notes if not 4 <= n.start < 8] == outside
    assert doc.undo_stack.labels() == ["Import", "Infill bar 2"]


def test_infill_without_a_selection_explains(qtbot, panel, doc):
    doc.replace_clip("Import", MidiClip([Note(0, 60, 1)]))
    qtbot.mouseClick(panel.findChild(QToolButton, "music.infill"), Qt.MouseButton.LeftButton)
    assert panel.job is None
    assert "select the bars" in panel.status.text()


def test_plugin_generator_runs_in_the_music_panel(qtbot, panel, doc):
    combo = panel.findChild(QComboBox, "music.generator")
    combo.setCurrentIndex(combo.findData("studio/scale-melody"))
    assert doc.generator == "studio/scale-melody"
    assert not panel.actions_by_name["infill"].isEnabled()
    panel.controls.plugin_form.set_value("bars", 2)
    panel.controls.plugin_form.set_value("seed", 3)
    assert doc.plugin_values["studio/scale-melody"]["bars"] == 2
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert doc.clip.notes and doc.clip.bars == 2
    assert doc.undo_stack.undo_text().startswith("Generate with")


def test_import_export_and_bad_files(qtbot, panel, doc, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"nope")
    assert not panel.open_file(bad)
    assert "not a readable MIDI file" in panel.status.text()
    clip = MidiClip([Note(0, 60, 1, 90, 0), Note(0, 36, 0.5, 100, 9)], programs={0: 40})
    clip.save(tmp_path / "in.mid")
    files.answer_next(tmp_path / "in.mid")
    panel.editor.setFocus()
    qtbot.keyClick(panel.editor, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert sorted(panel.tracks.channels) == [0, 9]
    assert doc.undo_stack.undo_text() == "Import in.mid"
    assert panel.current_file() == tmp_path / "in.mid"
    assert panel.export_to(tmp_path / "out.mid")
    assert MidiClip.load(tmp_path / "out.mid").notes == MidiClip.load(tmp_path / "in.mid").notes
    empty = tmp_path / "empty.mid"
    MidiClip([]).save(empty)
    assert not panel.open_file(empty) and "has no notes" in panel.status.text()


def test_tracks_instrument_mute_and_solo(qtbot, window, panel, doc):
    doc.replace_clip("Import", MidiClip([Note(0, 60, 1, 90, 0), Note(0, 48, 1, 90, 1)]))
    panel.tracks.cellWidget(1, COL_INSTR).setCurrentIndex(42)
    assert doc.clip.program_map()[1] == 42
    undo(window, doc)
    assert doc.clip.program_map().get(1, 0) == 0
    assert panel.tracks.cellWidget(1, COL_INSTR).currentIndex() == 0
    solo = panel.findChild(QCheckBox, "music.track_solo.2")
    qtbot.mouseClick(solo, Qt.MouseButton.LeftButton, pos=solo.rect().center())
    assert doc.mix() == {0: 0.0, 1: 1.0}
    assert panel.editor.muted == {0}
    undo(window, doc)
    assert not solo.isChecked() and panel.editor.muted == set()


def test_play_without_an_audio_device_says_so(qtbot, panel, doc, monkeypatch):
    from studio.music.playback import AudioPlayer

    monkeypatch.setattr(
        AudioPlayer, "output_available", staticmethod(lambda: (False, "no audio output device"))
    )
    doc.replace_clip("Import", MidiClip([Note(0, 60, 1)]))
    handle = panel.play()
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    qtbot.waitUntil(lambda: "no audio output device" in panel.status.text())
    assert "Render" in panel.status.text()
    assert not panel.player.playing and not panel.actions_by_name["cancel"].isEnabled()


def test_render_writes_a_wav(qtbot, panel, doc, tmp_path):
    doc.replace_clip("Import", MidiClip([Note(0, 60, 1)]))
    handle = panel.render_to(tmp_path / "out.wav")
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert (tmp_path / "out.wav").stat().st_size > 1000


def test_record_a_seed_from_a_midi_keyboard(qtbot, window, panel, doc, monkeypatch):
    import time

    import mido

    from studio.music import playback

    monkeypatch.setattr(playback, "midi_ports", lambda: ([], ["Keys"], ""))
    opened = {}

    class FakePort:
        def close(self):
            opened["closed"] = True

    def open_input(name, callback):
        opened.update(name=name, callback=callback)
        return FakePort()

    monkeypatch.setattr(mido, "open_input", open_input)
    panel.record_action.trigger()
    assert panel.record_action.isChecked() and opened["name"] == "Keys"
    opened["callback"](mido.Message("note_on", note=62, velocity=80))
    time.sleep(0.05)
    opened["callback"](mido.Message("note_off", note=62))
    panel.record_action.trigger()
    assert opened["closed"]
    assert [n.pitch for n in doc.clip.notes] == [62]
    undo(window, doc)
    assert doc.clip.notes == ()


def test_record_without_midi_ports_says_why(panel, monkeypatch):
    from studio.music import playback

    monkeypatch.setattr(playback, "midi_ports", lambda: ([], [], "no MIDI system (ALSA)"))
    panel.record_action.trigger()
    assert not panel.record_action.isChecked()
    assert "Cannot record: no MIDI system" in panel.status.text()


def test_play_to_a_midi_output_port(qtbot, panel, doc, monkeypatch):
    import mido

    sent = []

    class FakeOut:
        def send(self, msg):
            sent.append(msg)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(mido, "open_output", lambda name, virtual=False: FakeOut())
    panel.output_combo.addItem("MIDI: DAW in", "DAW in")
    panel.output_combo.setCurrentIndex(panel.output_combo.count() - 1)
    doc.replace_clip("Import", MidiClip([Note(0, 60, 0.1)], bpm=600))
    handle = panel.play()
    with qtbot.waitSignal(handle.finished, timeout=10000):
        pass
    assert [m.type for m in sent[:2]] == ["note_on", "note_off"]


def test_model_list_offers_your_trained_models(qtbot, panel, doc, tiny_run, isolated_dirs):
    import shutil

    from studio.core.models import ModelStore

    folder = isolated_dirs["data"] / "studio" / "models" / "music"
    folder.mkdir(parents=True)
    shutil.copy2(tiny_run[1], folder / "tiny.safetensors")
    shutil.copy2(str(tiny_run[1]) + ".card.toml", folder / "tiny.safetensors.card.toml")
    panel.context.store = ModelStore(folder.parent)
    panel.refresh_models()
    combo = panel.findChild(QComboBox, "music.model")
    index = combo.findText("Transformer: tiny (user)")  # the picker names the family
    assert index >= 0
    combo.setCurrentIndex(index)
    assert (doc.model, doc.family) == ("Transformer: tiny (user)", "transformer")
    doc.set_quiet(bars=1, instruments="piano")
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert music_panel._HOST_KEY == folder / "tiny.safetensors"


def test_listen_without_a_sound_card_says_so(qtbot, panel, doc, tiny_host, monkeypatch):
    from studio.music.playback import AudioPlayer

    monkeypatch.setattr(
        AudioPlayer, "output_available", staticmethod(lambda: (False, "no audio output device"))
    )
    doc.set_quiet(listen=True, bars=2, instruments="piano")
    assert panel.listen_action.isChecked()
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: not doc.listen, timeout=20000)
    assert not panel.listen_action.isChecked()
    assert "no audio output device" in panel.listen_problem
    assert "Render" in panel.listen_problem


def test_shift_drag_selects_with_a_rubber_band(qtbot, panel, doc):
    editor = panel.editor
    notes = [Note(0, 60, 1), Note(1, 62, 1), Note(6, 64, 1)]
    doc.replace_clip("Import", MidiClip(notes))
    editor.verticalScrollBar().setValue(int((127 - 72) * editor.row_h))
    shift = Qt.KeyboardModifier.ShiftModifier
    start, end = point(editor, 0.0, 66), point(editor, 2.5, 58)
    qtbot.mousePress(editor.viewport(), Qt.MouseButton.LeftButton, shift, start)
    qtbot.mouseMove(editor.viewport(), end)
    qtbot.mouseRelease(editor.viewport(), Qt.MouseButton.LeftButton, shift, end)
    assert set(doc.selected_notes) == {notes[0], notes[1]}
    assert list(doc.clip.notes) == notes  # selecting drew nothing
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert list(doc.clip.notes) == [notes[2]]


def test_a_long_undo_text_does_not_widen_the_toolbar(qtbot, panel, doc):
    doc.replace_clip("Import " + "a very long file name " * 10 + ".mid", MidiClip([Note(0, 60, 1)]))
    qtbot.wait(20)
    assert panel.toolbar.sizeHint().width() < 700
    hidden = [a for a in panel.toolbar.actions() if not panel.toolbar.widgetForAction(a)]
    assert not hidden
    assert isinstance(panel.findChild(QWidget, "music.editor"), QWidget)


def test_harmonize_over_existing_bars_is_one_undo_step(qtbot, window, panel, doc, tiny_host):
    melody = [Note(i * 1.0, 67 + (i % 4), 1.0, 90, 0) for i in range(8)]
    doc.replace_clip("Import", MidiClip(melody + [Note(0, 40, 8, 80, 1)]))
    before = doc.clip
    cell = panel.tracks.visualItemRect(panel.tracks.item(panel.tracks.row_of(0), 0))
    qtbot.mouseClick(panel.tracks.viewport(), Qt.MouseButton.LeftButton, pos=cell.center())
    assert doc.current_track() == 0
    doc.set_quiet(instruments="strings,bass")
    qtbot.mouseClick(panel.findChild(QToolButton, "music.harmonize"), Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.job.finished, timeout=60000):
        pass
    assert panel.job.state == JobState.SUCCEEDED, panel.job.error
    assert doc.undo_stack.labels() == ["Import", "Harmonize track 1"]
    assert [n for n in doc.clip.notes if n.channel == 0] == melody  # the melody is kept
    undo(window, doc)
    assert doc.clip == before and list(panel.editor.clip.notes) == list(before.notes)
