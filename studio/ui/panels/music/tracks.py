"""The tracks table of the Music panel: instrument, mute, solo and volume per channel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHeaderView,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from studio.core.media import DRUM_CHANNEL, MidiClip

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
    """One row per channel in use; emits ``program_changed(channel, program)``, ``mix_changed``."""

    program_changed = Signal(int, int)
    mix_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 5, parent)
        self.setHorizontalHeaderLabels(["Ch", "Instrument", "M", "S", "Volume"])
        self.verticalHeader().setVisible(False)
        self.horizontalHeader().setSectionResizeMode(COL_INSTR, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_CH, 34), (COL_MUTE, 28), (COL_SOLO, 28), (COL_VOL, 90)):
            self.setColumnWidth(col, width)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.channels: list[int] = []
        self.volume: dict[int, float] = {}
        self.mute: set[int] = set()
        self.solo: set[int] = set()

    def set_clip(self, clip: MidiClip, extra: list[int] = ()) -> None:
        channels = sorted({n.channel for n in clip.notes} | set(extra))
        if channels == self.channels and all(
            self._program_box(i).currentIndex() == clip.programs.get(c, 0)
            for i, c in enumerate(channels)
            if c != DRUM_CHANNEL
        ):
            return
        current = self.current_channel()
        self.blockSignals(True)
        self.channels = channels
        self.setRowCount(len(channels))
        for row, ch in enumerate(channels):
            item = QTableWidgetItem(str(ch + 1))
            item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.setItem(row, COL_CH, item)
            box = QComboBox()
            if ch == DRUM_CHANNEL:
                box.addItem("Drums (channel 10)")
                box.setEnabled(False)
            else:
                box.addItems([f"{i}: {name}" for i, name in enumerate(GM_PROGRAMS)])
                box.setCurrentIndex(clip.programs.get(ch, 0))
                box.currentIndexChanged.connect(
                    lambda program, ch=ch: self.program_changed.emit(ch, program)
                )
            self.setCellWidget(row, COL_INSTR, box)
            mute, solo = QCheckBox(), QCheckBox()
            mute.setChecked(ch in self.mute)
            solo.setChecked(ch in self.solo)
            mute.setToolTip("Mute")
            solo.setToolTip("Solo")
            mute.toggled.connect(lambda on, ch=ch: self._toggle(self.mute, ch, on))
            solo.toggled.connect(lambda on, ch=ch: self._toggle(self.solo, ch, on))
            self.setCellWidget(row, COL_MUTE, mute)
            self.setCellWidget(row, COL_SOLO, solo)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(0, 100)
            slider.setValue(int(self.volume.get(ch, 1.0) * 100))
            slider.valueChanged.connect(lambda v, ch=ch: self._set_volume(ch, v))
            self.setCellWidget(row, COL_VOL, slider)
        self.blockSignals(False)
        if current in channels:
            self.selectRow(channels.index(current))
        elif channels:
            self.selectRow(0)

    def _program_box(self, row: int) -> QComboBox:
        return self.cellWidget(row, COL_INSTR)

    def _toggle(self, group: set[int], ch: int, on: bool) -> None:
        (group.add if on else group.discard)(ch)
        self.mix_changed.emit()

    def _set_volume(self, ch: int, value: int) -> None:
        self.volume[ch] = value / 100.0
        self.mix_changed.emit()

    def current_channel(self) -> int | None:
        row = self.currentRow()
        return self.channels[row] if 0 <= row < len(self.channels) else None

    def mix(self) -> dict[int, float]:
        """channel -> gain for playback: mute and solo applied."""
        out = {}
        for ch in self.channels:
            audible = (ch in self.solo) if self.solo else (ch not in self.mute)
            out[ch] = self.volume.get(ch, 1.0) if audible else 0.0
        return out

    def silent(self) -> set[int]:
        return {ch for ch, gain in self.mix().items() if gain == 0}
