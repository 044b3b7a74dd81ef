"""Person segmenters: a frame in, a person-probability mask out (float32 in [0, 1], at the
segmenter's own resolution; :mod:`studio.video.refine` brings it to full resolution).

- :class:`SelfieSegmenter`: MediaPipe's selfie segmentation model (shipped .tflite, run by LiteRT).
- :class:`Mog2Segmenter`: model-free background subtraction for a still camera.
- :class:`RvmSegmenter`: a user-supplied Robust Video Matting TorchScript file, recurrent state
  carried between frames.
- :class:`GeneratorSegmenter`: any ``video_mask`` plugin generator.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Segmenter",
    "SegmenterError",
    "SelfieSegmenter",
    "Mog2Segmenter",
    "RvmSegmenter",
    "GeneratorSegmenter",
    "make_segmenter",
    "person_found",
    "PERSON_CONFIDENCE",
    "PERSON_AREA",
    "ENGINES",
]

ENGINES = {
    "selfie": "MediaPipe selfie segmentation (shipped, LiteRT)",
    "mog2": "background subtraction (no model; a still camera, person entering after the start)",
}


#: The built-in video_mask contributions (studio-plugin.toml) and the engine each stands for.
BUILTIN_IDS = {"studio/selfie-segmenter": "selfie", "studio/mog2-segmenter": "mog2"}


#: "No person found": a segmenter's mask finds a person when at least PERSON_AREA of it (0.5%
#: of the frame) has a probability of PERSON_CONFIDENCE or more. Measured with the selfie model
#: on scikit-image's samples: the astronaut 52% of the frame, a gradient, shapes, noise, bricks,
#: grass, text and a colour wheel 0% (their highest value 0.04), coins 0% (highest 0.70), the
#: moon 0.01%. It cannot tell a person from what the model mistakes for one (a clock: 34%).
PERSON_CONFIDENCE = 0.8
PERSON_AREA = 0.005


def person_found(mask: np.ndarray) -> bool:
    """Whether a segmenter's mask (HxW probabilities in [0, 1]) holds a person by the rule of
    :data:`PERSON_CONFIDENCE` and :data:`PERSON_AREA`."""
    mask = np.asarray(mask)
    if mask.size == 0:
        return False
    confident = np.count_nonzero(mask >= PERSON_CONFIDENCE)
    return confident >= PERSON_AREA * mask.size


class SegmenterError(RuntimeError):
    """A segmenter could not be loaded or run (the message says why)."""


class Segmenter:
    """Base: ``segment(rgb)`` returns an HxW float32 mask in [0, 1]; ``reset()`` forgets what
    earlier frames taught (call it on a cut, a seek or a new source)."""

    name = "segmenter"
    #: True when the mask already has the frame's full resolution (no upsampling needed).
    full_resolution = False

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def reset(self) -> None:
        pass

    def close(self) -> None:
        pass


_MODEL_LOCK = threading.Lock()


def _area_resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` area-averaged down to ``width`` x ``height``. For an exact integer factor of 3 or
    more (720p to the model's 256x144 is 5), a box filter and every factor-th pixel: the very
    same averages as OpenCV's INTER_AREA, which has no fast path for such factors, for half
    its CPU time."""
    import cv2

    h, w = rgb.shape[:2]
    factor = w // width
    if factor >= 3 and (w, h) == (width * factor, height * factor):
        box = cv2.blur(rgb, (factor, factor), anchor=(0, 0), borderType=cv2.BORDER_REPLICATE)
        return box[::factor, ::factor]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


class SelfieSegmenter(Segmenter):
    """MediaPipe selfie segmentation: the landscape model (256x144) for wide frames, the square
    one (256x256) for portrait and near-square frames. The frame is downscaled to the model's
    input, so 4K and 8K frames cost the same as 720p here."""

    name = "selfie"

    def __init__(self, threads: int = 0, store: Any = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - a dependency
            raise SegmenterError("the selfie segmenter needs ai-edge-litert") from exc
        from studio.core.models import ModelIntegrityError, ModelStore
        from studio.core.syslibs import quiet_stderr

        store = store or ModelStore.from_settings()
        self._interpreters: dict[str, Any] = {}
        # On two cores or fewer, one LiteRT thread: its second thread spins on the core the
        # decoder, the refinement and the encoder need (measured on 2 cores, one frame: 3.6 ms of
        # CPU with one thread, 4.8 ms with two, and less wall time too on a busy machine)
        cores = os.cpu_count() or 1
        threads = threads or (1 if cores <= 2 else min(4, cores))
        for variant in ("selfie-landscape", "selfie-square"):
            try:
                path = store.verify(store.find(variant, "video_mask"))
            except (KeyError, ModelIntegrityError) as exc:
                raise SegmenterError(f"selfie segmentation model: {exc}") from exc
            with _MODEL_LOCK, quiet_stderr():
                interp = Interpreter(model_path=str(path), num_threads=threads)
                interp.allocate_tensors()
            self._interpreters[variant] = interp

    def _pick(self, width: int, height: int) -> Any:
        return self._interpreters["selfie-landscape" if width >= 1.2 * height else "selfie-square"]

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        interp = self._pick(rgb.shape[1], rgb.shape[0])
        inp = interp.get_input_details()[0]
        out = interp.get_output_details()[0]
        _, h, w, _ = inp["shape"]
        small = rgb
        # Halve huge frames first: INTER_AREA straight from 8K to 256 px is slow.
        while small.shape[1] > 4 * w:
            small = cv2.pyrDown(small)
        small = _area_resize(small, int(w), int(h))
        # one pass, straight from the strided pixels: a fifth of astype-then-scale's time
        tensor = np.multiply(small, np.float32(1.0 / 255.0), dtype=np.float32)[None]
        interp.set_tensor(inp["index"], tensor)
        interp.invoke()
        return np.ascontiguousarray(interp.get_tensor(out["index"])[0, :, :, 0], np.float32)


class Mog2Segmenter(Segmenter):
    """OpenCV's MOG2 background subtractor on a downscaled frame: no model, for a locked-off
    camera. It learns the empty background over ``history`` frames, so start it before the person
    steps in (or let it learn while they move)."""

    name = "mog2"

    def __init__(self, history: int = 300, threshold: float = 24.0, width: int = 320):
        self.history, self.threshold, self.width = int(history), float(threshold), int(width)
        self.reset()

    def reset(self) -> None:
        import cv2

        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=self.history, varThreshold=self.threshold, detectShadows=True
        )
        self._kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        height = max(2, round(rgb.shape[0] * self.width / rgb.shape[1]))
        small = cv2.resize(rgb, (self.width, height), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (5, 5), 0)
        fg = self._mog.apply(small)
        mask = (fg == 255).astype(np.uint8)  # 127 marks shadows: background
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self._kernel, iterations=2)
        return mask.astype(np.float32)


class RvmSegmenter(Segmenter):
    """A Robust Video Matting TorchScript file (``rvm_mobilenetv3_fp32.torchscript`` and the like,
    from the RVM project's releases; the user puts it on disk, Studio never downloads it).

    Its signature: ``model(src, r1, r2, r3, r4, downsample_ratio) -> (fgr, pha, r1, r2, r3, r4)``
    with ``src`` 1x3xHxW RGB in [0, 1]. The four recurrent states are carried from frame to frame
    (that is what keeps RVM's matte stable); :meth:`reset` clears them. The alpha comes back at
    full resolution; ``downsample_ratio`` is picked so the network sees about ``work_size``
    pixels on the long side.
    """

    name = "rvm"
    full_resolution = True

    def __init__(self, path: str | Path, device: str = "cpu", work_size: int = 512):
        import torch

        self.path = Path(path)
        if not self.path.is_file():
            raise SegmenterError(f"no such Robust Video Matting file: {self.path}")
        try:
            # TorchScript archives hold code and tensors for torch's own interpreter; no Python
            # pickle of arbitrary objects is run.
            with warnings.catch_warnings():  # TorchScript is deprecated, RVM still ships it
                warnings.simplefilter("ignore", DeprecationWarning)
                self.model = torch.jit.load(str(self.path), map_location=device).eval()
        except Exception as exc:
            raise SegmenterError(
                f"{self.path.name} is not a TorchScript model torch can load ({exc})"
            ) from exc
        self.device = device
        self.work_size = int(work_size)
        self.name = f"rvm:{self.path.name}"
        self.reset()

    def reset(self) -> None:
        self._rec: list[Any] = [None, None, None, None]

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        import torch

        h, w = rgb.shape[:2]
        ratio = min(1.0, self.work_size / max(h, w))
        src = torch.from_numpy(rgb).to(self.device).permute(2, 0, 1)[None].float() / 255.0
        try:
            with torch.inference_mode():
                out = self.model(src, *self._rec, ratio)
        except Exception as exc:
            raise SegmenterError(
                f"{self.path.name} does not take RVM's inputs (src, r1..r4, downsample_ratio): "
                f"{exc}"
            ) from exc
        if not isinstance(out, (list, tuple)) or len(out) < 6:
            raise SegmenterError(
                f"{self.path.name} must return (fgr, pha, r1, r2, r3, r4); it returned "
                f"{type(out).__name__}"
            )
        self._rec = list(out[2:6])
        pha = out[1]
        return pha[0, 0].clamp(0, 1).float().cpu().numpy()


class GeneratorSegmenter(Segmenter):
    """Any ``video_mask`` contribution from the plugin registry, run guarded through it (a
    failing plugin is disabled, not the app): it gets ``frame`` (an Image) and returns a Mask."""

    def __init__(
        self,
        registry: Any,
        qualified_id: str,
        params: dict[str, Any] | None = None,
        device: str = "cpu",
    ):
        from studio.core.jobs import JobContext

        self.registry, self.qualified_id = registry, qualified_id
        self.name = qualified_id
        self.params = dict(params or {})
        self.device = device
        self._ctx = JobContext()

    def segment(self, rgb: np.ndarray) -> np.ndarray:
        from studio.core.media import Image

        result = self.registry.run(
            self.qualified_id, {**self.params, "frame": Image(rgb)}, self._ctx, self.device
        )
        alpha = result.alpha
        if alpha.dtype == np.uint8:
            return alpha.astype(np.float32) / 255.0
        return np.clip(alpha.astype(np.float32), 0.0, 1.0)

    def reset(self) -> None:
        ref = self.registry.get(self.qualified_id)
        reset = getattr(self.registry.generator(ref), "reset", None)
        if callable(reset):
            reset()


def make_segmenter(engine: str, device: str = "cpu", registry: Any = None) -> Segmenter:
    """``selfie``, ``mog2``, a path to an RVM TorchScript file, or a plugin's ``video_mask``
    contribution id (``plugin/id``). Raises :class:`SegmenterError` with a readable message."""
    engine = (engine or "selfie").strip()
    if engine == "selfie":
        return SelfieSegmenter()
    if engine == "mog2":
        return Mog2Segmenter()
    path = Path(engine).expanduser()
    if path.suffix in (".pt", ".pth", ".torchscript", ".ts") or path.is_file():
        return RvmSegmenter(path, device=device)
    if engine in BUILTIN_IDS:
        return make_segmenter(BUILTIN_IDS[engine], device)
    if "/" in engine and registry is not None:
        try:
            contribution = registry.get(engine)
        except KeyError as exc:
            raise SegmenterError(str(exc.args[0])) from None
        if contribution.kind != "video_mask":
            raise SegmenterError(f"{engine} is a {contribution.kind} generator, not a video_mask")
        return GeneratorSegmenter(registry, engine, device=device)
    raise SegmenterError(
        f"unknown segmenter {engine!r}: use selfie, mog2, a Robust Video Matting .torchscript "
        "file, or a video_mask plugin id"
    )
