"""The tracks table of the Music panel: instrument, mute, solo and volume per channel.

A view of the Music document: :meth:`TracksTable.show_clip` redraws it from the document, and each
gesture is a signal the panel turns into a document command (nothing is kept here).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHeaderView,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from studio.core.media import DRUM_CHANNEL
from studio.music.document import Clip

__all__ = ["TracksTable", "GM_PROGRAMS"]

# The 128 General MIDI programs, by family, short names.
GM_PROGRAMS = [
    "Acoustic Grand Piano", "Bright Piano", "Electric Grand", "Honky-tonk", "E.Piano 1",
    "E.Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box", "Vibraphone",
    "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ", "Percussive Organ",
    "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Bandoneon",
    "Nylon Guitar", "Steel Guitar", "Jazz Guitar", "Clean Guitar", "Muted Guitar",
    "Overdrive Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass",
    "Finger Bass", "Pick Bass", "Fretless Bass", "Slap Bass 1", "Slap Bass 2", "Synth Bass 1",
    "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings",
    "Pizzicato Strings", "Harp", "Timpani", "Strings", "Slow Strings", "Synth Strings 1",
    "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet",
    "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
    "Synth Brass 2", "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe",
    "English Horn", "Bassoon", "Clarinet", "Piccolo", "Flute", "Recorder", "Pan Flute",
    "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina", "Square Lead", "Saw Lead",
    "Calliope Lead", "Chiff Lead", "Charang", "Voice Lead", "Fifths Lead", "Bass + Lead",
    "New Age Pad", "Warm Pad", "Polysynth", "Choir Pad", "Bowed Pad", "Metallic Pad", "Halo Pad",
    "Sweep Pad", "Rain", "Soundtrack", "Crystal", "Atmosphere", "Brightness", "Goblins",
    "Echoes", "Sci-fi", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle",
    "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom",
    "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore",
    "Bird Tweet", "Telephone", "Helicopter", "Applause", "Gunshot",
]  # fmt: skip

COL_CH, COL_INSTR, COL_MUTE, COL_SOLO, COL_VOL = range(5)


class TracksTable(QTableWidget):
    """One row per channel in use. Gestures: ``program_changed(channel, program)``,
    ``mute_toggled(channel, on)``, ``solo_toggled(channel, on)``, ``volume_changed(channel,
    0..1)`` and ``track_chosen(channel)`` (the row clicked: where new notes go)."""

    program_changed = Signal(int, int)
    mute_toggled = Signal(int, bool)
    solo_toggled = Signal(int, bool)
    volume_changed = Signal(int, float)
    track_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 5, parent)
        self.setObjectName("music.tracks")
        self.setToolTip("The tracks: instrument, mute (M), solo (S) and volume of each channel")
        self.setHorizontalHeaderLabels(["Ch", "Instrument", "M", "S", "Volume"])
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(COL_INSTR, QHeaderView.ResizeMode.Stretch)
        for col in (COL_CH, COL_MUTE, COL_SOLO):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.setColumnWidth(COL_VOL, 110)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.channels: list[int] = []
        self.itemSelectionChanged.connect(self._on_self_selection_changed)

    # -- the view ----------------------------------------------------------------------------------
    def show_clip(
        self,
        clip: Clip,
        volumes: dict[int, float],
        muted: set[int] | tuple[int, ...],
        soloed: set[int] | tuple[int, ...],
        track: int | None,
    ) -> None:
        """Show ``clip``'s channels with their instrument and mix; ``track`` is the chosen one.
        Rows are rebuilt only when the channels change (a slider being dragged stays)."""
        channels = clip.channels
        programs = clip.program_map()
        self.blockSignals(True)
        try:
            if channels != self.channels:
                self._rebuild(channels)
            for row, ch in enumerate(channels):
                box = self._widget(row, COL_INSTR, QComboBox)
                if ch != DRUM_CHANNEL and box.currentIndex() != programs.get(ch, 0):
                    with _blocked(box):
                        box.setCurrentIndex(programs.get(ch, 0))
                for col, on in ((COL_MUTE, ch in muted), (COL_SOLO, ch in soloed)):
                    check = self._widget(row, col, QCheckBox)
                    if check.isChecked() != on:
                        with _blocked(check):
                            check.setChecked(on)
                slider = self._widget(row, COL_VOL, QSlider)
                value = int(round(volumes.get(ch, 1.0) * 100))
                if slider.value() != value and not slider.isSliderDown():
                    with _blocked(slider):
                        slider.setValue(value)
            row = channels.index(track) if track in channels else (0 if channels else -1)
            if row >= 0 and self.currentRow() != row:
                self.selectRow(row)
        finally:
            self.blockSignals(False)

    def _rebuild(self, channels: list[int]) -> None:
        self.channels = list(channels)
        self.setRowCount(len(channels))
        for row, ch in enumerate(channels):
            item = QTableWidgetItem(str(ch + 1))
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.setItem(row, COL_CH, item)
            box = QComboBox()
            box.setObjectName(f"music.track_program.{ch + 1}")
            box.setToolTip(f"The instrument of track {ch + 1} (General MIDI)")
            if ch == DRUM_CHANNEL:
                box.addItem("Drums (channel 10)")
                box.setEnabled(False)
            else:
                box.addItems([f"{i}: {name}" for i, name in enumerate(GM_PROGRAMS)])
                box.currentIndexChanged.connect(
                    lambda program, ch=ch: self.program_changed.emit(ch, program)
                )
            self.setCellWidget(row, COL_INSTR, box)
            for col, name, tip, signal in (
                (COL_MUTE, "music.track_mute", "Mute", self.mute_toggled),
                (COL_SOLO, "music.track_solo", "Solo", self.solo_toggled),
            ):
                check = QCheckBox()
                check.setObjectName(f"{name}.{ch + 1}")
                check.setToolTip(f"{tip} track {ch + 1}")
                check.toggled.connect(lambda on, ch=ch, signal=signal: signal.emit(ch, on))
                self.setCellWidget(row, col, check)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setObjectName(f"music.track_volume.{ch + 1}")
            slider.setToolTip(f"Volume of track {ch + 1}")
            slider.setRange(0, 100)
            slider.setValue(100)
            slider.valueChanged.connect(
                lambda value, ch=ch: self.volume_changed.emit(ch, value / 100.0)
            )
            self.setCellWidget(row, COL_VOL, slider)

    def _widget(self, row: int, col: int, kind: type):
        widget = self.cellWidget(row, col)
        assert isinstance(widget, kind)
        return widget

    @Slot()
    def _on_self_selection_changed(self) -> None:
        channel = self.current_channel()
        if channel is not None:
            self.track_chosen.emit(channel)

    def current_channel(self) -> int | None:
        row = self.currentRow()
        return self.channels[row] if 0 <= row < len(self.channels) else None

    def row_of(self, channel: int) -> int:
        return self.channels.index(channel)


class _blocked:
    def __init__(self, widget: QWidget) -> None:
        self.widget = widget

    def __enter__(self) -> None:
        self.old = self.widget.blockSignals(True)

    def __exit__(self, *exc) -> None:
        self.widget.blockSignals(self.old)
