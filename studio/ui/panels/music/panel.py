"""Music panel."""

from __future__ import annotations

from studio.ui.panels.base import GeneratorPanel

__all__ = ["MusicPanel"]


class MusicPanel(GeneratorPanel):
    panel_id = "music"
    title = "Music"
    kinds = ("midi",)
    blurb = (
        "Compose MIDI with the built-in and plugin generators, preview the notes and save a "
        "standard MIDI file."
    )
