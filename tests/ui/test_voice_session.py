"""A scripted artist session in the Voice panel of the real window: keys and clicks only (the
document is read to check what happened, never called to make it happen)."""

import os

import soundfile
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from studio.ui.dialogs import files
from studio.voice.document import SAMPLE_TEXT


def _undo_via_menu(window, panel) -> None:
    """Edit ▸ Undo of the window; until the lead's Edit menu lands, the document's undo."""
    action = window.findChild(QAction, "edit.undo")
    if action is not None:
        action.trigger()
    else:
        panel.document.undo()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_type_speak_with_espeak_export_import_and_undo(qtbot, window, tmp_path):
    panel = window.panels["voice"]
    window.raise_panel("voice")
    window.activateWindow()
    qtbot.waitUntil(lambda: panel.voice_combo.count() > 100, timeout=20000)  # voices listed
    doc = panel.document

    def widget(name):
        found = window.findChild(QWidget, f"voice.{name}")
        assert found is not None, name
        return found

    # eSpeak NG is the instant engine: pick it in the engine list with the keyboard
    engine = widget("engine")
    engine.setFocus()
    qtbot.keyClick(engine, Qt.Key.Key_Down)
    qtbot.keyClick(engine, Qt.Key.Key_Down)
    assert doc.settings.engine == "espeak"
    assert doc.settings.voice.startswith("espeak:")  # an English eSpeak voice replaced Joe
    assert "English" in widget("voice").currentText()

    # type the text: one undo step however many keys
    editor = widget("text")
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClicks(editor, "Hello from the voice panel.")
    assert doc.text == "Hello from the voice panel."
    assert doc.undo_stack.labels()[-2:] == ["Engine: eSpeak NG (instant)", "Edit text"]

    # Ctrl+Return speaks; the result is a take, selected, in the list and the waveform
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(doc.takes) == 1, timeout=30000)
    take = doc.takes[0]
    assert doc.text == "Hello from the voice panel."  # Ctrl+Return typed no new line
    assert take.kind == "speech" and take.duration > 0.8 and take.text == doc.text
    assert take.provenance["voice"] == doc.settings.voice
    assert doc.selected == take.id and widget("takes").count() == 1
    assert panel.waveform.duration > 0.8 and panel.waveform.marks[0][1] == doc.text
    assert doc.undo_stack.undo_text() == "Speak: take 1"

    # the Export button writes the selected take where the dialog says
    out = tmp_path / "hello.wav"
    files.answer_next(out)
    qtbot.mouseClick(widget("export"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Exported" in panel.status.text(), timeout=20000)
    samples, rate = soundfile.read(str(out), dtype="float32")
    assert rate == take.sample_rate and len(samples) == len(take.samples)
    assert abs(samples).max() > 0.05  # sound, not silence
    assert out.stat().st_mode & 0o777 == 0o666 & ~_umask()

    # so does Ctrl+E, to the format the name asks for
    flac = tmp_path / "hello.flac"
    files.answer_next(flac)
    qtbot.keyClick(editor, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: flac.exists() and "hello.flac" in panel.status.text(), timeout=20000)
    assert soundfile.info(str(flac)).format == "FLAC"

    # Ctrl+I imports a text file as one undoable step
    script = tmp_path / "script.txt"
    script.write_text("A line from a file.\n")
    files.answer_next(script)
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    assert doc.text == "A line from a file.\n" and editor.toPlainText() == doc.text
    assert doc.undo_stack.undo_text() == "Import script.txt"

    # Edit ▸ Undo takes the steps back one by one, and the widgets follow
    _undo_via_menu(window, panel)
    assert editor.toPlainText() == "Hello from the voice panel."
    _undo_via_menu(window, panel)
    assert doc.takes == () and widget("takes").count() == 0
    assert not widget("export").isEnabled()
    _undo_via_menu(window, panel)
    assert editor.toPlainText() == SAMPLE_TEXT
    _undo_via_menu(window, panel)  # the second Down key: back to Piper
    assert doc.settings.engine == "piper" and widget("engine").currentText().startswith("Piper")

    # the text editor has no undo of its own: Ctrl+Shift+Z typed in it is the window's Redo
    if window.findChild(QAction, "edit.redo") is not None:
        editor.setFocus()
        qtbot.keyClick(
            editor, Qt.Key.Key_Z,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )  # fmt: skip
        assert doc.settings.engine == "espeak" and widget("engine").currentText().startswith("eS")


def test_escape_stops_and_every_control_has_a_name(qtbot, window):
    panel = window.panels["voice"]
    window.raise_panel("voice")
    window.activateWindow()
    qtbot.waitUntil(lambda: panel.voice_combo.count() > 100, timeout=20000)
    editor = window.findChild(QWidget, "voice.text")
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert panel.job is not None
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: panel.job.done, timeout=30000)
    assert not window.findChild(QWidget, "voice.stop").isEnabled()
    interactive = ("QAbstractButton", "QComboBox", "QAbstractSpinBox", "QPlainTextEdit",
                   "QListWidget", "QTabWidget")  # fmt: skip
    for child in panel.findChildren(QWidget):
        if any(child.inherits(kind) for kind in interactive) and child.isVisibleTo(panel):
            if child.objectName().startswith("qt_") or child.parent().inherits("QAbstractSpinBox"):
                continue
            assert child.objectName().startswith("voice."), child
    keys = [a.shortcuts() for a in panel.actions()]
    flat = [k.toString() for ks in keys for k in ks]
    assert len(flat) == len(set(flat)) and "Ctrl+Z" not in flat and "Ctrl+S" not in flat
