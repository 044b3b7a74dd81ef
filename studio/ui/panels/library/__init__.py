"""The Library panel."""

from studio.ui.panels.library.panel import LibraryPanel

PANEL = LibraryPanel

__all__ = ["LibraryPanel", "PANEL"]
