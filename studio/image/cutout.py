"""The person cut-out for still pictures: the Video panel's segmenter and refinement, one frame.

The same engine as :mod:`studio.video`: MediaPipe's selfie segmentation (shipped) for the mask,
the fast guided filter for edges that follow the picture, and the same threshold and feather.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

__all__ = ["person_matte"]

_SEGMENTER: Any = None
_LOCK = threading.Lock()


def _segmenter() -> Any:
    global _SEGMENTER
    with _LOCK:
        if _SEGMENTER is None:
            from studio.video.segmenters import SelfieSegmenter

            _SEGMENTER = SelfieSegmenter()
        return _SEGMENTER


def person_matte(rgb: np.ndarray, feather: float = 1.5, threshold: float = 0.0) -> np.ndarray:
    """The person matte of an 8-bit RGB picture: HxW float32 in [0, 1], full resolution."""
    import torch

    from studio.video.refine import MaskRefiner, RefineSettings

    low = _segmenter().segment(rgb)
    refiner = MaskRefiner(RefineSettings(smooth=0.0, feather=feather, threshold=threshold))
    with torch.inference_mode():
        return refiner.refine(rgb, low).cpu().numpy().copy()
