"""The Video panel's live preview: a PreviewSession on a worker, started when the panel is seen
and stopped when it is hidden, the transport (play, step, scrub) and the picture.

The preview is not part of the document: it is rebuilt from the document whenever the source or
the engine changes, and reconfigured in place when the matte or background settings change.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtWidgets import QApplication, QDockWidget

from studio.core.jobs import JobSpec

__all__ = ["PlaybackMixin"]


class PlaybackMixin:
    """Mixed into VideoPanel (which provides ``document``, ``context``, the widgets and
    ``pipeline_inputs``)."""

    session: Any = None
    preview_job: Any = None
    last: Any = None  # the newest processed frame shown
    _scrubbing = False
    _watching_dock = False

    # -- when to preview ---------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget) and not self._watching_dock:
            # a tabbed dock behind another stays "visible" to Qt: follow its tab instead
            self._watching_dock = True
            dock.visibilityChanged.connect(self._on_dock_visibility_changed)
        if self._seen() and (self.preview_job is None or self.preview_job.done):
            self.start_preview()

    def _seen(self) -> bool:
        return self.isVisible() and not self.visibleRegion().isEmpty()

    def _on_dock_visibility_changed(self, visible: bool) -> None:
        if visible and (self.preview_job is None or self.preview_job.done):
            self.start_preview()
        elif not visible:
            self.stop_preview()  # frees the camera and the CPU while the panel is not seen

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().hideEvent(event)
        self.stop_preview()

    def restart_preview_if_seen(self) -> None:
        if self._seen():
            self.start_preview()

    # -- the session -------------------------------------------------------------------------------
    def start_preview(self) -> None:
        """(Re)start the preview with the document's source, engine and settings."""
        from studio.video.effects import EffectError
        from studio.video.preview import PreviewSession

        self.stop_preview()
        doc = self.document
        if doc.source in ("file", "sequence") and not doc.source_path:
            self.view.show_message("Choose a video file or an image folder.")
            return
        try:
            settings, effect = self.pipeline_inputs()
        except (EffectError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        self.session = PreviewSession(
            doc.source_spec(),
            settings,
            self.source_options(),
            registry=self.context.registry,
            effect=effect,
        )
        self.preview_job = self.context.runner.submit(
            JobSpec(
                title="Video: preview",
                fn=self.session.run,
                family="video-preview",
                key="video.preview",
            )
        )
        self.preview_job.partial.connect(self._on_preview_partial)
        self.preview_job.failed.connect(self._on_preview_failed)
        self.play_button.setText("Pause")
        self.status.setText(f"Previewing {doc.source_name()}…")

    def stop_preview(self) -> None:
        if self.preview_job is not None and not self.preview_job.done:
            self.preview_job.cancel()
        self.preview_job = None
        self.session = None

    def reconfigure_preview(self) -> None:
        """The matte or background settings changed: the running preview takes them."""
        from studio.video.effects import EffectError

        if self.session is None:
            return
        try:
            _settings, effect = self.pipeline_inputs()
            refine = self.document.refine_settings()
        except (EffectError, ValueError) as exc:
            self.status.setText(str(exc))
            return
        self.session.configure(refine=refine, effect=effect)

    def _on_preview_partial(self, session) -> None:
        if session is not self.session:
            return
        frame = session.take()
        if frame is None:
            return
        self.show_processed(frame.processed, frame)

    def show_processed(self, processed, info=None) -> None:
        """Draw a processed frame (from the preview or an export) with its numbers."""
        self.last = processed
        stats = ""
        if info is not None:
            stats = f"{info.fps:4.1f} FPS · {info.latency_ms:4.0f} ms"
            if info.dropped:
                stats += f" · {info.dropped} dropped"
            count = info.frame_count
            if count and not self._scrubbing:
                self.scrub.blockSignals(True)
                self.scrub.setRange(0, max(0, count - 1))
                self.scrub.setValue(info.position)
                self.scrub.blockSignals(False)
            self.position_label.setText(
                f"{info.position + 1} / {count}" if count else f"frame {info.position + 1}"
            )
            if info.ended:
                self.play_button.setText("Play")
        if not getattr(processed, "person", True):  # the segmenter is nowhere sure of one
            stats = f"{stats} · no person found" if stats else "no person found"
        self.view.show_frame(processed.frame.pixels, processed.matte, processed.output, stats)

    def _on_preview_failed(self, message: str, _traceback: str) -> None:
        if self.sender() is not self.preview_job:
            return
        self.view.show_message(f"{message}\n\nChoose another source.")
        self.status.setText(message)

    # -- transport ---------------------------------------------------------------------------------
    def _on_preview_triggered(self, *_args) -> None:
        self.start_preview()

    def toggle_play(self, *_args) -> None:
        if self.session is None:
            self.start_preview()
            return
        if self.session.playing:
            self.session.pause()
            self.play_button.setText("Play")
        else:
            self.session.play()
            self.play_button.setText("Pause")

    def step(self, *_args) -> None:
        if self.session is not None and self.document.source != "camera":
            self.session.step()
            self.play_button.setText("Play")

    def _on_scrub_pressed(self) -> None:
        self._scrubbing = True
        if self.session is not None:
            self.session.pause()
            self.play_button.setText("Play")

    def _on_scrub_released(self) -> None:
        self._scrubbing = False
        if self.session is not None:
            self.session.seek(self.scrub.value())

    def _on_scrub_moved(self, value: int) -> None:
        if self.session is not None:
            self.session.seek(value)

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """Process events until the preview shows a picture (for ``studio shot``)."""
        deadline = time.monotonic() + timeout
        while self.last is None and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        return self.last is not None
