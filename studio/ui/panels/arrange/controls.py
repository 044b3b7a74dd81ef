"""The Arrange panel's widgets, each named ``arrange.<action>`` with a tooltip: the controls
column (timeline settings, what to add, the selected clip and lane, the master, export) and the
transport over the timeline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels.arrange.timeline import TimelineView
from studio.ui.panels.base import named as _named
from studio.ui.panels.base import panel_action as action

if TYPE_CHECKING:
    from studio.ui.panels.arrange.panel import ArrangePanel

__all__ = ["build", "action", "MeterWidget", "LANE_EFFECTS", "MASTER_EFFECTS", "SNAPS"]

SNAPS = (("Bar", -1.0), ("Beat", 1.0), ("1/2 beat", 0.5), ("1/4 beat", 0.25), ("Off", 0.0))
# (effect field, label, minimum, maximum, step, suffix, tooltip)
LANE_EFFECTS = (
    ("low_db", "EQ low", -18, 18, 1, " dB", "Low shelf at 200 Hz (pedalboard)"),
    ("mid_db", "EQ mid", -18, 18, 1, " dB", "Peak at 1 kHz (pedalboard)"),
    ("high_db", "EQ high", -18, 18, 1, " dB", "High shelf at 5 kHz (pedalboard)"),
    ("compress", "Compressor", 0, 1, 0.1, "", "Compression amount, 0 = off (pedalboard)"),
    ("delay", "Delay", 0, 1, 0.1, "", "Echo mix, 0 = off; its time follows the tempo"),
    ("delay_beats", "Delay time", 0.25, 4, 0.25, " beats", "Echo time in beats"),
    ("reverb", "Reverb", 0, 1, 0.1, "", "Reverb amount, 0 = off (pedalboard)"),
)
MASTER_EFFECTS = ("low_db", "high_db", "compress", "reverb")


def _spin(name: str, tip: str, lo: float, hi: float, step: float, suffix: str = "",
          decimals: int = 1) -> QDoubleSpinBox:  # fmt: skip
    box = _named(QDoubleSpinBox(), name, tip)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)
    return box


def _button(name: str, text: str, tip: str) -> QPushButton:
    return _named(QPushButton(text), name, tip)


class MeterWidget(QWidget):
    """The master meter: left and right peak bars (dBFS, -60..0) and the last mix's loudness."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("arrange_meter")
        self.setToolTip("Master level while playing (peak, dBFS)")
        self.levels = (float("-inf"), float("-inf"))

    def sizeHint(self) -> QSize:
        return QSize(200, 22)

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 16)

    def set_levels(self, left: float, right: float) -> None:
        self.levels = (left, right)
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        w, h = self.width(), self.height()
        painter.fillRect(0, 0, w, h, QColor(30, 30, 30))
        for i, level in enumerate(self.levels):
            fraction = 0.0 if level == float("-inf") else max(0.0, min(1.0, (level + 60) / 60))
            color = (
                QColor(80, 200, 90)
                if level < -6
                else (QColor(230, 200, 60) if level < -1 else QColor(230, 70, 60))
            )
            painter.fillRect(QRectF(0, i * h / 2 + 1, w * fraction, h / 2 - 2), color)
        painter.end()


def build(panel: ArrangePanel) -> None:
    """Make the panel's widgets (attributes of ``panel``) and lay them out."""
    left = QWidget()
    column = QVBoxLayout(left)
    column.addWidget(QLabel("<b>Arrange</b>: put the music, the takes and the video on one "
                            "timeline, mix and export."))  # fmt: skip
    column.itemAt(0).widget().setWordWrap(True)

    timeline = QGroupBox("Timeline")
    form = QFormLayout(timeline)
    panel.tempo_box = _spin(
        "arrange.tempo",
        "Tempo of the timeline (MIDI follows; sung takes are re-timed to stay on their melody)",
        20,
        400,
        1,
        " BPM",
        1,
    )
    form.addRow("Tempo", panel.tempo_box)
    panel.snap_combo = _named(QComboBox(), "arrange.snap", "What clips snap to when dragged")
    for text, value in SNAPS:
        panel.snap_combo.addItem(text, value)
    form.addRow("Snap", panel.snap_combo)
    panel.zoom_box = _spin("arrange.zoom", "Pixels per beat", 2, 200, 4, " px", 0)
    form.addRow("Zoom", panel.zoom_box)
    panel.follow_button = _button(
        "arrange.follow_music", "Tempo from Music", "Take the Music panel's tempo and meter"
    )
    form.addRow(panel.follow_button)
    column.addWidget(timeline)

    add = QGroupBox("Add at the playhead")
    grid = QGridLayout(add)
    panel.add_button = _button("arrange.add_file", "File…", "Add a MIDI, audio, video or "
                               "picture file on a new lane")  # fmt: skip
    panel.send_music_button = _button(
        "arrange.send_music", "Music", "The Music panel's clip, one lane per track"
    )
    panel.send_voice_button = _button(
        "arrange.send_voice", "Voice take", "The Voice panel's selected take (sung or spoken)"
    )
    panel.send_image_button = _button(
        "arrange.send_image", "Picture", "The Image panel's picture onto the video lane"
    )
    panel.send_video_button = _button(
        "arrange.send_video", "Video export", "The Video panel's last export onto the video lane"
    )
    panel.add_lane_button = _button("arrange.add_lane", "Empty lane", "A new empty audio lane")
    for i, b in enumerate((panel.add_button, panel.send_music_button, panel.send_voice_button,
                           panel.send_image_button, panel.send_video_button,
                           panel.add_lane_button)):  # fmt: skip
        grid.addWidget(b, i // 2, i % 2)
    column.addWidget(add)

    clip = QGroupBox("Selected clip")
    panel.clip_group = clip
    form = QFormLayout(clip)
    row = QHBoxLayout()
    panel.split_button = _button("arrange.split", "Split", "Cut the clip at the playhead")
    panel.delete_button = _button("arrange.delete_clip", "Delete", "Remove the clip (Delete)")
    row.addWidget(panel.split_button)
    row.addWidget(panel.delete_button)
    form.addRow(row)
    panel.clip_loop = _named(
        QCheckBox("Loop"), "arrange.clip_loop", "Repeat the source to fill the clip"
    )
    form.addRow(panel.clip_loop)
    panel.clip_start = _spin("arrange.clip_start", "Where the clip starts (bar)", 1, 10000, 1,
                             "", 2)  # fmt: skip
    form.addRow("Bar", panel.clip_start)
    panel.clip_length = _spin("arrange.clip_length", "Length in beats (trims or extends)",
                              1 / 16, 100000, 1, " beats", 2)  # fmt: skip
    form.addRow("Length", panel.clip_length)
    panel.fade_in = _spin("arrange.fade_in", "Fade in, in beats", 0, 64, 0.5, " beats", 2)
    form.addRow("Fade in", panel.fade_in)
    panel.fade_out = _spin("arrange.fade_out", "Fade out, in beats", 0, 64, 0.5, " beats", 2)
    form.addRow("Fade out", panel.fade_out)
    panel.clip_gain = _spin("arrange.clip_gain", "The clip's own gain", -48, 12, 1, " dB")
    form.addRow("Gain", panel.clip_gain)
    column.addWidget(clip)

    lane = QGroupBox("Selected lane")
    panel.lane_group = lane
    form = QFormLayout(lane)
    panel.lane_gain = _spin("arrange.lane_gain", "The lane's fader", -60, 12, 1, " dB")
    form.addRow("Gain", panel.lane_gain)
    panel.lane_pan = _spin("arrange.lane_pan", "Pan: -1 left, 0 centre, 1 right", -1, 1, 0.1,
                           "", 2)  # fmt: skip
    form.addRow("Pan", panel.lane_pan)
    row = QHBoxLayout()
    panel.lane_mute = _named(QCheckBox("Mute"), "arrange.lane_mute", "Silence this lane")
    panel.lane_solo = _named(QCheckBox("Solo"), "arrange.lane_solo", "Hear only soloed lanes")
    row.addWidget(panel.lane_mute)
    row.addWidget(panel.lane_solo)
    form.addRow(row)
    panel.lane_effects = {}
    for key, text, lo, hi, step, suffix, tip in LANE_EFFECTS:
        box = _spin(f"arrange.lane_{key}", tip, lo, hi, step, suffix, 2 if hi <= 4 else 1)
        panel.lane_effects[key] = box
        form.addRow(text, box)
    panel.delete_lane_button = _button(
        "arrange.delete_lane", "Delete lane", "Remove the lane and its clips"
    )
    form.addRow(panel.delete_lane_button)
    column.addWidget(lane)

    master = QGroupBox("Master")
    form = QFormLayout(master)
    panel.master_gain = _spin("arrange.master_gain", "Master fader (before mastering)", -30, 12,
                              1, " dB")  # fmt: skip
    form.addRow("Gain", panel.master_gain)
    panel.master_effects = {}
    for key, text, lo, hi, step, suffix, tip in LANE_EFFECTS:
        if key in MASTER_EFFECTS:
            box = _spin(f"arrange.master_{key}", tip.replace("(pedalboard)", "on the master"),
                        lo, hi, step, suffix, 2 if hi <= 4 else 1)  # fmt: skip
            panel.master_effects[key] = box
            form.addRow(text, box)
    panel.master_on = _named(
        QCheckBox("Master to loudness"),
        "arrange.master_on",
        "Master to the loudness target with a true-peak limit of -1 dBTP",
    )
    form.addRow(panel.master_on)
    panel.lufs_box = _spin("arrange.lufs", "Integrated loudness target (LUFS)", -40, -6, 1,
                           " LUFS")  # fmt: skip
    form.addRow("Target", panel.lufs_box)
    panel.meter = MeterWidget()
    form.addRow("Meter", panel.meter)
    panel.loudness_label = QLabel("Not mixed yet")
    panel.loudness_label.setWordWrap(True)
    form.addRow(panel.loudness_label)
    column.addWidget(master)

    export = QGroupBox("Export")
    grid = QGridLayout(export)
    panel.export_button = _button("arrange.export", "Mix…", "Export the mix as WAV or FLAC "
                                  "(Ctrl+E)")  # fmt: skip
    panel.stems_button = _button("arrange.export_stems", "Stems…", "One file per lane")
    panel.video_button = _button("arrange.export_video", "Video…", "A music video: MP4 with "
                                 "the video lane and the mix")  # fmt: skip
    panel.cancel_button = _button("arrange.cancel", "Cancel", "Stop the mix or export (Escape)")
    panel.cancel_button.setEnabled(False)
    for i, b in enumerate((panel.export_button, panel.stems_button, panel.video_button,
                           panel.cancel_button)):  # fmt: skip
        grid.addWidget(b, i // 2, i % 2)
    panel.make_progress()
    grid.addWidget(panel.progress, 2, 0, 1, 2)
    column.addWidget(export)
    column.addWidget(panel.status)
    column.addStretch(1)

    work = QWidget()
    right = QVBoxLayout(work)
    right.setContentsMargins(0, 0, 0, 0)
    transport = QHBoxLayout()
    panel.play_button = _button("arrange.play", "Play", "Play from the playhead (Space)")
    panel.stop_button = _button("arrange.stop", "Stop", "Stop playing (Space, Escape)")
    panel.loop_check = _named(
        QCheckBox("Loop"), "arrange.loop", "Play the loop region over and over"
    )
    panel.loop_button = _button(
        "arrange.loop_clip", "Loop clip", "Make the selected clip's span the loop region"
    )
    panel.mix_button = _button("arrange.mix", "Mix", "Mix now and show the loudness "
                               "(Ctrl+Return)")  # fmt: skip
    panel.position_label = QLabel("1.1  0:00.0")
    panel.position_label.setMinimumWidth(110)
    for w in (panel.play_button, panel.stop_button, panel.loop_check, panel.loop_button,
              panel.mix_button):  # fmt: skip
        transport.addWidget(w)
    transport.addWidget(panel.position_label)
    transport.addStretch(1)
    right.addLayout(transport)
    panel.timeline = TimelineView()
    right.addWidget(panel.timeline, 1)
    panel.lay_out(left, work)
