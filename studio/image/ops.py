"""Classic editing operations (OpenCV): geometry, tone and colour, filters, inpainting, GrabCut,
photographic effects, and the person cut-out with the video panel's segmenter.

Each operation is declared once in :data:`OPS` with its parameters as :class:`Param` data (the
panel builds its controls from them and the CLI parses ``name=value``). :func:`apply_op` runs one on
a picture's pixels (uint8 or uint16, RGB or RGBA; 16 bits are kept by the tone and colour tools,
the photographic filters work at 8 bits). A mask limits a tool to the masked area. ``scale`` runs
an operation on a downscaled proxy with its pixel sizes scaled to match (the panel's preview).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.plugins.api import Param

__all__ = ["OpSpec", "OPS", "apply_op", "parse_op", "make_proxy", "OpError", "describe_op"]


class OpError(ValueError):
    """A bad operation or parameter (the message says which)."""


@dataclass(frozen=True)
class OpSpec:
    name: str
    title: str
    fn: Callable[..., np.ndarray]
    params: tuple[Param, ...] = ()
    heavy: bool = False  # slow at full size: the panel previews it small first
    geometry: bool = False  # changes the size: a mask does not apply
    group: str = "filters"
    positional: tuple[str, ...] = ()  # how `name=a,b,c` maps to parameters in the CLI

    def resolve(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        params = dict(params or {})
        out = {}
        for p in self.params:
            out[p.name] = p.check(params.pop(p.name, p.default))
        for key, value in params.items():
            if key == "mask":
                out[key] = value
                continue
            raise OpError(f"{self.name} has no parameter {key!r}")
        return out


# -- helpers ---------------------------------------------------------------------------------------
def _max(pixels: np.ndarray) -> float:
    return 65535.0 if pixels.dtype == np.uint16 else 255.0


def _to_float(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., :3].astype(np.float32) / _max(pixels)


def _from_float(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    top = _max(like)
    out = (np.clip(values, 0.0, 1.0) * top + 0.5).astype(like.dtype)
    if like.shape[2] == 4:
        out = np.dstack([out, like[..., 3]])
    return out


def _eight(pixels: np.ndarray) -> np.ndarray:
    from studio.image.io import to_uint8

    return np.ascontiguousarray(to_uint8(pixels[..., :3]))


def _back(rgb8: np.ndarray, like: np.ndarray) -> np.ndarray:
    """An 8-bit RGB result in the depth and channels of ``like``."""
    out = rgb8.astype(np.uint16) * 257 if like.dtype == np.uint16 else rgb8
    if like.shape[2] == 4:
        out = np.dstack([out, like[..., 3]])
    return out


def _odd(radius: float) -> int:
    return max(1, int(round(radius)) * 2 + 1)


# -- geometry --------------------------------------------------------------------------------------
def _crop(p, x, y, width, height, scale=1.0, **_):
    h, w = p.shape[:2]
    x0, y0 = int(round(x * scale)), int(round(y * scale))
    x1 = w if width <= 0 else min(w, x0 + max(1, int(round(width * scale))))
    y1 = h if height <= 0 else min(h, y0 + max(1, int(round(height * scale))))
    if x0 >= w or y0 >= h or x1 <= x0 or y1 <= y0:
        raise OpError(f"the crop {x},{y} {width}x{height} is outside the {w}x{h} picture")
    return np.ascontiguousarray(p[y0:y1, x0:x1])


def _rotate(p, angle, scale=1.0, **_):
    import cv2

    turns = (angle / 90.0) % 4
    if abs(turns - round(turns)) < 1e-9:
        return np.ascontiguousarray(np.rot90(p, -int(round(turns)) % 4))
    h, w = p.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    nw, nh = int(h * sin + w * cos + 0.5), int(h * cos + w * sin + 0.5)
    matrix[0, 2] += nw / 2 - w / 2
    matrix[1, 2] += nh / 2 - h / 2
    if p.shape[2] == 3:  # the new corners are transparent
        p = np.dstack([p, np.full(p.shape[:2], _max(p), p.dtype)])
    return cv2.warpAffine(
        p, matrix, (nw, nh), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
        borderValue=(0, 0, 0, 0),
    )  # fmt: skip


def _resize(p, width, height, scale=1.0, **_):
    import cv2

    h, w = p.shape[:2]
    if width <= 0 and height <= 0:
        raise OpError("resize needs a width or a height")
    if width <= 0:
        width = round(w / scale * height / (h / scale))
    if height <= 0:
        height = round(h / scale * width / (w / scale))
    tw, th = max(1, round(width * scale)), max(1, round(height * scale))
    if tw * th > 250_000_000:
        raise OpError(f"{width}x{height} is larger than Studio's 250 megapixels")
    shrink = tw < w or th < h
    return cv2.resize(p, (tw, th), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)


# -- tone and colour -------------------------------------------------------------------------------
def _point(p: np.ndarray, curve) -> np.ndarray:
    """Apply ``curve`` (0..1 -> 0..1, vectorised) to every colour channel through a lookup table
    of the picture's depth: the same result as per-pixel arithmetic, several times faster."""
    import cv2

    if p.dtype == np.uint8:
        lut = (np.clip(curve(np.linspace(0, 1, 256)), 0, 1) * 255 + 0.5).astype(np.uint8)
        rgb = cv2.LUT(np.ascontiguousarray(p[..., :3]), lut)
    else:
        table = np.clip(curve(np.linspace(0, 1, 65536)), 0, 1) * 65535 + 0.5
        rgb = table.astype(np.uint16)[p[..., :3]]
    return np.dstack([rgb, p[..., 3]]) if p.shape[2] == 4 else rgb


def _levels(p, black, white, gamma, **_):
    if white <= black:
        raise OpError("levels: white must be above black")
    lo, span = black / 255.0, (white - black) / 255.0
    return _point(p, lambda v: np.power(np.clip((v - lo) / span, 0, 1), 1.0 / gamma))


def _curve_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        pairs = [tuple(float(v) for v in part.split(":")) for part in text.split(",") if part]
        xs, ys = zip(*pairs, strict=True)
    except ValueError:
        raise OpError(
            f"curves are IN:OUT pairs like 0:0,64:40,192:220,255:255, not {text!r}"
        ) from None
    xs_a, ys_a = np.asarray(xs), np.asarray(ys)
    order = np.argsort(xs_a)
    return xs_a[order] / 255.0, ys_a[order] / 255.0


def _curves(p, points, **_):
    from scipy.interpolate import PchipInterpolator

    xs, ys = _curve_points(points)
    if len(xs) < 2 or len(set(xs.tolist())) != len(xs):
        raise OpError("curves need at least two points with different inputs")
    return _point(p, PchipInterpolator(xs, ys, extrapolate=True))


def _brightness(p, amount, **_):
    return _point(p, lambda v: v + amount / 100.0)


def _contrast(p, amount, **_):
    return _point(p, lambda v: (v - 0.5) * amount + 0.5)


def _colour_matrix(p: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Every pixel's RGB times a 3x3 matrix (OpenCV's transform: one pass, any depth)."""
    import cv2

    rgb = np.ascontiguousarray(p[..., :3])
    out = cv2.transform(rgb.astype(np.float32), matrix.astype(np.float32))
    out = np.clip(out + 0.5, 0, _max(p)).astype(p.dtype)
    return np.dstack([out, p[..., 3]]) if p.shape[2] == 4 else out


_LUMA = np.array([0.299, 0.587, 0.114])


def _saturation(p, amount, **_):
    # each colour moves away from (or towards) its own grey by ``amount``
    grey = np.tile(_LUMA, (3, 1))
    return _colour_matrix(p, grey + amount * (np.eye(3) - grey))


def _hue(p, degrees, **_):
    # a rotation of the colours around the grey axis (in YIQ), luminance kept
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    theta = np.radians(degrees)
    rotate = np.array(
        [[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]]
    )
    return _colour_matrix(p, np.linalg.inv(to_yiq) @ rotate @ to_yiq)


# -- filters ---------------------------------------------------------------------------------------
def _blur(p, radius, scale=1.0, **_):
    import cv2

    sigma = radius * scale
    if sigma < 0.3:
        return p
    rgb = cv2.GaussianBlur(p[..., :3], (0, 0), sigma)
    return np.dstack([rgb, p[..., 3]]) if p.shape[2] == 4 else rgb


def _sharpen(p, amount, radius, scale=1.0, **_):
    import cv2

    v = _to_float(p)
    soft = cv2.GaussianBlur(v, (0, 0), max(0.3, radius * scale))
    return _from_float(v + amount * (v - soft), p)


def _denoise(p, strength, **_):
    import cv2

    out = cv2.fastNlMeansDenoisingColored(_eight(p), None, strength, strength, 7, 21)
    return _back(out, p)


def _mask_u8(mask: Any, shape: tuple[int, int], name: str) -> np.ndarray:
    import cv2

    if mask is None:
        raise OpError(f"{name} needs a mask: paint one, or give {name}=MASK.png")
    if isinstance(mask, (str, Path)):
        from studio.image.io import load_picture

        mask = load_picture(mask).pixels
        mask = (
            mask[..., 3]
            if mask.shape[2] == 4 and mask[..., 3].min() < mask[..., 3].max()
            else mask[..., :3].mean(axis=2)
        )
        mask = mask / (65535.0 if mask.max() > 255 else 255.0)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.shape != shape:
        mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return (mask > 0.5).astype(np.uint8) * 255


def _inpaint(p, radius, mask=None, scale=1.0, **_):
    import cv2

    hole = _mask_u8(mask, p.shape[:2], "inpaint")
    if not hole.any():
        raise OpError("inpaint: the mask is empty; paint over what to remove")
    out = cv2.inpaint(_eight(p), hole, max(1.0, radius * scale), cv2.INPAINT_TELEA)
    return _back(out, p)


GRABCUT_SIDE = 640


def _grabcut(p, x, y, width, height, iterations, mask=None, scale=1.0, **_):
    """The foreground inside a rectangle (or around a painted mask) on transparency."""
    import cv2

    full = _eight(p)
    rgb = full
    if max(full.shape[:2]) > GRABCUT_SIDE:  # GrabCut's cost grows fast with size
        rgb, shrink = make_proxy(full, GRABCUT_SIDE)
        scale *= shrink
    h, w = rgb.shape[:2]
    model_bg, model_fg = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    labels = np.zeros((h, w), np.uint8)
    if mask is not None:
        hint = _mask_u8(mask, (h, w), "grabcut")
        labels[:] = cv2.GC_PR_BGD
        labels[hint > 0] = cv2.GC_PR_FGD
        cv2.grabCut(rgb, labels, None, model_bg, model_fg, iterations, cv2.GC_INIT_WITH_MASK)
    else:
        rx, ry = int(x * scale), int(y * scale)
        rw = int(width * scale) if width > 0 else w - 2 * max(1, w // 20)
        rh = int(height * scale) if height > 0 else h - 2 * max(1, h // 20)
        if width <= 0:
            rx = max(1, w // 20)
        if height <= 0:
            ry = max(1, h // 20)
        rect = (rx, ry, max(2, min(rw, w - rx - 1)), max(2, min(rh, h - ry - 1)))
        cv2.grabCut(rgb, labels, rect, model_bg, model_fg, iterations, cv2.GC_INIT_WITH_RECT)
    fg = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    if (h, w) != full.shape[:2]:
        # solved on a proxy: the matte is brought to full size by the Video panel's guided
        # filter, so its edges follow the full-resolution picture
        import torch

        from studio.video.refine import MaskRefiner, RefineSettings

        refiner = MaskRefiner(RefineSettings(smooth=0.0, feather=1.0))
        with torch.inference_mode():
            alpha = refiner.refine(full, fg).numpy()
    else:
        alpha = cv2.GaussianBlur(fg, (0, 0), 0.8)
    return _with_alpha(p, alpha)


def _with_alpha(p: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    top = _max(p)
    a = (np.clip(alpha, 0, 1) * top + 0.5).astype(p.dtype)
    if p.shape[2] == 4:  # keep what was already transparent
        a = np.minimum(a, p[..., 3])
    return np.dstack([p[..., :3], a])


def _stylize(p, smoothness, edges, **_):
    import cv2

    return _back(cv2.stylization(_eight(p), sigma_s=smoothness, sigma_r=edges), p)


def _sketch(p, smoothness, shade, colour, **_):
    import cv2

    grey, coloured = cv2.pencilSketch(
        _eight(p), sigma_s=smoothness, sigma_r=0.07, shade_factor=shade
    )
    out = coloured if colour else cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    return _back(out, p)


def _detail(p, smoothness, edges, **_):
    import cv2

    return _back(cv2.detailEnhance(_eight(p), sigma_s=smoothness, sigma_r=edges), p)


def _cutout(p, smooth, feather, threshold, **_):
    """The person on transparency, found by the Video panel's segmenter and refined the same way."""
    from studio.image.cutout import person_matte

    return _with_alpha(p, person_matte(_eight(p), feather=feather, threshold=threshold))


def _f(name, default, lo, hi, step=None, label="", help=""):
    return Param(name, "float", default, label=label, help=help, minimum=lo, maximum=hi, step=step)


def _i(name, default, lo, hi, label="", help=""):
    return Param(name, "int", default, label=label, help=help, minimum=lo, maximum=hi)


OPS: dict[str, OpSpec] = {
    spec.name: spec
    for spec in (
        OpSpec(
            "crop",
            "Crop",
            _crop,
            (
                _i("x", 0, 0, 10**6),
                _i("y", 0, 0, 10**6),
                _i("width", 0, 0, 10**6, help="0: to the right edge"),
                _i("height", 0, 0, 10**6, help="0: to the bottom edge"),
            ),
            geometry=True,
            group="geometry",
            positional=("x", "y", "width", "height"),
        ),
        OpSpec(
            "rotate",
            "Rotate",
            _rotate,
            (_f("angle", 90.0, -360, 360, 1, help="degrees, clockwise"),),
            geometry=True,
            group="geometry",
            positional=("angle",),
        ),
        OpSpec(
            "resize",
            "Resize",
            _resize,
            (
                _i("width", 0, 0, 100000, help="0: keep the proportions"),
                _i("height", 0, 0, 100000, help="0: keep the proportions"),
            ),
            geometry=True,
            group="geometry",
            positional=("width", "height"),
        ),
        OpSpec(
            "levels",
            "Levels",
            _levels,
            (
                _f("black", 0.0, 0, 254, 1),
                _f("white", 255.0, 1, 255, 1),
                _f("gamma", 1.0, 0.1, 10, 0.05),
            ),
            group="tone",
            positional=("black", "white", "gamma"),
        ),
        OpSpec(
            "curves",
            "Curves",
            _curves,
            (Param("points", "str", "0:0,64:56,192:200,255:255", help="IN:OUT pairs, 0..255"),),
            group="tone",
            positional=("points",),
        ),
        OpSpec(
            "brightness",
            "Brightness",
            _brightness,
            (_f("amount", 10.0, -100, 100, 1),),
            group="tone",
            positional=("amount",),
        ),
        OpSpec(
            "contrast",
            "Contrast",
            _contrast,
            (_f("amount", 1.2, 0, 3, 0.05),),
            group="tone",
            positional=("amount",),
        ),
        OpSpec(
            "saturation",
            "Saturation",
            _saturation,
            (_f("amount", 1.2, 0, 3, 0.05),),
            group="tone",
            positional=("amount",),
        ),
        OpSpec(
            "hue",
            "Hue",
            _hue,
            (_f("degrees", 15.0, -180, 180, 1),),
            group="tone",
            positional=("degrees",),
        ),
        OpSpec("blur", "Blur", _blur, (_f("radius", 2.0, 0, 200, 0.5),), positional=("radius",)),
        OpSpec(
            "sharpen",
            "Sharpen",
            _sharpen,
            (_f("amount", 0.8, 0, 5, 0.1), _f("radius", 1.5, 0.3, 50, 0.1)),
            positional=("amount", "radius"),
        ),
        OpSpec(
            "denoise",
            "Denoise",
            _denoise,
            (_f("strength", 7.0, 1, 30, 1),),
            heavy=True,
            positional=("strength",),
        ),
        OpSpec(
            "inpaint",
            "Inpaint (remove the masked area)",
            _inpaint,
            (_f("radius", 5.0, 1, 50, 1),),
            heavy=True,
            positional=("mask",),
        ),
        OpSpec(
            "grabcut",
            "GrabCut cut-out",
            _grabcut,
            (
                _i("x", 0, 0, 10**6),
                _i("y", 0, 0, 10**6),
                _i("width", 0, 0, 10**6, help="0: the whole picture less a margin"),
                _i("height", 0, 0, 10**6),
                _i("iterations", 4, 1, 20),
            ),
            heavy=True,
            group="cut-out",
            positional=("x", "y", "width", "height"),
        ),
        OpSpec(
            "cutout",
            "Person cut-out",
            _cutout,
            (
                _f("smooth", 0.0, 0, 0.98, 0.05),
                _f("feather", 1.5, 0, 50, 0.5),
                _f("threshold", 0.0, 0, 1, 0.05),
            ),
            heavy=True,
            group="cut-out",
        ),
        OpSpec(
            "stylize",
            "Stylize (edge-preserving)",
            _stylize,
            (_f("smoothness", 60.0, 1, 200, 1), _f("edges", 0.45, 0.01, 1, 0.01)),
            heavy=True,
            group="effects",
        ),
        OpSpec(
            "sketch",
            "Pencil sketch",
            _sketch,
            (
                _f("smoothness", 60.0, 1, 200, 1),
                _f("shade", 0.05, 0, 0.1, 0.005),
                Param("colour", "bool", False),
            ),
            heavy=True,
            group="effects",
        ),
        OpSpec(
            "detail",
            "Detail enhance",
            _detail,
            (_f("smoothness", 10.0, 1, 200, 1), _f("edges", 0.15, 0.01, 1, 0.01)),
            heavy=True,
            group="effects",
        ),
    )
}


def describe_op(name: str, params: dict[str, Any]) -> str:
    """``resize width=1024 height=768``: for the history and the provenance."""
    shown = " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items() if k != "mask")  # fmt: skip
    return f"{name} {shown}".strip()


def apply_op(
    name: str,
    pixels: np.ndarray,
    params: dict[str, Any] | None = None,
    mask: np.ndarray | None = None,
    scale: float = 1.0,
) -> np.ndarray:
    """Run operation ``name`` on ``pixels``. ``mask`` (HxW, 0..1) limits a non-geometry tool to the
    masked area (inpaint and GrabCut use it as their input). Raises :class:`OpError`."""
    spec = OPS.get(name)
    if spec is None:
        raise OpError(f"unknown operation {name!r}; use one of {', '.join(OPS)}")
    try:
        values = spec.resolve(params)
    except ValueError as exc:
        raise OpError(f"{name}: {exc}") from None
    given = values.pop("mask", None)  # inpaint=MASK.png on the command line
    takes_mask = name in ("inpaint", "grabcut")
    tool_mask = (given if given is not None else mask) if takes_mask else None
    out = spec.fn(pixels, scale=scale, mask=tool_mask, **values)
    if mask is not None and not takes_mask and not spec.geometry:
        import cv2

        m = np.asarray(mask, np.float32)
        if m.shape != pixels.shape[:2]:
            m = cv2.resize(m, (pixels.shape[1], pixels.shape[0]))
        if out.shape[2] != pixels.shape[2]:  # a cut-out inside a mask: keep the rest opaque
            base = np.dstack([pixels, np.full(pixels.shape[:2], _max(pixels), pixels.dtype)])
        else:
            base = pixels
        blend = base.astype(np.float32) + m[..., None] * (out.astype(np.float32) - base)
        out = (blend + 0.5).astype(pixels.dtype)
    return out


def parse_op(token: str) -> tuple[str, dict[str, Any]]:
    """``resize=1024x768``, ``crop=10,10,200,100``, ``levels=10,240,1.2``, ``curves=0:0,...``,
    ``inpaint=MASK.png``, ``blur=3``, ``sketch``, ``brightness=amount:20``... into (name, params).
    Raises :class:`OpError`."""
    name, _, arg = token.partition("=")
    name = name.strip().lower()
    spec = OPS.get(name)
    if spec is None:
        raise OpError(f"unknown operation {name!r}; use one of {', '.join(OPS)}")
    if not arg:
        return name, {}
    params: dict[str, Any] = {}
    if name == "inpaint" or (name == "grabcut" and not arg[0].isdigit()):
        return name, {"mask": arg}
    if name == "curves":
        return name, {"points": arg}
    if name == "resize" and "x" in arg.lower():
        w, _, h = arg.lower().partition("x")
        return name, {"width": int(w or 0), "height": int(h or 0)}
    parts = arg.split(",")
    if all(":" in part for part in parts) and name != "curves":
        for part in parts:
            key, _, value = part.partition(":")
            params[key.strip()] = value.strip()
        return name, params
    if len(parts) > len(spec.positional):
        raise OpError(f"{name} takes {', '.join(spec.positional) or 'no values'}")
    for key, value in zip(spec.positional, parts, strict=False):
        params[key] = value
    return name, params


def make_proxy(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A downscaled 8-bit copy whose long side is at most ``max_side``, and its scale."""
    import cv2

    from studio.image.io import to_uint8

    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = to_uint8(pixels)
    if scale < 1.0:
        small = cv2.resize(small, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
    return np.ascontiguousarray(small), scale
