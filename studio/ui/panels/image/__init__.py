"""The Image panel."""

from studio.ui.panels.image.panel import ImagePanel

PANEL = ImagePanel

__all__ = ["ImagePanel", "PANEL"]
