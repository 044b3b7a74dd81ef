"""Mask refinement in torch (the GPU when there is one, the CPU otherwise).

The segmenter's low-resolution mask becomes a full-resolution matte that follows the frame's edges
(a fast guided filter, He and Sun 2015: the filter's coefficients are solved on a downscaled guide
and applied at full resolution), stays still where the picture is still (temporal smoothing that
follows motion, so a moving person leaves no ghost), and takes the artist's threshold, grow/shrink
and feather.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.plugins.api import Param

__all__ = [
    "REFINE_PARAMS",
    "RefineSettings",
    "MaskRefiner",
    "guided_filter",
    "gray",
    "FrameTensors",
    "full_resolution_guided",
]


#: The artist's matte controls, declared once: the panel's spin boxes, the CLI's defaults and the
#: settings check take their ranges and defaults from here.
REFINE_PARAMS = (
    Param(
        "smooth",
        "float",
        0.6,
        label="Smoothing",
        minimum=0.0,
        maximum=0.98,
        step=0.05,
        help="temporal smoothing: steadies flicker where the picture is still, follows motion",
    ),
    Param(
        "threshold",
        "float",
        0.0,
        label="Threshold",
        minimum=0.0,
        maximum=1.0,
        step=0.05,
        help="0 keeps a soft matte; above 0, a hard cut: the matte is only in or out, split "
        "where the person's probability crosses this value",
    ),
    Param(
        "feather",
        "float",
        1.5,
        label="Feather",
        minimum=0.0,
        maximum=100.0,
        step=0.5,
        help="edge softness in pixels",
    ),
    Param(
        "grow",
        "float",
        0.0,
        label="Grow / shrink",
        minimum=-100.0,
        maximum=100.0,
        step=1.0,
        help="pixels added around the person (negative: taken away)",
    ),
)


@dataclass
class RefineSettings:
    """``smooth`` 0..0.98 (0: none); ``threshold`` 0..1 (0: a soft matte; else a hard cut, the
    matte only 0 or 1, where the probability crosses it: grow, the guided filter and the feather
    then only move and smooth the edge's path); ``feather`` in full-resolution pixels; ``grow``
    in pixels (negative shrinks); ``guided``: follow the frame's edges; ``guide_size``: long
    side of the downscaled guide."""

    smooth: float = REFINE_PARAMS[0].default
    threshold: float = REFINE_PARAMS[1].default
    feather: float = REFINE_PARAMS[2].default
    grow: float = REFINE_PARAMS[3].default
    guided: bool = True
    guide_size: int = 384
    radius: int = 4
    eps: float = 2e-3

    def __post_init__(self) -> None:
        for param in REFINE_PARAMS:  # ValueError naming the control and its range
            setattr(self, param.name, param.check(getattr(self, param.name)))
        if not 64 <= int(self.guide_size) <= 4096:
            raise ValueError("guide_size must be between 64 and 4096")


def _torch():
    import torch

    return torch


#: On the CPU, OpenCV does the full-resolution per-pixel work and the small filters (measured two
#: to ten times faster there than torch); torch does it all on a GPU. Off: torch everywhere.
OPENCV_ON_CPU = True


#: On the CPU, apply the guided filter's coefficients at half the frame's size and upsample the
#: matte once (when the guide is at most a quarter of the frame). Off: at full size.
HALF_SIZE_APPLY = True


class FrameTensors:
    """One frame's pixels as the pipeline needs them, made lazily and once: the numpy RGB
    picture, its luma at full and at guide size, and its planes on the device.

    On the CPU, OpenCV makes the luma and the downscaled copies (several times cheaper than
    torch's per-pixel arithmetic there); on a GPU, torch does, after one upload.
    """

    def __init__(self, rgb: np.ndarray, device: str = "cpu"):
        self.rgb = np.ascontiguousarray(rgb)
        self.device = device
        self.height, self.width = self.rgb.shape[:2]
        self._planes: Any = None
        self._luma: Any = None
        self._luma_u8: np.ndarray | None = None
        self._halves: list[np.ndarray] = [self.rgb]  # the picture halved again and again

    def _halved(self, height: int, width: int) -> np.ndarray | None:
        """The RGB picture at ``height`` x ``width`` when that is the full size divided by a
        power of two, by repeated 2x2 area averaging (OpenCV's SIMD fast path: at 720p the
        three halvings down to 1/8 cost a third of one direct 1/8 area resize, and give the same
        averages within a level of rounding per halving after the first, a fifth of a level
        on average); None for any other size."""
        factor = self.height // height if height else 0
        if (
            factor < 1
            or factor & (factor - 1)
            or (self.height, self.width)
            != (
                height * factor,
                width * factor,
            )
        ):
            return None
        level = self._halves[-1]
        while level.shape[0] > height and level.shape[0] % 2 == 0 and level.shape[1] % 2 == 0:
            import cv2

            h, w = level.shape[:2]
            level = cv2.resize(level, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
            self._halves.append(level)
        for level in self._halves:
            if level.shape[:2] == (height, width):
                return level
        return None

    @property
    def on_cpu(self) -> bool:
        """True when OpenCV does the per-pixel work (the CPU, unless :data:`OPENCV_ON_CPU` is
        off: the tests turn it off to run the GPU's torch code on the CPU)."""
        return self.device == "cpu" and OPENCV_ON_CPU

    @property
    def planes(self) -> Any:
        """3xHxW float32 (0..255) on the device."""
        if self._planes is None:
            torch = _torch()
            if self.on_cpu:  # numpy's transposing copy is the fastest way here
                self._planes = torch.from_numpy(self.rgb.transpose(2, 0, 1).astype(np.float32))
            else:
                tensor = torch.from_numpy(self.rgb).to(self.device, non_blocking=True)
                self._planes = tensor.permute(2, 0, 1).float()
        return self._planes

    @property
    def luma(self) -> Any:
        """1x1xHxW float32 luma (0..255) on the device."""
        if self._luma is None:
            torch = _torch()
            if self.on_cpu:
                self._luma = torch.from_numpy(self._gray_u8()).float()[None, None]
            else:
                self._luma = gray(self.planes)
        return self._luma

    def _gray_u8(self) -> np.ndarray:
        if self._luma_u8 is None:
            import cv2

            self._luma_u8 = cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)
        return self._luma_u8

    def luma_at(self, height: int, width: int) -> Any:
        """1x1xhxw float32 luma (0..255), downscaled with area averaging."""
        torch = _torch()
        import torch.nn.functional as F

        if (height, width) == (self.height, self.width):
            return self.luma
        if self.on_cpu:
            import cv2

            halved = self._halved(height, width)
            if halved is not None:  # the luma of the averaged colours: the same, far cheaper
                small = cv2.cvtColor(halved, cv2.COLOR_RGB2GRAY)
            else:
                small = cv2.resize(self._gray_u8(), (width, height), interpolation=cv2.INTER_AREA)
            return torch.from_numpy(small).float()[None, None]
        return F.interpolate(self.luma, size=(height, width), mode="bilinear", antialias=True)

    def rgb_u8_at(self, height: int, width: int) -> np.ndarray:
        """HxWx3 uint8 numpy RGB downscaled with area averaging (CPU)."""
        halved = self._halved(height, width)
        if halved is not None:
            return halved
        import cv2

        return cv2.resize(self.rgb, (width, height), interpolation=cv2.INTER_AREA)

    def rgb_at(self, height: int, width: int) -> Any:
        """1x3xhxw float32 (0..255), downscaled with area averaging."""
        torch = _torch()
        import torch.nn.functional as F

        if self.on_cpu:
            small = self.rgb_u8_at(height, width)
            return torch.from_numpy(small.transpose(2, 0, 1).astype(np.float32))[None]
        return F.interpolate(
            self.planes[None], size=(height, width), mode="bilinear", antialias=True
        )


def gray(frame: Any) -> Any:
    """3xHxW float tensor (0..255) -> 1x1xHxW float luma (0..255)."""
    luma = frame[0] * 0.299 + frame[1] * 0.587 + frame[2] * 0.114
    return luma[None, None]


def _cpu_planes(x: Any) -> np.ndarray | None:
    """A CPU float32 tensor's planes as one numpy array (a view), or None for other tensors."""
    torch = _torch()
    if x.device.type != "cpu" or x.dtype != torch.float32 or not OPENCV_ON_CPU:
        return None
    return x.contiguous().reshape(-1, *x.shape[-2:]).numpy()


def _box(x: Any, r: int) -> Any:
    """Mean over a (2r+1)-square window, edges replicated; by running sums, so its cost does not
    grow with the radius."""
    import torch.nn.functional as F

    if r <= 0:
        return x
    r = min(r, x.shape[-1] - 1, x.shape[-2] - 1)
    planes = _cpu_planes(x)
    if planes is not None:  # OpenCV's box filter: several times faster on the CPU
        import cv2

        torch = _torch()
        out = np.stack(
            [cv2.blur(p, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE) for p in planes]
        )
        return torch.from_numpy(out).reshape(x.shape)
    n = 2 * r + 1
    c = F.pad(x, (r + 1, r, 0, 0), mode="replicate").cumsum(-1)
    x = (c[..., n:] - c[..., :-n]) / n
    c = F.pad(x, (0, 0, r + 1, r), mode="replicate").cumsum(-2)
    return (c[..., n:, :] - c[..., :-n, :]) / n


def _gaussian(x: Any, sigma: float) -> Any:
    """Separable Gaussian blur of a 1xCxHxW tensor (reflect padding)."""
    torch = _torch()
    import torch.nn.functional as F

    if sigma < 0.3:
        return x
    planes = _cpu_planes(x)
    if planes is not None:
        # OpenCV's SIMD Gaussian is several times faster than a depthwise conv on the CPU
        import cv2

        out = np.stack(
            [cv2.GaussianBlur(p, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101) for p in planes]
        )
        return torch.from_numpy(out).reshape(x.shape)
    radius = max(1, int(3 * sigma + 0.5))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(t * t) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    c = x.shape[1]
    kx = kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), kx, groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), ky, groups=c)


def guided_filter(guide: Any, src: Any, radius: int, eps: float) -> tuple[Any, Any]:
    """The guided filter's linear coefficients (a, b) for a 1x1xHxW guide and source: the output
    is ``a * guide + b``. Returned separately so they can be upsampled (the fast variant)."""
    torch = _torch()
    i_plane, p_plane = _cpu_planes(guide), _cpu_planes(src)
    if i_plane is not None and p_plane is not None and radius > 0:
        a, b = _guided_cpu(i_plane[0], p_plane[0], radius, eps)
        return torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None]
    means = _box(torch.cat([guide, src, guide * guide, guide * src], dim=1), radius)
    mean_i, mean_p, corr_i, corr_ip = means.split(1, dim=1)
    a = (corr_ip - mean_i * mean_p) / (corr_i - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    ab = _box(torch.cat([a, b], dim=1), radius)
    return ab[:, :1], ab[:, 1:]


def _guided_cpu(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> tuple:
    """:func:`guided_filter` for HxW float32 numpy planes, in OpenCV on interleaved channels
    (one box filter pass for the four means, one for the two coefficients): the same numbers
    for half the CPU time of the torch planes at guide size. Returns HxW (a, b)."""
    import cv2

    r = min(radius, guide.shape[-1] - 1, guide.shape[-2] - 1)
    size = (2 * r + 1, 2 * r + 1)
    stack = cv2.merge([guide, src, guide * guide, guide * src])
    means = cv2.blur(stack, size, borderType=cv2.BORDER_REPLICATE)
    mean_i, mean_p, corr_i, corr_ip = cv2.split(means)
    var = corr_i - mean_i * mean_i
    var += eps
    a = corr_ip - mean_i * mean_p
    a /= var
    b = mean_p - a * mean_i
    ab = cv2.blur(cv2.merge([a, b]), size, borderType=cv2.BORDER_REPLICATE)
    a, b = cv2.split(ab)
    return a, b


class MaskRefiner:
    """Turns each frame's low-resolution mask into its full-resolution matte. Keeps the previous
    frame's state for temporal smoothing: call :meth:`reset` on a cut, a seek or a new source."""

    #: Guide change (luma, after a light blur) below this counts as noise, above it as motion.
    motion_floor = 0.03
    motion_span = 0.05

    def __init__(self, settings: RefineSettings | None = None, device: str = "cpu"):
        self.settings = settings or RefineSettings()
        self.device = device
        self.reset()

    def reset(self) -> None:
        self._prev_guide: Any = None
        self._prev_mask: Any = None

    def _guide_shape(self, height: int, width: int) -> tuple[int, int]:
        # an integer downscale factor: OpenCV's area resize has a fast path for those
        factor = max(1, math.ceil(max(height, width) / self.settings.guide_size))
        return max(8, round(height / factor)), max(8, round(width / factor))

    def _refine_cpu(self, frame: FrameTensors, mask: np.ndarray) -> np.ndarray:
        """:meth:`refine` on the CPU, in OpenCV and numpy on HxW float32 arrays from start to
        end (the same steps as the torch code, which then runs on a GPU only): at guide size,
        torch's per-call overhead was a good part of the step's time."""
        import cv2

        if self._prev_mask is not None and not isinstance(self._prev_mask, np.ndarray):
            self.reset()  # state of the torch path: start afresh
        s = self.settings
        height, width = frame.height, frame.width
        gh, gw = self._guide_shape(height, width)
        guide = frame.luma_at(gh, gw)[0, 0].numpy() * np.float32(1.0 / 255.0)
        low = np.ascontiguousarray(mask, np.float32)
        p = (
            low
            if low.shape == (gh, gw)
            else cv2.resize(low, (gw, gh), interpolation=cv2.INTER_LINEAR)
        )
        p = np.clip(p, 0.0, 1.0)

        blurred = _box_np(guide, 2)
        if s.smooth > 0 and self._prev_mask is not None and self._prev_mask.shape == p.shape:
            motion = _box_np(cv2.absdiff(blurred, self._prev_guide), 2)
            follow = motion - self.motion_floor
            follow *= 1.0 / self.motion_span
            np.clip(follow, 0.0, 1.0, out=follow)
            rate = follow
            rate *= s.smooth
            rate += 1.0 - s.smooth
            p -= self._prev_mask
            p *= rate
            p += self._prev_mask
        self._prev_guide = blurred
        self._prev_mask = p

        if s.threshold > 0:
            p = np.clip((p - s.threshold) * 5.0 + 0.5, 0.0, 1.0)
        grow = s.grow * gw / width
        if abs(grow) >= 0.5:
            k = 2 * round(abs(grow)) + 1
            kernel = np.ones((k, k), np.uint8)
            p = cv2.dilate(p, kernel) if grow > 0 else cv2.erode(p, kernel)

        if s.guided:
            a, b = _guided_cpu(guide, p, s.radius, s.eps)
            a *= 1.0 / 255.0  # applied to the luma in 0..255
        else:
            a, b = None, p
        feather = s.feather * gw / width
        if feather >= 0.3:

            def soften(x: np.ndarray) -> np.ndarray:
                return cv2.GaussianBlur(x, (0, 0), feather, borderType=cv2.BORDER_REFLECT_101)

            b = soften(b)
            a = None if a is None else soften(a)
        size, luma = _apply_size(frame, height, width, gh, gw, guided=a is not None)
        halved = size != (width, height)
        out = cv2.resize(b, size, interpolation=cv2.INTER_LINEAR)
        if a is not None:
            gain = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR)
            # times the 8-bit luma as it is: no float copy of it
            cv2.multiply(gain, luma, dst=gain, dtype=cv2.CV_32F)
            out += gain
        if s.threshold > 0:  # a hard cut: no grey left (issue 18: 22% was)
            if halved:
                out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
            return (out >= 0.5).astype(np.float32)
        np.clip(out, 0.0, 1.0, out=out)
        if halved:  # bilinear: stays within 0..1
            out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
        return out

    def refine(self, frame: FrameTensors | np.ndarray, mask: np.ndarray) -> Any:
        """``frame``: the RGB frame (or its :class:`FrameTensors`); ``mask``: the segmenter's
        float mask at any size. Returns the HxW float matte in [0, 1] on the device."""
        torch = _torch()
        import torch.nn.functional as F

        if not isinstance(frame, FrameTensors):
            frame = FrameTensors(frame, self.device)
        if frame.on_cpu:
            return torch.from_numpy(self._refine_cpu(frame, mask))
        if isinstance(self._prev_mask, np.ndarray):  # state of the CPU path: start afresh
            self.reset()
        s = self.settings
        height, width = frame.height, frame.width
        gh, gw = self._guide_shape(height, width)
        guide = frame.luma_at(gh, gw) * (1.0 / 255.0)
        low = torch.from_numpy(np.ascontiguousarray(mask, np.float32)).to(self.device)[None, None]
        p = F.interpolate(low, size=(gh, gw), mode="bilinear", align_corners=False)
        p = p.clamp_(0.0, 1.0)

        if s.smooth > 0 and self._prev_mask is not None and self._prev_mask.shape == p.shape:
            blurred = _box(guide, 2)
            motion = _box((blurred - self._prev_guide).abs(), 2)
            follow = ((motion - self.motion_floor) / self.motion_span).clamp_(0.0, 1.0)
            rate = (1.0 - s.smooth) + s.smooth * follow
            p = self._prev_mask + rate * (p - self._prev_mask)
            self._prev_guide = blurred
        else:
            self._prev_guide = _box(guide, 2)
        self._prev_mask = p

        if s.threshold > 0:
            p = ((p - s.threshold) * 5.0 + 0.5).clamp(0.0, 1.0)
        grow = s.grow * gw / width
        if abs(grow) >= 0.5:
            k = 2 * round(abs(grow)) + 1
            p = (
                F.max_pool2d(p, k, stride=1, padding=k // 2)
                if grow > 0
                else -F.max_pool2d(-p, k, stride=1, padding=k // 2)
            )

        if s.guided:
            a, b = guided_filter(guide, p, s.radius, s.eps)
            a = a * (1.0 / 255.0)  # applied to the full-resolution luma in 0..255
        else:
            a, b = torch.zeros_like(p), p
        feather = s.feather * gw / width
        if feather >= 0.3:
            a, b = _gaussian(a, feather), _gaussian(b, feather)
        if frame.on_cpu:
            # OpenCV's resize and numpy's in-place arithmetic: half the time of torch's here
            import cv2

            size, luma = _apply_size(frame, height, width, gh, gw, guided=s.guided)
            halved = size != (width, height)
            out = cv2.resize(b[0, 0].contiguous().numpy(), size, interpolation=cv2.INTER_LINEAR)
            if s.guided:
                gain = cv2.resize(
                    a[0, 0].contiguous().numpy(), size, interpolation=cv2.INTER_LINEAR
                )
                # times the 8-bit luma as it is: no float copy of it
                cv2.multiply(gain, luma, dst=gain, dtype=cv2.CV_32F)
                out += gain
            if halved:
                np.clip(out, 0.0, 1.0, out=out)
                out = cv2.resize(out, (width, height), interpolation=cv2.INTER_LINEAR)
            if s.threshold > 0:  # a hard cut: no grey left (issue 18: 22% was)
                return torch.from_numpy((out >= 0.5).astype(np.float32))
            np.clip(out, 0.0, 1.0, out=out)
            return torch.from_numpy(out)
        if (gh, gw) != (height, width):
            ab = torch.cat([a, b], dim=1) if s.guided else b
            ab = F.interpolate(ab, size=(height, width), mode="bilinear", align_corners=False)
            a, b = ab[:, :1], ab[:, -1:]
        matte = torch.addcmul(b, a, frame.luma) if s.guided else b
        if s.threshold > 0:  # a hard cut: no grey left
            return (matte[0, 0] >= 0.5).float()
        return matte[0, 0].clamp_(0.0, 1.0)


def _apply_size(
    frame: FrameTensors, height: int, width: int, gh: int, gw: int, guided: bool
) -> tuple[tuple[int, int], np.ndarray | None]:
    """The (width, height) the guided filter's coefficients are applied at, and the frame's luma
    there (None unguided). Half size when the guide is at most a quarter of the frame (the matte
    then upsampled once): a quarter of the full-size arithmetic."""
    import cv2

    half = None
    if HALF_SIZE_APPLY and guided and gh * 4 <= height and gw * 4 <= width:
        half = frame._halved(height // 2, width // 2)
    if half is not None:
        return (half.shape[1], half.shape[0]), cv2.cvtColor(half, cv2.COLOR_RGB2GRAY)
    return (width, height), (frame._gray_u8() if guided else None)


def _box_np(x: np.ndarray, r: int) -> np.ndarray:
    """:func:`_box` for an HxW or HxWxC float32 numpy array."""
    import cv2

    r = min(r, x.shape[1] - 1, x.shape[0] - 1)
    if r <= 0:
        return x
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REPLICATE)


def full_resolution_guided(frame: FrameTensors, mask: np.ndarray, radius: int, eps: float) -> Any:
    """The plain guided filter at full resolution (the benchmark's baseline for the fast one)."""
    torch = _torch()
    import torch.nn.functional as F

    luma = frame.luma * (1.0 / 255.0)
    low = torch.from_numpy(np.ascontiguousarray(mask, np.float32)).to(luma.device)[None, None]
    p = F.interpolate(low, size=luma.shape[-2:], mode="bilinear", align_corners=False)
    a, b = guided_filter(luma, p, radius, eps)
    return (a * luma + b)[0, 0].clamp_(0.0, 1.0)
