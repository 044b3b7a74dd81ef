"""The Voice panel."""

from studio.ui.panels.voice.panel import VoicePanel

PANEL = VoicePanel

__all__ = ["VoicePanel", "PANEL"]
