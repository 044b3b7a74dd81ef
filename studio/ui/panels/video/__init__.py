"""The Video panel."""

from studio.ui.panels.video.panel import VideoPanel

PANEL = VideoPanel

__all__ = ["VideoPanel", "PANEL"]
