"""Panel registry: each panel is a class registered under its id (music, image, video, voice,
library).
"""

from __future__ import annotations

import importlib

__all__ = ["PANEL_IDS", "panel_classes"]

PANEL_IDS = ("music", "image", "video", "voice", "library", "arrange")


def panel_classes() -> dict[str, type]:
    """Panel id -> panel class, in menu order. Each panel lives in studio.ui.panels.<id>."""
    classes = {}
    for panel_id in PANEL_IDS:
        module = importlib.import_module(f"studio.ui.panels.{panel_id}")
        classes[panel_id] = module.PANEL
    return classes
