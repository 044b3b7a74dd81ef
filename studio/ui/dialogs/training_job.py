"""The job side that every training dialog shares (Image ▸ Train a generator… / a tagger…, Music ▸
Train on my MIDI folder…): one training job at a time, its progress and status line, Stop, and
the buttons that follow whether it runs.

A dialog using it has ``context``, ``job``, ``folder``, ``progress``, ``status``,
``start_button``, ``stop_button``, ``folder_button`` and ``folder_label``; it hands each job it
submits to :meth:`TrainingJobMixin.watch` and implements ``_on_job_succeeded`` (and
``_on_job_partial`` when it shows previews). A folder chosen is listed by
:meth:`TrainingJobMixin.read_folder`, on a worker: a folder of 50,000 files on a slow disk takes
a while to list, and the window must not freeze meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["ContextRelay", "Describe", "FolderListing", "TrainingJobMixin"]

#: what a folder being listed shows until its names are counted
READING = "reading the folder…"
#: the folder label when there is no folder to train on
NO_FOLDER = "No folder chosen yet."

#: what listing a folder gives: (the folder to train on, or None when it cannot be; the text for
#: the folder label; the status line)
FolderListing = tuple[Path | None, str, str]
#: lists a folder on a worker: ``describe(path, ctx)``, names only, Qt-free (no widgets); it may
#: raise Cancelled through ``ctx`` once another folder was chosen, and OSError (said for it)
Describe = Callable[[Path, Any], FolderListing]


def _list_folder(path: Path, describe: Describe, ctx) -> FolderListing:
    """``describe(path, ctx)`` for a folder that is there and readable; a folder that is gone or
    cannot be read gives the reason in the status line."""
    try:
        if not path.is_dir():
            raise FileNotFoundError(2, "it is not there (moved or deleted?)", str(path))
        return describe(path, ctx)
    except OSError as exc:
        return None, NO_FOLDER, f"⚠ {path} cannot be read: {exc.strerror or exc}"


class TrainingJobMixin:
    """Mixed into a QDialog (before it in the bases)."""

    job: Any = None
    #: the job listing the folder just chosen, while it runs
    listing: Any = None
    #: what the status line says when the artist presses Stop
    stopped_message = "Stopped."

    def busy(self) -> bool:
        return self.job is not None and not self.job.done

    # -- the folder, listed in the background ------------------------------------------------------
    def read_folder(self, path: str | Path, describe: Describe):
        """List the folder ``path`` on a worker with ``describe`` (a :data:`Describe`).
        Meanwhile the folder label says "reading the folder…" and Train waits; choosing another
        folder cancels this listing, and a result it still hands back is ignored. Returns the
        job's handle."""
        from studio.core.jobs import JobSpec

        path = Path(path)
        self.folder = None
        self.folder_label.setText(f"{path}\n{READING}")
        self.status.setText(f"Reading {path.name or path}…")
        handle = self.context.runner.submit(
            JobSpec(
                title=f"Read the folder {path.name or path}",
                fn=lambda _request, ctx: _list_folder(path, describe, ctx),
                key=f"{self.objectName()}.folder",  # a newer choice cancels this one
            )
        )
        self.listing = handle
        handle.succeeded.connect(self._on_listing_succeeded)
        handle.failed.connect(self._on_listing_failed)
        handle.finished.connect(self._on_listing_finished)
        self._update_buttons()
        return handle

    def _on_listing_succeeded(self, result: FolderListing) -> None:
        if self.sender() is not self.listing:
            return  # a folder chosen before the current one
        folder, label, status = result
        self.folder = folder
        self.folder_label.setText(label)
        self.status.setText(status)

    def _on_listing_failed(self, message: str, _traceback: str) -> None:
        if self.sender() is not self.listing:
            return
        self.folder = None
        self.folder_label.setText(NO_FOLDER)
        self.status.setText(f"⚠ {message}")

    def _on_listing_finished(self) -> None:
        if self.sender() is self.listing:
            self.listing = None
            self._update_buttons()

    def reading(self) -> bool:
        """Whether the folder chosen is still being listed (Train waits for it)."""
        return self.listing is not None

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
        self.start_button.setEnabled(not busy and not self.reading())
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
