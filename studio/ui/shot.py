"""``studio shot``: render the main window with one panel raised to a PNG, offscreen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from studio.ui.app import create_app, setup_logging
from studio.ui.context import StudioContext
from studio.ui.main_window import MainWindow
from studio.ui.theme import apply_theme

__all__ = ["render_shot"]


def _settle(ms: int) -> None:
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def render_shot(
    panel: str,
    output: str | Path,
    size: tuple[int, int] = (1280, 800),
    theme: str | None = None,
    safe_mode: bool = False,
    open_file: str | None = None,
    generator: str | None = None,
) -> Path:
    """Render the window at ``size`` with ``panel`` raised and write a PNG. Returns its path.

    The saved window layout is not used, so shots are the same on every machine.
    """
    output = Path(output)
    if output.suffix.lower() != ".png":
        raise ValueError(f"{output.name}: the shot is a PNG, name it *.png")
    output.parent.mkdir(parents=True, exist_ok=True)
    app = create_app()
    handler = setup_logging()
    context = StudioContext.create(safe_mode=safe_mode)
    window = None
    try:
        apply_theme(app, theme or context.settings.theme)
        window = MainWindow(context, handler, restore=False, recovery=False)
        window.resize(*size)
        window.show()
        window.raise_panel(panel)
        if open_file:
            opener = getattr(window.panels[panel], "open_file", None)
            if opener is None:
                raise ValueError(f"the {panel} panel does not open files")
            if not opener(Path(open_file)):
                raise ValueError(f"could not open {open_file}")
        if generator:
            if not window.panels[panel].select_generator(generator):
                raise ValueError(f"the {panel} panel has no generator {generator!r}")
        ready = getattr(window.panels[panel], "wait_ready", None)
        if ready is not None:  # a panel that shows a live picture: wait for its first frame
            ready()
        # Let the device job finish so the status bar shows the real device.
        deadline = 100
        while deadline and (window._device_job is None or not window._device_job.done):
            _settle(50)
            deadline -= 1
        window._size_bottom_docks()
        _settle(150)
        QApplication.processEvents()
        pixmap = window.grab()
        if not pixmap.save(str(output), "PNG"):
            raise OSError(f"could not write {output}")
    finally:
        if window is not None:
            window.close()
        # join the job threads, whatever happened: a QThread still running when its object is
        # collected (or when Python exits) aborts the process
        context.runner.shutdown()
    return output
