"""The whole window's controls: every interactive widget and action has a stable name listed in
docs/controls.md, no key sequence is bound twice where both could fire, and at 1024x700 and
1920x1080 no panel clips a label or squeezes a widget below its minimum size."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractScrollArea,
    QLabel,
    QScrollArea,
    QWidget,
)

from studio.ui.controls import NAME, SCOPES, controls, interactive_widgets, shortcut_scopes
from studio.ui.panels import PANEL_IDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "controls.md"


def test_every_interactive_control_has_a_stable_name_in_its_panel(window):
    problems = []
    for widget in interactive_widgets(window):
        name = widget.objectName()
        scope = _scope(window, widget)
        if not NAME.match(name):
            problems.append(f"{type(widget).__name__} {name!r} in {scope} (text "
                            f"{getattr(widget, 'text', lambda: '')()!r})")  # fmt: skip
        elif scope in SCOPES and not name.startswith(scope + "."):
            problems.append(f"{name} lives in the {scope} panel")
    assert not problems, "unnamed or misnamed controls:\n" + "\n".join(sorted(problems))


def test_names_are_unique_and_listed_in_docs_controls(window):
    seen: dict[str, list[str]] = defaultdict(list)
    for widget in interactive_widgets(window):
        if widget.property("job_id") is None:  # one Cancel per job row in the Jobs dock
            seen[widget.objectName()].append(type(widget).__name__)
    twice = {k: v for k, v in seen.items() if len(v) > 1}
    assert not twice, f"names used by more than one widget: {twice}"
    listed = DOCS.read_text(encoding="utf-8")
    missing = [c.name for c in controls(window) if f"`{c.name}`" not in listed]
    assert not missing, (
        "docs/controls.md lacks "
        + ", ".join(missing)
        + " (regenerate: python -m studio.ui.controls docs/controls.md)"
    )


def test_no_key_sequence_is_bound_twice_where_both_could_fire(window):
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for keys, scope, owner in shortcut_scopes(window):
        by_key[keys].append((scope, owner))
    clashes = []
    for keys, owners in by_key.items():
        scopes = [s for s, _ in owners]
        window_wide = scopes.count("window")
        # a window-wide key may not be used anywhere else; a panel's key once per panel
        if window_wide > 1 or (window_wide and len(scopes) > 1):
            clashes.append(f"{keys}: {owners}")
        for scope in set(scopes) - {"window"}:
            if scopes.count(scope) > 1:
                clashes.append(f"{keys} twice in {scope}: {owners}")
    assert not clashes, "ambiguous shortcuts:\n" + "\n".join(clashes)
    assert {"Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+S", "Ctrl+O", "Ctrl+N"} <= set(by_key)


@pytest.mark.parametrize("size", [(1024, 700), (1920, 1080)], ids=["1024x700", "1920x1080"])
def test_no_panel_clips_a_label_or_squeezes_a_widget(qtbot, window, size):
    window.resize(*size)
    qtbot.wait(30)
    assert (window.width(), window.height()) == size, "the window cannot be this small"
    problems: list[str] = []
    for panel_id in PANEL_IDS:
        window.raise_panel(panel_id)
        panel = window.panels[panel_id]

        def settled(panel_id=panel_id, panel=panel) -> bool:
            # a panel fills some labels when a background listing ends (the voices, say) and
            # lays them out on the next turn of the event loop: judge it once that has settled
            problems[:] = [
                f"{panel_id}: {problem}"
                for widget in panel.findChildren(QWidget)
                if widget.isVisibleTo(window) and widget.isVisible()
                for problem in [_clipped(widget)]
                if problem
            ]
            return not problems

        qtbot.wait(30)
        try:
            qtbot.waitUntil(settled, timeout=3000)
        except qtbot.TimeoutError:
            break
    assert not problems, f"at {size[0]}x{size[1]}:\n" + "\n".join(sorted(set(problems)))


def test_panels_get_the_extra_height_and_jobs_and_log_start_small(qtbot, window):
    window.resize(1920, 1080)
    qtbot.wait(120)
    panel_h = window.panel_docks["music"].height()
    assert window.jobs_dock.height() < 0.25 * window.height()
    window.resize(1920, 1400)
    qtbot.wait(120)
    assert window.panel_docks["music"].height() - panel_h > 250  # the panel took the new room


# -- helpers ---------------------------------------------------------------------------------------
def _scope(window, widget) -> str:
    for panel_id, panel in window.panels.items():
        if panel.isAncestorOf(widget):
            return panel_id
    return "window"


def _label_text(widget) -> str:
    if isinstance(widget, QLabel):
        if widget.wordWrap() or widget.textFormat().name == "RichText" or "<" in widget.text():
            return ""
        return widget.text()
    if isinstance(widget, QAbstractButton):
        return widget.text().replace("&", "")
    return ""


def _clipped(widget: QWidget) -> str:
    name = widget.objectName() or type(widget).__name__
    if isinstance(widget, QAbstractScrollArea | QScrollArea) or widget.objectName().startswith(
        "qt_"
    ):
        return ""  # scroll areas scroll; Qt's own parts (a spin box's line edit) size themselves
    hint = widget.minimumSizeHint()
    small = widget.width() + 1 < hint.width() or widget.height() + 1 < hint.height()
    if hint.isValid() and small:
        return (f"{name} is {widget.width()}x{widget.height()}, smaller than its minimum "
                f"{hint.width()}x{hint.height()}")  # fmt: skip
    text = _label_text(widget)
    if text and "\n" not in text:
        needed = widget.fontMetrics().horizontalAdvance(text)
        room = widget.contentsRect().width()
        if isinstance(widget, QAbstractButton):
            room -= widget.iconSize().width() if not widget.icon().isNull() else 0
            room -= 8
        if needed > room + 1:
            return f"{name} {text!r} needs {needed}px and has {room}px"
    # a control column that does not scroll sideways must not cut widgets off at its right edge
    area = _scroll_area_of(widget)
    if area is not None:
        viewport = area.viewport()
        top_left = widget.mapTo(viewport, widget.rect().topLeft())
        box = QRect(top_left, widget.size())
        if box.right() > viewport.width() + 1 and widget.width() > 0:
            return f"{name} runs {box.right() - viewport.width()}px past its column"
    return ""


def _scroll_area_of(widget: QWidget) -> QScrollArea | None:
    """The scroll area whose contents hold ``widget`` (not the area's own scroll bars)."""
    child, parent = widget, widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QScrollArea):
            return parent if child is parent.viewport() else None
        child, parent = parent, parent.parentWidget()
    return None
