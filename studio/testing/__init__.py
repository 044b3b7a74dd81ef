"""Test helpers for Studio and for plugin authors: a recording job context and sample media.

Plugin authors add ``-p studio.testing.pytest_plugin`` to their pytest options (or import the
fixtures)
and test their generators without Qt::

    def test_my_generator(recording_context):
        clip = MyGenerator().run(MyGenerator().resolve({}), recording_context)
        assert recording_context.fractions[-1] == 1.0
"""

from __future__ import annotations

from typing import Any

from studio.core.jobs import JobContext
from studio.core.media import MidiClip, Note

__all__ = ["RecordingContext", "sample_midi_clip", "run_generator"]


class RecordingContext(JobContext):
    """A JobContext that records every progress report and partial result, unthrottled.

    ``cancel_after`` cancels the job after that many progress reports, to test cancellation.
    """

    def __init__(self, cancel_after: int | None = None) -> None:
        super().__init__(self._record_progress, self._record_partial, min_interval=0.0)
        self.reports: list[tuple[float, str]] = []
        self.partials: list[Any] = []
        self.cancel_after = cancel_after

    def _record_progress(self, fraction: float, message: str) -> None:
        self.reports.append((fraction, message))
        if self.cancel_after is not None and len(self.reports) >= self.cancel_after:
            self.cancel()

    def _record_partial(self, value: Any) -> None:
        self.partials.append(value)

    @property
    def fractions(self) -> list[float]:
        return [f for f, _ in self.reports]


def sample_midi_clip() -> MidiClip:
    """A C major arpeggio over one bar at 120 BPM."""
    notes = [Note(i * 1.0, pitch, 0.9, 90) for i, pitch in enumerate((60, 64, 67, 72))]
    return MidiClip(notes=notes, bpm=120.0)


def run_generator(
    generator_cls: type, request: dict[str, Any] | None = None, device: str = "cpu"
) -> tuple[Any, RecordingContext]:
    """Create, load, run and unload a generator the way the host does; returns (result, context)."""
    generator = generator_cls()
    ctx = RecordingContext()
    generator.load(device)
    try:
        result = generator.run(generator.resolve(request), ctx)
    finally:
        generator.unload()
    return result, ctx
