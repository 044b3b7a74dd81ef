"""Background effects: what happens around the person once the matte is known. In torch, on the
same device as the refinement.

Effect specs (the CLI's ``--effect`` and the panel's choices): ``blur`` or ``blur:STRENGTH``,
``color:#RRGGBB``, ``green``, ``image:PATH``, ``video:PATH`` (looped), ``matte`` (the matte as a
grey picture), ``alpha`` (the person on transparency, RGBA), ``none`` (the frame unchanged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.video.refine import _gaussian

__all__ = ["Effect", "EffectError", "parse_effect", "Compositor", "EFFECT_KINDS", "GREEN"]

EFFECT_KINDS = ("blur", "color", "green", "image", "video", "matte", "alpha", "none")
GREEN = (0, 177, 64)  # the usual chroma-key green


class EffectError(ValueError):
    """A bad effect spec or an unreadable background (the message says which)."""


@dataclass
class Effect:
    kind: str = "blur"
    strength: float = 16.0  # blur: the background's blur radius in pixels (Gaussian sigma)
    color: tuple[int, int, int] = GREEN
    path: str = ""
    image: np.ndarray | None = field(default=None, repr=False)  # an RGB picture (image panel)

    def __post_init__(self) -> None:
        if self.kind not in EFFECT_KINDS:
            raise EffectError(f"unknown effect {self.kind!r}; use one of {', '.join(EFFECT_KINDS)}")
        if not 0 <= self.strength <= 200:
            raise EffectError("blur strength is between 0 and 200 pixels")

    @property
    def has_alpha(self) -> bool:
        return self.kind == "alpha"

    def spec(self) -> str:
        if self.kind == "blur":
            return f"blur:{self.strength:g}"
        if self.kind == "color":
            return "color:#{:02x}{:02x}{:02x}".format(*self.color)
        if self.kind in ("image", "video") and self.path:
            return f"{self.kind}:{self.path}"
        return self.kind


def parse_color(text: str) -> tuple[int, int, int]:
    text = text.strip()
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})", text)
    if not match:
        raise EffectError(f"a colour is #RRGGBB, not {text!r}")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def parse_effect(spec: str) -> Effect:
    """``blur``, ``blur:24``, ``color:#336699``, ``green``, ``image:PATH``, ``video:PATH``,
    ``matte``, ``alpha``, ``none``. Raises :class:`EffectError`."""
    spec = (spec or "blur").strip()
    kind, _, arg = spec.partition(":")
    kind = kind.lower()
    if kind == "blur":
        try:
            return Effect("blur", strength=float(arg) if arg else 16.0)
        except ValueError:
            raise EffectError(f"blur strength must be a number, not {arg!r}") from None
    if kind in ("color", "colour"):
        return Effect("color", color=parse_color(arg or "#00b140"))
    if kind in ("image", "video"):
        if not arg:
            raise EffectError(f"{kind} needs a path: {kind}:PATH")
        path = Path(arg).expanduser()
        if not path.exists():
            raise EffectError(f"background {kind} not found: {path}")
        return Effect(kind, path=str(path))
    if kind in ("green", "matte", "alpha", "none"):
        return Effect(kind)
    raise EffectError(f"unknown effect {spec!r}; use one of {', '.join(EFFECT_KINDS)}")


def _cover(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``rgb`` to cover width x height and crop the middle (no stretching)."""
    import cv2

    h, w = rgb.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y0, x0 = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


class Compositor:
    """Applies an :class:`Effect` to a frame and its matte. Keeps the background picture (or the
    background video's reader) between frames.

    The background is prepared in torch on the pipeline's device (the blur on a downscaled copy).
    The final full-resolution blend runs in torch on a GPU, and in OpenCV's 8-bit SIMD code on the
    CPU, which is several times faster there than float arithmetic on three planes;
    ``cpu_fast=False`` forces the torch blend everywhere (the tests compare the two).
    """

    def __init__(self, effect: Effect, device: str = "cpu", cpu_fast: bool = True):
        self.effect = effect
        self.device = device
        from studio.video import refine

        self.cpu_fast = cpu_fast and device == "cpu" and refine.OPENCV_ON_CPU
        self._static: np.ndarray | None = None  # HxWx3 uint8 background (colour, image)
        self._static_planes: Any = None
        self._video: Any = None
        if effect.kind == "image" and effect.image is None:
            from studio.image.io import ImageError, load_picture

            try:  # Studio's limits and words, not libpng's
                effect.image = np.ascontiguousarray(load_picture(effect.path).rgb8())
            except ImageError as exc:
                raise EffectError(f"cannot read the background image: {exc}") from None
        if effect.kind == "video":
            from studio.video.sources import FileSource, SourceError

            try:
                self._video = FileSource(effect.path)
            except SourceError as exc:
                raise EffectError(f"background video: {exc}") from exc

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
            self._video = None

    def _static_background(self, width: int, height: int) -> np.ndarray:
        if self._static is None or self._static.shape[:2] != (height, width):
            e = self.effect
            if e.kind in ("color", "green"):
                colour = e.color if e.kind == "color" else GREEN
                self._static = np.empty((height, width, 3), np.uint8)
                self._static[:] = colour
            else:
                assert e.image is not None
                image = e.image
                if image.ndim == 2:
                    image = np.repeat(image[..., None], 3, axis=2)
                if image.dtype != np.uint8:
                    image = (image / 257).astype(np.uint8)
                self._static = _cover(image[..., :3], width, height)
            self._static_planes = None
        return self._static

    def _video_background(self, width: int, height: int) -> np.ndarray:
        frame = self._video.read()
        if frame is None:  # loop
            self._video.seek(0)
            frame = self._video.read()
        return _cover(frame.pixels, width, height)

    def _blurred_small(self, frame: Any, matte: Any) -> Any:
        """The background blurred without the person's colours bleeding into it (a halo): the
        frame weighted by the background's share is blurred and normalised, on a copy
        downscaled so the blur stays cheap at any strength. Returns 1x3xhxw float (0..255)."""
        import torch
        import torch.nn.functional as F

        height, width = frame.height, frame.width
        sigma = self.effect.strength
        factor = max(1, min(int(sigma / 2), height // 4, width // 4))
        sh, sw = max(2, height // factor), max(2, width // factor)
        small = frame.rgb_at(sh, sw)
        if self.cpu_fast and (height, width) == (sh * factor, sw * factor):
            # OpenCV's area resize of the matte, then 1 - it on the small copy: a third of the
            # time of torch's full-size subtraction and pooling (the same averages: an exact
            # integer factor)
            import cv2

            low = cv2.resize(matte.numpy(), (sw, sh), interpolation=cv2.INTER_AREA)
            share = torch.from_numpy(np.subtract(1.0, low, dtype=np.float32))[None, None]
        else:
            share = F.interpolate((1.0 - matte)[None, None], size=(sh, sw), mode="area")
        stack = _gaussian(torch.cat([small * share, share, small], dim=1), sigma / factor)
        weighted, weight, plain = stack[:, :3], stack[:, 3:4], stack[:, 4:]
        # Where no background is visible nearby, fall back to the plain blur.
        trust = (weight * 4.0).clamp(max=1.0)
        return torch.lerp(plain, weighted / weight.clamp(min=1e-3), trust)

    def _blurred_small_u8(self, frame: Any, w8: np.ndarray) -> np.ndarray:
        """:meth:`_blurred_small` on the CPU in OpenCV and numpy on HxWxC arrays, from the
        matte already in 8 bits (``w8``, full size): the same picture (within a level of
        rounding) for a third of the CPU time of the torch planes. Returns hxwx3 uint8."""
        import cv2

        height, width = frame.height, frame.width
        sigma = self.effect.strength
        factor = max(1, min(int(sigma / 2), height // 4, width // 4))
        sh, sw = max(2, height // factor), max(2, width // factor)
        small = frame.rgb_u8_at(sh, sw).astype(np.float32)
        low = _area_u8(w8, sh, sw)
        # the background's share, 0..1, beside the colours it weights: one 4-channel blur
        share = cv2.convertScaleAbs(low, alpha=-1.0, beta=255.0).astype(np.float32)
        share *= 1.0 / 255.0
        weighted = cv2.merge([small * share[..., None], share])
        blur = sigma / factor
        weighted = cv2.GaussianBlur(weighted, (0, 0), blur, borderType=cv2.BORDER_REFLECT_101)
        plain = cv2.GaussianBlur(small, (0, 0), blur, borderType=cv2.BORDER_REFLECT_101)
        weight = weighted[..., 3:4]
        # where no background is visible nearby, fall back to the plain blur
        trust = np.minimum(weight * 4.0, 1.0)
        normalised = weighted[..., :3] / np.maximum(weight, 1e-3)
        normalised -= plain
        normalised *= trust
        normalised += plain
        return cv2.convertScaleAbs(normalised)

    def apply(self, frame: Any, matte: Any) -> np.ndarray:
        """``frame``: a :class:`~studio.video.refine.FrameTensors` (or an RGB array);
        ``matte``: HxW float tensor in [0, 1] on the device. Returns HxWx3 RGB uint8 (HxWx4
        RGBA for ``alpha``) as a numpy array."""
        import torch

        from studio.video.refine import FrameTensors

        if not isinstance(frame, FrameTensors):
            frame = FrameTensors(frame, self.device)
        kind = self.effect.kind
        height, width = frame.height, frame.width
        if kind == "none":
            return frame.rgb
        if kind == "matte" or kind == "alpha":
            alpha = (matte * 255.0 + 0.5).to(torch.uint8).cpu().numpy()
            if kind == "matte":
                return np.repeat(alpha[..., None], 3, axis=2)
            return np.dstack([frame.rgb, alpha])
        if kind == "blur" and self.effect.strength < 0.5:
            return frame.rgb
        if self.cpu_fast:
            import cv2

            w8 = cv2.convertScaleAbs(matte.numpy(), alpha=255.0)
            if kind == "blur":
                bg = self._blurred_small_u8(frame, w8)
                bg = cv2.resize(bg, (width, height), interpolation=cv2.INTER_LINEAR)
            elif kind == "video":
                bg = self._video_background(width, height)
            else:
                bg = self._static_background(width, height)
            return _blend_u8(frame.rgb, bg, w8)
        import torch.nn.functional as F

        if kind == "blur":
            small = self._blurred_small(frame, matte)
            bg = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)[0]
        elif kind == "video":
            bg = torch.from_numpy(self._video_background(width, height)).to(self.device)
            bg = bg.permute(2, 0, 1).float()
        else:
            if (
                self._static_planes is None
                or self._static is None
                or self._static.shape[:2] != (height, width)
            ):
                static = self._static_background(width, height)
                self._static_planes = torch.from_numpy(static).to(self.device).permute(2, 0, 1)
                self._static_planes = self._static_planes.float()
            bg = self._static_planes
        return _interleave(torch.lerp(bg, frame.planes, matte[None]))


def _area_u8(picture: np.ndarray, height: int, width: int) -> np.ndarray:
    """``picture`` area-averaged down to ``height`` x ``width``: by repeated halving when the
    factor is a power of two (OpenCV's SIMD fast path, a fraction of a direct resize's time)."""
    import cv2

    h, w = picture.shape[:2]
    factor = h // height
    if factor > 1 and not factor & (factor - 1) and (h, w) == (height * factor, width * factor):
        while picture.shape[0] > height:
            h, w = picture.shape[:2]
            picture = cv2.resize(picture, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return picture
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)


def _blend_u8(person: np.ndarray, background: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``person * weight + background * (1 - weight)`` for HxWx3 uint8 pictures and an HxW
    weight: a float in [0, 1], or uint8 0..255. In OpenCV's 8-bit SIMD arithmetic (the weight
    quantized to 1/255): half the time of ``cv2.blendLinear`` here, within one level of it, and
    exact where the weight is 0 or 1."""
    import cv2

    w8 = weight if weight.dtype == np.uint8 else cv2.convertScaleAbs(weight, alpha=255.0)
    w3 = cv2.cvtColor(w8, cv2.COLOR_GRAY2RGB)
    front = cv2.multiply(person, w3, scale=1.0 / 255.0)
    back = cv2.multiply(background, cv2.bitwise_not(w3), scale=1.0 / 255.0)
    return cv2.add(front, back, dst=front)


def _interleave(planes: Any) -> np.ndarray:
    """CxHxW float (0..255) -> HxWxC uint8 numpy, rounded."""
    import torch

    out = (planes + 0.5).clamp_(0, 255).to(torch.uint8)
    if out.device.type == "cpu":
        import cv2

        return cv2.merge(list(out.numpy()))  # faster than a transposing copy here
    return np.ascontiguousarray(out.permute(1, 2, 0).cpu().numpy())
