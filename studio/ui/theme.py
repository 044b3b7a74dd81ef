"""Light and dark themes (Fusion style with a palette)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["apply_theme", "THEMES"]

THEMES = ("light", "dark")

# Role names, not QPalette enums: PySide6 builds an enum class the first time it is touched, and
# this module is imported before the window's first paint.
_DARK = {
    "Window": "#2b2d31",
    "WindowText": "#e6e6e6",
    "Base": "#1f2023",
    "AlternateBase": "#2f3136",
    "ToolTipBase": "#3a3d42",
    "ToolTipText": "#f0f0f0",
    "Text": "#e6e6e6",
    "Button": "#35383d",
    "ButtonText": "#e6e6e6",
    "BrightText": "#ff6b6b",
    "Highlight": "#4c8bf5",
    "HighlightedText": "#ffffff",
    "Link": "#7aa7ff",
    "PlaceholderText": "#8a8d93",
}


def apply_theme(app: QApplication, theme: str) -> None:
    """Switch the whole application to ``theme`` ("light" or "dark") at once."""
    if app.property("studio_style") != "Fusion":  # (create_app asks for Fusion at creation:
        app.setStyle("Fusion")  # setStyle wraps a QStyle, 15 ms of enums before the first paint)
        app.setProperty("studio_style", "Fusion")
    if theme == "dark":
        palette = QPalette()
        for role, color in _DARK.items():
            palette.setColor(getattr(QPalette.ColorRole, role), QColor(color))
        palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6d7076"))
        palette.setColor(
            QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6d7076")
        )
    else:
        palette = app.style().standardPalette()
    app.setPalette(palette)
    app.setProperty("studio_theme", theme)
