"""Thumbnails and waveforms for the Library's grid: a picture's or a video's first frame scaled
down, an audio file's waveform, a MIDI file's notes. Cached as PNG under the cache folder, keyed by
the file's quick hash, so a moved file keeps its thumbnail."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["thumbnail", "waveform_image", "notes_image"]

BACKGROUND = (32, 34, 40)
INK = (120, 200, 255)


def _canvas(size: int) -> np.ndarray:
    image = np.empty((size, size, 3), np.uint8)
    image[:] = BACKGROUND
    return image


def waveform_image(samples: np.ndarray, size: int = 128) -> np.ndarray:
    """Peak envelope of mono ``samples`` drawn as a size x size picture."""
    image = _canvas(size)
    if samples.size == 0:
        return image
    columns = np.array_split(np.abs(samples.astype(np.float32)), size)
    peaks = np.array([c.max() if c.size else 0.0 for c in columns])
    peaks = peaks / (peaks.max() or 1.0)
    mid = size // 2
    for x, peak in enumerate(peaks):
        half = max(1, int(peak * (size // 2 - 4)))
        image[mid - half : mid + half, x] = INK
    return image


def notes_image(notes, size: int = 128) -> np.ndarray:
    """A MIDI clip's notes as a tiny piano roll."""
    image = _canvas(size)
    if not notes:
        return image
    end = max(n.start + n.duration for n in notes) or 1.0
    low = min(n.pitch for n in notes)
    high = max(n.pitch for n in notes)
    span = max(12, high - low + 1)
    for n in notes:
        x0 = int(n.start / end * (size - 1))
        x1 = max(x0 + 1, int((n.start + n.duration) / end * (size - 1)))
        y = size - 1 - int((n.pitch - low) / span * (size - 8)) - 4
        image[max(0, y - 1) : y + 1, x0:x1] = INK
    return image


def _render(path: Path, kind: str, size: int) -> np.ndarray | None:
    import cv2

    if kind == "image":
        from studio.image.io import load_picture
        from studio.image.ops import make_proxy

        small, _ = make_proxy(load_picture(path).pixels[..., :3], size)
        return small
    if kind == "video":
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read()
        cap.release()
        if not ok:
            return None
        frame = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        scale = size / max(frame.shape[:2])
        return cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    if kind == "audio":
        import warnings

        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples, _ = librosa.load(str(path), sr=8000, mono=True, duration=600)
        return waveform_image(samples, size)
    if kind == "midi":
        from studio.core.media import MidiClip

        return notes_image(MidiClip.load(path).notes, size)
    return None


def thumbnail(path: str | Path, kind: str, quick_hash: str | None = None,
              size: int = 128) -> np.ndarray | None:  # fmt: skip
    """The item's thumbnail (RGB uint8, long side ``size``), from the cache when it is there;
    None when the file cannot be read."""
    import cv2

    from studio.core import paths

    path = Path(path)
    key = quick_hash or hashlib.sha256(str(path).encode()).hexdigest()[:32]
    cached = paths.cache_dir() / "thumbs" / f"{key}-{size}.png"
    if cached.is_file():
        image = cv2.imread(str(cached), cv2.IMREAD_COLOR)
        if image is not None:
            return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    try:
        image = _render(path, kind, size)
    except Exception:  # noqa: BLE001 - a broken file gets no thumbnail, not an error
        return None
    if image is not None:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(cached), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        except OSError:
            pass
    return image
