"""Two small plots drawn with QPainter (no plotting library): training losses over steps, and a
classifier's confusion matrix."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

__all__ = ["LossPlot", "ConfusionPlot", "PixelView"]

MAX_POINTS = 4000  # older points are thinned out (every other one) beyond this


class LossPlot(QWidget):
    """Curves of named losses against the training step (the discriminator's and the
    generator's), drawn with a legend and the latest values."""

    COLOURS = ("#d9480f", "#1c7ed6", "#2b8a3e", "#862e9c")

    def __init__(self, names: tuple[str, ...] = ("D", "G"), parent: QWidget | None = None):
        super().__init__(parent)
        self.names = names
        self.steps: list[int] = []
        self.values: list[tuple[float, ...]] = []
        self.setMinimumSize(220, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 180)

    def clear(self) -> None:
        self.steps, self.values = [], []
        self.update()

    def add(self, points) -> None:
        """Append (step, value per name) points; a step not after the last one starts the plot
        again (a resumed or a new training)."""
        for step, *vals in points:
            if self.steps and step <= self.steps[-1]:
                if step < self.steps[-1]:
                    self.clear()
                else:
                    continue
            self.steps.append(int(step))
            self.values.append(tuple(float(v) for v in vals))
        if len(self.steps) > MAX_POINTS:
            self.steps, self.values = self.steps[::2], self.values[::2]
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        import math

        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        text_colour = pal.text().color()
        frame = QRectF(self.rect()).adjusted(36, 8, -8, -20)
        p.setPen(QPen(pal.mid().color()))
        p.drawRect(frame)
        if not self.steps:
            p.setPen(text_colour)
            p.drawText(frame, Qt.AlignmentFlag.AlignCenter, "Losses appear once training runs")
            return
        finite = [v for row in self.values for v in row if math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        s0, s1 = self.steps[0], max(self.steps[-1], self.steps[0] + 1)

        def at(step: int, value: float) -> QPointF:
            x = frame.left() + (step - s0) / (s1 - s0) * frame.width()
            y = frame.bottom() - (value - lo) / (hi - lo) * frame.height()
            return QPointF(x, y)

        p.setPen(text_colour)
        small = p.font()
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.8))
        p.setFont(small)
        p.drawText(QRectF(0, frame.top() - 6, 34, 14), Qt.AlignmentFlag.AlignRight, f"{hi:.2f}")
        p.drawText(QRectF(0, frame.bottom() - 8, 34, 14), Qt.AlignmentFlag.AlignRight, f"{lo:.2f}")
        p.drawText(QRectF(frame.left(), frame.bottom() + 2, frame.width(), 16),
                   Qt.AlignmentFlag.AlignLeft, f"step {s0}")  # fmt: skip
        p.drawText(QRectF(frame.left(), frame.bottom() + 2, frame.width(), 16),
                   Qt.AlignmentFlag.AlignRight, f"step {self.steps[-1]}")  # fmt: skip
        # each loss faint as it is, and solid as a moving average (GAN losses jump every step)
        span = max(1, len(self.steps) // 40)
        for index, name in enumerate(self.names):
            colour = QColor(self.COLOURS[index % len(self.COLOURS)])
            raw, smooth = QPainterPath(), QPainterPath()
            started = False
            mean = None
            for step, row in zip(self.steps, self.values, strict=True):
                if index >= len(row) or not math.isfinite(row[index]):
                    started = False
                    continue
                value = row[index]
                mean = value if mean is None else mean + (value - mean) / span
                if started:
                    raw.lineTo(at(step, value))
                    smooth.lineTo(at(step, mean))
                else:
                    raw.moveTo(at(step, value))
                    smooth.moveTo(at(step, mean))
                    started = True
            faint = QColor(colour)
            faint.setAlpha(70 if span > 1 else 255)
            p.setPen(QPen(faint, 1.0))
            p.drawPath(raw)
            if span > 1:
                p.setPen(QPen(colour, 2.0))
                p.drawPath(smooth)
            last = self.values[-1][index] if index < len(self.values[-1]) else float("nan")
            p.drawText(QRectF(frame.left() + 6 + index * 90, frame.top() + 2, 88, 16),
                       Qt.AlignmentFlag.AlignLeft, f"{name} {last:.3f}")  # fmt: skip


class ConfusionPlot(QWidget):
    """A confusion matrix: rows are the true labels, columns what the model said; each cell's
    shade is its share of the row, and its count is written in it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.matrix: list[list[int]] = []
        self.title = ""
        self.setMinimumSize(220, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(360, 300)

    def set_matrix(self, labels, matrix, title: str = "") -> None:
        self.labels = [str(x) for x in labels]
        self.matrix = [[int(v) for v in row] for row in matrix]
        self.title = title
        self.setToolTip(title)
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        text_colour = pal.text().color()
        n = len(self.labels)
        if not n or len(self.matrix) != n:
            p.setPen(text_colour)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter,
                       "The confusion matrix appears after training")  # fmt: skip
            return
        metrics = p.fontMetrics()
        left = min(max(metrics.horizontalAdvance(lab) for lab in self.labels) + 28, 140)
        top = 40
        side = max(4.0, min((self.width() - left - 6) / n, (self.height() - top - 20) / n))
        p.setPen(text_colour)
        heading = metrics.elidedText(
            self.title or "true label (rows) against the tagger's (columns)",
            Qt.TextElideMode.ElideRight,
            self.width() - 4,
        )
        p.drawText(QRectF(0, 0, self.width(), 18), Qt.AlignmentFlag.AlignCenter, heading)
        import math

        every = max(1, math.ceil(metrics.height() / side))  # many labels: name every n-th row
        numbered = side < 48  # narrow columns are numbered, the rows named with their number
        for j, label in enumerate(self.labels):  # the columns, in the rows' order
            if side < 16:
                break  # too narrow even for numbers: the rows' order is theirs
            short = str(j + 1) if numbered else \
                metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(side) - 2)  # fmt: skip
            p.drawText(QRectF(left + j * side, 20, side - 1, 18), Qt.AlignmentFlag.AlignCenter,
                       short)  # fmt: skip
        highlight = pal.highlight().color()
        for i, row in enumerate(self.matrix):
            total = max(1, sum(row))
            y = top + i * side
            if i % every == 0:
                name = f"{i + 1} {self.labels[i]}" if numbered and side >= 16 else self.labels[i]
                label = metrics.elidedText(name, Qt.TextElideMode.ElideRight, left - 6)
                p.setPen(text_colour)
                align = Qt.AlignmentFlag.AlignRight | (Qt.AlignmentFlag.AlignVCenter if every == 1
                                                       else Qt.AlignmentFlag.AlignTop)  # fmt: skip
                p.drawText(QRectF(0, y, left - 4, max(side, metrics.height())), align, label)
            for j, count in enumerate(row):
                share = count / total
                cell = QRectF(left + j * side, y, side - 1, side - 1)
                colour = QColor(highlight)
                colour.setAlphaF(0.08 + 0.92 * share)
                p.fillRect(cell, colour)
                if side >= 14 and count:
                    p.setPen(QColor("white") if share > 0.5 else text_colour)
                    p.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(count))
        p.setPen(text_colour)
        correct = sum(self.matrix[i][i] for i in range(n))
        total = max(1, sum(map(sum, self.matrix)))
        p.drawText(QRectF(left, top + n * side + 2, n * side, 16), Qt.AlignmentFlag.AlignLeft,
                   f"{correct} of {total} right ({correct / total:.0%})")  # fmt: skip


class PixelView(QLabel):
    """A small picture (a sample grid) shown as large as the widget allows, by a whole factor
    with sharp pixels, so 32 px sprites stay readable."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._source: QPixmap | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)

    def set_pixmap(self, pixmap: QPixmap) -> None:
        self._source = pixmap
        self._fit()

    def source(self) -> QPixmap | None:
        return self._source

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        if self._source is None or self._source.isNull():
            return
        w, h = self._source.width(), self._source.height()
        room_w, room_h = max(1, self.width() - 4), max(1, self.height() - 4)
        factor = min(room_w / w, room_h / h)
        sharp = factor >= 2  # whole factors keep pixels square; below 2, smooth looks better
        if sharp:
            factor = int(factor)
        size = QSize(max(1, int(w * factor)), max(1, int(h * factor)))
        mode = Qt.TransformationMode.FastTransformation if sharp else \
            Qt.TransformationMode.SmoothTransformation  # fmt: skip
        self.setPixmap(self._source.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, mode))
