"""``studio bench image``: tool previews at screen size against the full 24-megapixel picture,
style transfer at 1024x1024, x4 upscaling of 512x512, our diffusion pipeline's speed against
plain diffusers on the same model and settings, and the image models of our own: GAN training
steps per second (dcgan against modern, equal batch, on the CPU and on CUDA when present), icons
per second at 64 px and the first icon's latency from a warm click, and the tagger's images per
second for training and inference (Lite0 transfer against the CNN from scratch)."""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext

__all__ = ["bench_image", "gan_training_rows", "icon_rows", "tagger_rows", "POINT_TOOLS"]

POINT_TOOLS = ("levels", "curves", "brightness", "contrast", "saturation", "hue")
SCREEN = 1600  # the preview proxy's long side
SHAPE_COLOURS = (("red", (220, 40, 30)), ("green", (30, 170, 60)), ("blue", (30, 70, 220)))


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
    plain diffusers; GAN training steps/s dcgan vs modern; icons/s and first-icon latency;
    tagger images/s, transfer vs from scratch"""
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
    ctx.progress(0.88, "GAN training steps per second: dcgan against modern")
    results.update(gan_training_rows(ctx))
    ctx.progress(0.93, "icons per second and the first icon's latency")
    results.update(icon_rows(ctx))
    ctx.progress(0.96, "tagger: training and inference, transfer against from scratch")
    results.update(tagger_rows(ctx))
    results["load_average"] = round(os.getloadavg()[0], 2)
    ctx.progress(1.0, "done")
    return results


@contextlib.contextmanager
def _cache_in(folder: Path):
    """The user cache folder moved to ``folder`` for a while: the rows below embed made-up
    prompts and extract features of made-up pictures, which must neither be found cached nor
    be left in the artist's cache."""
    old = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(folder)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old


def _shapes_folder(root: Path, per_class: int, size: int = 64, seed: int = 0) -> Path:
    """``root/<colour>/<i>.png``: three classes of coloured discs and squares on white, made here
    (no data set needed), the kind of picture the generator and tagger learn from."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    for label, colour in SHAPE_COLOURS:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pic = PILImage.new("RGB", (size, size), "white")
            draw = ImageDraw.Draw(pic)
            r = int(rng.integers(size // 6, size // 3))
            cx, cy = rng.integers(r, size - r, 2)
            box = (int(cx - r), int(cy - r), int(cx + r), int(cy + r))
            (draw.ellipse if i % 2 else draw.rectangle)(box, fill=colour)
            pic.save(root / label / f"{i}.png")
    return root


def gan_training_rows(
    ctx: JobContext, seconds: float = 8.0, rounds: int = 2, size: int = 64, batch: int = 32
) -> dict[str, Any]:
    """Training steps per second of ``studio image train-gan``'s loop, dcgan against modern at
    equal batch, alternating ``rounds`` times for ``seconds`` each (medians), on the CPU and on
    CUDA when present."""
    import torch

    from studio.image.gan import train_gan

    out: dict[str, Any] = {"gan_train_setting": f"{size} px, batch {batch}, 3 classes"}
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with tempfile.TemporaryDirectory() as tmp:
        folder = _shapes_folder(Path(tmp) / "pics", max(batch, 12), size)
        for device in devices:
            rates: dict[str, list[float]] = {"dcgan": [], "modern": []}
            for r in range(rounds):
                for arch in ("dcgan", "modern"):
                    ctx.check_cancelled()
                    report = train_gan(
                        folder, Path(tmp) / f"{arch}-{r}.safetensors", size=size, arch=arch,
                        minutes=seconds / 60, batch=batch, resume=False, device=device,
                        sample_every_s=1e9, checkpoint_every_s=1e9,
                    )  # fmt: skip
                    rates[arch].append(report.steps_per_s)
            dcgan, modern = statistics.median(rates["dcgan"]), statistics.median(rates["modern"])
            out[f"gan_train_steps_per_s_dcgan_{device}"] = round(dcgan, 3)
            out[f"gan_train_steps_per_s_modern_{device}"] = round(modern, 3)
            out[f"gan_train_modern_vs_dcgan_{device}"] = round(modern / dcgan, 3)
    return out


def icon_rows(ctx: JobContext, n: int = 64, rounds: int = 3) -> dict[str, Any]:
    """Icons per second at 64 px (``n`` in one batch, one prompt) and the first icon's latency
    from a warm click (model and MiniLM loaded, a prompt never typed before: the Generate tab's
    whole path, embedding included), against the prompt's embedding alone. The shipped icon
    generator when there is one, else the same text-conditioned network untrained (speed does
    not depend on the weights)."""
    import secrets

    from studio.image import gan_models
    from studio.image.gan import embed_prompts, load_generator, sample_prompt

    words = ("dragon", "sword", "cat face", "potion", "castle", "shield", "tree", "skull")
    with tempfile.TemporaryDirectory() as tmp, _cache_in(Path(tmp) / "cache"):
        try:
            from studio.image.gan import shipped_icons_model

            path, source = shipped_icons_model(), "shipped icon generator"
        except ValueError:
            path, source = _untrained_icon_model(Path(tmp)), "untrained text generator, 64 px"
        model = load_generator(path)
        sample_prompt(model, 2, 0, "a red dragon")  # warm: the network and MiniLM loaded
        per_batch = []
        for r in range(rounds):
            ctx.check_cancelled()
            began = time.perf_counter()
            sample_prompt(model, n, r, "a red dragon")
            per_batch.append(time.perf_counter() - began)
        request = {"model": str(path), "count": 1, "seed": 1}
        gan_models.generate({**request, "prompt": "a blue shield"})  # the engine's model warm
        first, embed = [], []
        for r in range(rounds):
            ctx.check_cancelled()
            nonce = secrets.token_hex(3)  # a new prompt: nothing cached
            prompt = f"a {words[r % len(words)]} {nonce}"
            began = time.perf_counter()
            gan_models.generate({**request, "prompt": prompt})
            first.append(time.perf_counter() - began)
            began = time.perf_counter()
            embed_prompts([f"{prompt} again"])
            embed.append(time.perf_counter() - began)
    first_ms = statistics.median(first) * 1000
    embed_ms = statistics.median(embed) * 1000
    return {
        "icon_model": source,
        "icons_per_s_64px": round(n / statistics.median(per_batch), 1),
        "first_icon_warm_ms": round(first_ms, 1),
        "first_icon_prompt_embedding_ms": round(embed_ms, 1),
        "first_icon_vs_embedding_alone": round(first_ms / embed_ms, 2),
    }


def _untrained_icon_model(tmp: Path) -> Path:
    """A text-conditioned 64 px generator after one training step on captioned shapes."""
    import json

    from studio.image.gan import train_gan

    folder = _shapes_folder(tmp / "captioned", 4)
    captions = {
        f"{label}/{i}.png": f"a {label} {'disc' if i % 2 else 'square'}"
        for label in ("red", "green", "blue")
        for i in range(4)
    }
    (folder / "captions.json").write_text(json.dumps(captions), encoding="utf-8")
    out = tmp / "icons-untrained.safetensors"
    train_gan(folder, out, size=64, arch="modern", steps=1, batch=4, resume=False)
    return out


def tagger_rows(
    ctx: JobContext, per_class: int = 40, epochs: int = 8, infer_n: int = 256, rounds: int = 3
) -> dict[str, Any]:
    """Images per second of ``studio image train-tagger`` for training and inference,
    EfficientNet-Lite0 transfer (a linear head on its features, mirror images included) against
    the small CNN from scratch, on three classes of shapes at 64 px, in one run. Training: each
    model's own figure from its training report. Inference: each saved tagger loaded as
    ``studio image tag`` loads it, predicting the same ``infer_n`` pictures (median of
    ``rounds``), so both rates are on equal input."""
    from studio.image.tagger import load_labelled_folder, load_tagger, train_tagger

    out: dict[str, Any] = {
        "tagger_setting": f"3 classes x {per_class} pictures, 64 px, scratch {epochs} epochs, "
        f"inference on {infer_n} pictures"
    }
    with tempfile.TemporaryDirectory() as tmp, _cache_in(Path(tmp) / "cache"):
        folder = _shapes_folder(Path(tmp) / "pics", per_class)
        pixels = load_labelled_folder(folder, 64).pixels
        batch = np.resize(pixels, (infer_n, *pixels.shape[1:]))  # repeated to infer_n pictures
        for name in ("transfer", "scratch"):
            ctx.check_cancelled()
            file = Path(tmp) / f"{name}.safetensors"
            report = train_tagger(folder, file, epochs=epochs, seed=0, models=(name,))
            out[f"tagger_train_images_per_s_{name}"] = round(
                report.models[name]["train_images_per_s"], 1
            )
            tagger = load_tagger(file)
            tagger.predict(batch[:8])  # warm
            times = []
            for _ in range(rounds):
                began = time.perf_counter()
                tagger.predict(batch)
                times.append(time.perf_counter() - began)
            out[f"tagger_infer_images_per_s_{name}"] = round(infer_n / statistics.median(times), 1)
    for what in ("train", "infer"):
        t = out[f"tagger_{what}_images_per_s_transfer"]
        s = out[f"tagger_{what}_images_per_s_scratch"]
        out[f"tagger_{what}_transfer_vs_scratch"] = round(t / s, 3)
    return out


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
