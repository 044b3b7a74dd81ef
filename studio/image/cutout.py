"""The person cut-out for still pictures: the Video panel's segmenter and refinement, one frame.

The same engine as :mod:`studio.video`: MediaPipe's selfie segmentation (shipped) for the mask,
the fast guided filter for edges that follow the picture, and the same threshold and feather.
A picture where the segmenter is not confident anywhere is refused with "no person found"
(:func:`studio.video.segmenters.person_found`), rather than cut out at random.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.models import ModelHost
from studio.image.io import ImageError

__all__ = ["person_matte", "NoPersonFound"]


class NoPersonFound(ImageError):
    """The segmenter found no person in the picture (the message says so)."""


def _load_segmenter(_device: str) -> Any:
    from studio.video.segmenters import SelfieSegmenter

    return SelfieSegmenter()


#: kept warm between cut-outs; Tools ▸ Release loaded models frees it
_HOST = ModelHost("selfie-segmenter", _load_segmenter)


def person_matte(rgb: np.ndarray, feather: float = 1.5, threshold: float = 0.0) -> np.ndarray:
    """The person matte of an 8-bit RGB picture: HxW float32 in [0, 1], full resolution.
    Raises :class:`NoPersonFound` when the segmenter is not confident anywhere."""
    import torch

    from studio.video.refine import MaskRefiner, RefineSettings
    from studio.video.segmenters import PERSON_CONFIDENCE, person_found

    # the LiteRT interpreter is not thread-safe: the live preview and Apply take turns
    with _HOST.use("cpu") as segmenter:
        low = segmenter.segment(rgb)
    if not person_found(low):
        raise NoPersonFound(
            "no person found in the picture: the person segmenter is nowhere "
            f"{PERSON_CONFIDENCE:.0%} sure, so nothing was cut out"
        )
    refiner = MaskRefiner(RefineSettings(smooth=0.0, feather=feather, threshold=threshold))
    with torch.inference_mode():
        return refiner.refine(rgb, low).cpu().numpy().copy()
