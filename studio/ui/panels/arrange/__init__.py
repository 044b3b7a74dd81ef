"""The Arrange panel."""

from studio.ui.panels.arrange.panel import ArrangePanel

PANEL = ArrangePanel

__all__ = ["ArrangePanel", "PANEL"]
