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
from studio.core.media import AudioClip, Image, Mask, MidiClip, Note, Scores

__all__ = [
    "RecordingContext",
    "sample_midi_clip",
    "sample_image",
    "sample_frame",
    "sample_audio",
    "sample_mask",
    "sample_scores",
    "FakeDevice",
    "run_generator",
]


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


def sample_image(width: int = 64, height: int = 48) -> Image:
    """A colour gradient with a bright square in the middle: RGB uint8."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1),
                       np.full_like(x, 96)], axis=2).astype(np.uint8)  # fmt: skip
    pixels[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 240
    return Image(pixels)


def sample_frame(width: int = 160, height: int = 90) -> Image:
    """A video frame: a bright 'person' block on a dark backdrop (for video_mask generators);
    :func:`sample_mask` is its right answer."""
    import numpy as np

    pixels = np.full((height, width, 3), 30, np.uint8)
    pixels[height // 5 :, width * 2 // 5 : width * 3 // 5] = 220
    return Image(pixels)


def sample_mask(width: int = 160, height: int = 90) -> Mask:
    """The person in :func:`sample_frame`, as a Mask."""
    import numpy as np

    alpha = np.zeros((height, width), np.float32)
    alpha[height // 5 :, width * 2 // 5 : width * 3 // 5] = 1.0
    return Mask(alpha)


def sample_audio(seconds: float = 1.0, rate: int = 22050, pitch: float = 440.0) -> AudioClip:
    """A tone with a soft start and end: mono float32."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    samples = 0.3 * np.sin(2 * np.pi * pitch * t) * np.hanning(len(t))
    return AudioClip(samples.astype(np.float32), rate)


def sample_scores() -> Scores:
    """A recommender's or an annotator's kind of result."""
    return Scores({"a": 0.9, "b": 0.5, "c": 0.1}, tags=["example"])


class FakeDevice:
    """Stands in for a device a plugin asks for: ``name`` ("cuda", "mps"...) and whether it is
    ``available``. Use it with the ``fake_device`` fixture to test a generator's device choices
    (and its message when the device is missing) on any machine."""

    def __init__(self, name: str = "cuda", available: bool = True) -> None:
        self.name, self.available = name, available

    def pick(self, preference: str = "auto") -> str:
        from studio.core.devices import DeviceUnavailable

        if preference in ("auto", self.name):
            if self.available:
                return self.name
            if preference == self.name:
                raise DeviceUnavailable(f"device {self.name!r} is not available here")
        return "cpu"


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
