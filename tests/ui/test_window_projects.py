"""The window's projects, as an artist uses them: File menu keys, Edit ▸ Undo on the front panel,
recent projects, and "Restore unsaved work" after a crash."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QPushButton

from studio import project as projects
from studio.core.document import Command
from studio.ui.dialogs import files


@pytest.fixture(autouse=True)
def journal(monkeypatch):
    monkeypatch.setitem(
        projects.DOCUMENT_CLASSES, "journal", "tests.support.journal:JournalDocument"
    )


class Mark(Command):
    def __init__(self, label, log):
        self.label, self.log = label, log

    def redo(self):
        self.log.append(self.label)

    def undo(self):
        self.log.remove(self.label)


def _action(window, name) -> QAction:
    action = window.findChild(QAction, name)
    assert action is not None, name
    return action


def _key(qtbot, window, keys: str):
    from PySide6.QtGui import QKeySequence

    seq = QKeySequence(keys)[0]
    qtbot.keyClick(window, seq.key(), seq.keyboardModifiers())


def test_edit_undo_names_and_undoes_the_front_panels_last_step(qtbot, window):
    _key(qtbot, window, "Ctrl+1")  # Music in front
    log: list[str] = []
    music = window.panels["music"].document
    music.undo_stack.push(Mark("Draw note", log))
    undo = _action(window, "edit.undo")
    window.projects.update_undo_actions()
    assert undo.isEnabled() and undo.text().replace("&", "") == "Undo Draw note"
    _key(qtbot, window, "Ctrl+Z")
    assert log == []
    assert _action(window, "edit.redo").text().replace("&", "") == "Redo Draw note"
    _key(qtbot, window, "Ctrl+Shift+Z")
    assert log == ["Draw note"]
    _key(qtbot, window, "Ctrl+2")  # another panel in front: its own (empty) history
    qtbot.waitUntil(lambda: window.current_panel() is window.panels["image"])
    assert window.current_panel() is window.panels["image"]
    assert not undo.isEnabled() or "Draw note" not in undo.text()
    _key(qtbot, window, "Ctrl+Z")
    assert log == ["Draw note"]  # Music's step is untouched


def test_save_as_open_and_recent_from_the_file_menu_keys(qtbot, window, tmp_path):
    doc = window.panels["voice"].document
    doc.set("Type", text="first verse")
    assert window.isWindowModified()
    files.answer_next(tmp_path / "song")
    _key(qtbot, window, "Ctrl+Shift+S")
    qtbot.waitUntil(lambda: (tmp_path / "song.studio" / "project.toml").exists(), timeout=10000)
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=10000)
    assert "song" in window.windowTitle()

    files.answer_question("discard")
    doc.set("Type", text="never saved")
    _key(qtbot, window, "Ctrl+N")
    assert window.context.project.path is None and "Untitled" in window.windowTitle()

    files.answer_next(tmp_path / "song.studio")
    _key(qtbot, window, "Ctrl+O")
    qtbot.waitUntil(lambda: window.context.project.path is not None, timeout=10000)
    assert window.panels["voice"].document.text == "first verse"
    assert window.projects.recent()[0] == str(tmp_path / "song.studio")
    window.projects._fill_recent()
    assert _action(window, "file.recent_1").isEnabled()


def test_a_newer_project_gets_a_message_and_the_open_one_stays(qtbot, window, tmp_path):
    folder = tmp_path / "future.studio"
    folder.mkdir()
    (folder / "project.toml").write_text('format = 7\nstudio_version = "9.0"\n')
    before = window.context.project
    files.answer_next(folder)
    _key(qtbot, window, "Ctrl+O")
    qtbot.waitUntil(lambda: hasattr(window, "_last_error_box"), timeout=10000)
    assert "newer Studio" in window._last_error_box.text()
    assert window.context.project is before


def test_unsaved_work_of_a_crashed_studio_is_offered_back(qtbot, qapp, tmp_path):
    from studio.ui.context import StudioContext
    from studio.ui.main_window import MainWindow

    crashed = projects.Project()
    crashed.document("journal").set("Type", text="the chorus I never saved")
    recovery = projects.Recovery()
    recovery.autosave(crashed.snapshot(), None)
    recovery._lock.release()  # its process died (kill -9 frees the lock)
    recovery._lock = None

    context = StudioContext.create()
    window = MainWindow(context, restore=False)
    qtbot.addWidget(window)
    window.show()
    button = window.findChild(QPushButton, "file.restore")
    assert (
        button is not None
        and "untitled"
        in window.projects.banner.widgetForAction(window.projects.banner.actions()[0]).text()
    )
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.context.project.documents["journal"].text == "the chorus I never saved"
    assert window.context.project.dirty
    qtbot.waitUntil(lambda: window.findChild(QPushButton, "file.restore") is None)
    window.close()
    context.runner.shutdown()
    # the window closed with the restored work unsaved: it is kept for the next start
    assert projects.pending_recoveries()


def test_file_dialogs_remember_the_folder_per_kind_and_add_the_extension(qapp, tmp_path):
    (tmp_path / "midi").mkdir()
    (tmp_path / "pictures").mkdir()
    files.answer_next(tmp_path / "midi" / "tune")
    assert files.ask_save(None, "midi", "Export", "tune.mid", "MIDI (*.mid)", ".mid") == (
        tmp_path / "midi" / "tune.mid"
    )
    files.answer_next(tmp_path / "pictures" / "cover.png")
    files.ask_open(None, "picture", "Import", "Pictures (*.png)")
    assert files.last_folder("midi") == str(tmp_path / "midi")
    assert files.last_folder("picture") == str(tmp_path / "pictures")
    files.answer_next(None)  # cancelled: nothing changes
    assert files.ask_open(None, "midi", "Import", "MIDI (*.mid)") is None
    assert files.last_folder("midi") == str(tmp_path / "midi")
