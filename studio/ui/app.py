"""Starting the GUI: logging, the QApplication, the exception hook and the main window.

Nothing heavy is imported here: the window paints first (see ``studio.ui.main_window``), then
makes the StudioContext and builds the panel in front.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

from studio import __version__
from studio.core import paths
from studio.ui.main_window import MainWindow
from studio.ui.theme import apply_theme
from studio.ui.widgets.log_view import QtLogHandler

__all__ = [
    "run_gui",
    "create_app",
    "open_window",
    "setup_logging",
    "add_file_log",
    "add_file_log_soon",
    "install_exception_hook",
]

log = logging.getLogger("studio")


def setup_logging(file_log: bool = True) -> QtLogHandler:
    """Log to ``<state>/studio/log/studio.log`` (rotating; ``file_log`` False: later, with
    ``add_file_log``) and to the Log dock."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in list(root.handlers):
        if isinstance(handler, QtLogHandler):
            root.removeHandler(handler)
    if file_log:
        add_file_log()
    qt_handler = QtLogHandler()
    root.addHandler(qt_handler)
    return qt_handler


def add_file_log() -> None:
    """The rotating log file (once). ``studio`` adds it right after the first paint:
    logging.handlers brings socket, pickle and queue, a dozen modules to import."""
    import logging.handlers

    root = logging.getLogger()
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        return
    try:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            folder / "studio.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError as exc:
        print(f"studio: cannot write the log file ({exc})", file=sys.stderr)
        return
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    root.addHandler(file_handler)


def add_file_log_soon() -> None:
    """``add_file_log`` once the paint in progress is done (connected to ``first_painted``, which
    the window emits before its panels paint), and before the window loads the rest and logs."""
    QTimer.singleShot(0, add_file_log)


class _ErrorRelay(QObject):
    raised = Signal(str, str)


def install_exception_hook(window: MainWindow) -> None:
    """Uncaught exceptions (GUI thread or any other) are logged and shown; the window stays up."""
    relay = _ErrorRelay(window)
    relay.raised.connect(window.show_error)

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception:\n%s", text)
        relay.raised.emit(f"{exc_type.__name__}: {exc}", text)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook
    window._exception_relay = relay  # keep it alive with the window


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        # Fusion chosen here, in C++, costs nothing before the first paint (see apply_theme).
        app = QApplication([*(argv or [sys.argv[0]]), "-style", "Fusion"])
        app.setProperty("studio_style", "Fusion")
    app.setApplicationName("Studio")
    app.setOrganizationName("studio")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("studio")
    try:
        from PySide6.QtGui import QIcon

        from studio.core.resources import resource_path

        app.setWindowIcon(QIcon(str(resource_path("icons", "studio.svg"))))
    except FileNotFoundError:  # a checkout without resources still runs, without its icon
        pass
    return app


def saved_theme() -> str:
    """The theme in the settings file, read without the settings model or a TOML parser
    (pydantic and tomllib cost a tenth of a second before the first paint); the window checks it
    against the real settings once they are loaded. "light" when there is none."""
    try:  # settings.settings_path(); written by tomli_w: a top-level ``theme = "dark"`` line
        text = (paths.config_dir() / "settings.toml").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return "light"
    for line in text.splitlines():
        if line.startswith("["):  # the top-level keys come before the first table
            break
        key, _, value = line.partition("=")
        if key.strip() == "theme":
            return "dark" if value.strip().strip("\"'") == "dark" else "light"
    return "light"


def open_window(
    safe_mode: bool = False, panel: str | None = None, restore: bool = True,
    recovery: bool = True, log_handler: QtLogHandler | None = None,
) -> MainWindow:  # fmt: skip
    """Show the main window the fast way: it paints with a placeholder in each dock, then makes
    the context and builds the panel in front (``window.started`` says when it is done)."""
    if saved_theme() == "dark":  # light is Fusion's own palette: set after the first paint
        apply_theme(QApplication.instance(), "dark")
    window = MainWindow(None, log_handler, restore=restore, recovery=recovery, safe_mode=safe_mode)
    install_exception_hook(window)
    if panel:
        window.raise_panel(panel)
    window.show()
    return window


def run_gui(
    safe_mode: bool = False,
    panel: str | None = None,
    quit_after: float | None = None,
    project: str | None = None,
) -> int:
    """Open the main window and run the event loop. Returns the exit status."""
    app = create_app()
    lock = _single_instance_lock()
    if lock is None:
        return 3
    handler = setup_logging(file_log=False)
    window = open_window(safe_mode, panel, log_handler=handler)
    window.first_painted.connect(add_file_log_soon)  # before the window builds (and logs)

    def started() -> None:
        if project:
            window.projects.open_path(project)
        log.info("Studio %s started%s", __version__, " in safe mode" if safe_mode else "")
        # Printed once the window has painted and is built, so scripts and tests can wait for
        # a real window.
        print("studio: window shown", flush=True)

    window.started.connect(started)
    if quit_after is not None:
        QTimer.singleShot(int(quit_after * 1000), window.close)
    _close_on_signals(window)
    return app.exec()


def _single_instance_lock():
    """The lock a running Studio holds, or None (with a message) when another one holds it: two
    windows writing the same settings, layout and library would corrupt nothing (SQLite and atomic
    writes see to that) but would overwrite each other's changes."""
    from PySide6.QtCore import QLockFile
    from PySide6.QtWidgets import QMessageBox

    from studio.core import paths

    folder = paths.log_dir().parent
    folder.mkdir(parents=True, exist_ok=True)
    lock = QLockFile(str(folder / "studio.lock"))
    lock.setStaleLockTime(0)  # a lock left by a crashed Studio is taken over, not obeyed
    if lock.tryLock(100):
        return lock
    info = lock.getLockInfo()  # (ok, pid, hostname, appname); PySide6 returns its last three
    pid = info[-3] if len(info) >= 3 else "?"
    message = (
        f"Studio is already running (process {pid}). Switch to its window; a second one would "
        "overwrite the first's settings and layout."
    )
    print(f"studio: {message}", file=sys.stderr, flush=True)
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        QMessageBox.information(None, "Studio is already running", message)
    return None


def _close_on_signals(window: MainWindow) -> None:
    """SIGTERM and Ctrl+C close the window the normal way (jobs cancelled, layout saved)."""
    import signal

    def close(*_args) -> None:
        QTimer.singleShot(0, window.close)

    signal.signal(signal.SIGTERM, close)
    signal.signal(signal.SIGINT, close)
    # Python runs signal handlers only between bytecodes; a light timer lets it in while Qt idles.
    wake = QTimer(window)
    wake.setInterval(200)
    wake.timeout.connect(lambda: None)
    wake.start()
