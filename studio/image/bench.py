"""``studio bench image``: tool previews at screen size against the full 24-megapixel picture,
style transfer at 1024x1024, x4 upscaling of 512x512, and our diffusion pipeline's speed against
plain diffusers on the same model and settings."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext

__all__ = ["bench_image", "POINT_TOOLS"]

POINT_TOOLS = ("levels", "curves", "brightness", "contrast", "saturation", "hue")
SCREEN = 1600  # the preview proxy's long side


def _timed(fn, repeat: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _photo(width: int, height: int) -> np.ndarray:
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)


def bench_image(ctx: JobContext) -> dict[str, Any]:
    """point-tool previews at screen size vs full 24 MP; heavy filters' quick and screen
    previews; style transfer 1024x1024; x4 upscaling of 512x512; diffusion steps/s ours vs
    plain diffusers"""
    import os

    from studio.image.ops import OPS, apply_op, make_proxy

    results: dict[str, Any] = {"cpu_threads": os.cpu_count()}
    full = _photo(6000, 4000)
    proxy, _scale = make_proxy(full, SCREEN)
    quick, quick_scale = make_proxy(full, SCREEN // 4)
    ctx.progress(0.02, "point tools at screen size and at full size")
    for name in POINT_TOOLS:
        ctx.check_cancelled()
        params = {p.name: p.default for p in OPS[name].params}
        screen = _timed(lambda n=name, p=params: apply_op(n, proxy, p))
        whole = _timed(lambda n=name, p=params: apply_op(n, full, p), repeat=1)
        results[f"preview_ms_{name}"] = round(screen * 1000, 1)
        results[f"full_24mp_vs_preview_{name}"] = round(whole / screen, 1)
    results["preview_ms_point_tools_max"] = max(results[f"preview_ms_{n}"] for n in POINT_TOOLS)
    ctx.progress(0.3, "heavier filters: quick and screen previews")
    mask = np.zeros(proxy.shape[:2], np.float32)
    mask[200:400, 300:600] = 1
    quick_mask = np.zeros(quick.shape[:2], np.float32)
    quick_mask[50:100, 75:150] = 1
    for name, spec in OPS.items():
        if name in POINT_TOOLS or spec.geometry:
            continue
        ctx.check_cancelled()
        params = {p.name: p.default for p in spec.params}
        results[f"quick_preview_ms_{name}"] = round(
            _timed(lambda n=name, p=params: apply_op(n, quick, p, mask=quick_mask,
                                                     scale=quick_scale), 1) * 1000, 1)  # fmt: skip
        results[f"screen_preview_ms_{name}"] = round(
            _timed(lambda n=name, p=params: apply_op(n, proxy, p, mask=mask), 1) * 1000, 1
        )
    ctx.progress(0.55, "style transfer at 1024x1024")
    from studio.image.style import stylize

    picture = _photo(1024, 1024)
    results["style_1024_s"] = round(_timed(lambda: stylize(picture, 7), 2), 3)
    results["style_1024_vs_2s_target"] = round(results["style_1024_s"] / 2.0, 3)
    results["style_from_picture_1024_s"] = round(
        _timed(lambda: stylize(picture, _style_file()), 1), 3
    )
    ctx.progress(0.65, "x4 upscaling of 512x512")
    from studio.image.upscale import upscale

    small = _photo(512, 512)
    for model in ("fast", "x4plus"):
        ctx.check_cancelled()
        began = time.perf_counter()
        upscale(small, 4, model)
        results[f"upscale_x4_512_{model}_s"] = round(time.perf_counter() - began, 2)
    ctx.progress(0.85, "diffusion: ours against plain diffusers")
    results.update(_diffusion_overhead())
    ctx.progress(1.0, "done")
    return results


_STYLE_FILE: Path | None = None


def _style_file() -> Path:
    global _STYLE_FILE
    if _STYLE_FILE is None:
        from studio.image.io import Picture, save_picture

        _STYLE_FILE = Path(tempfile.mkdtemp()) / "style.png"
        from skimage import data

        save_picture(Picture(data.coffee()), _STYLE_FILE, provenance=False)
    return _STYLE_FILE


def _diffusion_overhead(rounds: int = 5, steps: int = 10) -> dict[str, Any]:
    """Median of alternating runs, ours then plain, on the tiny pipeline at 64x64."""
    import torch

    from studio.image.diffusion import DIFFUSION_PARAMS, ENGINE, inspect_folder
    from studio.image.tiny_diffusion import make_tiny_pipeline

    with tempfile.TemporaryDirectory() as tmp:
        folder = inspect_folder(make_tiny_pipeline(Path(tmp) / "tiny"))
        request = {p.name: p.default for p in DIFFUSION_PARAMS}
        request.update(prompt="a quiet lake", seed=1, steps=steps, width=64, height=64)
        pipe = ENGINE.load(folder, "cpu")

        def ours() -> None:
            ENGINE.generate(folder, request, JobContext())

        def plain() -> None:
            pipe(request["prompt"], num_inference_steps=steps, width=64, height=64,
                 guidance_scale=request["guidance"], output_type="np",
                 generator=torch.Generator().manual_seed(1))  # fmt: skip

        ours(), plain()
        ratios = []
        for _ in range(rounds):
            a = _timed(ours, 1)
            b = _timed(plain, 1)
            ratios.append(b / a)  # ours' steps/s over plain's
    return {
        "diffusion_steps_per_s_ours_vs_plain_median": round(statistics.median(ratios), 3),
        "diffusion_model": "tiny random SD-shaped pipeline, 64x64, 10 steps, CPU",
    }
