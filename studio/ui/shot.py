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
    menu: str | None = None,
    restore: bool = False,
) -> Path:
    """Render the window at ``size`` with ``panel`` raised and write a PNG. Returns its path.

    ``open_file``: a project folder (``NAME.studio``) or a file the panel's document reads.
    ``menu``: show that menu of the menu bar open ("file", "edit", ...). ``restore``: restore the
    unsaved work a killed Studio left, with the window's Restore unsaved work button.
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
        window = MainWindow(context, handler, restore=False, recovery=restore)
        window.resize(*size)
        window.show()
        window.raise_panel(panel)
        if restore:
            _restore(window)
        if open_file:
            _open(window, panel, Path(open_file))
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
        _settle(150)
        QApplication.processEvents()
        pixmap = window.grab()
        if menu:
            pixmap = _with_menu(window, pixmap, menu)
        if not pixmap.save(str(output), "PNG"):
            raise OSError(f"could not write {output}")
    finally:
        if window is not None:
            window.close()
        # join the job threads, whatever happened: a QThread still running when its object is
        # collected (or when Python exits) aborts the process
        context.runner.shutdown()
    return output


def _open(window: MainWindow, panel: str, path: Path) -> None:
    from studio.project import document_class

    if path.suffix == ".studio" or (path / "project.toml").is_file():
        job = window.projects.open_path(path, wait=True)
        if job is None or job.state != "succeeded":
            raise ValueError(f"could not open {path}: {job.error if job else 'refused'}")
        window.raise_panel(panel)
        return
    project = window.context.project
    project.documents[panel] = document_class(panel).from_file(path)
    window.projects.install(project)


def _restore(window: MainWindow) -> None:
    from PySide6.QtWidgets import QPushButton

    button = window.findChild(QPushButton, "file.restore")
    if button is None:
        raise ValueError("there is no unsaved work to restore")
    button.click()
    _settle(100)


def _with_menu(window: MainWindow, pixmap, name: str):
    """The window's picture with one of its menus drawn open under its title (offscreen, a
    popup is a window of its own, so it is painted in by hand)."""
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QMenu

    menu = window.findChild(QMenu, f"menu.{name}")
    if menu is None:
        raise ValueError(f"the window has no menu {name!r}")
    bar = window.menuBar()
    at = bar.actionGeometry(menu.menuAction()).bottomLeft()
    menu.popup(window.mapToGlobal(bar.mapTo(window, at)))
    _settle(100)
    painter = QPainter(pixmap)
    painter.drawPixmap(bar.mapTo(window, at), menu.grab())
    painter.end()
    menu.hide()
    return pixmap
