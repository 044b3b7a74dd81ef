"""Click to the first note heard, measured in the real window: the Music panel is shown (so its
model is loaded and warmed), Listen is on, and the Generate button is clicked with QTest; the
figure runs from just before the click to the first sample of the first generated note reaching
the audio output (the live player's callback time plus the output's latency).

``python -m studio.ui.panels.music.latency [--runs N] [--json]``; ``studio bench music`` runs it
in a child process. With no sound card, point ``ALSA_CONFIG_PATH`` at a file holding
``pcm.!default { type null }`` first (the benchmark does): the null device is then paced to the
wall clock like a card.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any

__all__ = ["measure"]


def _wait(app, done, timeout: float) -> bool:
    """Run the event loop until ``done()`` (True) or ``timeout`` seconds (False)."""
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            return False
        app.processEvents()
        # a coarse poll, so the window's thread is about as idle as in its own event loop (the
        # figure is the player's timestamp, not this loop's)
        time.sleep(0.005)
    return True


def measure(runs: int = 5, paced: bool | None = None) -> dict[str, Any]:
    """Click Generate ``runs`` times (seeds 100, 101, ...); the seconds from each click to its
    first note heard. Raises RuntimeError when there is no audio output."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from studio.ui.context import StudioContext
    from studio.ui.main_window import MainWindow
    from studio.ui.panels.music import transport

    if paced is None:
        conf = os.environ.get("ALSA_CONFIG_PATH", "")
        paced = bool(conf) and "type null" in open(conf, encoding="utf-8").read()
    transport.LIVE_PACED = paced
    os.environ["STUDIO_PRELOAD"] = "1"  # the panel warms its model once shown, as for an artist
    app = QApplication.instance() or QApplication(sys.argv[:1])
    context = StudioContext.create()
    warming: list = []

    def submitted(handle) -> None:
        if handle.spec.key == "music.warm":
            warming.append(handle)

    context.runner.submitted.connect(submitted)
    window = MainWindow(context)
    try:
        window.resize(1100, 750)
        window.show()
        window.raise_panel("music")
        panel = window.panels["music"]
        doc = panel.document
        panel.listen_action.trigger()  # Listen on: its sound gets ready
        if not _wait(app, lambda: bool(warming) and all(h.done for h in warming), 120):
            raise RuntimeError("the music model did not load in two minutes")
        if not _wait(app, lambda: panel.live.prepared or bool(panel.live.problem), 30):
            raise RuntimeError("Listen's sound did not get ready in 30 s")
        if panel.live.problem:
            raise RuntimeError(panel.live.problem)
        seconds = []
        for run in range(runs):
            doc.set_quiet(seed=100 + run, listen=True)
            began = time.perf_counter()
            QTest.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
            live = panel.live
            if not _wait(app, lambda live=live: live.first_heard is not None, 30):
                raise RuntimeError(panel.status.text() or "no note was heard in 30 s")
            seconds.append(live.first_heard - began)
            job = panel.job
            panel.cancel()  # Esc: the rest of the piece is not needed here
            _wait(app, lambda job=job: job is None or job.done, 30)
            panel.stop()
        return {
            "click_to_first_note_s": round(statistics.median(seconds), 4),
            "runs_s": [round(s, 4) for s in seconds],
            "audio": "ALSA null device, paced to the wall clock" if paced else "sound card",
            "model": doc.model or "the shipped default",
        }
    finally:
        window.close()
        context.runner.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.ui.panels.music.latency")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = measure(max(1, args.runs))
    except RuntimeError as exc:
        print(f"studio: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
