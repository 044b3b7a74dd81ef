"""Panel registry: each panel is a class registered under its id (music, image, video, voice,
library, arrange).

The window names its docks from ``PANEL_TITLES`` and imports a panel's module only when it builds
that panel (on first show), so the window paints before any panel's code is imported.
"""

from __future__ import annotations

import importlib

__all__ = ["PANEL_IDS", "PANEL_TITLES", "PAINT_READY", "panel_class", "panel_classes"]

PANEL_IDS = ("music", "image", "video", "voice", "library", "arrange")
# Each equals its panel class's ``title`` (a test checks it).
PANEL_TITLES = {
    "music": "Music",
    "image": "Image",
    "video": "Video",
    "voice": "Voice",
    "library": "Library",
    "arrange": "Arrange",
}

# Panels the window builds before its first paint when their dock shows: building one imports no
# engine and needs neither the settings nor the plugins (they come right after the paint, see
# PanelBase.on_context_loaded). Any other panel in front paints as a placeholder first and is
# built right after the paint.
PAINT_READY = frozenset({"music"})


def panel_class(panel_id: str) -> type:
    """The panel class of ``panel_id``, from studio.ui.panels.<id> (imported now)."""
    return importlib.import_module(f"studio.ui.panels.{panel_id}").PANEL


def panel_classes() -> dict[str, type]:
    """Panel id -> panel class, in menu order (imports every panel)."""
    return {panel_id: panel_class(panel_id) for panel_id in PANEL_IDS}
