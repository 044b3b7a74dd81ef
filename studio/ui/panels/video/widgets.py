"""The Video panel's picture: original, matte and composite side by side, or one of them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = ["VideoView", "to_qimage", "VIEW_MODES"]

#: View modes: what the panel's view combo offers, in order (keys 1 to 4).
VIEW_MODES = (
    ("side", "Side by side"),
    ("original", "Original"),
    ("matte", "Matte"),
    ("composite", "Composite"),
)


def to_qimage(pixels: np.ndarray) -> QImage:
    """An HxW (grey), HxWx3 (RGB) or HxWx4 (RGBA) uint8 array as a QImage that owns its copy."""
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        fmt, stride = QImage.Format.Format_Grayscale8, w
    elif pixels.shape[2] == 4:
        fmt, stride = QImage.Format.Format_RGBA8888, 4 * w
    else:
        fmt, stride = QImage.Format.Format_RGB888, 3 * w
    return QImage(pixels.data, w, h, stride, fmt).copy()


class VideoView(QWidget):
    """Draws the pictures of one frame, scaled to fit, with captions and the preview's numbers.
    A transparent composite is drawn over a checkerboard."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("video_view")
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # paintEvent fills its whole rectangle: Qt need not paint the panel behind it first
        # (a repaint took 0.7 ms of the window's thread, 0.35 ms with it; the preview repaints
        # up to 30 times a second)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.mode = "side"
        self.images: dict[str, QImage] = {}
        self.alpha = False
        self.stats = ""
        self.message = ""

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self.update()

    def show_frame(
        self, original: np.ndarray, matte: np.ndarray, composite: np.ndarray, stats: str = ""
    ) -> None:
        self.images = {
            "original": to_qimage(original),
            "matte": to_qimage(matte),
            "composite": to_qimage(composite),
        }
        self.alpha = composite.ndim == 3 and composite.shape[2] == 4
        self.stats = stats
        self.message = ""
        self.update()

    def show_message(self, text: str) -> None:
        """Text in place of the picture (no source, a camera unplugged...)."""
        self.message = text
        self.update()

    def cells(self) -> list[str]:
        return ["original", "matte", "composite"] if self.mode == "side" else [self.mode]

    def _checkerboard(self, painter: QPainter, rect: QRectF) -> None:
        size = 12
        painter.save()
        painter.setClipRect(rect)
        painter.fillRect(rect, QColor(200, 200, 200))
        y = rect.top()
        row = 0
        while y < rect.bottom():
            x = rect.left() + (size if row % 2 else 0)
            while x < rect.right():
                painter.fillRect(QRectF(x, y, size, size), QColor(245, 245, 245))
                x += 2 * size
            y += size
            row += 1
        painter.restore()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), QColor(24, 24, 28))
        if self.message or not self.images:
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(
                self.rect().adjusted(20, 20, -20, -20),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message or "No picture yet.",
            )
            return
        cells = self.cells()
        gap, caption = 6, 18
        width = (self.width() - gap * (len(cells) + 1)) / len(cells)
        height = self.height() - caption - 2 * gap
        for i, name in enumerate(cells):
            image = self.images[name]
            scale = min(width / image.width(), height / image.height())
            w, h = image.width() * scale, image.height() * scale
            x = gap + i * (width + gap) + (width - w) / 2
            y = gap + caption + (height - h) / 2
            target = QRectF(x, y, w, h)
            if name == "composite" and self.alpha:
                self._checkerboard(painter, target)
            painter.drawImage(target, image)
            painter.setPen(QColor(200, 200, 210))
            painter.drawText(
                QRectF(gap + i * (width + gap), gap, width, caption),
                Qt.AlignmentFlag.AlignCenter,
                name.capitalize(),
            )
        if self.stats:
            painter.setPen(QPen(QColor(255, 255, 255)))
            metrics = painter.fontMetrics()
            box = metrics.boundingRect(self.stats).adjusted(-6, -3, 6, 3)
            box.moveTopLeft(self.rect().topLeft() + self.rect().topLeft())
            box.translate(gap + 4, gap + caption + 4)
            painter.fillRect(box, QColor(0, 0, 0, 160))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.stats)
