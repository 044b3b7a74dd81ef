"""File dialogs that remember the last folder per kind of file and propose names with the right
extension.

Every panel asks through ``ask_open`` / ``ask_save`` / ``ask_folder`` instead of calling
QFileDialog directly. Tests answer a dialog in advance with ``answer_next(path)`` (the next dialog
returns that path without showing), so a scripted session still clicks the real button.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

from studio.core import paths

__all__ = [
    "ask_open", "ask_save", "ask_folder", "ask_question", "answer_next", "answer_question",
    "last_folder", "remember_folder",
]

_answers: deque[str | None] = deque()
_questions: deque[str] = deque()


def answer_next(path: str | Path | None) -> None:
    """Make the next file dialog return ``path`` (None: as if cancelled) without showing."""
    _answers.append(None if path is None else str(path))


def answer_question(choice: str) -> None:
    """Make the next ``ask_question`` return ``choice`` ("save", "discard" or "cancel")."""
    _questions.append(choice)


def ask_question(parent: QWidget | None, title: str, text: str) -> str:
    """Save / Don't save / Cancel about unsaved work: returns "save", "discard" or "cancel"."""
    if _questions:
        return _questions.popleft()
    from PySide6.QtWidgets import QMessageBox

    buttons = QMessageBox.StandardButton
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      buttons.Save | buttons.Discard | buttons.Cancel, parent)  # fmt: skip
    box.setObjectName("unsaved_changes_dialog")
    box.setDefaultButton(buttons.Save)
    answer = box.exec()
    if answer == buttons.Save:
        return "save"
    if answer == buttons.Discard:
        return "discard"
    return "cancel"


def _settings() -> QSettings:
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


def last_folder(kind: str) -> str:
    value = _settings().value(f"dialogs/{kind}")
    if value and Path(str(value)).is_dir():
        return str(value)
    return str(Path.home())


def remember_folder(kind: str, path: str | Path) -> None:
    folder = Path(path)
    if not folder.is_dir():
        folder = folder.parent
    qs = _settings()
    qs.setValue(f"dialogs/{kind}", str(folder))
    qs.sync()


def _answer() -> tuple[bool, str | None]:
    if _answers:
        return True, _answers.popleft()
    return False, None


def ask_open(parent: QWidget | None, kind: str, caption: str, filters: str) -> Path | None:
    """A file to open, starting in the folder last used for ``kind``; None if cancelled."""
    given, path = _answer()
    if not given:
        path, _ = QFileDialog.getOpenFileName(parent, caption, last_folder(kind), filters)
    if not path:
        return None
    remember_folder(kind, path)
    return Path(path)


def ask_save(
    parent: QWidget | None, kind: str, caption: str, name: str, filters: str, suffix: str = ""
) -> Path | None:
    """Where to save: proposes ``name`` in the folder last used for ``kind`` and adds ``suffix``
    (".mid") when the artist typed a name without one. None if cancelled."""
    given, path = _answer()
    if not given:
        start = str(Path(last_folder(kind)) / name)
        path, _ = QFileDialog.getSaveFileName(parent, caption, start, filters)
    if not path:
        return None
    out = Path(path)
    if suffix and not out.suffix:
        out = out.with_name(out.name + suffix)
    remember_folder(kind, out)
    return out


def ask_folder(parent: QWidget | None, kind: str, caption: str) -> Path | None:
    given, path = _answer()
    if not given:
        path = QFileDialog.getExistingDirectory(parent, caption, last_folder(kind))
    if not path:
        return None
    remember_folder(kind, path)
    return Path(path)
