"""Export a source through the pipeline to a file.

- MP4/MKV/MOV: H.264 through the system's ``ffmpeg`` program (a subprocess fed raw frames), with
  the source's audio kept; OpenCV's own writer (MPEG-4 part 2, no audio) when ffmpeg is missing.
- MOV with the ``alpha`` effect: ProRes 4444 with transparency (ffmpeg).
- A folder (or a name ending in ``/``, or ``.png``): a PNG sequence, RGBA with the ``alpha`` effect.

Frames are streamed, so memory stays flat for any length. The output is written under a temporary
name (``studio.core.atomic``: the user's umask, 0644 by default) and moved into place only when
complete: a failed or cancelled export leaves nothing behind, and the source is never written to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.atomic import atomic_path
from studio.core.jobs import Cancelled, JobContext
from studio.video.pipeline import VideoPipeline, VideoSettings
from studio.video.sources import FileSource, FrameSource, SourceError, open_source

__all__ = [
    "ExportError",
    "ExportResult",
    "export_video",
    "ffmpeg_path",
    "VIDEO_SUFFIXES",
    "FfmpegWriter",
    "OpenCvWriter",
    "PngSequenceWriter",
    "open_writer",
    "write_demo",
]

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mkv", ".mov", ".avi")


class ExportError(RuntimeError):
    """The export could not be made (the message says why); nothing was written."""


def ffmpeg_path() -> str | None:
    """The ``ffmpeg`` program, or None. ``STUDIO_FFMPEG`` may name another one (or ``none``)."""
    wanted = os.environ.get("STUDIO_FFMPEG")
    if wanted:
        return None if wanted.lower() == "none" else shutil.which(wanted)
    return shutil.which("ffmpeg")


class FfmpegWriter:
    """Raw RGB(A) frames piped into ffmpeg. H.264 (yuv420p, plays everywhere) unless ``alpha``,
    which makes ProRes 4444 with transparency. ``audio_from``: a file whose first audio stream is
    copied in (re-encoded to AAC for MP4)."""

    encoder = "ffmpeg"

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        alpha: bool = False,
        audio_from: Path | None = None,
        crf: int = 20,
        preset: str = "veryfast",
        program: str | None = None,
    ):
        program = program or ffmpeg_path()
        if program is None:
            raise ExportError("ffmpeg is not installed")
        self.width, self.height, self.alpha = width, height, alpha
        channels = 4 if alpha else 3
        self.frame_bytes = width * height * channels
        command = [
            program,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgba" if alpha else "rgb24",
            "-s",
            f"{width}x{height}",
            "-framerate",
            f"{fps:.6g}",
            "-i",
            "pipe:0",
        ]
        if audio_from is not None:
            command += ["-i", str(audio_from), "-map", "0:v:0", "-map", "1:a:0?"]
        if alpha:
            command += ["-c:v", "prores_ks", "-profile:v", "4444", "-pix_fmt", "yuva444p10le"]
        else:
            # yuv420p needs even sizes: pad odd ones by a pixel rather than fail
            command += [
                "-vf",
                "pad=ceil(iw/2)*2:ceil(ih/2)*2",
                "-c:v",
                "libx264",
                "-preset",
                preset,
                "-crf",
                str(crf),
                "-pix_fmt",
                "yuv420p",
            ]
        if audio_from is not None:
            command += (
                ["-c:a", "aac", "-b:a", "192k"]
                if path.suffix.lower() in (".mp4", ".m4v", ".mov")
                else ["-c:a", "copy"]
            )
        if path.suffix.lower() in (".mp4", ".m4v", ".mov"):
            command += ["-movflags", "+faststart"]
        command.append(str(path))
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def write(self, pixels: np.ndarray) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(np.ascontiguousarray(pixels).data)
        except BrokenPipeError:
            raise ExportError(f"ffmpeg stopped: {self._error()}") from None

    def _error(self) -> str:
        self._proc.wait()
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-600:] or "no message"

    def close(self) -> None:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.close()
        except BrokenPipeError:
            pass
        if self._proc.wait() != 0:
            raise ExportError(f"ffmpeg failed: {self._error()}")
        self._log.close()

    def abort(self) -> None:
        self._proc.kill()
        self._proc.wait()
        self._log.close()


class OpenCvWriter:
    """OpenCV's own writer: MPEG-4 part 2 ('mp4v'), no audio. The fallback without ffmpeg."""

    encoder = "opencv-mp4v"

    def __init__(self, path: Path, width: int, height: int, fps: float):
        import cv2

        self._writer = cv2.VideoWriter(
            str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height)
        )
        if not self._writer.isOpened():
            raise ExportError(f"OpenCV cannot write {path.suffix} files here; install ffmpeg")

    def write(self, pixels: np.ndarray) -> None:
        import cv2

        self._writer.write(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()

    def abort(self) -> None:
        self._writer.release()


class PngSequenceWriter:
    """``frame_000001.png``... in a folder; RGBA when the frames carry alpha."""

    encoder = "png"

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def write(self, pixels: np.ndarray) -> None:
        import cv2

        self.count += 1
        code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
        target = self.folder / f"frame_{self.count:06d}.png"
        if not cv2.imwrite(
            str(target), cv2.cvtColor(pixels, code), [cv2.IMWRITE_PNG_COMPRESSION, 1]
        ):
            raise ExportError(f"could not write {target}")

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _is_sequence(out: Path, fmt: str) -> bool:
    if fmt != "auto":
        return fmt == "png"
    text = str(out)
    return text.endswith(("/", os.sep)) or out.suffix.lower() in ("", ".png") or out.is_dir()


def open_writer(
    out: Path,
    fmt: str,
    width: int,
    height: int,
    fps: float,
    alpha: bool,
    audio_from: Path | None,
) -> tuple[Any, list[str]]:
    """The writer for ``out`` (already the temporary path) and any warnings."""
    warnings: list[str] = []
    if fmt == "png":
        return PngSequenceWriter(out), warnings
    program = ffmpeg_path()
    suffix = out.suffix.lower()
    if alpha and suffix != ".mov":
        raise ExportError(
            f"{suffix or 'this'} video cannot hold transparency: export the alpha effect as .mov "
            "(ProRes 4444) or as a PNG sequence folder"
        )
    if program is not None:
        return FfmpegWriter(out, width, height, fps, alpha, audio_from, program=program), warnings
    if alpha:
        raise ExportError("transparent video needs ffmpeg; export a PNG sequence instead")
    warnings.append(
        "ffmpeg is not installed: wrote MPEG-4 part 2 with OpenCV, without the sound "
        "(install ffmpeg for H.264 and audio)"
    )
    return OpenCvWriter(out, width, height, fps), warnings


@dataclass
class ExportResult:
    path: Path
    frames: int
    seconds: float  # wall time
    encoder: str
    audio_kept: bool
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # mean milliseconds per frame

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class _Prefetch:
    """Decodes the next frames on a thread while the current one is processed."""

    def __init__(self, source: FrameSource, depth: int = 3):
        import queue
        import threading

        self._queue: Any = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self._thread.start()

    def _run(self, source: FrameSource) -> None:
        import queue

        try:
            while not self._stop.is_set():
                item: Any = source.read()
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if item is None:
                    return
        except Exception as exc:  # handed to the consumer, which raises it
            self._queue.put(exc)

    def get(self) -> Any:
        item = self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def export_video(
    source: str | Path | FrameSource,
    out: str | Path,
    settings: VideoSettings | None = None,
    ctx: JobContext | None = None,
    *,
    fmt: str = "auto",
    keep_audio: bool = True,
    max_frames: int | None = None,
    pipeline: VideoPipeline | None = None,
    registry: Any = None,
) -> ExportResult:
    """Run ``source`` through the pipeline into ``out``.

    ``fmt``: ``auto`` (from the name: a video suffix or a folder for PNGs), ``video`` or ``png``.
    Progress and cancel through ``ctx``; every frame is also offered as a preview
    (``ctx.partial`` with the :class:`~studio.video.pipeline.Processed` frame, at most 5 a second).
    Raises :class:`ExportError` or :class:`~studio.video.sources.SourceError` with a readable
    message, :class:`~studio.core.jobs.Cancelled` when cancelled; in every such case nothing is
    left at ``out``.
    """
    ctx = ctx or JobContext()
    settings = settings or VideoSettings()
    out = Path(out).expanduser()
    if fmt not in ("auto", "video", "png"):
        raise ExportError("format is auto, video or png")
    sequence = _is_sequence(out, fmt)
    if not sequence and out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ExportError(
            f"cannot tell the format of {out.name}: use .mp4, .mkv, .mov or .avi for video, "
            "or a folder for a PNG sequence"
        )
    owns_source = not isinstance(source, FrameSource)
    src = open_source(source) if owns_source else source
    assert isinstance(src, FrameSource)
    if src.live:
        raise ExportError("export reads a file, an image sequence or the demo, not a camera")
    if isinstance(src, FileSource) and _same_file(src.path, out):
        raise ExportError("the output would overwrite the source; choose another name")
    if sequence and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists and is not an empty folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    owns_pipeline = pipeline is None
    pipe = pipeline or VideoPipeline(settings, registry=registry)
    pipe.reset()
    alpha = pipe.effect.has_alpha
    # A video file goes through studio.core.atomic (a hidden temporary beside it, the user's
    # umask, flushed, renamed over the target); a PNG sequence is a folder renamed into place.
    commit = None if sequence else atomic_path(out)
    temp = out.with_name(f".{out.name.rstrip('/')}.part") if commit is None else commit.__enter__()
    audio_from = src.path if keep_audio and isinstance(src, FileSource) else None
    writer = None
    prefetch = None
    threads = _one_torch_thread() if pipe.device == "cpu" else None
    began = time.perf_counter()
    totals: dict[str, float] = {}
    frames_out = 0
    try:
        writer, warnings = open_writer(
            temp,
            "png" if sequence else "video",
            src.width,
            src.height,
            src.fps,
            alpha,
            audio_from if ffmpeg_path() and not sequence else None,
        )
        total = src.frame_count or 0
        if max_frames:
            total = min(total, max_frames) if total else max_frames
        prefetch = _Prefetch(src)
        last_preview = 0.0
        last_output: np.ndarray | None = None
        step = 1.0 / src.fps
        ctx.progress(0.0, f"exporting {src.name}")
        while max_frames is None or frames_out < max_frames:
            ctx.check_cancelled()
            frame = prefetch.get()
            if frame is None:
                break
            # A variable-frame-rate source is retimed to a constant rate (its average) so the
            # sound stays in sync: a frame that arrives late repeats the previous picture, one
            # that comes early is dropped.
            slot_time = frames_out * step
            if not sequence and frames_out and frame.time + step / 2 < slot_time:
                continue
            processed = pipe.process(frame)
            for key, value in processed.timings.items():
                totals[key] = totals.get(key, 0.0) + value
            if not sequence and last_output is not None:
                while frame.time - step / 2 > frames_out * step and (
                    max_frames is None or frames_out < max_frames
                ):
                    writer.write(last_output)
                    frames_out += 1
            writer.write(processed.output)
            last_output = processed.output
            frames_out += 1
            now = time.perf_counter()
            if now - last_preview > 0.2:
                last_preview = now
                ctx.partial(processed)
            fraction = frames_out / total if total else 0.0
            ctx.progress(
                min(0.99, fraction), f"frame {frames_out}" + (f" of {total}" if total else "")
            )
        if frames_out == 0:
            raise ExportError(f"{src.name} has no frames to export")
        writer.close()
        if commit is None:
            if out.exists():
                out.rmdir()
            temp.rename(out)
        else:
            commit.__exit__(None, None, None)
    except BaseException as exc:
        if writer is not None:
            writer.abort()
        if commit is not None:  # removes the temporary, leaves ``out`` as it was
            commit.__exit__(type(exc), exc, exc.__traceback__)
        if temp.is_dir():
            shutil.rmtree(temp, ignore_errors=True)
        elif temp.exists():
            temp.unlink()
        if isinstance(exc, (Cancelled, ExportError, SourceError, KeyboardInterrupt)):
            raise
        if isinstance(exc, OSError):
            raise ExportError(f"could not write {out}: {exc.strerror or exc}") from exc
        raise
    finally:
        if threads:
            import torch

            torch.set_num_threads(threads)
        if prefetch is not None:
            prefetch.close()
        if owns_pipeline:
            pipe.close()
        if owns_source:
            src.close()
    seconds = time.perf_counter() - began
    ctx.progress(1.0, f"exported {frames_out} frames")
    audio_kept = (
        audio_from is not None
        and writer is not None
        and writer.encoder == "ffmpeg"
        and _has_audio(out)
    )
    return ExportResult(
        out,
        frames_out,
        seconds,
        writer.encoder,
        audio_kept,
        warnings,
        {k: v / frames_out for k, v in totals.items()},
    )


def _one_torch_thread() -> int | None:
    """Run torch single-threaded during a CPU export and return the count to restore. The
    pipeline's torch work is on small images, where a second thread costs more in hand-offs than
    it gains, and decoding and encoding need the other core (measured: 35 against 28 FPS at
    720p on 2 cores)."""
    import torch

    threads = torch.get_num_threads()
    if threads <= 1:
        return None
    torch.set_num_threads(1)
    return threads


def _has_audio(path: Path) -> bool:
    """Whether ``path`` has an audio stream (ffprobe beside ffmpeg; False when unknown)."""
    program = ffmpeg_path()
    probe = shutil.which("ffprobe") if program else None
    if probe is None:
        return False
    result = subprocess.run(
        [
            probe,
            "-v",
            "error",
            "-select_streams",
            "a",
            "-show_entries",
            "stream=index",
            "-of",
            "csv=p=0",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return bool(result.stdout.strip())


def write_demo(
    out: str | Path,
    seconds: float = 5.0,
    width: int = 1280,
    height: int = 720,
    fps: float = 30.0,
    motion: str = "pan",
    ctx: JobContext | None = None,
) -> ExportResult:
    """Write the demo clip (a still photograph of a person, filmed by a drifting camera) as a
    video file, for trying the panel and the CLI with no footage of one's own."""
    from studio.video.sources import DemoSource

    ctx = ctx or JobContext()
    out = Path(out).expanduser()
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ExportError("the demo clip is a video: name it .mp4, .mkv, .mov or .avi")
    if not 0 < seconds <= 600:
        raise ExportError("the demo clip lasts between 0 and 600 seconds")
    source = DemoSource(width, height, max(1, round(seconds * fps)), fps, motion=motion)
    out.parent.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with atomic_path(out) as temp:
        writer, warnings = open_writer(temp, "video", width, height, fps, False, None)
        try:
            for frame in source:
                ctx.check_cancelled()
                writer.write(frame.pixels)
                ctx.progress((frame.index + 1) / (source.frame_count or 1), "writing the demo clip")
            writer.close()
        except BaseException:
            writer.abort()
            raise
    count = source.frame_count or 0
    return ExportResult(out, count, time.perf_counter() - began, writer.encoder, False, warnings)
