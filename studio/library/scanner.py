"""What a file says about itself: tags of audio (mutagen), length and name of MIDI (mido), size of
pictures (Pillow header) and videos (OpenCV). A broken file gives what could be read and an
``error``, never an exception."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["read_metadata"]


def _first(tags: Any, key: str) -> str:
    try:
        value = tags.get(key)
    except Exception:  # noqa: BLE001 - mutagen's tag classes raise many types on bad frames
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "").strip()


def _audio(path: Path) -> dict[str, Any]:
    import mutagen

    meta: dict[str, Any] = {}
    try:
        audio = mutagen.File(path, easy=True)
    except Exception as exc:  # noqa: BLE001 - mutagen raises its own and OSError subclasses
        return {"error": f"unreadable tags ({type(exc).__name__})"}
    if audio is None:
        return {"error": "not an audio file mutagen recognises"}
    info = getattr(audio, "info", None)
    if info is not None and getattr(info, "length", None):
        meta["duration"] = float(info.length)
    tags = audio.tags or {}
    meta["title"] = _first(tags, "title")
    meta["artist"] = _first(tags, "artist")
    meta["album"] = _first(tags, "album")
    meta["tags"] = _first(tags, "genre")
    return meta


def _midi(path: Path) -> dict[str, Any]:
    import mido

    try:
        mid = mido.MidiFile(path)
        meta: dict[str, Any] = {"duration": float(mid.length)}
        for track in mid.tracks:
            for msg in track:
                if msg.type == "track_name" and msg.name.strip():
                    meta["title"] = msg.name.strip()
                    return meta
        return meta
    except Exception as exc:  # noqa: BLE001 - mido raises OSError, EOFError, ValueError, KeyError
        return {"error": f"unreadable MIDI ({type(exc).__name__})"}


def _image(path: Path) -> dict[str, Any]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as img:
            return {"width": img.size[0], "height": img.size[1]}
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on broken files
        return {"error": f"unreadable picture ({type(exc).__name__})"}


def _video(path: Path) -> dict[str, Any]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return {"error": "unreadable video"}
        fps = cap.get(cv2.CAP_PROP_FPS) or 0
        frames = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0
        meta: dict[str, Any] = {
            "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        }
        if fps > 0 and frames > 0:
            meta["duration"] = frames / fps
        return meta
    finally:
        cap.release()


def read_metadata(path: Path, kind: str) -> dict[str, Any]:
    """Title (the file name when the file has none), artist, album, tags, duration and size of a
    media file; ``error`` says what could not be read."""
    reader = {"audio": _audio, "midi": _midi, "image": _image, "video": _video}.get(kind)
    meta = reader(path) if reader else {}
    if not meta.get("title"):
        meta["title"] = path.stem
    return meta
