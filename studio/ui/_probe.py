"""Child-process probes for ``studio bench core``: first paint time and GUI stalls under load.

Run as ``python -m studio.ui._probe first-paint``, ``... stall --seconds 3`` or
``... gui-export CLIP OUT``; prints one JSON line.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402


def _process_age() -> float:
    """Seconds since this process was started: from the moment ``studio bench`` spawned it (it
    passes the time in STUDIO_PROBE_SPAWNED_AT), else from the kernel's start time of the process
    against CLOCK_BOOTTIME (10 ms ticks), so interpreter start-up counts too. (psutil's
    create_time adds /proc/stat's boot time, whole seconds: every age came out ~0.4 s late on the
    2-core machine, the same for Studio and the bare window, which pulled their ratio towards 1.)
    """
    spawned = os.environ.get("STUDIO_PROBE_SPAWNED_AT")
    if spawned:
        with contextlib.suppress(ValueError):
            return time.time() - float(spawned)
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _T0


def first_paint() -> None:
    """The way ``studio`` starts (``open_window``): the first paint, the moment the panel in front
    has painted (built and on screen: ``usable_s``), then the moment the window is fully built
    (settings, plugins, menus) and ``started``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from studio.ui.app import add_file_log_soon, create_app, open_window, setup_logging

    app = create_app()
    result = {}
    window = open_window(log_handler=setup_logging(file_log=False), restore=False, recovery=False)
    watcher: list = []

    def painted() -> None:
        result["first_paint_cpu_s"] = round(time.process_time(), 4)
        result["first_paint_s"] = round(_process_age(), 4)
        result["first_paint_at"] = time.time()  # (a test checks the age against its own clock)
        # what had been imported when the window painted (none of these should have)
        heavy = ("numpy", "torch", "onnxruntime", "cv2", "mediapipe", "pydantic", "PIL")
        result["imported_at_paint"] = [m for m in heavy if m in sys.modules]
        # The panels paint right after the window, in the same pass: watch for the first built
        # one on screen (from here, so the probe adds nothing before the first paint). On the
        # built panels themselves: a filter on the whole application would make PySide6 wrap
        # every object that gets an event (window handles, scroll bars, dock title bars...),
        # building ~140 enum types the real `studio` never builds, inside the time measured.
        watcher.append(_FrontPainted(window, result))
        watched = list(window.panels.values())  # (only the built ones)
        for panel in watched or [app]:  # none built yet: the whole application, as a fallback
            panel.installEventFilter(watcher[0])
        watcher.extend(watched or [app])

    window.first_painted.connect(painted)
    window.first_painted.connect(add_file_log_soon)  # as `studio` does

    def started() -> None:
        result["started_s"] = round(_process_age(), 4)
        if "usable_s" in result:
            finish()
        else:  # the panel in front paints after this (a layout that shows it late)
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, finish)

    def finish() -> None:
        for target in watcher[1:]:
            target.removeEventFilter(watcher[0])
        window.close()
        app.quit()

    window.started.connect(started)
    app.exec()
    print(json.dumps(result))


def _FrontPainted(window, result: dict):  # noqa: N802 - makes a QObject (imported late)
    """An event filter noting ``usable_s``: the first paint of a built panel that is visible."""
    from PySide6.QtCore import QEvent, QObject

    class FrontPainted(QObject):
        def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
            if "usable_s" not in result and event.type() == QEvent.Type.Paint:
                if any(obj is p and p.isVisible() for p in window.panels.values()):
                    result["usable_cpu_s"] = round(time.process_time(), 4)
                    result["usable_s"] = round(_process_age(), 4)
                    result["usable_panel"] = obj.objectName()
            return False

    return FrontPainted()


def _timed_window(app, result: dict):
    """A QMainWindow that notes its first paint's age and CPU time in ``result`` and quits."""
    from PySide6.QtWidgets import QMainWindow

    class Window(QMainWindow):
        def paintEvent(self, event):
            super().paintEvent(event)
            if not result:
                result["first_paint_cpu_s"] = round(time.process_time(), 4)
                result["first_paint_s"] = round(_process_age(), 4)
                self.close()
                app.quit()

    return Window()


def bare_paint() -> None:
    """Baseline: a minimal PySide6 window with one label, nothing of Studio."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication([])
    result: dict = {}
    window = _timed_window(app, result)
    window.setCentralWidget(QLabel("baseline"))
    window.show()
    app.exec()
    print(json.dumps(result))


def widgets_paint() -> None:
    """A second baseline: a PySide6 window holding as many widgets of each kind as Studio's
    window has when it first paints (menus and actions, docks, tool bars, the Music panel's
    combos, spin boxes, fields, sliders and lists; counted from Studio's first paint), laid out
    the plain way, with nothing of Studio. It separates what those widgets cost Qt and PySide6
    to create from what Studio's own code adds."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import (
        QApplication,
        QCheckBox,
        QComboBox,
        QDockWidget,
        QDoubleSpinBox,
        QFormLayout,
        QLabel,
        QLineEdit,
        QListWidget,
        QPlainTextEdit,
        QProgressBar,
        QPushButton,
        QScrollArea,
        QSlider,
        QSpinBox,
        QSplitter,
        QTableWidget,
        QToolBar,
        QToolButton,
        QTreeWidget,
        QVBoxLayout,
        QWidget,
    )

    app = QApplication([])
    result: dict = {}
    window = _timed_window(app, result)
    for m in range(8):  # 8 menus, 44 actions
        menu = window.menuBar().addMenu(f"Menu {m}")
        for a in range(5 + (m < 4)):
            menu.addAction(QAction(f"Action {m}.{a}", window))
    for t in range(2):  # 2 tool bars, 27 tool buttons
        bar = QToolBar(f"Tools {t}")
        for b in range(13 + t):
            button = QToolButton()
            button.setText(f"Tool {b}")
            bar.addWidget(button)
        window.addToolBar(bar)
    panel = QWidget()
    form = QFormLayout()
    kinds = [(QComboBox, 10), (QSpinBox, 6), (QDoubleSpinBox, 2), (QLineEdit, 9), (QCheckBox, 2)]
    for kind, count in kinds:
        for i in range(count):
            widget = kind()
            if isinstance(widget, QComboBox):
                widget.addItems([f"Choice {j}" for j in range(6)])
            form.addRow(QLabel(f"{kind.__name__} {i}"), widget)
    for _ in range(2):
        form.addRow(QLabel("Slider"), QSlider(Qt.Orientation.Horizontal))
    form.addRow(QProgressBar())
    form.addRow(QPushButton("Generate"))
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(panel)
    panel.setLayout(form)
    splitter = QSplitter()
    splitter.addWidget(scroll)
    splitter.addWidget(QTableWidget(16, 8))
    splitter.addWidget(QTreeWidget())
    window.setCentralWidget(splitter)
    docks = []
    for d in range(8):  # 8 docks, tabbed in two groups
        dock = QDockWidget(f"Dock {d}")
        body = QWidget()
        column = QVBoxLayout(body)
        column.addWidget(QLabel(f"Dock {d}"))
        if d == 0:
            column.addWidget(QPlainTextEdit())
        elif d == 1:
            column.addWidget(QListWidget())
        dock.setWidget(body)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        if d % 4:
            window.tabifyDockWidget(docks[d - 1], dock)
        docks.append(dock)
    window.statusBar().showMessage("Ready")
    window.resize(1100, 750)
    window.show()
    app.exec()
    print(json.dumps(result))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def stall(seconds: float) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from studio.core.jobs import JobSpec
    from studio.ui.app import create_app
    from studio.ui.jobs import JobRunner

    app = create_app()
    runner = JobRunner()

    def measure(duration: float) -> list[float]:
        gaps: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def tick() -> None:
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6)
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer.start()
        loop = QEventLoop()
        QTimer.singleShot(int(duration * 1000), loop.quit)
        loop.exec()
        timer.stop()
        return gaps[1:]

    import torch  # imported before measuring: the job measures compute, not import

    def torch_job(request, ctx):
        a = torch.randn(384, 384)
        steps = 0
        end = time.monotonic() + request
        while time.monotonic() < end:
            ctx.check_cancelled()
            a = torch.tanh(a @ a / 384.0)
            steps += 1
            ctx.progress(min(1.0, steps / 1e5), f"step {steps}")
        return steps

    idle = measure(seconds)
    handle = runner.submit(JobSpec("bench torch", torch_job, seconds + 1.0, family="bench"))
    busy = measure(seconds)
    handle.cancel()
    runner.shutdown()
    app.processEvents()
    print(
        json.dumps(
            {
                "idle_p99_ms": round(_percentile(idle, 0.99), 2),
                "idle_max_ms": round(max(idle), 2),
                "busy_p99_ms": round(_percentile(busy, 0.99), 2),
                "busy_max_ms": round(max(busy), 2),
                "torch_threads": torch.get_num_threads(),
                "ticks_idle": len(idle),
                "ticks_busy": len(busy),
            }
        )
    )


def _video_job(handle) -> bool:
    return (handle.spec.family or "").startswith("video")


def gui_export(clip: str, out: str) -> None:
    """Export ``clip`` from the Video panel the way an artist does (the window up, the panel in
    front with its preview running, Export, once the window has settled: the preview shows a
    frame and what the other panels start at launch has finished): the job's own figures, and
    how much CPU the GUI thread spent meanwhile."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer

    from studio.ui.app import create_app
    from studio.ui.context import StudioContext
    from studio.ui.main_window import MainWindow

    app = create_app()
    context = StudioContext.create()
    window = MainWindow(context, restore=False, recovery=False)
    window.resize(1280, 800)
    window.show()
    window.raise_panel("video")
    panel = window.panels["video"]
    panel.set_source("file", clip)
    result: dict = {}
    began: dict = {}

    def export() -> None:
        from studio.video.bench import _cpu_seconds

        began["cpu"] = _cpu_seconds()
        began["gui_cpu"] = time.thread_time()
        began["wall"] = time.perf_counter()
        handle = panel.export_to(out)
        result["other_jobs_during_export"] = [
            h.spec.title for h in context.runner.active() if not _video_job(h)
        ]

        def submitted(other) -> None:  # another panel's job while the export runs
            if not handle.done and not _video_job(other):
                result["other_jobs_during_export"].append(other.spec.title)

        context.runner.submitted.connect(submitted)
        handle.succeeded.connect(done)
        handle.failed.connect(lambda message, _tb: finish({"error": message}))

    def done(res) -> None:
        from studio.video.bench import _cpu_seconds

        wall = time.perf_counter() - began["wall"]
        cpu = _cpu_seconds() - began["cpu"]
        finish({
            "cpu_ms_per_frame": round(cpu * 1000 / max(1, res.frames), 2),
            "fps": round(res.fps, 2),
            "frames": res.frames,
            "seconds": round(res.seconds, 3),
            "wall_s": round(wall, 3),
            "gui_thread_cpu_ms_per_frame": round(
                (time.thread_time() - began["gui_cpu"]) * 1000 / max(1, res.frames), 2
            ),
            "settings": panel.pipeline_inputs()[0].as_provenance(),
        })  # fmt: skip

    def finish(values: dict) -> None:
        result.update(values)
        window.close()
        context.runner.shutdown()
        app.quit()

    def others_busy() -> bool:
        # what other panels start when the window opens (the Music panel, on screen beside
        # the Video panel, loads and warms its model ~2-3 s in: 0.2-0.35 s of CPU, which landed
        # in this export's first second and read as 1-2 ms per frame of the export's ~32)
        return any(not _video_job(h) for h in context.runner.active())

    quiet_since: list[float | None] = [None]

    def wait_for_preview(tries: list[int] = [0]) -> None:  # noqa: B006 - a counter
        tries[0] += 1
        now = time.perf_counter()
        if panel.last is None or others_busy():
            quiet_since[0] = None
        elif quiet_since[0] is None:
            quiet_since[0] = now
        # the preview shows a frame and nothing else has run for half a second (their retry
        # timers are 250 ms), or 30 s
        if (quiet_since[0] is not None and now - quiet_since[0] >= 0.5) or tries[0] > 300:
            result["export_began_s"] = round(_process_age(), 2)
            export()
        else:
            QTimer.singleShot(100, wait_for_preview)

    QTimer.singleShot(100, wait_for_preview)
    app.exec()
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.ui._probe")
    sub = parser.add_subparsers(dest="probe", required=True)
    sub.add_parser("first-paint")
    sub.add_parser("bare-paint")
    sub.add_parser("widgets-paint")
    s = sub.add_parser("stall")
    s.add_argument("--seconds", type=float, default=3.0)
    e = sub.add_parser("gui-export")
    e.add_argument("clip")
    e.add_argument("out")
    args = parser.parse_args(argv)
    if args.probe == "first-paint":
        first_paint()
    elif args.probe == "bare-paint":
        bare_paint()
    elif args.probe == "widgets-paint":
        widgets_paint()
    elif args.probe == "gui-export":
        gui_export(args.clip, args.out)
    else:
        stall(args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
