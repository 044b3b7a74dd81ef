"""The job side that every training dialog shares (Image ▸ Train a generator… / a tagger…, Music ▸
Train on my MIDI folder…): one training job at a time, its progress and status line, Stop, and
the buttons that follow whether it runs.

A dialog using it has ``job``, ``progress``, ``status``, ``start_button``, ``stop_button`` and
``folder_button``; it hands each job it submits to :meth:`TrainingJobMixin.watch` and implements
``_on_job_succeeded`` (and ``_on_job_partial`` when it shows previews).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ContextRelay", "TrainingJobMixin"]


class TrainingJobMixin:
    """Mixed into a QDialog (before it in the bases)."""

    job: Any = None
    #: what the status line says when the artist presses Stop
    stopped_message = "Stopped."

    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    def raise_result_panel(self, panel_id: str):
        """The window's ``panel_id`` panel, raised, for "Use it": None before a result, or
        without a window."""
        window = self.parent()
        if getattr(self, "result", None) is None or not hasattr(window, "panels"):
            return None
        window.raise_panel(panel_id)
        return window.panels[panel_id]

    def watch(self, handle):
        """Follow ``handle``, the job just submitted: progress, partials, the outcome, the
        buttons. Returns it."""
        self.job = handle
        handle.progressed.connect(self._on_job_progressed)
        handle.partial.connect(self._on_job_partial)
        handle.succeeded.connect(self._on_job_succeeded)
        handle.failed.connect(self._on_job_failed)
        handle.cancelled.connect(self._on_job_cancelled)
        handle.finished.connect(self._update_buttons)
        self.progress.setValue(0)
        self.status.setText("Starting…")
        self._update_buttons()
        return handle

    def stop(self, *_args) -> None:
        if self.busy():
            self.job.cancel()
            self.status.setText("Stopping…")

    def _update_buttons(self) -> None:
        busy = self.busy()
        self.start_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.folder_button.setEnabled(not busy)

    def _mine(self) -> bool:
        """Whether the signal being handled comes from the current job (not an older one)."""
        return self.sender() is self.job

    def _on_job_progressed(self, fraction: float, message: str) -> None:
        if self._mine():
            self.progress.setValue(int(fraction * 1000))
            self.status.setText(message)

    def _on_job_partial(self, value) -> None:
        """(override to show previews)"""

    def _on_job_succeeded(self, result) -> None:
        raise NotImplementedError

    def _on_job_failed(self, message: str, _traceback: str) -> None:
        if self._mine():
            self.status.setText(f"⚠ {message}")

    def _on_job_cancelled(self) -> None:
        if self._mine():
            self.status.setText(self.stopped_message)


class ContextRelay:
    """A job context that passes everything on to ``ctx``; a training dialog's relay overrides
    ``progress`` or ``partial`` to hand the GUI what it plots."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ctx, name)

    def check_cancelled(self) -> None:
        self.ctx.check_cancelled()

    def progress(self, fraction: float, message: str = "") -> None:
        self.ctx.progress(fraction, message)

    def partial(self, value: Any) -> None:
        self.ctx.partial(value)
