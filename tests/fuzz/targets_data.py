"""Fuzz targets for the files Studio reads that are data, not media: listening histories,
settings.toml and plugin manifests (issue 18). Shared by their hypothesis tests and the corpus.

Like :mod:`tests.fuzz.targets`, they only use names that existed before issue 18's fixes, so
the same targets measure the old code.
"""

from __future__ import annotations

import math
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from tests.fuzz.targets import OutOfRange

# Budgets per case under tracemalloc. Histories are at most HISTORY_ROWS rows in the suite
# (20,000 with `make fuzz`): linear code imports 20k in about 2 s traced, quadratic code
# (every listen scanned the items table) took about 30 s plain.
HISTORY_SECONDS, HISTORY_MIB = 15.0, 192.0
# (Reading a settings file or a manifest takes milliseconds of CPU; the budgets are wall time,
# which a machine loaded 10x stretches.)
SETTINGS_SECONDS, SETTINGS_MIB = 15.0, 64.0
MANIFEST_SECONDS, MANIFEST_MIB = 15.0, 64.0

_FOLDER = Path(tempfile.mkdtemp(prefix="studio-fuzz-data-"))
_CASE = 0


def _fresh(name: str) -> Path:
    global _CASE
    _CASE += 1
    folder = _FOLDER / f"case{_CASE}"
    folder.mkdir()
    return folder / name


def history(data: bytes, suffix: str = ".json") -> None:
    """``studio library import-history FILE`` into a new library; then no stored rating or
    time may be infinite or NaN (ALS fails on them for good)."""
    from studio.library.catalog import Catalog
    from studio.library.history import import_history

    path = _fresh(f"history{suffix}")
    path.write_bytes(data)
    catalog = Catalog(path.with_name("library.sqlite"))
    try:
        import_history(catalog, path)
        for _item, _user, kind, value, at in catalog.events():
            if value is not None and not math.isfinite(value):
                raise OutOfRange(f"a {kind} of {value!r} was stored")
            if not math.isfinite(at):
                raise OutOfRange(f"a {kind} at time {at!r} was stored")
    finally:
        catalog.close()


def _alone_valid(name: str, value: Any) -> bool:
    from pydantic import ValidationError

    from studio.core.settings import Settings

    try:
        return getattr(Settings.model_validate({name: value}), name) == value
    except (ValidationError, ValueError, TypeError, RecursionError):
        return False


def settings(data: bytes) -> None:
    """Load ``data`` as settings.toml as every command does. It must end in settings (never
    raise), leave the file as it was unless it says it upgraded it, and keep every value that
    is valid on its own when another one is not."""
    from studio.core.settings import SCHEMA_VERSION, Settings, load_settings

    path = _fresh("settings.toml")
    path.write_bytes(data)
    loaded = load_settings(path)
    said = " ".join(loaded.messages)
    if path.read_bytes() != data and "upgraded" not in said:
        raise OutOfRange(f"the settings file was rewritten ({said[:200]!r})")
    if sum(data.count(c) for c in (b"[", b"{", b".")) > 64:
        return  # deep or dotted: may be refused whole (and tomllib itself blows up on it)
    if "levels deep" in said or "dotted key of" in said:
        return  # past a declared bound: the whole file is refused, and said so
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except Exception:  # noqa: BLE001 - not TOML: nothing more to compare
        return
    if raw.get("schema_version", 1) != SCHEMA_VERSION:
        return
    for name in Settings.model_fields:
        if name in raw and _alone_valid(name, raw[name]):
            if getattr(loaded.settings, name) != raw[name]:
                raise OutOfRange(f"the valid setting {name} = {raw[name]!r} was dropped")


def manifest(data: bytes) -> None:
    """Validate ``data`` as a plugin's studio-plugin.toml (what discovery does for each)."""
    from studio.plugins.manifest import parse_manifest

    parse_manifest(data.decode("utf-8", "replace"), "studio-plugin.toml")


def corpus_case(target: str, path: Path):
    """(fn, seconds, mib) for a corpus file of one of these targets."""
    data = path.read_bytes()
    if target == "history":
        suffix = path.suffix if path.suffix in (".json", ".jsonl", ".csv") else ".json"
        return (lambda: history(data, suffix)), HISTORY_SECONDS, HISTORY_MIB
    if target == "settings":
        return (lambda: settings(data)), SETTINGS_SECONDS, SETTINGS_MIB
    if target == "manifest":
        return (lambda: manifest(data)), MANIFEST_SECONDS, MANIFEST_MIB
    raise KeyError(target)


TARGETS = ("history", "settings", "manifest")
