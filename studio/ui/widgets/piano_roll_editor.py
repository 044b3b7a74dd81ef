"""An editable piano roll: draw, move, resize and delete notes, change velocities, select bars,
zoom, scroll, snap, and a playhead. The editor never changes the clip itself: each finished gesture
emits :attr:`PianoRollEditor.edited` with the new note list, and the panel turns it into one step of
its document (studio.music.document), which Edit ▸ Undo reverts.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPalette, QPen
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

from studio.core.media import MidiClip, Note

__all__ = ["PianoRollEditor", "CHANNEL_COLORS"]

CHANNEL_COLORS = [
    "#4c8bf5",
    "#f59e0b",
    "#10b981",
    "#ef4444",
    "#8b5cf6",
    "#ec4899",
    "#14b8a6",
    "#eab308",
    "#6366f1",
    "#64748b",
    "#84cc16",
    "#f97316",
    "#06b6d4",
    "#a855f7",
    "#22c55e",
    "#e11d48",
]
RULER_H = 22
KEYS_W = 44
EDGE_PX = 6
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


class PianoRollEditor(QAbstractScrollArea):
    edited = Signal(str, object)  # description, new list[Note]
    bars_selected = Signal(int, int)  # first, last (1-based, inclusive); (0, 0) when cleared
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Our own viewport, made here (as Qt makes its own): asking Qt for the one it made
        # (``viewport()``, typed QWidget) makes PySide6 find its class among every QWidget
        # subclass, building ~40 enum types of widgets Studio never shows (10 ms before the
        # first paint on the 2-core machine).
        viewport = QWidget()
        viewport.setObjectName("qt_scrollarea_viewport")
        viewport.setBackgroundRole(QPalette.ColorRole.Base)
        viewport.setAutoFillBackground(True)
        self.setViewport(viewport)
        self.clip = MidiClip([])
        self.selected: set[Note] = set()
        self.bar_selection: tuple[int, int] | None = None
        self.px_per_beat = 48.0
        self.row_h = 9.0
        self.snap = 0.25  # beats; 0 = off
        self.draw_channel = 0
        self.draw_velocity = 90
        self.playhead: float | None = None
        self.muted: set[int] = set()
        self._drag: dict | None = None
        self._preview: list[Note] | None = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.viewport().setMouseTracking(True)
        self.setMinimumSize(320, 200)
        self._update_scrollbars()
        self.verticalScrollBar().setValue(int((127 - 84) * self.row_h))

    # -- data --------------------------------------------------------------------------------------
    def set_clip(self, clip: MidiClip, keep_selection: bool = False) -> None:
        self.clip = clip
        if not keep_selection:
            self.selected = set()
        else:
            self.selected &= set(clip.notes)
        self._preview = None
        self._update_scrollbars()
        self.viewport().update()
        self.selection_changed.emit()

    @property
    def notes(self) -> list[Note]:
        return self._preview if self._preview is not None else self.clip.notes

    def length_beats(self) -> float:
        return max(self.clip.length_beats, self.clip.bar_length * 4)

    # -- geometry ----------------------------------------------------------------------------------
    def _update_scrollbars(self) -> None:
        width = int((self.length_beats() + self.clip.bar_length * 2) * self.px_per_beat)
        height = int(128 * self.row_h)
        vp = self.viewport().size()
        self.horizontalScrollBar().setRange(0, max(0, width - vp.width() + KEYS_W))
        self.horizontalScrollBar().setPageStep(vp.width())
        self.verticalScrollBar().setRange(0, max(0, height - vp.height() + RULER_H))
        self.verticalScrollBar().setPageStep(vp.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_scrollbars()
        if getattr(self, "_keep_notes_in_view", False):
            self.show_notes()

    def x_of(self, beat: float) -> float:
        return KEYS_W + beat * self.px_per_beat - self.horizontalScrollBar().value()

    def y_of(self, pitch: int) -> float:
        return RULER_H + (127 - pitch) * self.row_h - self.verticalScrollBar().value()

    def beat_at(self, x: float) -> float:
        return max(0.0, (x - KEYS_W + self.horizontalScrollBar().value()) / self.px_per_beat)

    def pitch_at(self, y: float) -> int:
        return max(
            0, min(127, 127 - int((y - RULER_H + self.verticalScrollBar().value()) // self.row_h))
        )

    def snapped(self, beat: float) -> float:
        return round(beat / self.snap) * self.snap if self.snap else round(beat, 4)

    def note_rect(self, n: Note) -> QRectF:
        return QRectF(
            self.x_of(n.start),
            self.y_of(n.pitch) + 1,
            max(3.0, n.duration * self.px_per_beat - 1),
            self.row_h - 2,
        )

    def note_at(self, pos: QPointF) -> Note | None:
        for n in reversed(self.notes):
            if self.note_rect(n).adjusted(0, -1, 0, 1).contains(pos):
                return n
        return None

    def zoom(self, factor: float) -> None:
        self.px_per_beat = max(6.0, min(400.0, self.px_per_beat * factor))
        self._update_scrollbars()
        self.viewport().update()

    def center_on(self, beat: float) -> None:
        self.horizontalScrollBar().setValue(
            int(beat * self.px_per_beat - self.viewport().width() / 3)
        )

    def show_notes(self) -> None:
        """Scroll so the notes' pitch range is in view (middle C when there are none)."""
        self._keep_notes_in_view = True  # until the user scrolls or zooms, resizes re-center
        pitches = [n.pitch for n in self.clip.notes] or [60]
        middle = (min(pitches) + max(pitches)) / 2
        rows_visible = (self.viewport().height() - RULER_H) / self.row_h
        top_pitch = middle + rows_visible / 2
        self.verticalScrollBar().setValue(int((127 - top_pitch) * self.row_h))
        self.horizontalScrollBar().setValue(0)

    def set_playhead(self, beat: float | None) -> None:
        self.playhead = beat
        if beat is not None:
            x = self.x_of(beat)
            if x > self.viewport().width() - 20 or x < KEYS_W:
                self.center_on(beat)
        self.viewport().update()

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self.viewport())
        pal = self.palette()
        w, h = self.viewport().width(), self.viewport().height()
        base = pal.base().color()
        dark = base.lightness() < 128
        p.fillRect(0, 0, w, h, base)
        black_row = QColor(base).darker(112) if not dark else QColor(base).lighter(118)
        for pitch in range(128):
            y = self.y_of(pitch)
            if y > h or y + self.row_h < RULER_H:
                continue
            if pitch % 12 in (1, 3, 6, 8, 10):
                p.fillRect(QRectF(KEYS_W, y, w, self.row_h), black_row)
        bar = self.clip.bar_length
        first_beat = int(self.beat_at(KEYS_W))
        last_beat = int(self.beat_at(w)) + 1
        grid = pal.mid().color()
        if self.bar_selection:
            a, b = self.bar_selection
            sel = QColor(pal.highlight().color())
            sel.setAlpha(45)
            p.fillRect(
                QRectF(self.x_of((a - 1) * bar), RULER_H, (b - a + 1) * bar * self.px_per_beat, h),
                sel,
            )
        for beat in range(first_beat, last_beat + 1):
            x = self.x_of(beat)
            is_bar = abs(beat / bar - round(beat / bar)) < 1e-6
            pen = QPen(grid if is_bar else QColor(grid.red(), grid.green(), grid.blue(), 90))
            p.setPen(pen)
            p.drawLine(int(x), RULER_H, int(x), h)
        for n in self.notes:
            r = self.note_rect(n)
            if r.right() < KEYS_W or r.left() > w or r.bottom() < RULER_H or r.top() > h:
                continue
            color = QColor(CHANNEL_COLORS[n.channel % 16])
            color.setAlpha(60 if n.channel in self.muted else 120 + n.velocity)
            p.fillRect(r, color)
            if n in self.selected:
                p.setPen(QPen(pal.highlightedText().color() if dark else QColor("#111"), 1.5))
                p.drawRect(r)
        # ruler
        p.fillRect(0, 0, w, RULER_H, pal.window().color())
        p.setPen(pal.windowText().color())
        bar_no = int(first_beat // bar)
        while bar_no * bar <= last_beat:
            x = self.x_of(bar_no * bar)
            if x >= KEYS_W:
                p.drawText(QPointF(x + 3, RULER_H - 6), str(bar_no + 1))
                p.drawLine(int(x), RULER_H - 6, int(x), RULER_H)
            bar_no += 1
        # keyboard
        p.fillRect(0, RULER_H, KEYS_W, h, pal.window().color())
        for pitch in range(0, 128, 12):
            y = self.y_of(pitch)
            if RULER_H <= y <= h:
                p.drawText(QPointF(4, y + self.row_h - 1), f"C{pitch // 12 - 1}")
        if self._drag is not None and self._drag["kind"] == "band":
            p.setPen(QPen(pal.highlight().color(), 1, Qt.PenStyle.DashLine))
            p.drawRect(QRectF(self._drag["origin"], self._drag["current"]).normalized())
        if self.playhead is not None:
            x = self.x_of(self.playhead)
            p.setPen(QPen(QColor("#e11d48"), 2))
            p.drawLine(int(x), 0, int(x), h)
        p.end()

    # -- mouse -------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        self._keep_notes_in_view = False
        pos = event.position()
        self.setFocus()
        if event.button() != Qt.MouseButton.LeftButton:
            return
        if pos.y() < RULER_H:
            bar_no = int(self.beat_at(pos.x()) // self.clip.bar_length) + 1
            self._drag = {"kind": "bars", "from": bar_no}
            self.select_bars(bar_no, bar_no)
            return
        if pos.x() < KEYS_W:
            return
        note = self.note_at(pos)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if note is not None:
            if shift:
                self.selected ^= {note}
            elif note not in self.selected:
                self.selected = {note}
            self.selection_changed.emit()
            edge = self.note_rect(note).right() - pos.x() < EDGE_PX
            self._drag = {
                "kind": "resize" if edge else "move",
                "origin": pos,
                "notes": sorted(self.selected),
                "anchor": note,
            }
        elif shift:  # Shift+drag on empty grid: select with a rubber band
            self._drag = {"kind": "band", "origin": pos, "current": pos}
        else:
            self.selected = set()
            self.selection_changed.emit()
            start = self.snapped(self.beat_at(pos.x())) if self.snap else self.beat_at(pos.x())
            if self.snap and start > self.beat_at(pos.x()):
                start -= self.snap
            new = Note(
                max(0.0, start),
                self.pitch_at(pos.y()),
                self.snap or 0.5,
                self.draw_velocity,
                self.draw_channel,
            )
            self._drag = {"kind": "draw", "note": new, "origin": pos}
            self._preview = [*self.clip.notes, new]
        self.viewport().update()

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._drag is None:
            note = self.note_at(pos) if pos.y() > RULER_H else None
            edge = note is not None and self.note_rect(note).right() - pos.x() < EDGE_PX
            self.viewport().setCursor(
                Qt.CursorShape.SizeHorCursor
                if edge
                else (Qt.CursorShape.OpenHandCursor if note else Qt.CursorShape.CrossCursor)
            )
            return
        kind = self._drag["kind"]
        if kind == "bars":
            bar_no = int(self.beat_at(pos.x()) // self.clip.bar_length) + 1
            a = self._drag["from"]
            self.select_bars(min(a, bar_no), max(a, bar_no))
            return
        if kind == "band":
            self._drag["current"] = pos
            self.viewport().update()
            return
        d_beats = (pos.x() - self._drag["origin"].x()) / self.px_per_beat
        if self.snap:
            d_beats = round(d_beats / self.snap) * self.snap
        if kind == "draw":
            n = self._drag["note"]
            end = max(n.start + (self.snap or 0.05), n.start + (self.snap or 0.5) + d_beats)
            self._drag["current"] = replace(n, duration=end - n.start)
            self._preview = [*self.clip.notes, self._drag["current"]]
        elif kind == "move":
            d_pitch = self.pitch_at(pos.y()) - self._drag["anchor"].pitch
            moved = {
                n: replace(
                    n, start=max(0.0, n.start + d_beats), pitch=max(0, min(127, n.pitch + d_pitch))
                )
                for n in self._drag["notes"]
            }
            self._drag["moved"] = moved
            self._preview = [moved.get(n, n) for n in self.clip.notes]
        elif kind == "resize":
            moved = {
                n: replace(n, duration=max(self.snap or 0.05, n.duration + d_beats))
                for n in self._drag["notes"]
            }
            self._drag["moved"] = moved
            self._preview = [moved.get(n, n) for n in self.clip.notes]
        self.viewport().update()

    def mouseReleaseEvent(self, event) -> None:
        drag, self._drag = self._drag, None
        self._preview = None
        if drag is None:
            return
        kind = drag["kind"]
        if kind == "band":
            band = QRectF(drag["origin"], drag["current"]).normalized()
            self.selected |= {n for n in self.clip.notes if band.intersects(self.note_rect(n))}
            self.selection_changed.emit()
        elif kind == "draw":
            note = drag.get("current", drag["note"])
            self.selected = {note}
            self.edited.emit("Draw note", sorted([*self.clip.notes, note]))
        elif kind in ("move", "resize") and drag.get("moved"):
            moved = drag["moved"]
            if any(k != v for k, v in moved.items()):
                self.selected = set(moved.values())
                self.edited.emit(
                    "Move notes" if kind == "move" else "Resize notes",
                    sorted(moved.get(n, n) for n in self.clip.notes),
                )
        self.viewport().update()

    def wheelEvent(self, event) -> None:
        self._keep_notes_in_view = False
        mods = event.modifiers()
        delta = event.angleDelta().y()
        if mods & Qt.KeyboardModifier.ControlModifier:
            self.zoom(1.15 if delta > 0 else 1 / 1.15)
        elif mods & Qt.KeyboardModifier.AltModifier and self.selected:
            self.change_velocity(8 if delta > 0 else -8)
        elif mods & Qt.KeyboardModifier.ShiftModifier:
            bar = self.horizontalScrollBar()
            bar.setValue(bar.value() - delta)
        else:
            super().wheelEvent(event)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    # -- keyboard and commands ---------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        elif event.matches(QKeySequence.StandardKey.SelectAll):
            self.selected = set(self.clip.notes)
            self.selection_changed.emit()
            self.viewport().update()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and self.selected:
            step = (self.snap or 0.25) * (1 if key == Qt.Key.Key_Right else -1)
            self.transform_selected(
                "Move notes", lambda n: replace(n, start=max(0.0, n.start + step))
            )
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.selected:
            step = 1 if key == Qt.Key.Key_Up else -1
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                step *= 12
            self.transform_selected(
                "Transpose notes", lambda n: replace(n, pitch=max(0, min(127, n.pitch + step)))
            )
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.change_velocity(8)
        elif key == Qt.Key.Key_Minus:
            self.change_velocity(-8)
        else:
            super().keyPressEvent(event)

    def transform_selected(self, description: str, fn) -> None:
        if not self.selected:
            return
        moved = {n: fn(n) for n in self.selected}
        self.selected = set(moved.values())
        self.edited.emit(description, sorted(moved.get(n, n) for n in self.clip.notes))

    def change_velocity(self, delta: int) -> None:
        self.transform_selected(
            "Change velocity", lambda n: replace(n, velocity=max(1, min(127, n.velocity + delta)))
        )

    def set_velocity(self, value: int) -> None:
        self.transform_selected("Set velocity", lambda n: replace(n, velocity=value))

    def delete_selected(self) -> None:
        if self.selected:
            keep = [n for n in self.clip.notes if n not in self.selected]
            self.selected = set()
            self.edited.emit("Delete notes", keep)

    def select_bars(self, first: int, last: int) -> None:
        self.bar_selection = (first, last) if first >= 1 else None
        self.bars_selected.emit(first, last)
        self.viewport().update()

    def clear_bar_selection(self) -> None:
        self.bar_selection = None
        self.bars_selected.emit(0, 0)
        self.viewport().update()
