"""``python -m studio.ui.panels.arrange._probe``: the timeline of a 64-lane arrangement redrawn
while "playing" (the playhead moving 30 times a second, following the view) for three seconds,
offscreen. Prints one JSON line: the longest paint and the longest gap between the play timer's
ticks (the longest GUI stall), in milliseconds. Used by ``studio bench arrange``."""

from __future__ import annotations

import json
import os
import time


def main() -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from studio.arrange.bench import make_arrangement
    from studio.ui.panels.arrange.timeline import TimelineView

    app = QApplication.instance() or QApplication([])
    doc = make_arrangement(minutes=3.0, lanes=64, effects=False)
    # many clips per lane: split each lane's clip into 4-bar pieces
    for lane in doc.lanes:
        clip = doc.lane_clips(lane.id)[0]
        for at in range(16, int(clip.end), 16):
            current = doc.lane_clips(lane.id)[-1]
            doc.split_clip(current.id, float(at))
    view = TimelineView()
    view.doc = doc
    view.resize(1280, 700)
    view.show()
    view.refresh()
    paints: list[float] = []
    original = view.paintEvent

    def timed(event) -> None:
        started = time.perf_counter()
        original(event)
        paints.append(time.perf_counter() - started)

    view.paintEvent = timed  # type: ignore[method-assign]
    ticks: list[float] = []
    began = time.perf_counter()

    def tick() -> None:
        now = time.perf_counter()
        ticks.append(now)
        beat = (now - began) * doc.bpm / 60 * 4  # fast, so the view scrolls every second
        view.set_play_beat(beat)
        if now - began > 3.0:
            app.quit()

    timer = QTimer()
    timer.setInterval(33)
    timer.timeout.connect(tick)
    timer.start()
    app.exec()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    if os.environ.get("PROBE_DEBUG"):
        print(sorted(round(p * 1000, 1) for p in paints)[-10:])
    print(
        json.dumps(
            {
                "redraw_lanes": len(doc.lanes),
                "redraw_clips": len(doc.clips),
                "redraw_paints": len(paints),
                "redraw_first_paint_ms": round(paints[0] * 1000, 2) if paints else None,
                "redraw_longest_paint_ms": round(max(paints[1:], default=0.0) * 1000, 2),
                "redraw_longest_stall_ms": round(
                    max((g - 0.033 for g in gaps), default=0.0) * 1000, 2
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
