"""The Voice panel's views: the text editor with SSML highlighting, the waveform with sentence
marks, the sung melody."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeySequence,
    QPainter,
    QPen,
    QSyntaxHighlighter,
    QTextCharFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QWidget

__all__ = ["TextEdit", "SsmlHighlighter", "WaveformView", "MelodyView"]


class TextEdit(QPlainTextEdit):
    """A plain text editor without an undo stack of its own: what is typed becomes a step of the
    document, and Ctrl+Z / Ctrl+Shift+Z go on to the window's Edit ▸ Undo / Redo, which undo
    the document (typing, transcriptions, imports and takes alike)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setUndoRedoEnabled(False)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (
            event.matches(QKeySequence.StandardKey.Undo)
            or event.matches(QKeySequence.StandardKey.Redo)
        ):
            event.ignore()  # not ours: the window's shortcut takes it
            return False
        return super().event(event)

    def set_text_keeping_cursor(self, text: str) -> None:
        """Show ``text`` (an undo, a transcription) with the cursor where it was, if it still
        fits, and the view scrolled as it was."""
        if self.toPlainText() == text:
            return
        position = self.textCursor().position()
        scroll = self.verticalScrollBar().value()
        self.setPlainText(text)
        cursor = self.textCursor()
        cursor.setPosition(min(position, len(text)))
        self.setTextCursor(cursor)
        self.verticalScrollBar().setValue(scroll)


class SsmlHighlighter(QSyntaxHighlighter):
    """Tags in one colour, attribute values in another, entities in a third."""

    def __init__(self, document) -> None:
        super().__init__(document)
        self.tag = QTextCharFormat()
        self.tag.setForeground(QColor("#4a8fd8"))
        self.tag.setFontWeight(QFont.Weight.Bold)
        self.value = QTextCharFormat()
        self.value.setForeground(QColor("#c27c2c"))
        self.entity = QTextCharFormat()
        self.entity.setForeground(QColor("#8a5cc2"))

    def highlightBlock(self, text: str) -> None:
        import re

        for m in re.finditer(r"</?[\w:-]+|/?>", text):
            self.setFormat(m.start(), m.end() - m.start(), self.tag)
        for m in re.finditer(r"\"[^\"]*\"|'[^']*'", text):
            self.setFormat(m.start(), m.end() - m.start(), self.value)
        for m in re.finditer(r"&\w+;", text):
            self.setFormat(m.start(), m.end() - m.start(), self.entity)


class WaveformView(QWidget):
    """The speech's peak envelope, a numbered mark where each sentence starts, and the playhead."""

    HOP = 0.01

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voice.waveform")
        self.setMinimumHeight(110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.clear()

    def clear(self) -> None:
        self.peaks: list[np.ndarray] = []
        self.total = 0
        self.marks: list[tuple[float, str]] = []
        self.playhead: float | None = None
        self.update()

    def add(self, samples: np.ndarray, rate: int) -> None:
        hop = max(1, int(self.HOP * rate))
        block = np.abs(samples[: len(samples) // hop * hop]).reshape(-1, hop).max(axis=1)
        if len(block):
            self.peaks.append(block)
            self.total += len(block)
        self.update()

    def set_audio(self, samples: np.ndarray, rate: int, marks=()) -> None:
        """Show a whole take: its peak envelope and its sentence marks."""
        self.clear()
        mono = samples if samples.ndim == 1 else np.abs(samples).max(axis=1)
        self.add(mono, rate)
        self.marks = list(marks)

    def set_envelope(self, envelope: np.ndarray) -> None:
        self.peaks = [np.asarray(envelope)]
        self.total = len(envelope)
        self.update()

    def add_mark(self, seconds: float, text: str) -> None:
        self.marks.append((seconds, text))
        self.update()

    def set_playhead(self, seconds: float | None) -> None:
        self.playhead = seconds
        self.update()

    @property
    def duration(self) -> float:
        return self.total * self.HOP

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect()
        p.fillRect(rect, self.palette().base())
        mid = rect.height() / 2
        width = rect.width()
        if not self.total:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "The waveform appears as you speak.")
            return
        env = np.concatenate(self.peaks)
        span = max(self.total, int(2.0 / self.HOP))  # at least 2 s wide
        edges = (np.arange(width + 1) * span / width).astype(int)
        p.setPen(QPen(self.palette().highlight().color(), 1))
        for x in range(width):
            a, b = edges[x], max(edges[x + 1], edges[x] + 1)
            if a >= len(env):
                break
            h = float(env[a:b].max()) * (mid - 6)
            p.drawLine(x, int(mid - h), x, int(mid + h))
        p.setPen(QPen(self.palette().text().color(), 1, Qt.PenStyle.DashLine))
        for number, (seconds, text) in enumerate(self.marks, start=1):
            x = seconds / self.HOP / span * width
            p.drawLine(int(x), 0, int(x), rect.height())
            label = f"{number} {text[:22]}…" if len(text) > 22 else f"{number} {text}"
            p.drawText(QRectF(x + 3, 2, 180, 16), Qt.AlignmentFlag.AlignLeft, label)
        if self.playhead is not None:
            p.setPen(QPen(QColor("#e0563b"), 2))
            x = self.playhead / self.HOP / span * width
            p.drawLine(int(x), 0, int(x), rect.height())


class MelodyView(QWidget):
    """The melody to sing, one bar per note, with its syllable under each note."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("voice.melody")
        self.setMinimumHeight(180)
        self.notes: list = []  # studio.core.media.Note
        self.labels: list[str] = []
        self.playhead: float | None = None  # beats

    def set_melody(self, notes, labels: list[str]) -> None:
        self.notes = list(notes)
        self.labels = list(labels)
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect()
        p.fillRect(rect, self.palette().base())
        if not self.notes:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(
                rect,
                Qt.AlignmentFlag.AlignCenter,
                "Take the melody from the Music panel or open a MIDI file.",
            )
            return
        end = max(n.start + n.duration for n in self.notes)
        low = min(n.pitch for n in self.notes) - 2
        high = max(n.pitch for n in self.notes) + 2
        left, right, top, bottom = 8, rect.width() - 8, 10, rect.height() - 34
        x_of = lambda beat: left + (right - left) * beat / max(end, 1.0)  # noqa: E731
        y_of = lambda pitch: bottom - (bottom - top) * (pitch - low) / max(1, high - low)  # noqa: E731
        grid = QPen(self.palette().mid().color(), 1, Qt.PenStyle.DotLine)
        p.setPen(grid)
        for beat in range(int(end) + 1):
            p.drawLine(int(x_of(beat)), top, int(x_of(beat)), bottom)
        note_color = self.palette().highlight().color()
        font = p.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        for i, n in enumerate(self.notes):
            x0, x1 = x_of(n.start), x_of(n.start + n.duration)
            y = y_of(n.pitch)
            p.fillRect(QRectF(x0, y - 4, max(3.0, x1 - x0 - 1), 8), note_color)
            label = self.labels[i] if i < len(self.labels) else ""
            p.setPen(self.palette().text().color())
            p.drawText(
                QRectF(x0 - 2, bottom + 6, max(24.0, x1 - x0 + 4), 22),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                label,
            )
        if self.playhead is not None:
            p.setPen(QPen(QColor("#e0563b"), 2))
            x = x_of(self.playhead)
            p.drawLine(int(x), 0, int(x), rect.height())
