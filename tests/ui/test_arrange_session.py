"""A scripted artist session in the Arrange panel of the real window: send the Music clip, add a
file, drag a clip on the timeline and undo it from the Edit menu, set a lane's gain and mute,
split at the playhead, mix, export WAV (button) and FLAC (Ctrl+E), stems and a music video, and
play or be told there is no sound card. Only widgets, actions, mouse and keys; the document is
read to check the results."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QWidget

from studio.core.media import MidiClip, Note
from studio.ui.dialogs import files
from studio.ui.panels.arrange.timeline import LANE_H, RULER_H


def _type_into(qtbot, box, text: str) -> None:
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    qtbot.keyClick(box, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


@pytest.fixture
def wav(tmp_path):
    t = np.arange(44100) / 44100
    path = tmp_path / "pad.wav"
    soundfile.write(str(path), (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 44100)
    return path


def test_send_add_drag_undo_mix_and_export(qtbot, window, wav, tmp_path):
    def find(name):
        widget = window.findChild(QWidget, name) or window.findChild(QAction, name)
        assert widget is not None, f"no control {name}"
        return widget

    def click(name):
        widget = find(name)
        # a check box toggles from its box and text, at its left, not its stretched middle
        at = QPoint(8, widget.height() // 2) if isinstance(widget, QCheckBox) else QPoint()
        qtbot.mouseClick(widget, Qt.MouseButton.LeftButton, pos=at)

    view = find("view.arrange")
    assert view.shortcut() == QKeySequence("Ctrl+6")
    view.trigger()
    panel = window.panels["arrange"]
    doc = panel.document
    notes = [Note(i * 1.0, 60 + i % 5, 0.75, 100, 0) for i in range(8)]
    notes += [Note(0.0, 36, 7.5, 90, 1)]
    window.panels["music"].document.replace_clip("Notes", MidiClip(notes=notes, bpm=100))

    # the Music clip arrives as one lane per track, at the Music tempo
    click("arrange.send_music")
    assert [lane.kind for lane in doc.lanes] == ["midi", "midi"] and doc.bpm == 100
    assert find("arrange.tempo").value() == 100
    # a file from the Add button (the dialog answered in advance) on a new lane at the playhead
    files.answer_next(wav)
    click("arrange.add_file")
    assert len(doc.lanes) == 3 and doc.clips[-1].start == 0.0

    # drag the audio clip two beats to the right: snapped, one undo step, Edit ▸ Undo puts it back
    timeline = panel.timeline
    timeline.refresh()
    clip = doc.clips[-1]
    y = RULER_H + 2 * LANE_H + LANE_H // 2
    x = int(timeline.x_of(clip.start + 0.5))
    port = timeline.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    qtbot.mouseMove(port, QPoint(x + int(2.2 * doc.zoom), y))
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=QPoint(x + int(2.2 * doc.zoom), y))
    assert doc.clip(clip.id).start == 2.0
    assert doc.selected_clip == clip.id
    find("edit.undo").trigger()
    assert doc.clip(clip.id).start == 0.0

    # Ctrl + wheel zooms the timeline (view state, not an undo step)
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    zoom, steps = doc.zoom, len(doc.undo_stack.labels())
    wheel = QWheelEvent(QPointF(x, y), QPointF(port.mapToGlobal(QPoint(x, y))), QPoint(),
                        QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)  # fmt: skip
    QApplication.sendEvent(port, wheel)
    assert doc.zoom == pytest.approx(zoom * 1.25) and len(doc.undo_stack.labels()) == steps

    # the lane under the clip: gain typed in, mute clicked
    _type_into(qtbot, find("arrange.lane_gain"), "-6")
    assert doc.lane(clip.lane).gain_db == -6.0
    click("arrange.lane_mute")
    assert doc.lane(clip.lane).mute
    click("arrange.lane_mute")

    # the playhead from the ruler, then Split cuts the selected clip there
    qtbot.mouseClick(port, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(timeline.x_of(1.0)) + 1, RULER_H // 2))  # fmt: skip
    assert doc.playhead == 1.0
    click("arrange.split")
    assert len(doc.lane_clips(clip.lane)) == 2

    # mix: loudness shown; export the mix, stems and a music video
    click("arrange.mix")
    qtbot.waitUntil(lambda: panel.mix is not None, timeout=60000)
    assert "LUFS" in panel.loudness_label.text() and abs(panel.mix.loudness + 14) <= 1
    out = tmp_path / "song.wav"
    files.answer_next(out)
    click("arrange.export")
    qtbot.waitUntil(out.exists, timeout=60000)
    flac = tmp_path / "song.flac"
    files.answer_next(flac)
    panel.timeline.setFocus()
    qtbot.keyClick(panel.timeline, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(flac.exists, timeout=60000)
    files.answer_next(tmp_path / "stems")
    click("arrange.export_stems")
    qtbot.waitUntil(lambda: len(list((tmp_path / "stems").glob("*.wav"))) == 3, timeout=60000)
    if shutil.which("ffmpeg"):
        mp4 = tmp_path / "song.mp4"
        files.answer_next(mp4)
        click("arrange.export_video")
        qtbot.waitUntil(lambda: mp4.exists() and panel.job.done, timeout=120000)
        assert "Wrote song.mp4" in panel.status.text()

    # play: either it plays (Space stops it) or the panel says there is no sound card
    click("arrange.play")
    qtbot.waitUntil(lambda: panel.play_timer.isActive() or "No sound card" in
                    panel.status.text(), timeout=60000)  # fmt: skip
    if panel.play_timer.isActive():
        qtbot.keyClick(panel.timeline, Qt.Key.Key_Space)
        assert not panel.play_timer.isActive()

    # undo everything back to an empty arrangement through the Edit menu
    while doc.undo_stack.can_undo:
        find("edit.undo").trigger()
    assert not doc.clips and not doc.lanes


def test_a_send_to_arrange_button_in_another_panel_adds_a_lane_and_raises_arrange(qtbot, window):
    from studio.ui.panels.arrange.send import send_button

    music = window.panels["music"]
    notes = [Note(i * 1.0, 60 + i % 5, 0.75, 100, 0) for i in range(4)]
    music.document.replace_clip("Notes", MidiClip(notes=notes, bpm=90))
    button = send_button(music, "music")
    assert button.objectName() == "music.send_to_arrange" and button.toolTip()
    music.layout().addWidget(button)  # as the Music panel would, in its controls
    window.raise_panel("music")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    arrange = window.panels["arrange"].document
    assert [lane.kind for lane in arrange.lanes] == ["midi"] and arrange.bpm == 90
    assert "Sent to Arrange" in music.status.text()
    assert window.current_panel() is window.panels["arrange"]
    button.setParent(None)
