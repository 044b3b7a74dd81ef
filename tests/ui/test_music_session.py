"""An artist's session in the Music panel of the real window, by clicks and keys only: draw a
note, set the controls by typing, generate with the button and with Ctrl+Return, audition a take,
select bars on the ruler and infill them, undo from the Edit menu, export a MIDI file."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QListWidget, QToolButton, QWidget

from studio.core.media import MidiClip, Note
from studio.ui.dialogs import files
from studio.ui.jobs import JobState
from studio.ui.panels.music import panel as music_panel
from studio.ui.widgets.piano_roll_editor import RULER_H


@pytest.fixture
def tiny_host(tiny_run, monkeypatch):
    from studio.core.models import ModelHost
    from studio.music.engine import MusicEngine

    host = ModelHost("music", lambda device: MusicEngine.load(tiny_run[1], device))
    monkeypatch.setattr(music_panel, "music_host", lambda model=None: host)
    return host


def _find(window, name: str, kind=QWidget):
    widget = window.findChild(kind, name)
    assert widget is not None, f"no {kind.__name__} called {name}"
    return widget


def _type_into(qtbot, widget, text: str) -> None:
    """Select what the field holds and type over it, as an artist does."""
    widget.setFocus()
    qtbot.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(widget, text)


def _click(qtbot, window, name: str) -> None:
    qtbot.mouseClick(_find(window, name, QToolButton), Qt.MouseButton.LeftButton)


def _wait_for_job(qtbot, panel, before: int) -> None:
    """Wait until the generation started after ``before`` undo steps has finished."""
    qtbot.waitUntil(lambda: panel.job is not None and panel.job.done, timeout=60000)
    assert panel.job.state == JobState.SUCCEEDED, panel.job.error
    # the job is done in its worker before its queued result reaches the panel
    qtbot.waitUntil(lambda: len(panel.document.undo_stack.labels()) > before, timeout=10000)
    qtbot.wait(50)  # a second step, were there one, would be queued right behind
    assert len(panel.document.undo_stack.labels()) == before + 1  # ONE step per generation


def _undo_via_menu(window, panel, expected: str) -> None:
    """Edit ▸ Undo of the window (it names the step); the document's own undo only until the
    window has the action."""
    action = window.findChild(QAction, "edit.undo")
    if action is None:
        assert panel.document.undo() == expected
        return
    assert expected in action.text().replace("&", "")
    action.trigger()


def test_an_artist_makes_a_piece(qtbot, window, tiny_host, tmp_path):
    window.raise_panel("music")
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    panel = window.panels["music"]
    doc = panel.document
    editor = _find(window, "music.editor")

    # draw a note where the artist clicks
    pitch = editor.pitch_at(editor.viewport().height() / 2)
    spot = QPoint(int(editor.x_of(1.0) + 3), int(editor.y_of(pitch) + editor.row_h / 2))
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=spot)
    assert doc.clip.notes == (Note(1.0, pitch, 0.25, 90, 0),)
    assert doc.undo_stack.undo_text() == "Draw note"

    # the controls, typed
    _type_into(qtbot, _find(window, "music.bars", QAbstractSpinBox), "2")
    _type_into(qtbot, _find(window, "music.instruments", QLineEdit), "piano,bass")
    _type_into(qtbot, _find(window, "music.seed", QAbstractSpinBox), "5")
    assert (doc.bars, doc.instruments, doc.seed) == (2, "piano,bass", 5)

    # Generate (the button): the drawn note is replaced, as one undo step
    steps = len(doc.undo_stack.labels())
    _click(qtbot, window, "music.generate")
    _wait_for_job(qtbot, panel, steps)
    assert doc.undo_stack.undo_text() == "Generate 2 bars"
    assert doc.clip.notes and doc.clip.provenance_dict()["seed"] == 5
    assert doc.clip.program_map() == {0: 0, 1: 32}

    # Generate again with Ctrl+Return pressed in the panel, two variations this time
    _type_into(qtbot, _find(window, "music.variations", QAbstractSpinBox), "2")
    editor.setFocus()
    steps = len(doc.undo_stack.labels())
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    _wait_for_job(qtbot, panel, steps)
    takes = _find(window, "music.takes", QListWidget)
    assert takes.count() == 2 and len(doc.takes) == 2

    # audition take 2: an undo step of its own
    item = takes.item(1)
    qtbot.mouseClick(takes.viewport(), Qt.MouseButton.LeftButton,
                     pos=takes.visualItemRect(item).center())  # fmt: skip
    assert doc.take == 1 and doc.clip.provenance_dict()["seed"] == 6
    assert doc.undo_stack.undo_text() == "Take 2"

    # select bar 2 on the ruler and infill it
    y = RULER_H // 2
    bar = doc.clip.bar_length
    qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(int(editor.x_of(bar * 1.5)), y))  # fmt: skip
    assert doc.bar_range == (2, 2)
    before = doc.clip
    steps = len(doc.undo_stack.labels())
    _click(qtbot, window, "music.infill")
    _wait_for_job(qtbot, panel, steps)
    assert doc.undo_stack.undo_text() == "Infill bar 2"
    kept = [n for n in before.notes if not bar - 1e-9 <= n.start < 2 * bar - 1e-9]
    assert [n for n in doc.clip.notes if not bar - 1e-9 <= n.start < 2 * bar - 1e-9] == kept
    assert editor.clip.notes == list(doc.clip.notes)  # the editor shows the document

    # undo the infill from the Edit menu: one step takes the whole generation back
    _undo_via_menu(window, panel, "Infill bar 2")
    assert doc.clip == before
    assert editor.clip.notes == list(before.notes)

    # export with the toolbar button and read the file back
    out = tmp_path / "piece"
    files.answer_next(out)
    _click(qtbot, window, "music.export")
    written = MidiClip.load(tmp_path / "piece.mid")
    assert written.notes == list(doc.clip.notes)
    assert doc.source == str(tmp_path / "piece.mid")

    # save the project (Ctrl+S), start a new one (Ctrl+N), open the saved one (Ctrl+O): the panel
    # shows the same piece, takes and controls
    project = tmp_path / "song.studio"
    saved = {name: doc.get(name) for name in ("clip", "takes", "take", "bars", "instruments",
                                              "seed", "variations", "bar_range")}  # fmt: skip
    files.answer_next(project)
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.context.project.dirty, timeout=20000)
    assert (project / "music" / "clip.mid").exists()
    qtbot.keyClick(editor, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.document is not doc)
    assert panel.document.clip.notes == () and editor.clip.notes == []
    files.answer_next(project)
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.document.clip.notes != (), timeout=20000)
    again = panel.document
    assert {name: again.get(name) for name in saved} == saved
    assert editor.clip.notes == list(saved["clip"].notes)
    assert _find(window, "music.bars", QAbstractSpinBox).value() == 2
    assert _find(window, "music.takes", QListWidget).count() == 2


def test_escape_cancels_a_generation_and_leaves_the_clip(qtbot, window, tiny_host):
    window.raise_panel("music")
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    panel = window.panels["music"]
    doc = panel.document
    editor = _find(window, "music.editor")
    _type_into(qtbot, _find(window, "music.bars", QAbstractSpinBox), "16")
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert panel.job is not None
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: panel.job.done, timeout=60000)
    assert panel.job.state == JobState.CANCELLED
    assert doc.clip.notes == () and not doc.undo_stack.can_undo
    assert editor.clip.notes == []  # no preview left behind
