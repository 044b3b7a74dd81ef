"""Where Studio keeps user data, config and cache (platformdirs; honours the XDG variables)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "config_dir", "data_dir", "cache_dir", "state_dir", "log_dir", "recovery_dir", "user_models_dir"
]

APP = "studio"


def _pd():
    # platformdirs reads XDG_* at call time, so tests and scripts can isolate every folder.
    import platformdirs

    return platformdirs


def config_dir() -> Path:
    """The user config folder, e.g. ``~/.config/studio``."""
    return Path(_pd().user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """The user data folder, e.g. ``~/.local/share/studio``."""
    return Path(_pd().user_data_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """The user cache folder, e.g. ``~/.cache/studio``."""
    return Path(_pd().user_cache_dir(APP, appauthor=False))


def state_dir() -> Path:
    """The user state folder, e.g. ``~/.local/state/studio`` (log, recovery copies)."""
    return Path(_pd().user_state_dir(APP, appauthor=False))


def log_dir() -> Path:
    """Where the log file lives (inside the state folder)."""
    return state_dir() / "log"


def recovery_dir() -> Path:
    """Where autosave keeps the recovery copies of unsaved work."""
    return state_dir() / "recovery"


def user_models_dir() -> Path:
    """The default user model folder, ``<user data>/studio/models``, a sub-folder per kind."""
    return data_dir() / "models"
