"""The Image menu's training dialogs clicked as an artist does: open one from its menu action,
press its buttons by objectName, choose a folder in the (answered) file picker and wait while
the dialog lists it (in the background)."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QPushButton

from studio.ui.dialogs import files


def open_dialog(window, qtbot, action: str) -> QDialog:
    """Trigger the menu action named ``action``; the dialog it shows, once exposed."""
    window.findChild(QAction, action).trigger()
    dialog = next(d for d in window.findChildren(QDialog) if d.isVisible())
    qtbot.waitExposed(dialog)
    return dialog


def click(dialog: QDialog, name: str) -> None:
    """Click the dialog's button named ``name`` (it must be there and enabled)."""
    button = dialog.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def choose_folder(dialog: QDialog, button: str, folder: Path) -> None:
    """Click the folder button named ``button``, pick ``folder`` in the file picker, and wait
    until the dialog has listed it."""
    files.answer_next(folder)
    click(dialog, button)
    wait_listed(dialog)


def wait_listed(dialog: QDialog, timeout_s: float = 60.0) -> None:
    """Run the event loop until ``dialog`` has listed the folder chosen (its job ended)."""
    deadline = time.monotonic() + timeout_s
    while dialog.listing is not None:
        assert time.monotonic() < deadline, "the folder was still being listed"
        QTest.qWait(10)
