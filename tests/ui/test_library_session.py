"""A scripted artist session in the Library panel of the real window: add a folder of pictures
and MIDI files with the button, click an item, like it, ask for more like it with the button
and with Ctrl+M, type a search and take it back with Edit ▸ Undo. Only widgets, actions and
keys; the document and the catalog are read to check the results."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from studio.ui.dialogs import files


def _like(seed: str, entry: str) -> bool:
    """A suggestion's reason (the entry's second line) says it is similar to ``seed``
    ("similar to coffee", "similar colours to coffee (0.42)")."""
    _title, _, reason = entry.partition("\n")
    return "similar" in reason and seed in reason


def _undo_via_menu(window, panel) -> None:
    """Edit ▸ Undo of the window (the front panel's document); the document's own undo only
    while the window has no such action."""
    action = window.findChild(QAction, "edit.undo")
    if action is not None:
        action.trigger()
    else:  # pragma: no cover - the window before its Edit menu
        panel.document.undo()


@pytest.fixture
def media(tmp_path):
    """Four small pictures (two reddish, two bluish) and two MIDI files."""
    from studio.core.media import MidiClip, Note
    from studio.image.io import Picture, save_picture
    from studio.testing import sample_midi_clip

    root = tmp_path / "media"
    root.mkdir()
    rng = np.random.default_rng(7)
    for name, colour in (("sunset", (220, 60, 30)), ("ember", (200, 40, 20)),
                         ("ocean", (20, 60, 210)), ("glacier", (40, 90, 230))):  # fmt: skip
        pixels = np.clip(rng.normal(colour, 25, (48, 64, 3)), 0, 255).astype(np.uint8)
        save_picture(Picture(pixels), root / f"{name}.png", provenance=False)
    sample_midi_clip().save(root / "arpeggio.mid")
    notes = [Note(i * 0.5, pitch, 0.4, 70) for i, pitch in enumerate((65, 69, 72, 77, 72, 69))]
    MidiClip(notes=notes, bpm=96.0).save(root / "fourth.mid")
    return root


def _click_item(qtbot, view, row: int) -> None:
    view.scrollToItem(view.item(row))
    rect = view.visualItemRect(view.item(row))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_add_select_like_and_more_like_this(qtbot, window, media):
    def find(name):
        widget = window.findChild(QWidget, name)
        assert widget is not None, f"no widget {name}"
        return widget

    window.findChild(QAction, "view.library").trigger()
    panel = window.panels["library"]
    doc = panel.document
    grid = find("library.items")

    # Add folder… asks for a folder (answered in advance) and scans it in the background
    files.answer_next(media)
    qtbot.mouseClick(find("library.add"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: grid.count() == 6, timeout=120000)
    assert "6 new" in panel.status.text()

    # click a picture: it is the document's selection, and its buttons wake up
    row = next(i for i in range(grid.count()) if grid.item(i).text() == "sunset")
    _click_item(qtbot, grid, row)
    assert doc.selected == str(media / "sunset.png")
    like, more = find("library.like"), find("library.more_like_this")
    assert like.isEnabled() and more.isEnabled()
    assert "sunset" in panel.details.text()

    # Like (the button): a catalog event; the project remembers the item
    qtbot.mouseClick(like, Qt.MouseButton.LeftButton)
    assert panel.catalog.events()[-1][2] == "like"
    assert doc.used == (str(media / "sunset.png"),)
    assert "sunset: liked" in panel.status.text()

    # More like this (the button): its clicked(bool) is not an item id any more
    qtbot.mouseClick(more, Qt.MouseButton.LeftButton)
    recs = find("library.recommendations")
    qtbot.waitUntil(lambda: "More like sunset" in panel.recs_title.text(), timeout=10000)

    def texts():
        return [recs.item(i).text() for i in range(recs.count())]

    # the job is done before its result reaches the window: wait for the list itself
    qtbot.waitUntil(lambda: any(_like("sunset", t) for t in texts()), timeout=60000)
    assert "Recommendations</b>:" not in panel.recs_title.text()  # no error in its place
    assert not any(t.startswith("sunset\n") for t in texts())  # not itself

    # Ctrl+M in the list, on another item
    row = next(i for i in range(grid.count()) if grid.item(i).text() == "ocean")
    _click_item(qtbot, grid, row)
    assert doc.selected == str(media / "ocean.png")
    qtbot.keyClick(grid, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "More like ocean" in panel.recs_title.text(), timeout=10000)
    qtbot.waitUntil(lambda: texts() and _like("ocean", texts()[0]), timeout=60000)
    assert doc.used == (str(media / "sunset.png"), str(media / "ocean.png"))
    assert "no item" not in panel.status.text()

    # a search typed in narrows the list; Edit ▸ Undo brings the whole list back
    search = find("library.search")
    qtbot.mouseClick(search, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(search, "arp")
    qtbot.waitUntil(lambda: grid.count() == 1, timeout=5000)
    assert doc.search == "arp" and doc.undo_stack.undo_text() == "Type in the search"
    _undo_via_menu(window, panel)
    assert doc.search == "" and search.text() == ""
    qtbot.waitUntil(lambda: grid.count() == 6, timeout=5000)
    assert doc.selected == str(media / "ocean.png")  # the selection is view state: it stays
    assert grid.currentItem().text() == "ocean"
