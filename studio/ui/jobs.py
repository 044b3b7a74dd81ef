"""JobRunner: every long job of the GUI runs here, in QThread workers, never on the GUI thread.

Jobs of one model family share one long-lived worker (so the family's ModelHost stays on one
thread); other jobs go to a small general pool. Each job gets a :class:`JobHandle` living in the GUI
thread that emits, in order: ``started``, ``progressed``*, ``partial``*, then exactly one of
``succeeded`` / ``failed`` / ``cancelled``, then ``finished``. Workers emit from their own thread;
Qt queues these signals to the handle's receivers in the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
import traceback
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal

from studio.core.jobs import Cancelled, JobContext, JobSpec, describe_error

__all__ = ["JobRunner", "JobHandle", "JobState"]

log = logging.getLogger(__name__)
_ids = itertools.count(1)


class JobState:
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DONE = (SUCCEEDED, FAILED, CANCELLED)


class JobHandle(QObject):
    """One submitted job, as the GUI sees it."""

    started = Signal()
    progressed = Signal(float, str)
    partial = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, str)  # message, traceback
    cancelled = Signal()
    finished = Signal()

    def __init__(self, spec: JobSpec, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.id = next(_ids)
        self.spec = spec
        self.title = spec.title
        self.state = JobState.QUEUED
        self.created = time.monotonic()
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.fraction = 0.0
        self.message = "queued"
        self.result: Any = None
        self.error = ""
        self._lock = threading.Lock()
        self.ctx = JobContext(self._report_progress, self._report_partial)
        self.progressed.connect(self._on_self_progressed)

    # Worker-thread callbacks: emitting a signal is thread-safe; the connection queues it.
    def _report_progress(self, fraction: float, message: str) -> None:
        self.progressed.emit(fraction, message)

    def _report_partial(self, value: Any) -> None:
        self.partial.emit(value)

    def _on_self_progressed(self, fraction: float, message: str) -> None:
        self.fraction = fraction
        if message:
            self.message = message

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.ended_at or time.monotonic()) - self.started_at

    @property
    def done(self) -> bool:
        return self.state in JobState.DONE

    def cancel(self) -> None:
        """Ask the job to stop. A queued job ends at once; a running one at its next check."""
        self.ctx.cancel()
        with self._lock:
            if self.state != JobState.QUEUED:
                return
            self.state = JobState.CANCELLED
            self.ended_at = time.monotonic()
        self.message = "cancelled"
        self.cancelled.emit()
        self.finished.emit()

    def _begin(self) -> bool:
        with self._lock:
            if self.state != JobState.QUEUED:
                return False
            self.state = JobState.RUNNING
            self.started_at = time.monotonic()
        self.message = "running"
        self.started.emit()
        return True

    def _end(self, state: str, result: Any = None, error: str = "", tb: str = "") -> None:
        with self._lock:
            self.state = state
            self.ended_at = time.monotonic()
        self.result, self.error = result, error
        if state == JobState.SUCCEEDED:
            self.message = "done"
            self.succeeded.emit(result)
        elif state == JobState.FAILED:
            self.message = error
            self.failed.emit(error, tb)
        else:
            self.message = "cancelled"
            self.cancelled.emit()
        self.finished.emit()


class _Worker(QThread):
    """A long-lived worker thread pulling jobs from its queue."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.jobs: queue.Queue[JobHandle | None] = queue.Queue()
        self.busy = False

    def run(self) -> None:
        threading.current_thread().name = self.objectName()  # readable in logs and tracebacks
        while True:
            handle = self.jobs.get()
            if handle is None:
                return
            self.busy = True
            try:
                self._execute(handle)
            finally:
                self.busy = False
                # An idle worker must not keep its last job (and its result) alive.
                del handle

    def _execute(self, handle: JobHandle) -> None:
        if not handle._begin():
            return  # cancelled while queued
        spec = handle.spec
        try:
            handle.ctx.check_cancelled()
            result = spec.fn(spec.request, handle.ctx)
            handle.ctx.check_cancelled()
        except Cancelled:
            handle._end(JobState.CANCELLED)
        except BaseException as exc:  # noqa: BLE001 - a job must never take the window down
            tb = traceback.format_exc()
            message = describe_error(exc)
            log.error("job %r failed: %s\n%s", spec.title, message, tb)
            handle._end(JobState.FAILED, error=message, tb=tb)
        else:
            handle._end(JobState.SUCCEEDED, result=result)

    def pending(self) -> int:
        return self.jobs.qsize()


class JobRunner(QObject):
    """Runs jobs on QThread workers: one long-lived worker per model family plus a general pool."""

    submitted = Signal(object)  # JobHandle, emitted in the GUI thread

    def __init__(self, general_workers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._general = [_Worker(f"studio-job-{i}", self) for i in range(general_workers)]
        self._families: dict[str, _Worker] = {}
        self._by_key: dict[str, JobHandle] = {}
        self._handles: list[JobHandle] = []
        self._closed = False
        for worker in self._general:
            worker.start()

    def submit(self, spec: JobSpec) -> JobHandle:
        """Queue a job and return its handle. A job with the same ``key`` still running is
        cancelled.
        """
        if self._closed:
            raise RuntimeError("the job runner is shut down")
        # Not parented to the runner: a finished job (and its result) is freed once the Jobs dock
        # and the panel let go of it.
        handle = JobHandle(spec)
        if spec.key:
            stale = self._by_key.get(spec.key)
            if stale is not None and not stale.done:
                stale.cancel()
            self._by_key[spec.key] = handle
        self._handles = [h for h in self._handles if not h.done][-200:] + [handle]
        self.submitted.emit(handle)
        # Dispatch once control is back in the event loop, so the caller can connect to the handle's
        # signals right after submit() without racing the worker.
        QTimer.singleShot(0, self, lambda: self._dispatch(handle))
        return handle

    def _dispatch(self, handle: JobHandle) -> None:
        if handle.done:
            return  # cancelled before it was dispatched
        self._worker_for(handle.spec.family).jobs.put(handle)

    def _worker_for(self, family: str | None) -> _Worker:
        if family:
            worker = self._families.get(family)
            if worker is None:
                worker = self._families[family] = _Worker(f"studio-model-{family}", self)
                worker.start()
            return worker
        # The least loaded general worker; an idle one if there is one.
        return min(self._general, key=lambda w: (w.busy + w.pending(), self._general.index(w)))

    @property
    def closed(self) -> bool:
        return self._closed

    def active(self) -> list[JobHandle]:
        return [h for h in self._handles if not h.done]

    def family_thread(self, family: str) -> QThread | None:
        return self._families.get(family)

    def cancel_all(self) -> None:
        for handle in list(self._handles):
            if not handle.done:
                handle.cancel()

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel every job and join every worker. False if a worker did not stop in time."""
        self._closed = True
        self.cancel_all()
        workers = self._general + list(self._families.values())
        for worker in workers:
            worker.jobs.put(None)
        ok = True
        deadline = time.monotonic() + timeout_ms / 1000
        for worker in workers:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            if not worker.wait(left):
                log.warning("worker %s did not stop within %d ms", worker.objectName(), timeout_ms)
                ok = False
        return ok
