"""A scripted artist session in the Video panel of the real window: open a clip, preview it with
the buttons, change the matte, undo from the Edit menu, pick a background, export a few frames
with the Export button and with Ctrl+E. Only widgets, actions and keys; the document is read to
check the results."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QWidget

from studio.ui.dialogs import files


def _undo_via_menu(window, panel) -> None:
    """Edit ▸ Undo of the window (the front panel's document); the document's own undo only
    while the window has no such action."""
    action = window.findChild(QAction, "edit.undo")
    if action is not None:
        action.trigger()
    else:  # pragma: no cover - the window before its Edit menu
        panel.document.undo()


def _type_into(qtbot, box, text: str) -> None:
    """Click a spin box, replace its text and press Return, as an artist does."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


@pytest.fixture(autouse=True)
def _torch_imported():
    """torch imported before the window exists: the status bar's memory timer reads
    ``sys.modules["torch"]`` and fails on a half-imported one while the preview's worker
    imports it (studio.core.devices.memory_in_use; reported to the lead)."""
    import torch  # noqa: F401


@pytest.fixture
def clip(tmp_path):
    from studio.video.export import write_demo

    return write_demo(tmp_path / "walk.mp4", seconds=1.2, width=160, height=90, fps=10).path


def test_open_preview_tune_undo_and_export(qtbot, window, clip, tmp_path):
    def find(name):
        widget = window.findChild(QWidget, name)
        assert widget is not None, f"no widget {name}"
        return widget

    window.findChild(QAction, "view.video").trigger()
    panel = window.panels["video"]
    doc = panel.document

    # open the clip: the button asks for a file (answered in advance), the preview shows it
    files.answer_next(clip)
    qtbot.mouseClick(find("video.open"), Qt.MouseButton.LeftButton)
    assert doc.source == "file" and doc.source_path == str(clip)
    assert find("video.source").currentData() == "file"
    qtbot.waitUntil(
        lambda: panel.last is not None and panel.last.frame.pixels.shape == (90, 160, 3),
        timeout=30000,
    )
    play = find("video.play")
    qtbot.mouseClick(play, Qt.MouseButton.LeftButton)
    assert play.text() == "Play"
    shown = panel.last
    qtbot.mouseClick(find("video.preview"), Qt.MouseButton.LeftButton)  # from the start again
    qtbot.waitUntil(lambda: panel.last is not shown, timeout=30000)
    assert play.text() == "Pause"

    # a matte setting typed in is one undo step; Edit ▸ Undo puts it and its box back
    threshold = find("video.threshold")
    _type_into(qtbot, threshold, "0.5")
    assert doc.threshold == 0.5
    assert doc.undo_stack.undo_text() == "Threshold 0.5"
    _undo_via_menu(window, panel)
    assert doc.threshold == 0.0 and threshold.value() == 0.0
    assert doc.undo_stack.can_redo

    # the matte as the background, and only the first 3 frames
    effect = find("video.effect")
    _choose(qtbot, effect, "Matte only")
    assert doc.effect == "matte" and effect.currentText() == "Matte only"
    _type_into(qtbot, find("video.export_frames"), "3")
    assert doc.export_frames == 3

    # Export… asks where, then the job writes the file
    out = tmp_path / "out" / "walk-matte.mp4"
    out.parent.mkdir()
    files.answer_next(out)
    qtbot.mouseClick(find("video.export"), Qt.MouseButton.LeftButton)
    job = panel.job
    assert job is not None and job.title.endswith("walk-matte.mp4")
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    assert "Exported 3 frames" in panel.status.text(), panel.status.text()
    assert doc.last_export == str(out)
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask  # the user's umask, like any output
    assert sorted(p.name for p in out.parent.iterdir()) == ["walk-matte.mp4"]  # no temporary
    frames = _read_frames(out)
    assert len(frames) == 3
    assert np.abs(frames[0][..., 0].astype(int) - frames[0][..., 1]).mean() < 8  # grey: a matte

    # Ctrl+E from the picture: the same export, as a PNG sequence this time
    seq = tmp_path / "frames.png"
    files.answer_next(seq)
    view = find("video.picture")
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    job = panel.job
    assert job.title.endswith("frames")
    with qtbot.waitSignal(job.finished, timeout=60000):
        pass
    folder = tmp_path / "frames"
    assert sorted(p.name for p in folder.iterdir()) == [f"frame_{i:06d}.png" for i in (1, 2, 3)]
    assert "failed" not in panel.status.text().lower()


def _choose(qtbot, combo, text: str) -> None:
    """Open a combo box's list with a click, walk to an entry with the arrow keys and take it
    with Return (a click in the list would need to wait out Qt's double-click guard)."""
    row = combo.findText(text)
    assert row >= 0, f"{combo.objectName()} has no {text!r}"
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5000)
    key = Qt.Key.Key_Down if row > combo.currentIndex() else Qt.Key.Key_Up
    for _ in range(abs(row - combo.currentIndex())):
        qtbot.keyClick(view, key)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=5000)
    window = combo.window()  # the offscreen platform leaves the closed popup active
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)


def _read_frames(path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames
