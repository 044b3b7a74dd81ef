"""Where frames come from: a camera, a video file, an image sequence, or the demo clip.

Every source yields :class:`Frame` values (RGB uint8, with the time they were taken) one at a time,
so a two-hour file streams with flat memory. A source that cannot open raises :class:`SourceError`
with a message for the artist; a camera that stops sending frames raises :class:`SourceLost`.
"""

from __future__ import annotations

import glob
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Frame",
    "FrameSource",
    "SourceError",
    "SourceLost",
    "CameraSource",
    "FileSource",
    "ImageSequenceSource",
    "DemoSource",
    "LatestFrame",
    "open_source",
    "demo_photo",
    "letterbox",
    "list_cameras",
    "IMAGE_SUFFIXES",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _cv2():
    import cv2

    return cv2


class SourceError(RuntimeError):
    """A source could not be opened or read (the message says why and what to do)."""


class SourceLost(SourceError):
    """A live source stopped sending frames (a camera unplugged mid-stream)."""


@dataclass
class Frame:
    """One picture: ``pixels`` is HxWx3 RGB uint8; ``time`` in seconds from the start."""

    index: int
    time: float
    pixels: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


class FrameSource:
    """Base of every source. ``read()`` returns the next frame or None at the end."""

    name = "source"
    live = False  # a camera: frames come at their own pace and old ones are worthless
    seekable = False

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self.fps = 25.0
        self.frame_count: int | None = None
        self.position = 0  # index of the next frame read() returns

    @property
    def duration(self) -> float | None:
        return None if self.frame_count is None else self.frame_count / self.fps

    def read(self) -> Frame | None:
        raise NotImplementedError

    def notes(self) -> list[str]:
        """What the artist should know about the frames read so far (pictures fitted or left
        out), in words; nothing for most sources."""
        return []

    def seek(self, index: int) -> None:
        raise SourceError(f"{self.name} cannot seek")

    def close(self) -> None:
        pass

    def describe(self) -> str:
        length = f", {self.frame_count} frames" if self.frame_count else ""
        return f"{self.name}: {self.width}x{self.height} at {self.fps:g} FPS{length}"

    def __iter__(self) -> Iterator[Frame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _to_rgb(bgr: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    if bgr.ndim == 2:
        return cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
    if bgr.shape[2] == 4:
        return cv2.cvtColor(bgr, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _quiet() -> Any:
    """Catch what OpenCV, FFmpeg and V4L2 print on stderr (:mod:`studio.core.chatter`)."""
    from studio.core.chatter import captured_stderr

    return captured_stderr()


def list_cameras(limit: int = 4) -> list[int]:
    """Indexes of the cameras that open (tries /dev/video0.. without holding them)."""
    cv2 = _cv2()
    found = []
    for index in range(limit):
        if not Path(f"/dev/video{index}").exists() and Path("/dev").is_dir():
            continue
        with _quiet():  # V4L2's "can't open camera by index": the list says it
            cap = cv2.VideoCapture(index)
        if cap.isOpened():
            found.append(index)
        cap.release()
    return found


class CameraSource(FrameSource):
    """A camera by index, asking for a resolution and frame rate (the camera may pick the
    nearest it supports; ``width``/``height``/``fps`` say what it gave)."""

    live = True

    def __init__(self, index: int = 0, width: int = 1280, height: int = 720, fps: float = 30):
        super().__init__()
        cv2 = _cv2()
        self.name = f"camera {index}"
        self.index = index
        self._started = time.monotonic()
        with _quiet():  # OpenCV's own warning; the message below says what to do
            self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(
                f"no camera at index {index}: none is connected, or another program holds it. "
                "Choose a file, an image sequence or the demo source instead."
            )
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        self._cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a queue of stale ones
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)) or width
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) or height
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or float(fps)

    def read(self) -> Frame | None:
        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise SourceLost(
                f"{self.name} stopped sending frames (unplugged?). Pick another source."
            )
        frame = Frame(self.position, time.monotonic() - self._started, _to_rgb(bgr))
        self.position += 1
        return frame

    def close(self) -> None:
        self._cap.release()


class FileSource(FrameSource):
    """A video file (anything OpenCV's FFmpeg reads). Frames carry their own timestamps, so a
    variable-frame-rate file keeps its timing; a truncated file simply ends early."""

    seekable = True

    def __init__(self, path: str | Path, decode_threads: int | None = None):
        """``decode_threads``: FFmpeg's decoding threads (None: its own choice). The export
        asks for one: it decodes on a thread of its own beside the other steps, and FFmpeg's
        frame threads there only add hand-offs (measured at 720p: 2.0 against 2.3 ms of CPU a
        frame); the same pictures either way."""
        super().__init__()
        cv2 = _cv2()
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise SourceError(f"no such video file: {self.path}")
        with _quiet():  # OpenCV's and FFmpeg's own lines: the message below says it
            params = [] if decode_threads is None else [cv2.CAP_PROP_N_THREADS, decode_threads]
            self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG, params)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"cannot read {self.path.name}: not a video OpenCV can decode")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(self.fps) or not 0.5 <= self.fps <= 1000:
            self.fps = 25.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = count if count > 0 else None
        self._pending: np.ndarray | None = None
        with _quiet():
            ok, bgr = self._cap.read()
        if not ok or bgr is None:
            self._cap.release()
            raise SourceError(f"cannot read {self.path.name}: no frame decodes (truncated?)")
        self._pending = bgr
        self._pending_time = 0.0
        self.height, self.width = bgr.shape[:2]

    def read(self) -> Frame | None:
        cv2 = _cv2()
        if self._pending is not None:
            bgr, stamp = self._pending, self._pending_time
            self._pending = None
        else:
            ok, bgr = self._cap.read()  # OpenCV keeps FFmpeg quiet while decoding
            if not ok or bgr is None:
                if self.frame_count is None or self.position < self.frame_count:
                    self.frame_count = self.position  # the real length of a truncated file
                return None
            stamp = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
            if not math.isfinite(stamp) or stamp <= 0 and self.position > 0:
                stamp = self.position / self.fps
        frame = Frame(self.position, stamp, _to_rgb(bgr))
        self.position += 1
        return frame

    def seek(self, index: int) -> None:
        cv2 = _cv2()
        index = max(0, int(index))
        if self.frame_count is not None:
            index = min(index, max(0, self.frame_count - 1))
        self._pending = None
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self.position = index

    def close(self) -> None:
        self._cap.release()


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def letterbox(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """``bgr`` scaled to fit ``width`` x ``height`` keeping its proportions, centred on black:
    never stretched."""
    cv2 = _cv2()
    h, w = bgr.shape[:2]
    scale = min(width / w, height / h)
    fit_w, fit_h = max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale)))
    area = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    fitted = cv2.resize(bgr, (fit_w, fit_h), interpolation=area)
    out = np.zeros((height, width) + bgr.shape[2:], bgr.dtype)
    top, left = (height - fit_h) // 2, (width - fit_w) // 2
    out[top : top + fit_h, left : left + fit_w] = fitted
    return out


class ImageSequenceSource(FrameSource):
    """Numbered images in a folder, or matching a glob pattern (``shots/frame_*.png``), in
    natural order. Frames of another size than the first are letterboxed to its size (scaled to
    fit, black bars, never stretched) and listed in :attr:`letterboxed`; unreadable images are
    skipped and listed in :attr:`skipped`. :meth:`notes` says both in words."""

    seekable = True

    def __init__(self, spec: str | Path, fps: float = 25.0):
        super().__init__()
        spec = str(spec)
        if Path(spec).is_dir():
            files = [p for p in Path(spec).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            self.name = Path(spec).name
        else:
            files = [Path(p) for p in glob.glob(spec)]
            files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
            self.name = Path(spec).name
        self.files = sorted(files, key=_natural_key)
        if not self.files:
            raise SourceError(f"no images (png, jpg, tif, webp, bmp) in {spec}")
        self.fps = float(fps)
        self.skipped: list[str] = []
        self.letterboxed: list[str] = []
        self.too_large: list[str] = []
        first = self._load(0)
        while first is None and self.position < len(self.files):
            first = self._load(self.position)
        if first is None:
            why = f" ({self.notes()[-1]})" if self.too_large else ""
            raise SourceError(f"none of the {len(self.files)} images in {spec} could be read{why}")
        self.height, self.width = first.shape[:2]
        self.frame_count = len(self.files)
        self.position = 0

    def _load(self, index: int) -> np.ndarray | None:
        from studio.image.io import ImageError, PictureTooLarge, check_size, read_header

        cv2 = _cv2()
        path = self.files[index]
        self.position = index + 1
        try:  # the picture limits, from the header, before decoding
            check_size(read_header(path), path.name)
        except PictureTooLarge:
            if path.name not in self.too_large:
                self.too_large.append(path.name)
            return None
        except ImageError:
            pass  # not a picture Pillow knows: OpenCV may still read it
        with _quiet():  # libpng's and OpenCV's lines: the file is listed as skipped
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            if path.name not in self.skipped:
                self.skipped.append(path.name)
            return None
        if bgr.dtype != np.uint8:
            bgr = (bgr / 257).astype(np.uint8)
        return bgr

    def read(self) -> Frame | None:
        while self.position < len(self.files):
            index = self.position
            bgr = self._load(index)
            if bgr is None:
                continue
            if bgr.shape[:2] != (self.height, self.width):
                bgr = letterbox(bgr, self.width, self.height)
                name = self.files[index].name
                if name not in self.letterboxed:
                    self.letterboxed.append(name)
            return Frame(index, index / self.fps, _to_rgb(bgr))
        return None

    def notes(self) -> list[str]:
        """What the artist should know about the frames read so far, in words."""
        out = []
        if self.letterboxed:
            out.append(
                f"{_count(self.letterboxed)} another size than the first "
                f"({self.width}x{self.height}): letterboxed to fit it, not stretched "
                f"({_names(self.letterboxed)})"
            )
        if self.skipped:
            out.append(f"{_count(self.skipped)} not readable, left out ({_names(self.skipped)})")
        if self.too_large:
            out.append(
                f"{_count(self.too_large)} larger than Studio opens, left out "
                f"({_names(self.too_large)})"
            )
        return out

    def seek(self, index: int) -> None:
        self.position = min(max(0, int(index)), len(self.files) - 1)


def _count(names: list[str]) -> str:
    return "1 picture is" if len(names) == 1 else f"{len(names)} pictures are"


def _names(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


_PHOTO: np.ndarray | None = None


def demo_photo() -> np.ndarray:
    """The demo's photograph of a person: scikit-image's astronaut (Eileen Collins, a NASA photo
    in the public domain), RGB uint8 512x512. Shipped inside scikit-image, read offline."""
    global _PHOTO
    if _PHOTO is None:
        try:
            from skimage import data
        except ImportError as exc:  # pragma: no cover - a dependency
            raise SourceError(
                "the demo source needs scikit-image (pip install scikit-image)"
            ) from exc
        _PHOTO = np.ascontiguousarray(data.astronaut())
    return _PHOTO


class DemoSource(FrameSource):
    """A clip made from a still photograph of a person, so the panel shows something real with no
    camera.

    ``motion="pan"``: the camera drifts and zooms slowly (a moving shot). ``motion="jitter"``: a
    locked-off shot with a slight per-frame jitter, sensor noise and JPEG artefacts, the flicker
    benchmark's clip. Deterministic for a given seed.
    """

    seekable = True

    def __init__(
        self,
        width: int = 1280,
        height: int = 720,
        frames: int = 150,
        fps: float = 30.0,
        motion: str = "pan",
        noise: float = 0.0,
        jpeg_quality: int = 0,
        jitter: float = 0.0,
        seed: int = 0,
    ):
        super().__init__()
        if motion not in ("pan", "jitter", "still"):
            raise ValueError("motion is pan, jitter or still")
        if width < 16 or height < 16 or frames < 1:
            raise ValueError("the demo clip needs at least 16x16 pixels and one frame")
        self.name = "demo"
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self.frame_count = int(frames)
        self.motion, self.noise, self.jpeg_quality = motion, noise, jpeg_quality
        self.jitter = jitter if jitter else (0.8 if motion == "jitter" else 0.0)
        self.seed = seed
        self._backdrop = self._make_backdrop()

    def _make_backdrop(self) -> np.ndarray:
        """The photo, scaled to a little more than the frame's height, in the middle of a wider
        canvas whose sides are the photo itself stretched and blurred (a studio backdrop), so a
        landscape frame shows the whole figure and the camera can drift."""
        cv2 = _cv2()
        photo = demo_photo()
        scale = self.height * 1.15 / photo.shape[0]
        sharp = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        sh, sw = sharp.shape[:2]
        cw = max(sw, int(self.width * 1.3))
        backdrop = cv2.resize(photo, (cw, sh), interpolation=cv2.INTER_LINEAR)
        backdrop = cv2.GaussianBlur(backdrop, (0, 0), sh / 20)
        x0 = (cw - sw) // 2
        ramp = np.clip(np.minimum(np.arange(sw), np.arange(sw)[::-1]) / (sw * 0.06), 0, 1)
        weight = ramp.astype(np.float32)[None, :, None]
        middle = backdrop[:, x0 : x0 + sw].astype(np.float32)
        backdrop[:, x0 : x0 + sw] = (middle + weight * (sharp - middle)).astype(np.uint8)
        return backdrop

    def _view(self, index: int) -> np.ndarray:
        cv2 = _cv2()
        bh, bw = self._backdrop.shape[:2]
        t = index / max(1, self.frame_count - 1)
        # the window's centre: the face and shoulders, with room to drift inside the photo
        cx, cy = bw / 2, bh / 2
        zoom = 1.0
        if self.motion == "pan":
            zoom = 1.0 + 0.06 * math.sin(math.pi * t)
            cx += max(0.0, bw - self.width / zoom) * 0.45 * math.sin(2 * math.pi * t)
            cy += 0.03 * bh * math.sin(4 * math.pi * t)
        if self.jitter:
            rng = np.random.default_rng((self.seed, index, 1))
            cx += rng.normal(0, self.jitter)
            cy += rng.normal(0, self.jitter)
        matrix = np.array(
            [[zoom, 0, self.width / 2 - zoom * cx], [0, zoom, self.height / 2 - zoom * cy]],
            np.float32,
        )
        return cv2.warpAffine(
            self._backdrop,
            matrix,
            (self.width, self.height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )

    def frame_at(self, index: int) -> Frame:
        cv2 = _cv2()
        rgb = self._view(index)
        if self.noise:
            rng = np.random.default_rng((self.seed, index, 2))
            noisy = rgb.astype(np.float32) + rng.normal(0, self.noise, rgb.shape).astype(np.float32)
            rgb = np.clip(noisy, 0, 255).astype(np.uint8)
        if self.jpeg_quality:
            ok, data = cv2.imencode(".jpg", rgb, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
            rgb = cv2.imdecode(data, cv2.IMREAD_COLOR)
        return Frame(index, index / self.fps, np.ascontiguousarray(rgb))

    def read(self) -> Frame | None:
        if self.frame_count is not None and self.position >= self.frame_count:
            return None
        frame = self.frame_at(self.position)
        self.position += 1
        return frame

    def seek(self, index: int) -> None:
        self.position = min(max(0, int(index)), (self.frame_count or 1) - 1)


class LatestFrame:
    """Reads a live source on its own thread and keeps only the newest frame, so whoever
    processes frames never lags behind the camera: stale frames are dropped and counted."""

    def __init__(self, source: FrameSource):
        self.source = source
        self.dropped = 0
        self.error: Exception | None = None
        self._frame: Frame | None = None
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._pump, name="frame-grabber", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop:
            try:
                frame = self.source.read()
            except Exception as exc:  # a camera unplugged: hand the reason to the reader
                with self._cond:
                    self.error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                if frame is None:
                    self._stop = True
                elif self._frame is not None:
                    self.dropped += 1
                self._frame = frame
                self._cond.notify_all()
            if frame is None:
                return

    def get(self, timeout: float = 2.0) -> Frame | None:
        """The newest frame not yet taken (waits up to ``timeout``); None at the end. Raises
        the source's error (:class:`SourceLost`) if it failed."""
        with self._cond:
            deadline = time.monotonic() + timeout
            while self._frame is None and self.error is None and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SourceLost(f"{self.source.name} sent no frame for {timeout:g} s")
                self._cond.wait(left)
            if self.error is not None:
                raise self.error
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2.0)
        self.source.close()


def open_source(spec: str | Path, **options: Any) -> FrameSource:
    """Open ``spec``: ``demo``, ``camera:N`` (or a bare index), a folder or glob pattern of
    images, or a video file. ``options`` go to the source (``width``, ``height``, ``fps``...).
    Raises :class:`SourceError` with a readable message."""
    text = str(spec).strip()
    if not text:
        raise SourceError("no source given")
    file_options = {"decode_threads"}  # for video files only
    others = {k: v for k, v in options.items() if k not in file_options}
    if text == "demo" or text.startswith("demo:"):
        return DemoSource(**others)
    if text.isdigit() or text.startswith("camera:"):
        index = text.split(":", 1)[1] if ":" in text else text
        if not index.isdigit():
            raise SourceError(f"a camera is camera:N, not {text!r}")
        return CameraSource(int(index), **others)
    path = Path(text).expanduser()
    if path.is_dir() or any(c in text for c in "*?["):
        fps = options.get("fps", 25.0)
        return ImageSequenceSource(path if path.is_dir() else text, fps=fps)
    if not path.exists():
        raise SourceError(f"no such file or folder: {path}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSequenceSource(str(path), fps=options.get("fps", 25.0))
    return FileSource(path, decode_threads=options.get("decode_threads"))
