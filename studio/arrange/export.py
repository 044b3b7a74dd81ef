"""Exporting a mix: WAV or FLAC (24-bit, provenance in the file's comment), stems (one file per
lane, all or none), and a music video as MP4 (H.264 and AAC through the system's ffmpeg) with the
video lane composited (video files, pictures, fades to black) and the mix as its sound.

Every file goes through :mod:`studio.core.atomic`: a failed export (a full disk, a cancel, ffmpeg
stopping) leaves no partial file and what was there before is untouched.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from studio.arrange.document import ArrangeDocument, Source
from studio.arrange.mix import MixResult
from studio.core.atomic import atomic_path
from studio.core.jobs import JobContext

__all__ = [
    "export_audio",
    "export_stems",
    "export_video",
    "video_frames",
    "ExportError",
    "AUDIO_OUT",
    "VIDEO_OUT",
]

AUDIO_OUT = (".wav", ".flac")
VIDEO_OUT = (".mp4",)


class ExportError(RuntimeError):
    """The export could not be made; the message says why, and no file was left behind."""


def _write_audio(path: Path, audio: np.ndarray, rate: int, provenance: dict[str, Any]) -> None:
    import soundfile

    fmt = "FLAC" if path.suffix.lower() == ".flac" else "WAV"
    with soundfile.SoundFile(str(path), "w", rate, audio.shape[1], format=fmt,
                             subtype="PCM_24") as f:  # fmt: skip
        f.comment = json.dumps(provenance, default=str)[:4000]
        f.software = "Studio arrange"
        f.write(np.clip(audio, -1.0, 1.0))


def export_audio(result: MixResult, path: str | Path) -> Path:
    """Write the mix as 24-bit WAV or FLAC (by suffix). Raises ExportError for another suffix,
    OSError when the file can't be written (nothing is left behind)."""
    path = Path(path)
    if path.suffix.lower() not in AUDIO_OUT:
        raise ExportError(f"{path.name}: the mix is exported as .wav or .flac")
    with atomic_path(path) as temp:
        _write_audio(temp, result.audio, result.sample_rate, result.provenance)
    return path


def _safe(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_ " else "_" for c in name).strip()
    return keep.replace(" ", "-") or "lane"


def export_stems(result: MixResult, folder: str | Path, suffix: str = ".wav") -> list[Path]:
    """One file per audible lane (``01-Drums.wav``...) in ``folder`` (made if needed). All are
    written to temporaries first and renamed together, so a failure leaves none of them."""
    folder = Path(folder)
    if not result.stems:
        raise ExportError("the mix has no stems: render it with stems=True")
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with contextlib.ExitStack() as stack:
        for index, (lane_id, audio) in enumerate(result.stems.items(), start=1):
            name = _safe(result.stem_names.get(lane_id, f"lane-{lane_id}"))
            path = folder / f"{index:02d}-{name}{suffix}"
            temp = stack.enter_context(atomic_path(path))
            _write_audio(temp, audio, result.sample_rate,
                         {**result.provenance, "stem": name})  # fmt: skip
            paths.append(path)
    return paths


# -- video ----------------------------------------------------------------------------------------
class _Frames:
    """The video lane's picture at any time: the clip under the playhead (a video file read in
    order, or a still picture), letterboxed to the output size and faded; black elsewhere."""

    def __init__(self, doc: ArrangeDocument, size: tuple[int, int], messages: list[str]):
        self.doc, self.size, self.messages = doc, size, messages
        lane = doc.video_lane()
        self.clips = doc.lane_clips(lane.id) if lane is not None else []
        self.spans = [(doc.seconds_at(c.start), doc.seconds_at(c.end), c) for c in self.clips]
        self.black = np.zeros((size[1], size[0], 3), np.uint8)
        self._stills: dict[str, np.ndarray] = {}
        self._cap: Any = None
        self._cap_key: tuple | None = None
        self._cap_frame: np.ndarray | None = None
        self._cap_time = -1.0
        self._fps = 25.0

    def _fit(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        w, h = self.size
        ih, iw = rgb.shape[:2]
        scale = min(w / iw, h / ih)
        nw, nh = max(1, int(round(iw * scale))), max(1, int(round(ih * scale)))
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else
                           cv2.INTER_LINEAR)  # fmt: skip
        if (nw, nh) == (w, h):
            return small
        out = self.black.copy()
        x, y = (w - nw) // 2, (h - nh) // 2
        out[y : y + nh, x : x + nw] = small
        return out

    def _still(self, source: Source) -> np.ndarray | None:
        if source.id not in self._stills:
            pixels = source.pixels
            if pixels is None:
                from PIL import Image

                try:
                    with Image.open(source.path) as im:
                        pixels = np.asarray(im.convert("RGB"))
                except OSError as exc:
                    self._say(f"the picture {source.path} could not be read ({exc}): black")
                    self._stills[source.id] = self.black
                    return self.black
            self._stills[source.id] = self._fit(np.asarray(pixels)[:, :, :3])
        return self._stills[source.id]

    def _say(self, line: str) -> None:
        if line not in self.messages:
            self.messages.append(line)

    def _video(self, source: Source, clip, at: float) -> np.ndarray:
        """The frame of ``source`` at ``at`` seconds into it (looping when the clip loops; the
        last frame holds when the video is shorter than the clip)."""
        import cv2

        key = (source.id, clip.id)
        if self._cap_key != key:
            if self._cap is not None:
                self._cap.release()
            self._cap = cv2.VideoCapture(source.path)
            self._cap_key, self._cap_frame, self._cap_time = key, None, -1.0
            if not self._cap.isOpened():
                self._say(f"the video {source.path} is missing or unreadable: black")
            self._fps = self._cap.get(cv2.CAP_PROP_FPS) or 25.0
        if source.seconds > 0 and clip.loop:
            at %= source.seconds
        if source.seconds > 0 and at >= source.seconds:
            at = max(0.0, source.seconds - 1.0 / self._fps)
        if at < self._cap_time or at - self._cap_time > 2.0:  # a jump: seek
            self._cap.set(cv2.CAP_PROP_POS_MSEC, at * 1000.0)
            self._cap_time = at - 1.0 / self._fps
            self._cap_frame = None
        while self._cap_time + 1.0 / self._fps <= at + 1e-6 or self._cap_frame is None:
            ok, bgr = self._cap.read()
            if not ok:
                break
            self._cap_frame = self._fit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            self._cap_time += 1.0 / self._fps
        return self._cap_frame if self._cap_frame is not None else self.black

    def at(self, seconds: float) -> np.ndarray:
        for start, end, clip in self.spans:
            if start <= seconds < end:
                source = self.doc.source(clip.source)
                if source is None:
                    return self.black
                if source.kind == "image":
                    frame = self._still(source)
                else:
                    frame = self._video(source, clip, seconds - start + clip.offset)
                fade = 1.0
                if clip.fade_in > 0:
                    span = self.doc.seconds_at(clip.start + clip.fade_in) - start
                    fade = min(fade, (seconds - start) / max(1e-6, span))
                if clip.fade_out > 0:
                    span = end - self.doc.seconds_at(clip.end - clip.fade_out)
                    fade = min(fade, (end - seconds) / max(1e-6, span))
                if fade < 1.0:
                    return (frame * max(0.0, fade)).astype(np.uint8)
                return frame
        return self.black

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()


def video_frames(doc: ArrangeDocument, seconds: float, size=(1280, 720), fps: float = 30.0,
                 messages: list[str] | None = None) -> list[np.ndarray]:  # fmt: skip
    """The composited frames of the video lane for the first ``seconds`` (the bench)."""
    frames = _Frames(doc, size, messages if messages is not None else [])
    try:
        return [frames.at(i / fps).copy() for i in range(int(round(seconds * fps)))]
    finally:
        frames.close()


def export_video(
    doc: ArrangeDocument,
    result: MixResult,
    path: str | Path,
    ctx: JobContext | None = None,
    size: tuple[int, int] = (1280, 720),
    fps: float = 30.0,
    frames_given: list[np.ndarray] | None = None,
) -> Path:
    """Write a music video: the video lane composited frame by frame at ``size`` and ``fps``
    for the mix's length, H.264 + AAC, with the arrangement's provenance in the MP4's comment
    and title metadata. ``frames_given``: frames already made, encoded as they are instead of
    compositing (the bench's baseline: the same frames without the compositing). Messages
    about missing video files go to ``result.messages``. Raises ExportError (no ffmpeg, ffmpeg
    failed), Cancelled; nothing is left behind on any error."""
    from studio.video.export import ffmpeg_path

    ctx = ctx or JobContext()
    path = Path(path)
    if path.suffix.lower() not in VIDEO_OUT:
        raise ExportError(f"{path.name}: a music video is exported as .mp4")
    program = ffmpeg_path()
    if program is None:
        raise ExportError("exporting MP4 needs the ffmpeg program: sudo apt-get install ffmpeg "
                          "(WAV and FLAC export work without it)")  # fmt: skip
    width, height = (int(v) + int(v) % 2 for v in size)
    frames = _Frames(doc, (width, height), result.messages)
    count = max(1, int(round(result.seconds * fps)))
    comment = json.dumps(result.provenance, default=str)[:4000]
    with tempfile.TemporaryDirectory(prefix="studio-arrange-") as scratch:
        wav = Path(scratch) / "mix.wav"
        _write_audio(wav, result.audio, result.sample_rate, {})
        with atomic_path(path) as temp:
            command = [
                program, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                "-framerate", f"{fps:.6g}", "-i", "pipe:0", "-i", str(wav),
                "-map", "0:v:0", "-map", "1:a:0", "-c:v", "libx264", "-preset", "veryfast",
                "-crf", "20", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k",
                "-shortest", "-movflags", "+faststart",
                "-metadata", f"title={doc.summary()}", "-metadata", f"comment={comment}",
                "-metadata", "encoder=Studio arrange", str(temp),
            ]  # fmt: skip
            log = tempfile.TemporaryFile()
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=log)  # fmt: skip
            assert proc.stdin is not None
            try:
                for i in range(count):
                    if frames_given:
                        frame = frames_given[i % len(frames_given)]
                    else:
                        frame = frames.at(i / fps)
                    proc.stdin.write(np.ascontiguousarray(frame).data)
                    if i % 15 == 0:
                        ctx.check_cancelled()
                        ctx.progress(i / count, f"frame {i + 1} of {count}")
                proc.stdin.close()
                code = proc.wait()
            except BrokenPipeError:
                code = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                frames.close()
            if code != 0:
                log.seek(0)
                why = log.read().decode(errors="replace").strip()[-600:] or f"exit status {code}"
                raise ExportError(f"ffmpeg could not write {path.name}: {why}")
    ctx.progress(1.0, f"wrote {path.name}")
    return path
