"""Music engines: MIDI generation, MIDI I/O and synthesis. No Qt here.

Importing this package is light (no torch): heavy modules load when an engine runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL", "find_model_path"]

#: The shipped music model, in ``resources/models/music/`` (studio-music-small ships beside it).
DEFAULT_MODEL = "studio-music-medium"


def find_model_path(arg: str | None = None) -> Path:
    """The music model to use: ``arg`` (a path), else the shipped default from the model store
    (its sha256 checked). Raises FileNotFoundError naming what is missing."""
    from studio.core.models import ModelStore

    if arg:
        path = Path(arg).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"model {path} does not exist")
        return path
    store = ModelStore.from_settings()
    try:
        entry = store.find(DEFAULT_MODEL, "music")
    except KeyError:
        raise FileNotFoundError(
            f"no music model found ({DEFAULT_MODEL}); train one with `studio music train`"
        ) from None
    return store.verify(entry)
