"""Music engines: MIDI generation, MIDI I/O and synthesis. No Qt here.

Importing this package is light (no torch): heavy modules load when an engine runs.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL", "MUSIC21_STYLES", "default_model_for", "find_model_path"]

#: The shipped music model, in ``resources/models/music/`` (studio-music-small ships beside it).
DEFAULT_MODEL = "studio-music-medium"
#: The styles of music21's collections. studio-music-medium learnt pop, groove, game and folk and
#: scores worse than studio-music-small on these (0.956 against 0.775 nats per held-out token), so
#: the small model stays their default.
MUSIC21_STYLES = frozenset({"chorale", "essen", "oneills", "ryans"})


def default_model_for(style: str | None = None) -> str:
    """The shipped model that writes ``style`` best: the small one for music21's styles, else
    :data:`DEFAULT_MODEL`."""
    return "studio-music-small" if style in MUSIC21_STYLES else DEFAULT_MODEL


def find_model_path(arg: str | None = None, style: str | None = None) -> Path:
    """The music model to use: ``arg`` (a path), else the shipped default for ``style`` from the
    model store (its sha256 checked). Raises FileNotFoundError naming what is missing."""
    from studio.core.models import ModelStore

    if arg:
        path = Path(arg).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"model {path} does not exist")
        return path
    store = ModelStore.from_settings()
    name = default_model_for(style)
    try:
        entry = store.find(name, "music")
    except KeyError:
        raise FileNotFoundError(
            f"no music model found ({name}); train one with `studio music train`"
        ) from None
    return store.verify(entry)
