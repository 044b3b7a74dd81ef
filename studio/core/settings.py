"""One typed settings object, stored as TOML at ``<user config>/studio/settings.toml``.

The file has a ``schema_version``; older files are migrated step by step (:data:`MIGRATIONS`). A
file that cannot be read or validated is backed up beside itself and replaced by defaults, with a
message.
"""

from __future__ import annotations

import shutil
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from studio.core import paths

__all__ = [
    "SCHEMA_VERSION",
    "Settings",
    "SettingsLoad",
    "settings_path",
    "load_settings",
    "save_settings",
    "migrate",
    "MIGRATIONS",
]

SCHEMA_VERSION = 2


class Settings(BaseModel):
    """Everything the artist sets in Preferences."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    schema_version: int = SCHEMA_VERSION
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    torch_threads: int = Field(default=0, ge=0, le=512, description="0 lets torch decide")
    user_model_dir: str = Field(default="", description="empty means <user data>/studio/models")
    library_folders: list[str] = Field(default_factory=list)
    theme: Literal["light", "dark"] = "light"
    disabled_plugins: list[str] = Field(default_factory=list)
    #: third-party plugins the user trusts to run inside Studio (the rest run in a worker process)
    trusted_plugins: list[str] = Field(default_factory=list)
    soundfont: str = Field(default="", description="a .sf2 for playback; empty: the GM one shipped")

    def models_dir(self) -> Path:
        return (
            Path(self.user_model_dir).expanduser()
            if self.user_model_dir
            else (paths.user_models_dir())
        )


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Schema 1 had a boolean `use_gpu` and called the user model folder `models_folder`.
    data = dict(data)
    use_gpu = data.pop("use_gpu", None)
    if use_gpu is not None and "device" not in data:
        data["device"] = "auto" if use_gpu else "cpu"
    if "models_folder" in data and "user_model_dir" not in data:
        data["user_model_dir"] = data.pop("models_folder")
    data["schema_version"] = 2
    return data


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring raw settings up to :data:`SCHEMA_VERSION`. Raises ValueError on a future version."""
    version = int(data.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"settings were written by a newer Studio (schema {version} > {SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version = int(data["schema_version"])
    return data


def settings_path() -> Path:
    return paths.config_dir() / "settings.toml"


class SettingsLoad(BaseModel):
    """The settings read, and what the user should be told about reading them."""

    settings: Settings
    messages: list[str] = Field(default_factory=list)
    backup: Path | None = None


def load_settings(path: Path | None = None) -> SettingsLoad:
    """Read settings; never raises for a bad file.

    A missing file gives defaults. An unreadable, invalid or too-new file is copied to
    ``settings.toml.bad-<timestamp>`` and defaults are used, with a message saying so.
    """
    path = path or settings_path()
    if not path.exists():
        return SettingsLoad(settings=Settings())
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        version = int(raw.get("schema_version", 1))
        settings = Settings.model_validate(migrate(raw))
    except (tomllib.TOMLDecodeError, ValidationError, ValueError, TypeError, OSError) as exc:
        target = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        backup: Path | None = target
        try:
            shutil.copy2(path, target)
        except OSError:
            backup = None
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"Settings file {path} could not be read ({reason}); using defaults."
        if backup:
            message += f" The old file was kept as {backup.name}."
        save_settings(Settings(), path)
        return SettingsLoad(settings=Settings(), messages=[message], backup=backup)
    messages = []
    if version < SCHEMA_VERSION:
        save_settings(settings, path)
        messages.append(f"Settings upgraded from schema {version} to {SCHEMA_VERSION}.")
    return SettingsLoad(settings=settings, messages=messages)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically (a crash mid-write never leaves a half file)."""
    import tomli_w

    from studio.core.atomic import atomic_write

    path = path or settings_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "wb") as fh:
            tomli_w.dump(settings.model_dump(mode="json"), fh)
    except OSError as exc:  # a full disk or a read-only home: the old settings stay as they were
        raise OSError(
            exc.errno, f"could not save the settings to {path}: {exc.strerror or exc}"
        ) from exc
    return path
