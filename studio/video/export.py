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
    copied in (re-encoded to AAC for MP4); ``duration``: seconds the output lasts at most (the
    sound is cut there too: ``--frames`` exports a part of the source)."""

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
        duration: float | None = None,
    ):
        program = program or ffmpeg_path()
        if program is None:
            raise ExportError("ffmpeg is not installed")
        self.width, self.height, self.alpha = width, height, alpha
        channels = 4 if alpha else 3
        self.frame_bytes = width * height * channels
        # H.264 wants 4:2:0: OpenCV's SIMD conversion (BT.601, limited range, as ffmpeg's
        # default) before the pipe halves the bytes piped and costs less than ffmpeg's swscale
        # (measured at 720p on 2 cores: 18 against 22 ms of CPU a frame for decode + encode).
        # Odd sizes go as RGB, which ffmpeg pads.
        self.yuv = not alpha and width % 2 == 0 and height % 2 == 0
        input_format = "rgba" if alpha else ("yuv420p" if self.yuv else "rgb24")
        command = [
            program,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            input_format,
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
        if duration is not None and audio_from is not None:
            command += ["-t", f"{duration:.6f}"]  # the frames written decide the video's length
        if path.suffix.lower() in (".mp4", ".m4v", ".mov"):
            command += ["-movflags", "+faststart"]
        command.append(str(path))
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._log
        )

    def write(self, pixels: np.ndarray) -> None:
        assert self._proc.stdin is not None
        if self.yuv:
            import cv2

            pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2YUV_I420)
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
    duration: float | None = None,
) -> tuple[Any, list[str]]:
    """The writer for ``out`` (already the temporary path) and any warnings. ``duration``:
    seconds of the source's sound to keep at most."""
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
        writer = FfmpegWriter(
            out, width, height, fps, alpha, audio_from, program=program, duration=duration
        )
        return writer, warnings
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


_END = object()


class _Stage:
    """A thread that runs ``produce()`` (an iterator) ahead of its consumer, into a bounded
    queue: decoding, and segmentation a frame ahead of refinement. An exception in the thread is
    handed to the consumer, which raises it from :meth:`get`; :meth:`get` returns None at the end.
    """

    def __init__(self, name: str, produce: Any, depth: int):
        import queue
        import threading

        self._queue: Any = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(produce,), name=f"export-{name}", daemon=True
        )
        self._thread.start()

    def _put(self, item: Any) -> bool:
        import queue

        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, produce: Any) -> None:
        try:
            for item in produce():
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            self._put(exc)

    def get(self) -> Any:
        import queue

        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if self._stop.is_set() or not self._thread.is_alive() and self._queue.empty():
                    return None  # closed (cancel, error): the consumer stops too
        if item is _END:
            self._put(_END)  # a later get() sees the end too
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        import queue

        self._stop.set()
        try:  # free a producer blocked on a full queue
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._thread.join(timeout=2)


class _Encoder:
    """Writes frames on its own thread, behind the compositing: ``put`` hands a frame over
    (blocking while ``depth`` frames wait), ``finish`` waits until all are written. An error of
    the writer is raised from the next ``put`` or from ``finish``."""

    def __init__(self, writer: Any, depth: int = 4):
        import queue
        import threading

        self.writer = writer
        self.seconds = 0.0  # spent writing (piping to ffmpeg, or PNG compression)
        self.cpu_seconds = 0.0
        self._queue: Any = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="export-encode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None:
                continue  # drain: the consumer raises the error
            began, cpu = time.perf_counter(), time.thread_time()
            try:
                self.writer.write(item)
            except BaseException as exc:  # noqa: BLE001 - raised by the consumer
                self._error = exc
            self.seconds += time.perf_counter() - began
            self.cpu_seconds += time.thread_time() - cpu

    def put(self, pixels: np.ndarray) -> None:
        import queue

        while True:
            if self._error is not None:
                raise self._error
            try:
                self._queue.put(pixels, timeout=0.1)
                return
            except queue.Full:
                if not self._thread.is_alive():
                    raise ExportError("the encoder stopped") from None

    def finish(self) -> None:
        self._queue.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        import queue

        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._queue.put(_END)
        self._thread.join(timeout=5)


def _retimed(source: FrameSource, constant_rate: bool, decode_ms: list[float]) -> Any:
    """``(frame, repeats)`` for each frame to keep, ``repeats`` being how many copies of the
    previous output to write before it. A variable-frame-rate source is retimed to a constant
    rate (its average) so the sound stays in sync: a frame that arrives late repeats the previous
    picture, one that comes early is dropped (and never segmented)."""
    step = 1.0 / source.fps
    slots = 0  # output frames planned so far
    while True:
        began, cpu = time.perf_counter(), time.thread_time()
        frame = source.read()
        decode_ms[0] += (time.perf_counter() - began) * 1000
        decode_ms[1] += (time.thread_time() - cpu) * 1000
        if frame is None:
            return
        repeats = 0
        if constant_rate and slots:
            if frame.time + step / 2 < slots * step:
                continue
            while frame.time - step / 2 > (slots + repeats) * step:
                repeats += 1
        slots += repeats + 1
        yield frame, repeats


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
    overlap: bool = True,
) -> ExportResult:
    """Run ``source`` through the pipeline into ``out``.

    ``fmt``: ``auto`` (from the name: a video suffix or a folder for PNGs), ``video`` or ``png``.
    Progress and cancel through ``ctx``; every frame is also offered as a preview
    (``ctx.partial`` with the :class:`~studio.video.pipeline.Processed` frame, at most 5 a second).
    Raises :class:`ExportError` or :class:`~studio.video.sources.SourceError` with a readable
    message, :class:`~studio.core.jobs.Cancelled` when cancelled; in every such case nothing is
    left at ``out``.

    With ``overlap`` (the default) the steps run side by side: decoding on its own thread ahead,
    segmentation of the next frame on another while this one is refined and composited, and
    encoding on a third behind. Each frame carries its own mask through, so a matte is always
    applied to the frame it was computed from. ``overlap=False`` runs segmentation, refinement,
    compositing and encoding one after another (decoding still ahead): the benchmark's baseline.
    The result's ``timings`` say where the time went, in milliseconds per frame: each step's own
    time (``decode``, ``segment``, ``refine``, ``composite``, ``encode``), ``wait_input`` (the
    compositing thread waiting for a segmented frame) and ``wall`` (elapsed time per frame).
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
    # one decoding thread: the decode stage runs beside the other steps (FileSource says why)
    src = open_source(source, decode_threads=1) if owns_source else source
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
    stages: list[_Stage] = []
    encoder: _Encoder | None = None
    threads = _one_torch_thread() if pipe.device == "cpu" else None
    cv_threads = _one_opencv_thread() if overlap else None
    began = time.perf_counter()
    totals: dict[str, float] = {}
    decode_ms = [0.0, 0.0]  # elapsed, CPU
    cpu_began, children_cpu = _cpu_seconds(), _children_cpu_seconds()
    waited = 0.0
    frames_out = 0
    segmented_count = no_person = 0  # frames segmented, and those where no person was found
    try:
        writer, warnings = open_writer(
            temp,
            "png" if sequence else "video",
            src.width,
            src.height,
            src.fps,
            alpha,
            audio_from if ffmpeg_path() and not sequence else None,
            duration=max_frames / src.fps if max_frames else None,
        )
        total = src.frame_count or 0
        if max_frames:
            total = min(total, max_frames) if total else max_frames
        decoded = _Stage("decode", lambda: _retimed(src, not sequence, decode_ms), depth=4)
        stages.append(decoded)
        if overlap:

            def segmented() -> Any:
                while (item := decoded.get()) is not None:
                    frame, repeats = item
                    start, cpu = time.perf_counter(), time.thread_time()
                    low = pipe.segment(frame)
                    yield (
                        frame,
                        repeats,
                        low,
                        (time.perf_counter() - start) * 1000,
                        (time.thread_time() - cpu) * 1000,
                    )

            ahead = _Stage("segment", segmented, depth=2)
            stages.append(ahead)
            encoder = _Encoder(writer)
            write = encoder.put
        else:
            write = writer.write
        last_preview = 0.0
        last_output: np.ndarray | None = None
        ctx.progress(0.0, f"exporting {src.name}")
        encode_s = encode_cpu = 0.0
        while max_frames is None or frames_out < max_frames:
            ctx.check_cancelled()
            waiting = time.perf_counter()
            if overlap:
                item = ahead.get()
                waited += time.perf_counter() - waiting
                if item is None:
                    break
                frame, repeats, low, segment_ms, segment_cpu = item
                processed = pipe.complete(frame, low, segment_ms, segment_cpu)
            else:
                item = decoded.get()
                waited += time.perf_counter() - waiting
                if item is None:
                    break
                frame, repeats = item
                processed = pipe.process(frame)
            for key, value in processed.timings.items():
                totals[key] = totals.get(key, 0.0) + value
            segmented_count += 1
            no_person += not processed.person
            written, written_cpu = time.perf_counter(), time.thread_time()
            if last_output is not None:
                for _ in range(repeats):
                    if max_frames is not None and frames_out >= max_frames:
                        break
                    write(last_output)
                    frames_out += 1
            if max_frames is not None and frames_out >= max_frames:
                break
            write(processed.output)
            encode_s += time.perf_counter() - written
            encode_cpu += time.thread_time() - written_cpu
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
        if encoder is not None:
            encoder.finish()
            encode_s, encode_cpu = encoder.seconds, encoder.cpu_seconds
            encoder = None
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
        for stage in reversed(stages):
            stage.close()
        if encoder is not None:
            encoder.abandon()
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
        if cv_threads:
            import cv2

            cv2.setNumThreads(cv_threads)
        for stage in reversed(stages):
            stage.close()
        if owns_pipeline:
            pipe.close()
        if owns_source:
            src.close()
    seconds = time.perf_counter() - began
    cpu_ended, children_cpu_end = _cpu_seconds(), _children_cpu_seconds()
    ctx.progress(1.0, f"exported {frames_out} frames")
    warnings = warnings + src.notes()
    if no_person and no_person == segmented_count:
        warnings.append(
            "no person found: the segmenter was not confident anywhere in "
            + ("the frame" if segmented_count == 1 else f"any of the {segmented_count} frames")
        )
    elif no_person:
        warnings.append(f"no person found in {no_person} of the {segmented_count} frames")
    audio_kept = (
        audio_from is not None
        and writer is not None
        and writer.encoder == "ffmpeg"
        and _has_audio(out)
    )
    timings = {k: v / frames_out for k, v in totals.items()}
    timings["decode"] = decode_ms[0] / frames_out
    timings["encode"] = encode_s * 1000 / frames_out
    timings["wait_input"] = waited * 1000 / frames_out
    timings["wall"] = seconds * 1000 / frames_out
    # CPU time per frame: each step's thread, ffmpeg's own (a child process, counted once it has
    # exited), and the whole export's, which bounds the frame rate: a machine with N idle cores
    # cannot export faster than N seconds of CPU allow
    timings["decode_cpu"] = decode_ms[1] / frames_out
    timings["encode_cpu"] = encode_cpu * 1000 / frames_out
    timings["ffmpeg_cpu"] = (children_cpu_end - children_cpu) * 1000 / frames_out
    timings["total_cpu"] = (cpu_ended - cpu_began) * 1000 / frames_out
    return ExportResult(out, frames_out, seconds, writer.encoder, audio_kept, warnings, timings)


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


def _children_cpu_seconds() -> float:
    """CPU seconds of this process's finished children (ffmpeg, once closed)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime + _children_cpu_seconds()


def _one_opencv_thread() -> int | None:
    """Run OpenCV single-threaded during an overlapped export and return the count to restore:
    the steps already run side by side on their own threads, and OpenCV's own pool on top of them
    only adds hand-offs (on a busy 2-core machine its 8-bit arithmetic took 2.6 ms a frame on one
    thread and 17 ms on two)."""
    import cv2

    threads = cv2.getNumThreads()
    if threads <= 1:
        return None
    cv2.setNumThreads(1)
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
