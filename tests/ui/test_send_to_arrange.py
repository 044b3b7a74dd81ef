"""Send to Arrange from the other panels, the way an artist does it: the panel's button, and
Tools ▸ Send to Arrange (Ctrl+Shift+A) for the panel in front."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from studio.core.media import MidiClip, Note


def test_the_image_panels_button_puts_the_picture_on_the_video_lane(qtbot, window):
    image = window.panels["image"].document
    image.add_layer(np.full((24, 32, 3), 200, np.uint8), "Cover")
    window.raise_panel("image")
    button = window.findChild(QPushButton, "image.send_to_arrange")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    arrange = window.panels["arrange"].document
    assert [lane.kind for lane in arrange.lanes] == ["video"]
    assert len(arrange.clips) == 1
    assert window.current_panel() is window.panels["arrange"]


def test_ctrl_shift_a_sends_the_front_panels_clip_and_undo_takes_it_back(qtbot, window):
    music = window.panels["music"].document
    music.replace_clip("Import", MidiClip([Note(i, 60 + i, 1.0, 90, 0) for i in range(8)]))
    window.raise_panel("music")
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    arrange = window.panels["arrange"].document
    assert [lane.kind for lane in arrange.lanes] == ["midi"]
    qtbot.waitUntil(lambda: window.current_panel() is window.panels["arrange"])
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert arrange.clips == ()
