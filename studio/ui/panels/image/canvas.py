"""The Image panel's canvas: the picture with zoom and pan, the mask painted over it (brush,
eraser, lasso), a preview in place of the picture, and a before/after split."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from studio.ui.panels.video.widgets import to_qimage

__all__ = ["CanvasView", "TOOLS"]

TOOLS = ("pan", "brush", "eraser", "lasso")


def _mask_image(mask: np.ndarray) -> QImage:
    """The mask as translucent magenta (where it is 1) over the picture: it shows on skin, sky
    and foliage alike."""
    h, w = mask.shape
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 2] = 200
    rgba[..., 3] = (np.clip(mask, 0, 1) * 140).astype(np.uint8)
    return to_qimage(rgba)


class CanvasView(QGraphicsView):
    """Shows a picture; paints a mask on it. ``mask_edited`` carries the new mask (HxW float32)
    at the end of each stroke or lasso."""

    mask_edited = Signal(object, str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("image.canvas")
        self.setToolTip("The picture: drag to pan or paint the mask, wheel to zoom")
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setBackgroundBrush(QBrush(QColor(40, 40, 44)))
        self.image_item = QGraphicsPixmapItem()
        self.mask_item = QGraphicsPixmapItem()
        self.mask_item.setZValue(1)
        self._scene.addItem(self.image_item)
        self._scene.addItem(self.mask_item)
        self.tool = "pan"
        self.brush_size = 40.0
        self.mask: np.ndarray | None = None
        self.size_hw: tuple[int, int] = (0, 0)
        self.before: QPixmap | None = None
        self.compare = False
        self.split = 0.5
        self._stroke: list[QPointF] = []
        self._working: np.ndarray | None = None
        self._panning = False
        self._last = QPointF()
        self.zoom = 1.0
        self.message_item = QGraphicsSimpleTextItem()
        self.message_item.setBrush(QBrush(QColor(210, 210, 215)))
        self._scene.addItem(self.message_item)

    # -- content
    def show_message(self, text: str) -> None:
        """Text in place of a picture (an empty canvas says how to start)."""
        self.message_item.setText(text)
        self.message_item.setVisible(bool(text))
        self._scene.setSceneRect(self.message_item.boundingRect().adjusted(-20, -20, 20, 20))

    def set_picture(
        self, pixels: np.ndarray, fit: bool = False, size_hw: tuple[int, int] | None = None
    ) -> None:
        """Show ``pixels`` (any depth; drawn at 8 bits) over a picture of ``size_hw`` (height,
        width; the pixels' own size when None) in scene coordinates, which are the picture's:
        a screen-sized rendering of a huge picture is drawn scaled up to it."""
        from studio.image.io import to_uint8

        h, w = size_hw or pixels.shape[:2]
        self.message_item.setVisible(False)
        self.image_item.setPixmap(QPixmap.fromImage(to_qimage(to_uint8(pixels))))
        self.image_item.setScale(w / pixels.shape[1])
        new_size = (h, w) != self.size_hw
        self.size_hw = (h, w)
        self._scene.setSceneRect(QRectF(0, 0, w, h))
        if fit or new_size:
            self.fit()

    def clear_picture(self) -> None:
        """No picture (an empty document)."""
        self.image_item.setPixmap(QPixmap())
        self.mask_item.setPixmap(QPixmap())
        self.mask = None
        self.size_hw = (0, 0)

    def show_preview(self, pixels: np.ndarray) -> None:
        """A preview (possibly smaller than the picture) drawn over the picture's whole area."""
        from studio.image.io import to_uint8

        h, w = self.size_hw
        if not h:
            return
        self.image_item.setPixmap(QPixmap.fromImage(to_qimage(to_uint8(pixels))))
        self.image_item.setScale(w / pixels.shape[1])

    def set_mask(self, mask: np.ndarray | None) -> None:
        self.mask = mask
        if mask is None:
            self.mask_item.setPixmap(QPixmap())
        else:
            self.mask_item.setPixmap(QPixmap.fromImage(_mask_image(mask)))

    def set_before(self, pixels: np.ndarray | None) -> None:
        from studio.image.io import to_uint8

        self.before = None if pixels is None else QPixmap.fromImage(to_qimage(to_uint8(pixels)))
        self.viewport().update()

    def set_compare(self, on: bool) -> None:
        self.compare = on
        self.viewport().update()

    # -- view --------------------------------------------------------------------------------------
    def fit(self) -> None:
        if self.size_hw[0]:
            self.fitInView(self._scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
            self.zoom = self.transform().m11()

    def zoom_by(self, factor: float) -> None:
        new = min(32.0, max(0.02, self.zoom * factor))
        self.scale(new / self.zoom, new / self.zoom)
        self.zoom = new

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.zoom_by(1.25 if event.angleDelta().y() > 0 else 0.8)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        if self.compare and self.before is not None and self.size_hw[0]:
            h, w = self.size_hw
            x = w * self.split
            painter.save()
            painter.setClipRect(QRectF(0, 0, x, h))
            painter.drawPixmap(QRectF(0, 0, w, h), self.before, QRectF(self.before.rect()))
            painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255), 0))
            painter.drawLine(QPointF(x, 0), QPointF(x, h))
        if self.tool == "lasso" and len(self._stroke) > 1:
            painter.setPen(QPen(QColor(255, 220, 0), 0, Qt.PenStyle.DashLine))
            for a, b in zip(self._stroke, self._stroke[1:], strict=False):
                painter.drawLine(a, b)

    # -- painting ----------------------------------------------------------------------------------
    def _paint_dab(self, a: QPointF, b: QPointF, value: float) -> None:
        import cv2

        if self._working is None:
            return
        radius = max(1, int(self.brush_size / 2))
        cv2.line(
            self._working, (int(a.x()), int(a.y())), (int(b.x()), int(b.y())), float(value),
            thickness=radius * 2, lineType=cv2.LINE_AA,
        )  # fmt: skip
        self.mask_item.setPixmap(QPixmap.fromImage(_mask_image(self._working)))

    def _begin(self) -> None:
        h, w = self.size_hw
        self._working = self.mask.copy() if self.mask is not None else np.zeros((h, w), np.float32)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = self.mapToScene(event.position().toPoint())
        if event.button() == Qt.MouseButton.MiddleButton or (
            self.tool == "pan" and event.button() == Qt.MouseButton.LeftButton
        ):
            if self.compare and self.size_hw[0]:
                self.split = min(1.0, max(0.0, pos.x() / self.size_hw[1]))
                self.viewport().update()
            self._panning = True
            self._last = event.position()
            return
        if event.button() != Qt.MouseButton.LeftButton or not self.size_hw[0]:
            return
        self._begin()
        self._stroke = [pos]
        if self.tool in ("brush", "eraser"):
            self._paint_dab(pos, pos, 1.0 if self.tool == "brush" else 0.0)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._panning:
            delta = event.position() - self._last
            self._last = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
            return
        if not self._stroke:
            return
        pos = self.mapToScene(event.position().toPoint())
        if self.tool in ("brush", "eraser"):
            self._paint_dab(self._stroke[-1], pos, 1.0 if self.tool == "brush" else 0.0)
        self._stroke.append(pos)
        self.viewport().update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._panning:
            self._panning = False
            return
        if not self._stroke:
            return
        if self.tool == "lasso" and len(self._stroke) > 2:
            self.fill_polygon([(p.x(), p.y()) for p in self._stroke])
        elif self._working is not None:
            self.mask_edited.emit(self._working, f"mask: {self.tool}")
        self._stroke = []
        self._working = None
        self.viewport().update()

    def fill_polygon(self, points: list[tuple[float, float]], value: float = 1.0) -> None:
        """Add (or with 0, remove) a lasso polygon to the mask."""
        import cv2

        if self._working is None:
            self._begin()
        assert self._working is not None
        poly = np.array([[int(x), int(y)] for x, y in points], np.int32)
        cv2.fillPoly(self._working, [poly], float(value), lineType=cv2.LINE_AA)
        self.mask_edited.emit(self._working, "mask: lasso")
        self._working = None

    def paint_stroke(self, points: list[tuple[float, float]], erase: bool = False) -> None:
        """Paint a brush stroke through ``points`` (scene coordinates): what a drag does."""
        self._begin()
        pts = [QPointF(x, y) for x, y in points]
        for a, b in zip(pts, pts[1:] or pts, strict=False):
            self._paint_dab(a, b, 0.0 if erase else 1.0)
        self.mask_edited.emit(self._working, "mask: eraser" if erase else "mask: brush")
        self._working = None
