"""Image panel."""

from __future__ import annotations

from studio.ui.panels.base import GeneratorPanel

__all__ = ["ImagePanel"]


class ImagePanel(GeneratorPanel):
    panel_id = "image"
    title = "Image"
    kinds = ("image",)
    blurb = "Generate and edit images."
