"""Video panel."""

from __future__ import annotations

from studio.ui.panels.base import GeneratorPanel

__all__ = ["VideoPanel"]


class VideoPanel(GeneratorPanel):
    panel_id = "video"
    title = "Video"
    kinds = ("video_mask",)
    blurb = "Segment a person from camera or file video."
