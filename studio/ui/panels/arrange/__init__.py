"""The Arrange panel.

The panel's module is imported on first use of ``PANEL``: every other panel imports
``studio.ui.panels.arrange.send`` for its Send to Arrange button, and the panel in front is built
before the window's first paint.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ArrangePanel", "PANEL"]


def __getattr__(name: str) -> Any:
    if name in ("ArrangePanel", "PANEL"):
        from studio.ui.panels.arrange.panel import ArrangePanel

        return ArrangePanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
