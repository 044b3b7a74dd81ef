"""Child-process probes for the project figures of ``studio bench core``.

    python -m studio.ui._project_probe open PROJECT
        process start -> window painted with PROJECT's documents in every panel and the event
        loop idle again (the project is read on the project worker)
    python -m studio.ui._project_probe files MIDI PICTURE TAKE...
        the baseline: the same files opened one by one into the panels' documents after the
        window painted, as before projects existed
    python -m studio.ui._project_probe autosave PROJECT
        the longest gap of a 1 ms timer on the window's thread while autosave writes a changed
        24 MP picture, against the longest gap with nothing running

Each prints one JSON line.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def _age() -> float:
    """Seconds since this process started (see studio.ui._probe: psutil's start time is late)."""
    from studio.ui._probe import _process_age

    return _process_age()


def _window():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from studio.ui.app import create_app
    from studio.ui.context import StudioContext
    from studio.ui.main_window import MainWindow

    app = create_app()
    window = MainWindow(StudioContext.create(), restore=False, recovery=False)
    window.resize(1280, 800)
    return app, window


def _finish(app, window, result: dict) -> None:
    window.close()
    window.context.runner.shutdown()
    app.quit()
    print(json.dumps(result), flush=True)


def probe_open(project: str) -> None:
    from PySide6.QtCore import QTimer

    app, window = _window()
    result: dict = {}

    def painted() -> None:
        job = window.projects.open_path(project)
        job.succeeded.connect(lambda _p: QTimer.singleShot(0, idle))
        job.failed.connect(lambda message, _tb: _finish(app, window, {"error": message}))

    def idle() -> None:
        result["open_project_s"] = round(_age(), 4)
        result["documents"] = sorted(window.context.project.documents)
        _finish(app, window, result)

    window.first_painted.connect(painted)
    window.show()
    app.exec()


def probe_files(midi: str, picture: str, takes: list[str]) -> None:
    from PySide6.QtCore import QTimer

    app, window = _window()
    result: dict = {}

    def painted() -> None:
        import soundfile as sf

        from studio.image.document import ImageDocument
        from studio.music.document import MusicDocument
        from studio.voice.document import Take, VoiceDocument

        project = window.context.project
        project.documents["music"] = MusicDocument.from_file(Path(midi))
        project.documents["image"] = ImageDocument.from_file(Path(picture))
        voice = VoiceDocument()
        for index, take in enumerate(takes, start=1):
            samples, rate = sf.read(take, dtype="float32")
            voice.add_take(Take(index, "speech", samples, rate))
        project.documents["voice"] = voice
        window.projects.install(project)
        QTimer.singleShot(0, idle)

    def idle() -> None:
        result["open_files_s"] = round(_age(), 4)
        _finish(app, window, result)

    window.first_painted.connect(painted)
    window.show()
    app.exec()


def probe_autosave(project: str) -> None:
    import numpy as np
    from PySide6.QtCore import QElapsedTimer, QTimer

    app, window = _window()
    gaps: dict[str, float] = {"idle": 0.0, "busy": 0.0}
    clock = QElapsedTimer()
    phase = {"name": "wait", "last": 0}

    def tick() -> None:
        now = clock.nsecsElapsed()
        if phase["name"] in gaps and phase["last"]:
            gaps[phase["name"]] = max(gaps[phase["name"]], (now - phase["last"]) / 1e6)
        phase["last"] = now

    timer = QTimer()
    timer.setInterval(1)
    timer.timeout.connect(tick)

    def opened(_project) -> None:
        device = window._device_job  # torch's import at start holds the GIL for seconds
        if device is not None and not device.done:
            QTimer.singleShot(200, lambda: opened(_project))
            return
        clock.start()
        timer.start()
        phase["name"] = "idle"
        QTimer.singleShot(1500, start_autosave)

    def start_autosave() -> None:
        # The edit and its redraw happen first (they are not autosave's); the stall is measured
        # from the moment autosave starts until it ends.
        doc = window.context.project.documents["image"]
        pixels = np.ascontiguousarray(doc.pixels[::-1])  # a changed picture (flipped)
        doc.apply(pixels, "Flip vertically")
        phase["name"] = "wait"
        QTimer.singleShot(1500, autosave)

    def autosave() -> None:
        phase["name"], phase["last"] = "busy", 0
        started = time.perf_counter()
        job = window.projects.autosave()
        job.finished.connect(lambda: QTimer.singleShot(50, lambda: done(started)))

    def done(started: float) -> None:
        timer.stop()
        _finish(app, window, {
            "autosave_s": round(time.perf_counter() - started, 3),
            "autosave_max_stall_ms": round(gaps["busy"], 2),
            "idle_max_stall_ms": round(gaps["idle"], 2),
        })  # fmt: skip

    def painted() -> None:
        job = window.projects.open_path(project)
        job.succeeded.connect(opened)

    window.first_painted.connect(painted)
    window.show()
    app.exec()


def main(argv: list[str]) -> None:
    if argv[0] == "open":
        probe_open(argv[1])
    elif argv[0] == "files":
        probe_files(argv[1], argv[2], argv[3:])
    elif argv[0] == "autosave":
        probe_autosave(argv[1])
    else:
        raise SystemExit(f"unknown probe {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
