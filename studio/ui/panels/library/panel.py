"""Library panel."""

from __future__ import annotations

from studio.ui.panels.base import GeneratorPanel

__all__ = ["LibraryPanel"]


class LibraryPanel(GeneratorPanel):
    panel_id = "library"
    title = "Library"
    kinds = (
        "recommender",
        "annotator",
    )
    blurb = "Catalog your media and get recommendations."
