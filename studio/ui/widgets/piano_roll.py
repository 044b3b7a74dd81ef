"""A read-only piano roll that shows a MidiClip (editing arrives with the music panel)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView, QWidget

from studio.core.media import MidiClip

__all__ = ["PianoRollView"]

BEAT_W = 40.0
KEY_H = 6.0


class PianoRollView(QGraphicsView):
    """Draws notes as bars: time across, pitch up; bar lines every bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Parented to the view: an unparented scene is garbage-collected and the view paints blank.
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(80)
        self.clip: MidiClip | None = None
        self.set_clip(None)

    def set_clip(self, clip: MidiClip | None) -> None:
        self.clip = clip
        self._scene.clear()
        if clip is None or not clip.notes:
            text = self._scene.addText("No notes yet: press Generate (Ctrl+Return)")
            text.setDefaultTextColor(self.palette().text().color())
            self._scene.setSceneRect(text.boundingRect())
            return
        pal = self.palette()
        low = min(n.pitch for n in clip.notes) - 2
        high = max(n.pitch for n in clip.notes) + 2
        height = (high - low + 1) * KEY_H
        length = max(clip.length_beats, clip.beats_per_bar)
        grid = QPen(pal.mid().color())
        grid.setCosmetic(True)
        for beat in range(int(length) + 1):
            pen = QPen(grid)
            if beat % clip.beats_per_bar:
                pen.setStyle(Qt.PenStyle.DotLine)
            self._scene.addLine(beat * BEAT_W, 0, beat * BEAT_W, height, pen)
        colors = [QColor("#4c8bf5"), QColor("#f59e0b"), QColor("#10b981"), QColor("#ef4444")]
        for note in clip.notes:
            color = colors[note.channel % len(colors)]
            color.setAlpha(110 + note.velocity)
            rect = QRectF(
                note.start * BEAT_W,
                (high - note.pitch) * KEY_H,
                max(2.0, note.duration * BEAT_W - 1),
                KEY_H - 1,
            )
            self._scene.addRect(rect, QPen(Qt.PenStyle.NoPen), QBrush(color))
        self._scene.setSceneRect(QRectF(0, 0, length * BEAT_W, height))
        self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.IgnoreAspectRatio)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.clip is not None and self.clip.notes:
            self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.IgnoreAspectRatio)
