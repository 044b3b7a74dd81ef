"""``studio doctor``: what this machine offers Studio. Every check is guarded: a missing part is
reported, never raised.
"""

from __future__ import annotations

import glob
import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable
from typing import Any

from studio import __version__

__all__ = ["run_doctor", "format_report"]


def _guard(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - doctor reports, it never crashes
        return {"status": "error", "detail": f"{type(exc).__name__}: {exc}"}


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _python() -> dict[str, Any]:
    return {"status": "ok", "detail": f"{platform.python_version()} ({sys.executable})"}


def _torch() -> dict[str, Any]:
    version = _version("torch")
    if version is None:
        return {"status": "missing", "detail": "torch is not installed: pip install torch==2.13.0"}
    import torch

    cuda = torch.cuda.is_available()
    return {
        "status": "ok",
        "detail": f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}, "
        f"CUDA available: {'yes' if cuda else 'no'}",
        "version": torch.__version__,
        "cuda_available": cuda,
    }


def _device(settings) -> dict[str, Any]:
    from studio.core.devices import DeviceUnavailable, describe_device, pick_device

    try:
        device = pick_device(settings.device)
    except DeviceUnavailable as exc:
        return {"status": "warning", "detail": f"{exc}; falling back to the CPU", "device": "cpu"}
    detail = describe_device(device)
    if device == "cpu":
        detail += " (no GPU found: every engine runs on the CPU)"
    return {"status": "ok", "detail": detail, "device": device}


def _qt() -> dict[str, Any]:
    from studio.core import syslibs

    version = _version("PySide6-Essentials") or _version("PySide6")
    if version is None:
        return {"status": "missing", "detail": "PySide6-Essentials is not installed"}
    missing = syslibs.missing_for_gui()
    if missing:
        return {
            "status": "missing libraries",
            "detail": f"PySide6 {version}; install: " + syslibs.install_line(missing),
            "version": version,
        }
    display = syslibs.display_problem()
    detail = f"PySide6 {version}, platform {syslibs.qt_platform()}"
    return {
        "status": "ok" if not display else "no display",
        "detail": detail + (f"; {display}" if display else ""),
        "version": version,
    }


def _audio() -> dict[str, Any]:
    from studio.core import syslibs

    missing = syslibs.missing_libraries(syslibs.AUDIO)
    if missing:
        return {
            "status": "missing libraries",
            "detail": "PortAudio is missing: " + syslibs.install_line(missing),
            "outputs": [],
        }
    if _version("sounddevice") is None:
        return {
            "status": "missing",
            "detail": "sounddevice not installed (pip install sounddevice)",
            "outputs": [],
        }
    import sounddevice

    outputs = [d["name"] for d in sounddevice.query_devices() if d["max_output_channels"] > 0]
    if not outputs:
        return {
            "status": "none",
            "detail": "no audio output device (no sound card); "
            "audio can still be rendered to files",
            "outputs": [],
        }
    return {
        "status": "ok",
        "detail": f"{len(outputs)} output(s): {', '.join(outputs[:4])}",
        "outputs": outputs,
    }


def _midi() -> dict[str, Any]:
    from studio.music.playback import midi_ports

    outputs, inputs, problem = midi_ports()
    if problem:
        return {
            "status": "none",
            "detail": f"{problem}; MIDI files still work",
            "outputs": [],
            "inputs": [],
        }
    if not outputs and not inputs:
        return {"status": "none", "detail": "no MIDI ports", "outputs": [], "inputs": []}
    return {
        "status": "ok",
        "detail": f"outputs: {', '.join(outputs) or '-'}; inputs: {', '.join(inputs) or '-'}",
        "outputs": outputs,
        "inputs": inputs,
    }


def _music_engines(settings) -> dict[str, Any]:
    """The music transformer (its model, checked against its card) and the SoundFont synth."""
    from studio.core.models import ModelIntegrityError, ModelStore
    from studio.music import DEFAULT_MODEL

    store = ModelStore(settings.models_dir())
    engines = []
    try:
        entry = store.find(DEFAULT_MODEL, "music")
        store.verify(entry)
        engines.append(
            {
                "id": "music/transformer",
                "status": "ok",
                "detail": f"{entry.name} ({entry.origin}), sha256 checked",
            }
        )
    except (KeyError, ModelIntegrityError) as exc:
        engines.append({"id": "music/transformer", "status": "missing", "detail": str(exc)})
    try:
        from studio.music.synth import _fluidsynth, default_soundfont

        _fluidsynth()
        soundfont = settings.soundfont or str(default_soundfont())
        engines.append({"id": "music/synth", "status": "ok", "detail": f"FluidSynth, {soundfont}"})
    except Exception as exc:  # noqa: BLE001 - reported, never raised
        engines.append({"id": "music/synth", "status": "missing", "detail": str(exc)})
    bad = [e for e in engines if e["status"] != "ok"]
    return {
        "status": "ok" if not bad else "warning",
        "detail": "; ".join(f"{e['id']}: {e['detail']}" for e in engines),
        "items": engines,
    }


def _camera() -> dict[str, Any]:
    cams = sorted(glob.glob("/dev/video*"))
    if not cams:
        return {"status": "none", "detail": "no camera found; video files still work"}
    return {"status": "ok", "detail": ", ".join(cams)}


def _video() -> dict[str, Any]:
    """What video export can write: H.264 with sound needs the ffmpeg program."""
    from studio.video.export import ffmpeg_path

    found = ffmpeg_path()
    if found is None:
        return {
            "status": "warning",
            "detail": "no ffmpeg program: exports are MPEG-4 part 2 without sound "
            "(apt-get install ffmpeg for H.264 and sound)",
        }
    return {"status": "ok", "detail": f"H.264 and sound through {found}"}


def _models(settings) -> dict[str, Any]:
    from studio.core.models import ModelStore

    store = ModelStore(settings.models_dir())
    entries = store.scan()
    items = [
        {"name": e.name, "kind": e.kind, "status": e.status, "path": str(e.path)} for e in entries
    ]
    bad = [e for e in entries if e.problem]
    return {
        "status": "ok" if not bad else "warning",
        "detail": f"{len(entries)} model(s), {len(bad)} with problems; user folder "
        f"{store.user_dir}",
        "models": items,
    }


def _plugins(settings, safe_mode: bool) -> dict[str, Any]:
    from studio.plugins.registry import PluginRegistry

    registry = PluginRegistry(safe_mode=safe_mode, disabled=settings.disabled_plugins)
    records = registry.discover()
    broken = [r for r in records if not r.ok]
    engines = [
        {"id": ref.id, "kind": ref.kind, "title": ref.title} for ref in registry.contributions()
    ]
    return {
        "status": "ok" if not broken else "warning",
        "detail": f"{len(records)} plugin(s), {len(engines)} generator(s)"
        + (
            f"; not working: {', '.join(f'{r.name} ({r.status})' for r in broken)}"
            if broken
            else ""
        ),
        "plugins": [{"name": r.name, "status": r.status} for r in records],
        "engines": engines,
    }


def _library() -> dict[str, Any]:
    """The library database: a Studio library (not empty, not another program's), intact
    (PRAGMA quick_check), of a schema this Studio reads. Read only: a damaged file is reported,
    never repaired or replaced."""
    import sqlite3

    from studio.library.catalog import MIGRATIONS, CatalogError, check_library_file
    from studio.library.catalog import default_catalog_path as library_path

    path = library_path()
    if not path.exists():
        return {"status": "none", "detail": f"no library yet ({path}): studio library add DIR"}
    try:
        check_library_file(path)
    except CatalogError as exc:
        return {"status": "error", "detail": str(exc)}
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            items = conn.execute("SELECT count(*) FROM items").fetchone()[0] if version else 0
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return {"status": "error", "detail": f"{path} cannot be read ({exc}); it was left as it is"}
    if problems != ["ok"]:
        said = "; ".join(problems)[:300]
        return {"status": "error", "detail": f"{path} is damaged: {said} (it was left as it "
                "is: restore a copy, or move it away to start anew)"}  # fmt: skip
    if version > len(MIGRATIONS):
        return {"status": "error", "detail": f"{path} is from a newer Studio (schema {version}; "
                f"this one reads up to {len(MIGRATIONS)})"}  # fmt: skip
    return {"status": "ok", "detail": f"{path}: {items} items, schema {version}, intact",
            "items": items, "schema": version}  # fmt: skip


def _leftovers() -> dict[str, Any]:
    """Temporaries a killed write left in Studio's own folders (the next write of the same file
    removes them; they are listed here, not removed)."""
    import re

    from studio.core import paths

    pattern = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp")
    found = []
    for root in (paths.config_dir(), paths.data_dir()):
        if not root.is_dir():
            continue
        for folder, _dirs, names in os.walk(root):
            found += [os.path.join(folder, n) for n in names if pattern.match(n)]
            if len(found) > 100:
                break
    if not found:
        return {"status": "ok", "detail": "no half-written files in Studio's folders"}
    detail = f"{len(found)} half-written file(s) of an interrupted write, e.g. {found[0]}"
    return {"status": "warning", "detail": detail + " (safe to delete)", "files": found[:100]}


def run_doctor(safe_mode: bool = False) -> dict[str, Any]:
    """Check everything Studio uses; returns a dict of sections, each with ``status`` and
    ``detail``.
    """
    from studio.core.settings import load_settings, settings_path

    loaded = load_settings()
    settings = loaded.settings
    report: dict[str, Any] = {"studio": {"status": "ok", "detail": __version__}}
    report["python"] = _guard(_python)
    report["settings"] = {
        "status": "ok" if not loaded.messages else "warning",
        "detail": str(settings_path()) + "".join(f"; {m}" for m in loaded.messages),
    }
    report["library"] = _guard(_library)
    report["leftovers"] = _guard(_leftovers)
    report["torch"] = _guard(_torch)
    report["device"] = _guard(lambda: _device(settings))
    report["qt"] = _guard(_qt)
    report["audio"] = _guard(_audio)
    report["midi"] = _guard(_midi)
    report["camera"] = _guard(_camera)
    report["video"] = _guard(_video)
    report["music"] = _guard(lambda: _music_engines(settings))
    report["models"] = _guard(lambda: _models(settings))
    report["plugins"] = _guard(lambda: _plugins(settings, safe_mode))
    report["platform"] = {
        "status": "ok",
        "detail": f"{platform.platform()}, {os.cpu_count()} CPU(s)",
    }
    return report


def format_report(report: dict[str, Any]) -> str:
    """The report as text, one line per section (and per engine and model), with control
    characters from file names shown as escapes."""
    from studio.core.terminal import printable

    lines = []
    for name, section in report.items():
        lines.append(f"{name:9} {section.get('status', '?'):18} {section.get('detail', '')}")
        for engine in section.get("engines", []):
            lines.append(f"{'':28}- {engine['id']} [{engine['kind']}] {engine['title']}")
        for model in section.get("models", []):
            lines.append(f"{'':28}- {model['name']} [{model['kind']}] {model['status']}")
    return "\n".join(printable(line) for line in lines)
