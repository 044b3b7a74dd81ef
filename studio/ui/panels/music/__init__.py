"""The Music panel."""

from studio.ui.panels.music.panel import MusicPanel

PANEL = MusicPanel

__all__ = ["MusicPanel", "PANEL"]
