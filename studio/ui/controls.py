"""Every control of the main window by its stable name: what ``docs/controls.md`` lists and
what the tests check (unique names, unique shortcuts, nothing clipped).

    python -m studio.ui.controls docs/controls.md     # regenerate the list (offscreen)
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QGraphicsView,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

__all__ = ["Control", "interactive_widgets", "controls", "shortcut_scopes", "NAME", "markdown"]

SCOPES = ("music", "image", "video", "voice", "library", "arrange")
NAME = re.compile(r"^(music|image|video|voice|library|arrange|file|edit|view|tools|help|jobs|log)"
                  r"\.[a-z0-9_]+(\.[a-z0-9_]+)*$")  # fmt: skip
_INTERACTIVE = (
    QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QLineEdit, QTextEdit,
    QPlainTextEdit, QAbstractItemView, QGraphicsView,
)  # fmt: skip


@dataclass(frozen=True)
class Control:
    name: str
    kind: str  # widget class or "action"
    scope: str  # panel id, or "window"
    text: str
    shortcut: str
    tip: str


def _qt_own(name: str) -> bool:
    """Qt's own objects (a line edit's clear button action, a dock's float button)."""
    return name.startswith(("qt_", "_q_"))


def _panel_of(window: QMainWindow, widget: QWidget | None) -> str:
    panels = {id(p): k for k, p in getattr(window, "panels", {}).items()}
    while widget is not None:
        if id(widget) in panels:
            return panels[id(widget)]
        widget = widget.parentWidget()
    return "window"


def _is_part_of_another(widget: QWidget) -> bool:
    """Qt's own pieces: the line edit in a combo or spin box, scroll bars, tab bars, dock title
    buttons, toolbar extension buttons, the buttons a toolbar makes for its actions."""
    if _qt_own(widget.objectName()) or isinstance(widget, QScrollBar | QTabBar):
        return True
    parent = widget.parentWidget()
    while parent is not None:
        if parent.property("generated_param"):
            return True
        if isinstance(parent, QComboBox | QAbstractSpinBox | QTabBar):
            return True
        if isinstance(parent, QAbstractItemView):  # its header, its editors; not index widgets
            return not isinstance(widget, QAbstractButton)
        parent = parent.parentWidget()
    return False


def _build_all(window: QMainWindow) -> None:
    """Panels are built on first show; every control is listed, so build them all."""
    build = getattr(window, "build_all_panels", None)
    if build is not None:
        build()


def interactive_widgets(window: QMainWindow) -> list[QWidget]:
    _build_all(window)
    found = []
    for widget in window.findChildren(QWidget):
        if not isinstance(widget, _INTERACTIVE) or _is_part_of_another(widget):
            continue
        action = getattr(widget, "defaultAction", lambda: None)()
        if action is not None and action.objectName():  # a toolbar button: named by its action
            continue
        if widget.property("generated_param"):
            continue
        found.append(widget)
    return found


def _parent_widget_of(action: QAction) -> QWidget | None:
    parent = action.parent()
    return parent if isinstance(parent, QWidget) else None


def controls(window: QMainWindow) -> list[Control]:
    """Every named action and interactive widget, sorted by name."""
    _build_all(window)
    out: dict[str, Control] = {}
    for action in window.findChildren(QAction):
        if not action.objectName() or action.isSeparator() or _qt_own(action.objectName()):
            continue
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.PortableText)
                         for k in action.shortcuts())  # fmt: skip
        scope = _panel_of(window, _parent_widget_of(action))
        text = action.text().replace("&", "")
        out.setdefault(action.objectName(), Control(action.objectName(), "action", scope, text,
                                                    keys, action.toolTip()))  # fmt: skip
    for widget in interactive_widgets(window):
        name = widget.objectName()
        if not name:
            continue
        text = getattr(widget, "text", lambda: "")() if isinstance(widget, QAbstractButton) else ""
        out.setdefault(name, Control(name, type(widget).__name__, _panel_of(window, widget),
                                     text.replace("&", ""), "", widget.toolTip()))  # fmt: skip
    return sorted(out.values(), key=lambda c: c.name)


def shortcut_scopes(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(key sequence, scope, owner name) of every QAction and QShortcut in the window. The scope
    is "window" for window-wide shortcuts, else the panel that holds the widget they belong to."""
    _build_all(window)
    rows = []
    for action in window.findChildren(QAction):
        for keys in action.shortcuts():
            if keys.isEmpty():
                continue
            context = action.shortcutContext()
            scope = "window"
            if context in (Qt.ShortcutContext.WidgetShortcut,
                           Qt.ShortcutContext.WidgetWithChildrenShortcut):  # fmt: skip
                widgets = [w for w in action.associatedObjects() if isinstance(w, QWidget)]
                scope = _panel_of(window, widgets[0] if widgets else _parent_widget_of(action))
            rows.append((keys.toString(QKeySequence.SequenceFormat.PortableText), scope,
                         action.objectName() or action.text()))  # fmt: skip
    for shortcut in window.findChildren(QShortcut):
        keys = shortcut.key()
        if keys.isEmpty():
            continue
        scope = "window"
        if shortcut.context() != Qt.ShortcutContext.WindowShortcut:
            scope = _panel_of(window, shortcut.parentWidget())
        rows.append((keys.toString(QKeySequence.SequenceFormat.PortableText), scope,
                     shortcut.objectName() or "QShortcut"))  # fmt: skip
    return rows


def markdown(window: QMainWindow) -> str:
    lines = [
        "# Controls",
        "",
        "Every control of the main window has a stable name, `<panel>.<action>` (or "
        "`<menu>.<action>` for the menus). Tests and scripts find them by that name "
        '(`window.findChild(QWidget, "music.generate")`). A generator\'s own parameters are '
        "built from its specs and named `param_<name>` inside the panel.",
        "",
        "Made by `python -m studio.ui.controls docs/controls.md`; a test fails when a control is "
        "missing here.",
        "",
    ]
    by_scope: dict[str, list[Control]] = {}
    for control in controls(window):
        by_scope.setdefault(control.scope, []).append(control)
    for scope in ("window", *SCOPES, *sorted(set(by_scope) - {"window", *SCOPES})):
        items = by_scope.get(scope)
        if not items:
            continue
        lines += [
            f"## {'Menus and docks' if scope == 'window' else scope.title()}",
            "",
            "| Name | Kind | Text | Shortcut | What it does |",
            "|---|---|---|---|---|",
        ]
        for c in items:
            tip = c.tip.replace("|", "\\|").replace("\n", " ")
            text = c.text.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{c.name}` | {c.kind} | {text} | {c.shortcut} | {tip} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:  # pragma: no cover - a maintenance command
    import os
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory() as home:
        for name in ("CONFIG", "DATA", "CACHE", "STATE"):
            os.environ[f"XDG_{name}_HOME"] = str(Path(home) / name.lower())
        from studio.ui.app import create_app
        from studio.ui.context import StudioContext
        from studio.ui.main_window import MainWindow

        create_app()
        context = StudioContext.create()
        window = MainWindow(context, restore=False, recovery=False)
        window.resize(1280, 800)
        window.show()
        from studio.ui.dialogs.image_train import (
            TrainGeneratorDialog,
            TrainTaggerDialog,
            open_dialog,
        )
        from studio.ui.dialogs.music_train import TrainMusicDialog

        # made on first use: list them
        for dialog in (TrainGeneratorDialog, TrainTaggerDialog, TrainMusicDialog):
            open_dialog(window, dialog).hide()
        text = markdown(window)
        window.close()
        context.runner.shutdown()
    if argv:
        from studio.core.atomic import write_text

        write_text(argv[0], text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
