"""The Log dock: Python logging shown live in the window (from any thread)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QPlainTextEdit, QWidget

__all__ = ["LogView", "QtLogHandler"]


class _Bridge(QObject):
    emitted = Signal(str, int)


class QtLogHandler(logging.Handler):
    """A logging handler whose records reach the GUI thread through a queued signal."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _Bridge()
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.bridge.emitted.emit(self.format(record), record.levelno)
        except RuntimeError:  # the window is gone during shutdown
            pass


class LogView(QPlainTextEdit):
    def __init__(self, handler: QtLogHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("log.view")
        self.setReadOnly(True)
        self.setMaximumBlockCount(5000)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        handler.bridge.emitted.connect(self._on_handler_emitted)

    preferred_height = 120  # a strip under the panels; the window sets what the artist dragged

    def sizeHint(self) -> QSize:
        return QSize(640, self.preferred_height)

    def _on_handler_emitted(self, text: str, level: int) -> None:
        if level >= logging.ERROR:
            text = f"⚠ {text}"
        self.appendPlainText(text)
