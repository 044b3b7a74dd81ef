"""One frame through the whole chain: segment, refine, composite. The panel's preview, the export
and the benchmark all use :class:`VideoPipeline`, so what the artist previews is what they export.

The matte is always applied to the frame it was computed from: a frame goes in, and its own mask
and composite come out together, never a mask from an earlier frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studio.video.effects import Compositor, Effect, parse_effect
from studio.video.refine import FrameTensors, MaskRefiner, RefineSettings
from studio.video.segmenters import Segmenter, make_segmenter, person_found
from studio.video.sources import Frame

__all__ = ["VideoSettings", "Processed", "VideoPipeline"]


@dataclass
class VideoSettings:
    """What the panel's controls and the CLI's options set."""

    engine: str = "selfie"
    effect: str = "blur"
    refine: RefineSettings = field(default_factory=RefineSettings)
    device: str = "auto"

    def as_provenance(self) -> dict[str, Any]:
        r = self.refine
        return {
            "engine": self.engine,
            "effect": self.effect,
            "smooth": r.smooth,
            "threshold": r.threshold,
            "feather": r.feather,
            "grow": r.grow,
            "guided": r.guided,
        }


@dataclass
class Processed:
    """A frame with its own matte and the composite (RGB, or RGBA for the alpha effect, uint8)."""

    frame: Frame
    matte_tensor: Any  # HxW float in [0, 1], on the pipeline's device
    output: np.ndarray
    timings: dict[str, float]  # milliseconds: segment, refine, composite, total
    #: whether the segmenter found a person (:func:`~studio.video.segmenters.person_found`)
    person: bool = True
    _matte: np.ndarray | None = field(default=None, repr=False)

    @property
    def matte(self) -> np.ndarray:
        """The matte as HxW uint8 (made on first use: an export of a composite never needs it)."""
        if self._matte is None:
            import torch

            self._matte = (self.matte_tensor * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
        return self._matte


class VideoPipeline:
    """Segmenter + refiner + compositor. Create once per source; change the effect or the
    refinement with :meth:`configure` without reloading the model."""

    def __init__(
        self,
        settings: VideoSettings | None = None,
        segmenter: Segmenter | None = None,
        registry: Any = None,
        effect: Effect | None = None,
    ):
        from studio.core.devices import pick_device

        self.settings = settings or VideoSettings()
        self.device = pick_device(self.settings.device)
        if self.device == "mps":  # LiteRT and OpenCV hand over CPU arrays; mps gains nothing here
            self.device = "cpu"
        self.segmenter = segmenter or make_segmenter(self.settings.engine, self.device, registry)
        self.refiner = MaskRefiner(self.settings.refine, self.device)
        self.compositor = Compositor(effect or parse_effect(self.settings.effect), self.device)

    @property
    def effect(self) -> Effect:
        return self.compositor.effect

    def configure(self, refine: RefineSettings | None = None, effect: Effect | None = None) -> None:
        if refine is not None:
            self.settings.refine = refine
            self.refiner.settings = refine
        if effect is not None:
            self.compositor.close()
            self.compositor = Compositor(effect, self.device)
            self.settings.effect = effect.spec()

    def reset(self) -> None:
        """Forget the previous frames (after a seek, a cut or a source change)."""
        self.segmenter.reset()
        self.refiner.reset()

    def process(self, frame: Frame) -> Processed:
        """Segment, refine and composite ``frame``: its own matte and composite."""
        began, cpu = time.perf_counter(), time.thread_time()
        low = self.segment(frame)
        return self.complete(
            frame,
            low,
            (time.perf_counter() - began) * 1000,
            (time.thread_time() - cpu) * 1000,
        )

    def segment(self, frame: Frame) -> np.ndarray:
        """The segmenter's low-resolution mask of ``frame`` (the first half of :meth:`process`).
        The export runs it on its own thread, a frame ahead of :meth:`complete`; the two halves
        must each see the frames in order (segmenters and the refiner keep temporal state)."""
        import torch

        with torch.inference_mode():
            return self.segmenter.segment(frame.pixels)

    def complete(
        self,
        frame: Frame,
        low: np.ndarray,
        segment_ms: float = 0.0,
        segment_cpu_ms: float = 0.0,
    ) -> Processed:
        """Refine ``low`` (the mask :meth:`segment` made from this very ``frame``) and
        composite: the second half of :meth:`process`. Timings in milliseconds: elapsed, and
        the CPU time of the calling thread (``*_cpu``: what a step costs, whatever else the
        machine runs)."""
        import torch

        began, cpu = time.perf_counter(), time.thread_time()
        with torch.inference_mode():
            tensors = FrameTensors(frame.pixels, self.device)
            matte = self.refiner.refine(tensors, low)
            refined, refined_cpu = time.perf_counter(), time.thread_time()
            output = self.compositor.apply(tensors, matte)
        done, done_cpu = time.perf_counter(), time.thread_time()
        timings = {
            "segment": segment_ms,
            "refine": (refined - began) * 1000,
            "composite": (done - refined) * 1000,
            "total": segment_ms + (done - began) * 1000,
            "segment_cpu": segment_cpu_ms,
            "refine_cpu": (refined_cpu - cpu) * 1000,
            "composite_cpu": (done_cpu - refined_cpu) * 1000,
        }
        return Processed(frame, matte, output, timings, person_found(low))

    def close(self) -> None:
        self.compositor.close()
        self.segmenter.close()
