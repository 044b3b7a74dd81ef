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
    """Length only: a MIDI file has no title tag, and its track names ("Melody", "Piano 1") name
    parts, not the piece, so the title is the file name."""
    import mido

    try:
        mid = mido.MidiFile(path)
        return {"duration": float(mid.length)}
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
    """Title (from the file's tags; the file name when it has none or only a generic one such as
    "Track 1"), artist, album, tags, duration and size of a media file, with control characters
    stripped; ``error`` says what could not be read."""
    from studio.library.catalog import clean_text, is_generic_title

    reader = {"audio": _audio, "midi": _midi, "image": _image, "video": _video}.get(kind)
    meta = reader(path) if reader else {}
    for key in ("title", "artist", "album", "tags"):
        if isinstance(meta.get(key), str):
            meta[key] = clean_text(meta[key])
    if not meta.get("title") or is_generic_title(meta["title"]):
        meta["title"] = clean_text(path.stem)
    return meta
