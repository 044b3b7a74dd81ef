"""The Arrange timeline: a ruler in bars, one row per lane (its name, mute and solo at the left)
and the clips as boxes you drag to move (snapped), or by an edge to trim. It paints only what
shows, so 64 lanes redraw within a frame. It changes nothing itself: gestures are signals the
panel turns into document commands."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from studio.arrange.document import ArrangeClip, ArrangeDocument

__all__ = ["TimelineView", "HEADER_W", "RULER_H", "LANE_H"]

HEADER_W = 132
RULER_H = 24
LANE_H = 44
EDGE = 6  # pixels from a clip's edge that trim instead of move
COLORS = {"midi": QColor(86, 140, 214), "audio": QColor(96, 176, 120),
          "video": QColor(196, 140, 70)}  # fmt: skip


class TimelineView(QAbstractScrollArea):
    clip_selected = Signal(int)
    lane_selected = Signal(int)
    playhead_set = Signal(float)
    clip_moved = Signal(int, float, int)  # clip, start beat, lane id
    clip_trimmed = Signal(int, object, object)  # clip, new start or None, new end or None
    lane_toggled = Signal(int, str)  # lane id, "mute" or "solo"
    zoom_requested = Signal(float)  # pixels per beat (Ctrl + wheel)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("arrange.timeline")
        self.setToolTip(
            "Drag a clip to move it (snapped to the grid), drag its edge to trim it; "
            "click the ruler to place the playhead; M and S mute and solo a lane; "
            "Ctrl + wheel zooms"
        )
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.doc: ArrangeDocument | None = None
        self.play_beat: float | None = None  # the playhead while playing
        self._drag: tuple[str, ArrangeClip, float] | None = None  # mode, clip, press beat
        self._preview: ArrangeClip | None = None
        self._index: tuple[int, int, dict] | None = None  # (doc id, revision, lookups)
        self.horizontalScrollBar().setSingleStep(24)
        self.verticalScrollBar().setSingleStep(LANE_H // 2)

    def minimumSizeHint(self):
        from PySide6.QtCore import QSize

        return QSize(HEADER_W + 120, RULER_H + LANE_H * 2)

    # -- geometry ----------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return float(self.doc.zoom) if self.doc is not None else 24.0

    def x_of(self, beat: float) -> float:
        return HEADER_W + beat * self.zoom - self.horizontalScrollBar().value()

    def beat_of(self, x: float) -> float:
        return max(0.0, (x - HEADER_W + self.horizontalScrollBar().value()) / self.zoom)

    def y_of(self, row: int) -> int:
        return RULER_H + row * LANE_H - self.verticalScrollBar().value()

    def row_of(self, y: float) -> int:
        return int((y - RULER_H + self.verticalScrollBar().value()) // LANE_H)

    def lookups(self) -> dict:
        """Clips by lane, sources, rows, audible and missing lanes, made once per revision (a
        paint touches only what shows, and never the disk)."""
        doc = self.doc
        key = (id(doc), doc.revision)
        if self._index is None or self._index[:2] != key:
            by_lane: dict[int, list[ArrangeClip]] = {lane.id: [] for lane in doc.lanes}
            for clip in doc.clips:
                by_lane.setdefault(clip.lane, []).append(clip)
            for clips in by_lane.values():
                clips.sort(key=lambda c: c.start)
            sources = {s.id: s for s in doc.sources}
            self._index = (*key, {
                "clips": by_lane, "sources": sources,
                "rows": {lane.id: i for i, lane in enumerate(doc.lanes)},
                "lanes": {lane.id: lane for lane in doc.lanes},
                "audible": {lane.id for lane in doc.lanes if doc.audible(lane)},
                "missing": {s.id for s in doc.sources if s.missing},
            })  # fmt: skip
        return self._index[2]

    def clip_rect(self, clip: ArrangeClip) -> QRectF:
        row = self.lookups()["rows"].get(clip.lane, -1) if self.doc is not None else -1
        return QRectF(self.x_of(clip.start), self.y_of(row) + 3, clip.length * self.zoom,
                      LANE_H - 6)  # fmt: skip

    def refresh(self) -> None:
        """The document changed: new scroll ranges, repaint."""
        doc = self.doc
        beats = (doc.length_beats if doc is not None else 0.0) + 32
        width = int(beats * self.zoom) + HEADER_W
        lanes = len(doc.lanes) if doc is not None else 0
        view = self.viewport()
        self.horizontalScrollBar().setRange(0, max(0, width - view.width()))
        self.horizontalScrollBar().setPageStep(view.width())
        self.verticalScrollBar().setRange(0, max(0, RULER_H + lanes * LANE_H - view.height()))
        self.verticalScrollBar().setPageStep(view.height())
        view.update()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.refresh()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        """Move the pixels already painted and repaint only the strip scrolled into view (the
        lane names stay put sideways, the ruler stays put up and down)."""
        port = self.viewport()
        w, h = port.width(), port.height()
        if abs(dx) >= w - HEADER_W or abs(dy) >= h - RULER_H:
            port.update()
            return
        if dx:
            port.scroll(dx, 0, QRect(HEADER_W, 0, w - HEADER_W, h))
        if dy:
            port.scroll(0, dy, QRect(0, RULER_H, w, h - RULER_H))

    def set_play_beat(self, beat: float | None) -> None:
        """Move the playing playhead, scrolling to keep it in view; only the strips it left and
        reached are repainted unless the view scrolled."""
        old = self.play_beat
        self.play_beat = beat
        before = self.horizontalScrollBar().value()
        if beat is not None:
            self.show_beat(beat)
        port = self.viewport()
        if self.horizontalScrollBar().value() != before or old is None or beat is None:
            port.update()
            return
        for b in (old, beat):
            port.update(QRect(int(self.x_of(b)) - 2, 0, 5, port.height()))

    def show_beat(self, beat: float) -> None:
        """Scroll so ``beat`` is in view (the playhead while playing)."""
        x = self.x_of(beat)
        width = self.viewport().width()
        bar = self.horizontalScrollBar()
        if not HEADER_W <= x <= width - 20:  # out of view: jump there
            bar.setValue(int(beat * self.zoom) - 40)
        elif x > HEADER_W + 0.6 * (width - HEADER_W):  # then follow it smoothly
            bar.setValue(int(beat * self.zoom - 0.6 * (width - HEADER_W)))

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self.viewport())
        # each rectangle of the region on its own: a scrolled-in strip and the playhead's strip
        # are two small paints, not one across the space between them
        for area in event.region():
            painter.setClipRect(area)
            self._paint_area(painter, area)
        painter.end()

    def _paint_area(self, painter: QPainter, area: QRect) -> None:
        palette = self.palette()
        painter.fillRect(area, palette.color(QPalette.ColorRole.Base))
        doc = self.doc
        if doc is None:
            return
        width, height = self.viewport().width(), self.viewport().height()
        # only what the update asked for: a moving playhead repaints a strip, not the view
        first_row = max(0, self.row_of(max(RULER_H, area.top())))
        last_row = min(len(doc.lanes) - 1, self.row_of(min(height, area.bottom() + 1)))
        text = palette.color(QPalette.ColorRole.Text)
        grid = QColor(text)
        grid.setAlpha(40)
        bar_grid = QColor(text)
        bar_grid.setAlpha(90)
        # grid: beats faint, bars stronger
        first_beat = math.floor(self.beat_of(max(HEADER_W, area.left())))
        last_beat = math.ceil(self.beat_of(min(width, area.right() + 1)))
        bar = doc.bar_length
        step = 1 if self.zoom >= 6 else max(1, int(bar))
        for beat in range(first_beat - first_beat % step, last_beat + 1, step):
            x = self.x_of(beat)
            on_bar = abs(beat / bar - round(beat / bar)) < 1e-6
            # 1-pixel rectangles: the raster engine fills them far faster than it draws lines
            painter.fillRect(QRect(int(x), RULER_H, 1, height), bar_grid if on_bar else grid)
        # loop region
        if doc.loop_region:
            a, b = (self.x_of(v) for v in doc.loop_region)
            shade = QColor(palette.color(QPalette.ColorRole.Highlight))
            shade.setAlpha(45)
            painter.fillRect(QRectF(a, RULER_H, b - a, height), shade)
        # clips: only those in view
        index = self.lookups()
        lo, hi = first_beat, last_beat
        for row in range(first_row, last_row + 1):
            for clip in index["clips"].get(doc.lanes[row].id, ()):
                if clip.end < lo or clip.start > hi:
                    continue
                if self._preview is not None and clip.id == self._preview.id:
                    continue
                self._paint_clip(painter, clip, row, text, area)
        if self._preview is not None:
            row = doc.lane_index(self._preview.lane)
            self._paint_clip(painter, self._preview, row, text, area)
        # lane headers, on top of the clips that scrolled under them
        window = palette.color(QPalette.ColorRole.Window)
        if area.left() < HEADER_W:
            painter.fillRect(QRect(0, RULER_H, HEADER_W, height), window)
            for row in range(first_row, last_row + 1):
                self._paint_header(painter, row, text)
        # ruler
        painter.fillRect(QRect(0, 0, width, RULER_H), window)
        painter.setPen(QPen(text))
        bars = range(max(0, int(first_beat // bar)), int(last_beat // bar) + 2)
        every = max(1, int(math.ceil(40 / max(1e-6, bar * self.zoom))))
        for n in bars:
            if n % every == 0:
                x = self.x_of(n * bar)
                if x >= HEADER_W - 1:  # the bar, and its time when there is room
                    seconds = doc.seconds_at(n * bar)
                    label = str(n + 1)
                    if bar * self.zoom * every >= 70:
                        label += f"  {int(seconds // 60)}:{seconds % 60:04.1f}"
                    painter.drawText(QPointF(x + 3, RULER_H - 7), label)
        painter.drawText(QRect(4, 0, HEADER_W - 8, RULER_H), Qt.AlignmentFlag.AlignVCenter,
                         f"{doc.bpm:g} BPM {doc.beats_per_bar}/{doc.beat_unit}")  # fmt: skip
        # playheads
        for beat, color in (
            (doc.playhead, QColor(220, 60, 60)),
            (self.play_beat, QColor(60, 160, 230)),
        ):
            if beat is None:
                continue
            x = self.x_of(beat)
            if x >= HEADER_W:
                painter.fillRect(QRect(int(x) - 1, 0, 2, height), color)

    def _paint_clip(self, painter: QPainter, clip: ArrangeClip, row: int, text: QColor,
                    area: QRect) -> None:  # fmt: skip
        doc = self.doc
        rect = self.clip_rect(clip)
        if rect.right() < HEADER_W or rect.left() > self.viewport().width():
            return
        index = self.lookups()
        source = index["sources"].get(clip.source)
        lane = index["lanes"].get(clip.lane)
        missing = clip.source in index["missing"]
        color = QColor(COLORS.get(lane.kind if lane else "audio", QColor(128, 128, 128)))
        if missing:
            color = QColor(190, 70, 70)
        if lane is not None and lane.id not in index["audible"] and lane.kind != "video":
            color.setAlpha(90)
        selected = clip.id == doc.selected_clip
        painter.setPen(QPen(QColor(255, 200, 0) if selected else color.darker(150),
                            3 if selected else 1))  # fmt: skip
        painter.setBrush(color)
        painter.drawRoundedRect(rect, 4, 4)
        shade = QColor(0, 0, 0, 70)
        for fade, left in ((clip.fade_in, True), (clip.fade_out, False)):
            if fade > 0:
                w = fade * self.zoom
                x0 = rect.left() if left else rect.right()
                x1 = x0 + w if left else x0 - w
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(shade)
                painter.drawPolygon(QPolygonF([QPointF(x0, rect.top()), QPointF(x1, rect.top()),
                                               QPointF(x0, rect.bottom())]))  # fmt: skip
        if source is not None and not missing:
            self._paint_content(painter, clip, source, rect, area)
        painter.setPen(QPen(QColor(255, 255, 255)))
        name = source.name if source is not None else "?"
        if missing:
            name += " (missing)"
        if clip.loop:
            name = "↻ " + name
        room = rect.adjusted(6, 2, -4, -2)
        name = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight,
                                                max(0, int(room.width())))  # fmt: skip
        painter.drawText(room, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, name)

    def _paint_content(self, painter: QPainter, clip: ArrangeClip, source, rect: QRectF,
                       area: QRect) -> None:  # fmt: skip
        """MIDI notes as short lines, audio as its level: what the clip holds, at a glance."""
        ink = QColor(255, 255, 255, 150)
        top, height = rect.top() + 16, rect.height() - 19
        if height < 6:
            return
        if source.kind == "midi" and source.midi is not None:
            notes = source.midi.notes
            if not notes:
                return
            low = min(n.pitch for n in notes)
            span = max(12, max(n.pitch for n in notes) - low + 1)
            period = max(1e-6, source.midi.length_beats)
            reps = int(clip.length // period) + 2 if clip.loop else 1
            for r in range(reps):
                shift = r * period - clip.offset
                for n in notes:
                    start = n.start + shift
                    if start < 0 or start >= clip.length:
                        continue
                    x = rect.left() + start * self.zoom
                    y = top + height * (1 - (n.pitch - low + 0.5) / span)
                    w = max(1.0, min(n.duration, clip.length - start) * self.zoom - 1)
                    painter.fillRect(QRectF(x, y, w, 2), ink)
            return
        if source.samples is None:
            return
        image = self._waveform(clip, source, int(rect.width()), int(height))
        if image is not None:
            painter.drawImage(QPointF(rect.left(), top), image)

    def _waveform(self, clip: ArrangeClip, source, width: int, height: int):
        """The clip's level as a picture (white bars on transparency), made with NumPy once per
        clip, zoom and tempo and kept for the next paints."""
        import numpy as np
        from PySide6.QtGui import QImage

        doc = self.doc
        width = min(width, 4096)
        if width < 2 or height < 2:
            return None
        key = (source.id, clip.offset, clip.length, clip.loop, self.zoom, doc.bpm,
               doc.tempo_changes, width, height)  # fmt: skip
        cache = self.__dict__.setdefault("_waveforms", {})
        if key in cache:
            return cache[key]
        envelope = self._envelope(source)
        seconds = doc.seconds_at(clip.end) - doc.seconds_at(clip.start)
        t = clip.offset + seconds * np.arange(width) / width
        if clip.loop and source.seconds > 0:
            t = t % source.seconds
        index = (t / max(1e-6, source.seconds) * len(envelope)).astype(int)
        level = np.where(index < len(envelope), envelope[np.clip(index, 0, len(envelope) - 1)], 0)
        level[2::3] = 0  # thin gaps between bars
        rows = np.abs(np.arange(height) - (height - 1) / 2)[:, None]
        on = rows <= (level[None, :] * height / 2)
        pixels = np.zeros((height, width, 4), np.uint8)
        pixels[on] = 150  # white at 60 % opacity, premultiplied (B, G, R, A bytes)
        image = QImage(pixels.data, width, height, width * 4,
                       QImage.Format.Format_ARGB32_Premultiplied).copy()  # fmt: skip
        if len(cache) > 512:
            cache.clear()
        cache[key] = image
        return image

    def _envelope(self, source):
        """The take's peak level in 1,000 steps (0..1), made once per source."""
        import numpy as np

        cache = self.__dict__.setdefault("_envelopes", {})
        if source.id not in cache:
            samples = np.abs(np.asarray(source.samples, np.float32))
            if samples.ndim == 2:
                samples = samples.max(axis=1)
            steps = max(1, min(1000, len(samples)))
            usable = len(samples) // steps * steps
            peaks = samples[:usable].reshape(steps, -1).max(axis=1) if usable else samples
            top = float(peaks.max()) if len(peaks) else 0.0
            cache[source.id] = peaks / top if top > 0 else peaks
        return cache[source.id]

    def _paint_header(self, painter: QPainter, row: int, text: QColor) -> None:
        doc = self.doc
        lane = doc.lanes[row]
        y = self.y_of(row)
        rect = QRect(0, y, HEADER_W, LANE_H)
        if lane.id == doc.selected_lane:
            painter.fillRect(rect, self.palette().color(QPalette.ColorRole.Highlight).lighter(160))
        painter.setPen(QPen(text))
        name = painter.fontMetrics().elidedText(
            f"{row + 1} {lane.name}", Qt.TextElideMode.ElideRight, HEADER_W - 52
        )
        painter.drawText(QRect(6, y + 2, HEADER_W - 50, LANE_H // 2), Qt.AlignmentFlag.AlignLeft
                         | Qt.AlignmentFlag.AlignVCenter, name)  # fmt: skip
        painter.drawText(QRect(6, y + LANE_H // 2, HEADER_W - 50, LANE_H // 2 - 2),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{lane.kind} {lane.gain_db:+.0f} dB")  # fmt: skip
        if lane.kind != "video":
            for i, (flag, on, color) in enumerate(
                (("M", lane.mute, QColor(230, 160, 40)), ("S", lane.solo, QColor(80, 200, 90)))
            ):
                box = self._flag_rect(row, i)
                painter.setBrush(color if on else Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(text))
                painter.drawRect(box)
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, flag)
        line = QColor(text.red(), text.green(), text.blue(), 50)
        painter.fillRect(QRect(0, y + LANE_H - 1, self.viewport().width(), 1), line)

    def _flag_rect(self, row: int, index: int) -> QRect:
        return QRect(HEADER_W - 44 + index * 20, self.y_of(row) + (LANE_H - 18) // 2, 18, 18)

    # -- gestures ----------------------------------------------------------------------------------
    def clip_at(self, pos: QPointF) -> tuple[ArrangeClip | None, str]:
        """The clip under ``pos`` and what a drag there does: "move", "start" or "end"."""
        if self.doc is None or pos.x() < HEADER_W or pos.y() < RULER_H:
            return None, ""
        row = self.row_of(pos.y())
        if not 0 <= row < len(self.doc.lanes):
            return None, ""
        for clip in reversed(self.lookups()["clips"].get(self.doc.lanes[row].id, [])):
            rect = self.clip_rect(clip)
            if rect.left() <= pos.x() <= rect.right():
                if pos.x() >= rect.right() - EDGE and rect.width() > 3 * EDGE:
                    return clip, "end"
                if pos.x() <= rect.left() + EDGE and rect.width() > 3 * EDGE:
                    return clip, "start"
                return clip, "move"
        return None, ""

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier and self.doc is not None:
            step = 1.25 if event.angleDelta().y() > 0 else 0.8
            self.zoom_requested.emit(float(min(200.0, max(2.0, self.zoom * step))))
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event) -> None:
        if self.doc is None or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = event.position()
        row = self.row_of(pos.y())
        if pos.y() < RULER_H:
            self.playhead_set.emit(self.doc.snapped(self.beat_of(pos.x())))
            return
        if not 0 <= row < len(self.doc.lanes):
            return
        lane = self.doc.lanes[row]
        if pos.x() < HEADER_W:
            for i, what in enumerate(("mute", "solo")):
                if lane.kind != "video" and self._flag_rect(row, i).contains(pos.toPoint()):
                    self.lane_toggled.emit(lane.id, what)
                    return
            self.lane_selected.emit(lane.id)
            return
        clip, mode = self.clip_at(pos)
        if clip is None:
            self.lane_selected.emit(lane.id)
            self.playhead_set.emit(self.doc.snapped(self.beat_of(pos.x())))
            return
        self.clip_selected.emit(clip.id)
        self._drag = (mode, clip, self.beat_of(pos.x()))

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._drag is None:
            _clip, mode = self.clip_at(pos)
            shape = (
                Qt.CursorShape.SizeHorCursor
                if mode in ("start", "end")
                else (
                    Qt.CursorShape.OpenHandCursor if mode == "move" else Qt.CursorShape.ArrowCursor
                )
            )
            self.viewport().setCursor(shape)
            return
        from dataclasses import replace

        mode, clip, pressed = self._drag
        beat = self.beat_of(pos.x())
        doc = self.doc
        if mode == "move":
            start = doc.snapped(clip.start + beat - pressed)
            row = self.row_of(pos.y())
            lane = clip.lane
            if 0 <= row < len(doc.lanes) and doc.lanes[row].kind == doc.lane(clip.lane).kind:
                lane = doc.lanes[row].id
            self._preview = replace(clip, start=start, lane=lane)
        elif mode == "end":
            end = max(clip.start + 1 / 16, doc.snapped(beat))
            self._preview = replace(clip, length=end - clip.start)
        else:
            start = min(doc.snapped(beat), clip.end - 1 / 16)
            self._preview = replace(clip, start=start, length=clip.end - start)
        self.viewport().update()

    def mouseReleaseEvent(self, event) -> None:
        drag, preview = self._drag, self._preview
        self._drag, self._preview = None, None
        if drag is None or preview is None:
            self.viewport().update()
            return
        mode, clip, _ = drag
        if mode == "move" and (preview.start != clip.start or preview.lane != clip.lane):
            self.clip_moved.emit(clip.id, preview.start, preview.lane)
        elif mode == "end" and preview.end != clip.end:
            self.clip_trimmed.emit(clip.id, None, preview.end)
        elif mode == "start" and preview.start != clip.start:
            self.clip_trimmed.emit(clip.id, preview.start, None)
        self.viewport().update()
