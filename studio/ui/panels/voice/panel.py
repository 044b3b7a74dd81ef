"""Voice panel."""

from __future__ import annotations

from studio.ui.panels.base import GeneratorPanel

__all__ = ["VoicePanel"]


class VoicePanel(GeneratorPanel):
    panel_id = "voice"
    title = "Voice"
    kinds = ("voice",)
    blurb = "Speech and singing from text and melody."
