import pytest
from PySide6.QtCore import QPoint, Qt

from studio.core.media import MidiClip, Note
from studio.ui.jobs import JobState
from studio.ui.panels.music import panel as music_panel
from studio.ui.widgets.piano_roll_editor import KEYS_W, RULER_H


@pytest.fixture
def panel(window):
    return window.panels["music"]


@pytest.fixture
def tiny_host(tiny_run, monkeypatch):
    from studio.core.models import ModelHost
    from studio.music.engine import MusicEngine

    host = ModelHost("music", lambda device: MusicEngine.load(tiny_run[1], device))
    monkeypatch.setattr(music_panel, "music_host", lambda model=None: host)
    return host


def point(editor, beat, pitch):
    return QPoint(int(editor.x_of(beat) + 3), int(editor.y_of(pitch) + editor.row_h / 2))


def test_draw_undo_redo_move_delete(qtbot, panel):
    editor = panel.editor
    editor.verticalScrollBar().setValue(int((127 - 72) * editor.row_h))
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=point(editor, 1.0, 64))
    assert [(n.start, n.pitch) for n in panel.clip.notes] == [(1.0, 64)]
    panel.undo_action.trigger()
    assert panel.clip.notes == []
    panel.redo_action.trigger()
    assert len(panel.clip.notes) == 1
    # drag the note two beats right and a tone up
    start, end = point(editor, 1.0, 64), point(editor, 3.0, 66)
    qtbot.mousePress(editor.viewport(), Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(editor.viewport(), end)
    qtbot.mouseRelease(editor.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert [(n.start, n.pitch) for n in panel.clip.notes] == [(3.0, 66)]
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Up)
    assert panel.clip.notes[0].pitch == 67
    qtbot.keyClick(editor, Qt.Key.Key_Plus)
    assert panel.clip.notes[0].velocity == 98
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert panel.clip.notes == []
    for _ in range(4):
        panel.undo_action.trigger()
    assert [(n.start, n.pitch) for n in panel.clip.notes] == [(1.0, 64)]


def test_ruler_selects_bars_for_infill(qtbot, panel):
    editor = panel.editor
    panel._show_clip(MidiClip([Note(i, 60 + i % 5, 1) for i in range(16)]))
    y = RULER_H // 2
    qtbot.mousePress(
        editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(editor.x_of(4.5)), y)
    )
    qtbot.mouseMove(editor.viewport(), QPoint(int(editor.x_of(9.0)), y))
    qtbot.mouseRelease(
        editor.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(editor.x_of(9.0)), y)
    )
    assert editor.bar_selection == (2, 3)
    assert "2–3" in panel.selection_label.text()
    assert KEYS_W > 0


def test_transformer_generates_variations_with_previews_and_undo(qtbot, panel, tiny_host):
    panel.mode.setCurrentIndex(0)
    panel.key.setCurrentText("D minor")
    panel.bars.setValue(2)
    panel.instruments.setText("choir,bass")
    panel.variations.setValue(2)
    panel.seed.setValue(5)
    previews = []
    handle = panel.generate()
    handle.partial.connect(lambda clip: previews.append(len(clip.notes)))
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert previews  # bars showed up while they were written
    assert panel.takes_list.count() == 2
    first = panel.clip
    assert first.notes and first.provenance["seed"] == 5 and first.programs == {0: 52, 1: 32}
    panel._on_takes_clicked(panel.takes_list.item(1))
    assert panel.clip.provenance["seed"] == 6
    panel.undo_action.trigger()
    assert panel.clip is first
    panel.undo_action.trigger()
    assert panel.clip.notes == []


def test_infill_keeps_the_other_bars(qtbot, panel, tiny_host):
    notes = [Note(i * 1.0, 60 + (i * 3) % 12, 1.0) for i in range(16)]
    panel._show_clip(MidiClip(notes))
    panel.editor.select_bars(2, 2)
    panel.mode.setCurrentIndex(2)  # infill
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    outside = [n for n in notes if not 4 <= n.start < 8]
    assert [n for n in panel.clip.notes if not 4 <= n.start < 8] == outside


def test_infill_without_a_selection_explains(panel):
    panel._show_clip(MidiClip([Note(0, 60, 1)]))
    panel.editor.clear_bar_selection()
    panel.mode.setCurrentIndex(2)
    assert panel.generate() is None
    assert "select the bars" in panel.status.text()


def test_plugin_generator_runs_in_the_music_panel(qtbot, panel):
    index = panel.generator_combo.findData("studio/scale-melody")
    panel.generator_combo.setCurrentIndex(index)
    panel.plugin_form.set_value("bars", 2)
    panel.plugin_form.set_value("seed", 3)
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert panel.clip.notes and panel.clip.bars == 2


def test_open_save_and_bad_files(qtbot, panel, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"nope")
    assert not panel.open_file(bad)
    assert "not a readable MIDI file" in panel.status.text()
    clip = MidiClip([Note(0, 60, 1, 90, 0), Note(0, 36, 0.5, 100, 9)], programs={0: 40})
    clip.save(tmp_path / "in.mid")
    assert panel.open_file(tmp_path / "in.mid")
    assert sorted(panel.tracks.channels) == [0, 9]
    assert panel.save_file(tmp_path / "out.mid")
    assert MidiClip.load(tmp_path / "out.mid").notes == MidiClip.load(tmp_path / "in.mid").notes
    empty = tmp_path / "empty.mid"
    MidiClip([]).save(empty)
    assert not panel.open_file(empty) and "has no notes" in panel.status.text()


def test_tracks_instrument_mute_and_solo(qtbot, panel):
    panel._show_clip(MidiClip([Note(0, 60, 1, 90, 0), Note(0, 48, 1, 90, 1)]))
    panel._on_tracks_program_changed(1, 42)
    assert panel.clip.programs[1] == 42
    panel.undo_action.trigger()
    assert panel.clip.programs.get(1, 0) == 0
    panel.tracks._toggle(panel.tracks.solo, 1, True)
    assert panel.tracks.mix() == {0: 0.0, 1: 1.0}
    assert panel.editor.muted == {0}


def test_play_without_an_audio_device_says_so(qtbot, panel, monkeypatch):
    from studio.music.playback import AudioPlayer

    monkeypatch.setattr(
        AudioPlayer, "output_available", staticmethod(lambda: (False, "no audio output device"))
    )
    panel._show_clip(MidiClip([Note(0, 60, 1)]))
    handle = panel.play()
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    qtbot.waitUntil(lambda: "no audio output device" in panel.status.text())
    assert "Render" in panel.status.text()
    assert panel.play_action.text() == "Play"


def test_render_writes_a_wav(qtbot, panel, tmp_path):
    panel._show_clip(MidiClip([Note(0, 60, 1)]))
    handle = panel.render_to(tmp_path / "out.wav")
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert (tmp_path / "out.wav").stat().st_size > 1000


def test_record_a_seed_from_a_midi_keyboard(qtbot, panel, monkeypatch):
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
    panel.toggle_record()
    assert panel.record_action.isChecked() and opened["name"] == "Keys"
    opened["callback"](mido.Message("note_on", note=62, velocity=80))
    time.sleep(0.05)
    opened["callback"](mido.Message("note_off", note=62))
    panel.toggle_record()
    assert opened["closed"]
    assert [n.pitch for n in panel.clip.notes] == [62]
    panel.undo_action.trigger()
    assert panel.clip.notes == []


def test_record_without_midi_ports_says_why(panel, monkeypatch):
    from studio.music import playback

    monkeypatch.setattr(playback, "midi_ports", lambda: ([], [], "no MIDI system (ALSA)"))
    panel.toggle_record()
    assert not panel.record_action.isChecked()
    assert "Cannot record: no MIDI system" in panel.status.text()


def test_play_to_a_midi_output_port(qtbot, panel, monkeypatch):
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
    panel._show_clip(MidiClip([Note(0, 60, 0.1)], bpm=600))
    handle = panel.play()
    with qtbot.waitSignal(handle.finished, timeout=10000):
        pass
    assert [m.type for m in sent[:2]] == ["note_on", "note_off"]
    assert panel.play_action.text() == "Play"


def test_model_list_offers_your_trained_models(qtbot, panel, tiny_run, isolated_dirs):
    import shutil

    from studio.core.models import ModelStore

    folder = isolated_dirs["data"] / "studio" / "models" / "music"
    folder.mkdir(parents=True)
    shutil.copy2(tiny_run[1], folder / "tiny.safetensors")
    shutil.copy2(str(tiny_run[1]) + ".card.toml", folder / "tiny.safetensors.card.toml")
    panel.context.store = ModelStore(folder.parent)
    panel.refresh_models()
    index = panel.model_combo.findText("tiny (user)")
    assert index >= 0
    panel.model_combo.setCurrentIndex(index)
    panel.bars.setValue(1)
    panel.instruments.setText("piano")
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert music_panel._HOST_KEY == folder / "tiny.safetensors"


def test_listen_plays_bars_while_they_are_written(qtbot, panel, tiny_host, monkeypatch):
    heard = []
    monkeypatch.setattr(panel.player, "append", lambda audio: heard.append(audio))
    panel.listen_action.setChecked(True)
    panel._show_clip(MidiClip([Note(i * 1.0, 60 + i % 7, 1.0) for i in range(8)], bpm=120))
    panel.mode.setCurrentIndex(1)  # continue
    panel.bars.setValue(3)
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    qtbot.waitUntil(lambda: len(heard) == 3, timeout=20000)
    assert all(len(a.samples) == 2 * 44100 for a in heard)  # one 4/4 bar at 120 BPM each
    assert panel.player.offset_beats == 8.0  # the continuation starts after the two given bars


def test_listen_without_a_sound_card_says_so(qtbot, panel, tiny_host, monkeypatch):
    from studio.music.playback import AudioPlayer

    monkeypatch.setattr(
        AudioPlayer, "output_available", staticmethod(lambda: (False, "no audio output device"))
    )
    panel.listen_action.setChecked(True)
    panel.bars.setValue(2)
    panel.instruments.setText("piano")
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    qtbot.waitUntil(lambda: not panel.listen_action.isChecked(), timeout=20000)
    assert "no audio output device" in panel.listen_problem
    assert "Render" in panel.listen_problem


def test_shift_drag_selects_with_a_rubber_band(qtbot, panel):
    editor = panel.editor
    notes = [Note(0, 60, 1), Note(1, 62, 1), Note(6, 64, 1)]
    panel._show_clip(MidiClip(notes))
    editor.verticalScrollBar().setValue(int((127 - 72) * editor.row_h))
    shift = Qt.KeyboardModifier.ShiftModifier
    start, end = point(editor, 0.0, 66), point(editor, 2.5, 58)
    qtbot.mousePress(editor.viewport(), Qt.MouseButton.LeftButton, shift, start)
    qtbot.mouseMove(editor.viewport(), end)
    qtbot.mouseRelease(editor.viewport(), Qt.MouseButton.LeftButton, shift, end)
    assert editor.selected == {notes[0], notes[1]}
    assert panel.clip.notes == notes  # selecting drew nothing
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    assert panel.clip.notes == [notes[2]]
