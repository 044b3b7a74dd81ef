"""The live preview as a job: a source played through the pipeline, always the newest frame.

:class:`PreviewSession` is Qt-free. Its :meth:`~PreviewSession.run` is a job (``run(request,
ctx)``) that loops until cancelled; the panel steers it from the GUI thread (play, pause, step,
seek, new settings) and is told of each new picture through ``ctx.partial``. A picture the GUI has
not taken yet is replaced by a newer one, never queued: the preview drops frames, it never lags.
A file plays at its own pace; when processing falls behind, frames are skipped to catch up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from studio.core.jobs import JobContext
from studio.video.effects import Effect
from studio.video.pipeline import Processed, VideoPipeline, VideoSettings
from studio.video.refine import RefineSettings
from studio.video.sources import FrameSource, LatestFrame, open_source

__all__ = ["PreviewSession", "PreviewFrame"]


@dataclass
class PreviewFrame:
    """One preview picture and the numbers the panel shows beside it."""

    processed: Processed
    fps: float  # frames processed per second, recent average
    latency_ms: float  # from the frame's arrival to its composite being ready
    dropped: int  # frames skipped so far to stay current
    position: int  # index of this frame
    frame_count: int | None
    ended: bool = False


class PreviewSession:
    """Plays ``source`` (a spec for :func:`open_source`, or an open source) through a pipeline.

    Thread-safe controls: :meth:`play`, :meth:`pause`, :meth:`step`, :meth:`seek`,
    :meth:`configure`; :meth:`take` hands the newest picture to the GUI.
    """

    def __init__(
        self,
        source: str | FrameSource,
        settings: VideoSettings | None = None,
        source_options: dict[str, Any] | None = None,
        registry: Any = None,
        segmenter: Any = None,
        loop: bool = True,
        effect: Effect | None = None,
    ):
        self.source_spec = source
        self.settings = settings or VideoSettings()
        self.source_options = dict(source_options or {})
        self.registry = registry
        self.segmenter = segmenter
        self.loop = loop
        self.effect = effect  # an Effect object (an image from another panel has no spec)
        self.source: FrameSource | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._playing = True
        self._steps = 0
        self._seek: int | None = None
        self._refine: RefineSettings | None = None
        self._effect: Effect | None = None
        self._redo = False
        self._latest: PreviewFrame | None = None
        self._pending = False
        self.dropped = 0

    # -- controls (any thread) ---------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self._playing

    def play(self) -> None:
        with self._lock:
            self._playing = True
        self._wake.set()

    def pause(self) -> None:
        with self._lock:
            self._playing = False
        self._wake.set()

    def step(self, frames: int = 1) -> None:
        """Pause and advance ``frames`` frames."""
        with self._lock:
            self._playing = False
            self._steps += max(1, int(frames))
        self._wake.set()

    def seek(self, index: int) -> None:
        """Show frame ``index`` (files, image sequences, the demo)."""
        with self._lock:
            self._seek = max(0, int(index))
        self._wake.set()

    def configure(self, refine: RefineSettings | None = None, effect: Effect | None = None) -> None:
        """New refinement or effect; a paused preview redraws its frame with them."""
        with self._lock:
            if refine is not None:
                self._refine = refine
            if effect is not None:
                self._effect = effect
            self._redo = True
        self._wake.set()

    def take(self) -> PreviewFrame | None:
        """The newest picture (None when there is none new); the GUI calls this on ``partial``."""
        with self._lock:
            if not self._pending:
                return None
            self._pending = False
            return self._latest

    # -- the job -----------------------------------------------------------------------------------
    def _publish(self, ctx: JobContext, frame: PreviewFrame) -> None:
        with self._lock:
            self._latest = frame
            notify = not self._pending
            self._pending = True
        if notify:  # the GUI has taken the last one: tell it there is a new one
            ctx.partial(self)

    def run(self, _request: Any, ctx: JobContext) -> int:
        """Play until cancelled; returns the number of frames shown. Raises SourceError (no
        camera, an unreadable file, a camera unplugged mid-stream) with the reason."""
        source = (
            self.source_spec
            if isinstance(self.source_spec, FrameSource)
            else open_source(self.source_spec, **self.source_options)
        )
        self.source = source
        ctx.progress(0.0, f"previewing {source.describe()}")
        grabber = LatestFrame(source) if source.live else None
        pipeline = VideoPipeline(
            self.settings, segmenter=self.segmenter, registry=self.registry, effect=self.effect
        )
        shown = 0
        times: list[float] = []
        clock_start: float | None = None
        media_start = 0.0
        current = None
        try:
            while True:
                ctx.check_cancelled()
                with self._lock:
                    seek, self._seek = self._seek, None
                    refine, self._refine = self._refine, None
                    effect, self._effect = self._effect, None
                    redo, self._redo = self._redo, False
                    playing = self._playing
                    stepping = self._steps > 0
                    if stepping and not playing:
                        self._steps -= 1
                if refine is not None or effect is not None:
                    pipeline.configure(refine, effect)
                if seek is not None and source.seekable:
                    source.seek(seek)
                    pipeline.reset()
                    clock_start = None
                    current = None
                    stepping = True  # show the frame sought to, even when paused
                if not playing and not stepping:
                    if redo and current is not None:  # new settings on a paused frame
                        self._publish(ctx, self._show(pipeline, current, times, shown, True))
                        continue
                    clock_start = None
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                arrived = time.perf_counter()
                frame = grabber.get() if grabber else source.read()
                if frame is None:
                    if self.loop and source.seekable and shown:
                        source.seek(0)
                        pipeline.reset()
                        clock_start = None
                        continue
                    with self._lock:
                        self._playing = False
                    if current is not None:
                        last = self._show(pipeline, current, times, shown, True)
                        last.ended = True
                        self._publish(ctx, last)
                    continue
                if not source.live and playing:
                    # a file plays at its own pace: wait for a frame that is early, skip one that
                    # is late (more than a frame behind) to catch up
                    now = time.perf_counter()
                    if clock_start is None:
                        clock_start, media_start = now, frame.time
                    due = clock_start + (frame.time - media_start)
                    if now > due + 1.0 / source.fps and current is not None:
                        self.dropped += 1
                        current = frame
                        continue
                    if due > now:
                        ctx.sleep(min(due - now, 1.0))
                    arrived = time.perf_counter()
                current = frame
                if grabber is not None:
                    self.dropped = grabber.dropped
                shown += 1
                self._publish(ctx, self._show(pipeline, frame, times, shown, False, arrived))
        finally:
            pipeline.close()
            if grabber is not None:
                grabber.close()
            elif not isinstance(self.source_spec, FrameSource):
                source.close()
        return shown

    def _show(
        self,
        pipeline: VideoPipeline,
        frame: Any,
        times: list[float],
        shown: int,
        again: bool,
        arrived: float | None = None,
    ) -> PreviewFrame:
        began = arrived if arrived is not None else time.perf_counter()
        processed = pipeline.process(frame)
        done = time.perf_counter()
        if not again:
            times.append(done)
            del times[:-30]
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
        source = self.source
        return PreviewFrame(
            processed,
            fps,
            (done - began) * 1000,
            self.dropped,
            frame.index,
            source.frame_count if source else None,
        )
