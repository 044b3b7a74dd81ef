"""The one pattern for long work: ``run(request, ctx) -> result`` with a Qt-free context.

Engine code reports progress, previews and checks for cancellation through a :class:`JobContext`.
The GUI's JobRunner (studio.ui.jobs), the CLI, the benchmarks and the tests all drive the same
engine functions; the plain runner here (:func:`run_job`) is what the CLI and the tests use.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Cancelled",
    "JobContext",
    "JobSpec",
    "run_job",
    "ConsoleContext",
    "is_out_of_memory",
    "describe_error",
]


class Cancelled(Exception):
    """Raised inside a job by :meth:`JobContext.check_cancelled` once the job was cancelled."""


ProgressFn = Callable[[float, str], None]
PartialFn = Callable[[Any], None]


class JobContext:
    """What a running job sees of the outside world.

    ``progress(fraction, message)`` is throttled to about 10 Hz (the first report, and one reaching
    1.0, always pass); ``partial(value)`` hands a preview to the caller; ``check_cancelled()``
    raises :class:`Cancelled` once :meth:`cancel` was called, from any thread.
    """

    def __init__(
        self,
        on_progress: ProgressFn | None = None,
        on_partial: PartialFn | None = None,
        *,
        min_interval: float = 0.1,
        cancel_event: threading.Event | None = None,
    ) -> None:
        self._on_progress = on_progress
        self._on_partial = on_partial
        self._min_interval = min_interval
        self._cancel = cancel_event or threading.Event()
        self._last_emit = -1.0
        self._on_cancel: list[Callable[[], None]] = []
        self.fraction = 0.0
        self.message = ""

    # -- called by engines -------------------------------------------------------------------------
    def progress(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` (clamped to 0..1) done, with a short human message."""
        self.fraction = min(1.0, max(0.0, float(fraction)))
        if message:
            self.message = message
        now = time.monotonic()
        if (
            self._last_emit >= 0
            and self.fraction < 1.0
            and now - self._last_emit < self._min_interval
        ):
            return
        self._last_emit = now
        if self._on_progress is not None:
            self._on_progress(self.fraction, self.message)

    def partial(self, value: Any) -> None:
        """Hand a preview (the bars so far, a diffusion step, a sentence of audio) to the caller."""
        if self._on_partial is not None:
            self._on_partial(value)

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the job was cancelled; call it at every step."""
        if self._cancel.is_set():
            raise Cancelled()

    # -- called by runners -------------------------------------------------------------------------
    def cancel(self) -> None:
        """Ask the job to stop at its next ``check_cancelled``; safe from any thread."""
        self._cancel.set()
        for callback in list(self._on_cancel):
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from the cancelling thread) when the job is cancelled: for engines
        that can interrupt a long native call (an ONNX run, a synthesizer)."""
        self._on_cancel.append(callback)
        if self._cancel.is_set():
            callback()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def child(
        self,
        on_progress: ProgressFn | None = None,
        on_partial: PartialFn | None = None,
        *,
        min_interval: float = 0.0,
    ) -> JobContext:
        """A context for a part of this job: its own progress and partial callbacks (a range of
        this job's bar, say), cancelled whenever this one is. Engines use it instead of reaching
        for the cancel event."""
        return JobContext(on_progress, on_partial, min_interval=min_interval,
                          cancel_event=self._cancel)  # fmt: skip

    def sleep(self, seconds: float) -> None:
        """Wait up to ``seconds`` but wake at once on cancel (then raise :class:`Cancelled`)."""
        if self._cancel.wait(seconds):
            raise Cancelled()


@dataclass
class JobSpec:
    """A unit of long work: ``fn(request, ctx)``.

    ``family`` names a model family: every job of one family runs on the same long-lived worker so
    its ModelHost stays on one thread. ``key`` identifies the job's purpose in a panel: submitting a
    new job with the same key cancels the stale one.
    """

    title: str
    fn: Callable[[Any, JobContext], Any]
    request: Any = None
    family: str | None = None
    key: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def run_job(
    fn: Callable[[Any, JobContext], Any] | JobSpec,
    request: Any = None,
    ctx: JobContext | None = None,
) -> Any:
    """Run a job in the calling thread and return its result.

    Raises :class:`Cancelled` if the context was cancelled, and whatever the job raises.
    """
    if isinstance(fn, JobSpec):
        request = fn.request if request is None else request
        fn = fn.fn
    ctx = ctx or JobContext()
    ctx.check_cancelled()
    result = fn(request, ctx)
    ctx.progress(1.0)
    return result


class ConsoleContext(JobContext):
    """A context for the CLI: draws a one-line progress bar on stderr when it is a terminal."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        super().__init__(self._draw, None, min_interval=0.1)
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._tty = getattr(self._stream, "isatty", lambda: False)()
        self._last_line = 0.0

    def _draw(self, fraction: float, message: str) -> None:
        if self._quiet:
            return
        if not self._tty:  # a log file: a plain line every 10 s at most
            now = time.monotonic()
            if now - self._last_line >= 10 or fraction >= 1.0:
                self._last_line = now
                self._stream.write(f"{fraction * 100:5.1f}% {message}\n")
                self._stream.flush()
            return
        width = 30
        filled = int(round(fraction * width))
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {message[:60]:<60}")
        if fraction >= 1.0:
            self._stream.write("\n")
        self._stream.flush()


def is_out_of_memory(exc: BaseException) -> bool:
    """True for MemoryError and torch's out-of-memory errors (without importing torch)."""
    if isinstance(exc, MemoryError):
        return True
    name = type(exc).__name__
    text = str(exc).lower()
    return name == "OutOfMemoryError" or "out of memory" in text


def describe_error(exc: BaseException) -> str:
    """A one-line message a user can act on."""
    if is_out_of_memory(exc):
        return (
            "Out of memory. Try the CPU device (Preferences) or a smaller setting "
            f"({type(exc).__name__})."
        )
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
