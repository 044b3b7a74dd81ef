"""The built-in segmenters as plugin-contract generators (kind ``video_mask``): a ``frame`` (an
Image) in, a Mask at the segmenter's own resolution out. Stateful engines (MOG2's background
model, RVM's recurrent state) keep their state between calls; ``reset()`` clears it.

The Video panel and ``studio video segment`` use the engines directly through
:func:`studio.video.segmenters.make_segmenter`; these generators make the same engines available
to anything that speaks the plugin contract (``studio generate``, other plugins' tests).
"""

from __future__ import annotations

from typing import Any

from studio.plugins.api import Generator, JobContext, Mask, Param

__all__ = ["SelfieMaskGenerator", "Mog2MaskGenerator", "RvmMaskGenerator"]


class _MaskGenerator(Generator):
    kind = "video_mask"

    def __init__(self) -> None:
        super().__init__()
        self._engine: Any = None
        self._key: Any = None

    def _make(self, request: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _key_of(self, request: dict[str, Any]) -> Any:
        return tuple(request.get(p.name) for p in self.params)

    def run(self, request: dict[str, Any], ctx: JobContext) -> Mask:
        from studio.core.media import Image

        frame = request.get("frame")
        if not isinstance(frame, Image):
            raise ValueError("a video_mask generator needs a frame (an Image)")
        key = self._key_of(request)
        if self._engine is None or key != self._key:
            self._engine, self._key = self._make(request), key
        ctx.check_cancelled()
        pixels = frame.pixels
        if pixels.ndim == 2:
            import numpy as np

            pixels = np.repeat(pixels[..., None], 3, axis=2)
        alpha = self._engine.segment(pixels[..., :3])
        return Mask(alpha, provenance={"engine": self._engine.name})

    def reset(self) -> None:
        if self._engine is not None:
            self._engine.reset()

    def unload(self) -> None:
        if self._engine is not None:
            self._engine.close()
        self._engine = None
        super().unload()


class SelfieMaskGenerator(_MaskGenerator):
    title = "MediaPipe selfie segmentation"
    description = (
        "Finds people in any frame: MediaPipe's selfie segmentation model (shipped, Apache-2.0), "
        "run by LiteRT. The mask comes at 256x144 (wide frames) or 256x256."
    )

    def _make(self, request: dict[str, Any]) -> Any:
        from studio.video.segmenters import SelfieSegmenter

        return SelfieSegmenter()


class Mog2MaskGenerator(_MaskGenerator):
    title = "Background subtraction (MOG2)"
    description = (
        "No model: learns a still camera's empty background and marks what differs. Start it "
        "before the person steps in."
    )
    params = (
        Param(
            "history",
            "int",
            300,
            help="frames the background model remembers",
            minimum=10,
            maximum=5000,
        ),
        Param(
            "sensitivity",
            "float",
            24.0,
            help="variance threshold: lower marks more as person",
            minimum=2.0,
            maximum=200.0,
        ),
    )

    def _make(self, request: dict[str, Any]) -> Any:
        from studio.video.segmenters import Mog2Segmenter

        return Mog2Segmenter(history=request["history"], threshold=request["sensitivity"])


class RvmMaskGenerator(_MaskGenerator):
    title = "Robust Video Matting (your TorchScript file)"
    description = (
        "A Robust Video Matting .torchscript file you put on disk (Studio never downloads it); "
        "its recurrent state is carried from frame to frame."
    )
    params = (
        Param("model", "str", "", help="path to the RVM TorchScript file"),
        Param(
            "work_size",
            "int",
            512,
            help="long side the network sees, in pixels",
            minimum=128,
            maximum=2048,
        ),
    )

    def resolve(self, request: Any = None) -> dict[str, Any]:
        resolved = super().resolve(request)
        if not resolved["model"]:  # the user's mistake, not the plugin's: a ValueError here
            raise ValueError("Model: choose the Robust Video Matting .torchscript file")
        return resolved

    def _make(self, request: dict[str, Any]) -> Any:
        from studio.video.segmenters import RvmSegmenter

        return RvmSegmenter(request["model"], device=self.device, work_size=request["work_size"])
