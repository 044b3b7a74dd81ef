"""One typed settings object, stored as TOML at ``<user config>/studio/settings.toml``.

The file has a ``schema_version``; older files are migrated step by step (:data:`MIGRATIONS`).
An invalid value is named in a message and only it falls back to its default; a file that cannot
be read at all gives the defaults with a message. The file is only written by
:func:`save_settings` (Preferences) and by a schema upgrade (with a message), never silently.
"""

from __future__ import annotations

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
    if version < 1:
        raise ValueError(f"schema_version {version} is not one Studio wrote")
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


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _problem(name: str, value: Any, error: dict[str, Any]) -> str:
    """One line naming the setting, its bad value, what it may be, and what is used instead."""
    field = Settings.model_fields[name]
    default = field.get_default(call_default_factory=True)
    choices = getattr(field.annotation, "__args__", None)
    if error.get("type") == "literal_error" and choices:
        allowed = ", ".join(repr(c) for c in choices)
        what = f"{name} {_shown(value)} is not one of {allowed}"
    else:
        what = f"{name} {_shown(value)}: {str(error.get('msg', 'not valid')).lower()}"
    return f"settings: {what}; using {default!r}"


def _validate(data: dict[str, Any]) -> tuple[Settings, list[str]]:
    """The settings, each invalid value replaced by its default and named in a message."""
    unknown = [k for k in data if k not in Settings.model_fields]
    messages = [
        f"settings: {_shown(k)} is not a setting Studio knows; ignored" for k in unknown[:5]
    ]
    data = {k: v for k, v in data.items() if k in Settings.model_fields}
    for _ in range(len(Settings.model_fields) + 1):
        try:
            return Settings.model_validate(data), messages
        except ValidationError as exc:
            bad: set[str] = set()
            for error in exc.errors():
                name = str(error["loc"][0]) if error.get("loc") else ""
                if name in data and name not in bad:
                    bad.add(name)
                    messages.append(_problem(name, data[name], dict(error)))
            if not bad:
                break
            for name in bad:
                data.pop(name)
    return Settings(), messages  # not reached: every field has a valid default


def load_settings(path: Path | None = None) -> SettingsLoad:
    """Read settings; never raises for a bad file, and never rewrites it silently.

    A missing file gives defaults. Each invalid value is named in a message and only it falls
    back to its default ("settings: theme 'purple' is not one of 'light', 'dark'; using
    'light'"). A file that cannot be read at all (not TOML, nested too deeply, too new) gives the
    defaults with a message, and is left as it is. An older schema is upgraded in place (with a
    message, and the old file kept beside it as ``settings.toml.schema-<n>``)."""
    from studio.core.atomic import write_bytes
    from studio.core.bounded_toml import TomlError, loads

    path = path or settings_path()
    if not path.exists():
        return SettingsLoad(settings=Settings())
    try:
        raw = loads(path.read_bytes(), f"the settings file {path}")
        version = raw.get("schema_version", 1)
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError(f"schema_version {_shown(version)} is not a whole number")
        data = migrate(raw)
    except (TomlError, ValueError, KeyError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        reason = reason.removeprefix("settings: ")
        return SettingsLoad(
            settings=Settings(),
            messages=[f"settings: {reason}; using the defaults (the file was left as it is)"],
        )
    settings, messages = _validate(data)
    if version < SCHEMA_VERSION and not messages:
        backup = path.with_name(f"{path.name}.schema-{version}")
        try:
            write_bytes(backup, path.read_bytes())
            save_settings(settings, path)
            messages.append(
                f"Settings upgraded from schema {version} to {SCHEMA_VERSION} (the old file "
                f"is kept as {backup.name})."
            )
        except OSError as exc:
            messages.append(f"settings: could not upgrade {path}: {exc.strerror or exc}")
        return SettingsLoad(settings=settings, messages=messages, backup=backup)
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
