"""Class-conditional GANs trained on the artist's own pictures (one subfolder per class).

Two architectures, the same training loop:

- ``dcgan``: the DCGAN baseline (Radford et al. 2016): transposed convolutions and batch norm in the
  generator, batch norm and leaky ReLU in the discriminator, the non-saturating logistic loss.
- ``modern``: for small sets (100-2,000 pictures): a hinge loss, spectral norm on every
  discriminator layer, a projection discriminator for the class, DiffAugment (Zhao et al. 2020:
  the same random colour, translation and cutout applied to real and generated pictures before the
  discriminator, so it cannot memorise the few real ones), and an exponential moving average of the
  generator's weights for sampling.

Text conditioning: with a captions file (``captions.json``: ``{"file.png": "caption" or
[captions]}``, or lines ``file.png<TAB>caption``) the generator is conditioned on MiniLM sentence
embeddings of the captions instead of classes (a projection discriminator on the embedding, which
also learns to reject real pictures paired with a wrong caption). The shipped icon generator
(``resources/models/image/icons-64.safetensors``, ``--engine icons``) is one, trained on OpenMoji
and game-icons.net (its card and the README give its scores).

API for the GUI and the CLI: :func:`train_gan`, :func:`load_generator`, then for class models
:func:`sample` / :func:`generate_grid`, for text models :func:`sample_prompt` /
:func:`generate_prompt_grid` (``prompt``, ``to`` for an interpolation, ``truncation``,
``transparent``), :func:`with_alpha` (RGBA icons), :func:`latents` (the seed -> latent rule),
:func:`shipped_icons_model`, :func:`read_captions`.

Training writes a checkpoint (atomically: a kill -9 loses at most the steps since the last one), a
sample grid every few minutes, and at the end the generator as a safetensors file with a card.
"""

from __future__ import annotations

import functools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "GanReport",
    "embed_prompts",
    "generate_grid",
    "generate_prompt_grid",
    "latents",
    "load_generator",
    "read_captions",
    "sample",
    "sample_prompt",
    "shipped_icons_model",
    "train_gan",
    "with_alpha",
]

KIND = "gan"
Z_DIM = 128
TEXT_DIM = 384  # MiniLM sentence embeddings
TEXT_CODE = 128  # what the generator makes of them
MODE_SEEKING = 2.0  # text models: weight of the mode-seeking term ...
MODE_TARGET = 0.25  # ... until two latents' pictures differ this much (mean |difference| per |dz|)
ARCHS = ("dcgan", "modern")
SIZES = (32, 64)


def _torch():
    import torch

    return torch


def _build(arch: str, size: int, n_classes: int, text_dim: int = 0):
    """(generator, discriminator) for ``arch`` at ``size`` px; conditioned on ``n_classes`` classes,
    or with ``text_dim`` > 0 on a text embedding of that many numbers (then ``y`` is a float
    (N, text_dim) tensor)."""
    from torch import nn
    from torch.nn.utils import spectral_norm

    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: use {' or '.join(ARCHS)}")
    if size not in SIZES:
        raise ValueError(f"size {size} is not supported: use {' or '.join(map(str, SIZES))}")
    ups = int(math.log2(size // 4))
    # narrow on purpose: the studio trains on two CPU cores; 32 px: 128-64-32-16 channels
    chans = [16 * 2 ** (ups - i) for i in range(ups + 1)]

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            if text_dim:
                self.embed = nn.Sequential(nn.Linear(text_dim, TEXT_CODE), nn.LeakyReLU(0.2))
            else:
                self.embed = nn.Embedding(n_classes, 32)
            self.fc = nn.Linear(Z_DIM + (TEXT_CODE if text_dim else 32), chans[0] * 16)
            self.bn0 = nn.BatchNorm2d(chans[0])
            layers: list[nn.Module] = []
            # text models: transposed convolutions throughout and the last one straight to RGB
            # (DCGAN's generator), 2-3x cheaper on a CPU than upsampling + 3x3 convolutions
            last = chans[-2] if text_dim else chans[-1]
            for cin, cout in zip(chans, chans[1:], strict=False):
                if text_dim and cin == last:
                    break
                if arch == "dcgan" or text_dim:
                    layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)]
                else:
                    layers += [
                        nn.Upsample(scale_factor=2),
                        nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
                    ]
                layers += [nn.BatchNorm2d(cout), nn.ReLU(True)]
            if text_dim:
                layers += [nn.ConvTranspose2d(last, 3, 4, 2, 1), nn.Tanh()]
            else:
                layers += [nn.Conv2d(chans[-1], 3, 3, 1, 1), nn.Tanh()]
            self.body = nn.Sequential(*layers)

        def forward(self, z, y):
            if text_dim:  # unit-length embeddings: scale their parts up to about unit size
                y = y * text_dim**0.5
            h = self.fc(torch_cat(z, self.embed(y))).view(len(z), chans[0], 4, 4)
            return self.body(nn.functional.relu(self.bn0(h)))

    sn = spectral_norm if arch == "modern" else (lambda m: m)

    class Discriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dchans = list(reversed(chans))
            layers: list[nn.Module] = [
                sn(nn.Conv2d(3, dchans[0], 4, 2, 1)),
                nn.LeakyReLU(0.2, True),
            ]
            for cin, cout in zip(dchans[:-1], dchans[1:-1] + [dchans[-1]], strict=False):
                layers += [sn(nn.Conv2d(cin, cout, 4, 2, 1))]
                if arch == "dcgan":
                    layers += [nn.BatchNorm2d(cout)]
                layers += [nn.LeakyReLU(0.2, True)]
            self.body = nn.Sequential(*layers)
            side = size // 2 ** len(dchans)
            self.feat = dchans[-1] * side * side
            self.out = sn(nn.Linear(self.feat, 1))
            if text_dim:
                self.embed = sn(nn.Linear(text_dim, self.feat, bias=False))
            else:
                self.embed = sn(nn.Embedding(n_classes, self.feat))

        def forward(self, x, y, y_wrong=None):
            h = self.body(x).flatten(1)
            base = self.out(h).squeeze(1)
            right = base + (self.embed(y) * h).sum(1)  # projection
            if y_wrong is None:
                return right
            return right, base + (self.embed(y_wrong) * h).sum(1)

    gen, disc = Generator(), Discriminator()
    if (
        arch == "dcgan"
    ):  # the DCGAN paper's initialisation; without it the class term's logits explode
        for m in [*gen.modules(), *disc.modules()]:
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
    return gen, disc


def torch_cat(a, b):
    return _torch().cat([a, b], dim=1)


class _Float32Hook:
    """A spectral-norm pre-forward hook run with autocast off: the power iteration and the
    normalised weight stay float32 (autocast then casts the weight for the convolution only)."""

    def __init__(self, hook, amp) -> None:
        self.hook, self.amp = hook, amp

    def __call__(self, module, inputs):
        with self.amp.full():
            return self.hook(module, inputs)


def _spectral_norm_in_fp32(net, amp) -> None:
    """Keep ``net``'s spectral norms float32 under ``amp``'s autocast (state dicts unchanged)."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    for module in net.modules():
        hooks = module._forward_pre_hooks
        for key, hook in list(hooks.items()):
            if isinstance(hook, SpectralNorm):
                hooks[key] = _Float32Hook(hook, amp)


def diff_augment(x):
    """DiffAugment's colour, translation (1/8) and cutout (1/2) policy, differentiable."""
    torch = _torch()
    n = x.shape[0]
    dev = x.device
    x = x + (torch.rand(n, 1, 1, 1, device=dev) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=dev) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=dev) + 0.5) + mean
    h, w = x.shape[2:]
    sx, sy = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=dev)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=dev)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=dev),
        torch.arange(h, device=dev),
        torch.arange(w, device=dev),
        indexing="ij",
    )
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    padded = torch.nn.functional.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    x = padded.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)
    cx, cy = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
    ox = torch.randint(0, h + (1 - cx % 2), (n, 1, 1), device=dev)
    oy = torch.randint(0, w + (1 - cy % 2), (n, 1, 1), device=dev)
    gb, gx, gy = torch.meshgrid(
        torch.arange(n, device=dev),
        torch.arange(cx, device=dev),
        torch.arange(cy, device=dev),
        indexing="ij",
    )
    gx = torch.clamp(gx + ox - cx // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cy // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=dev)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


def load_pictures(folder: str | Path, size: int, ctx=None):
    """(pixels in [-1, 1] as (N, 3, S, S) float32, class indices, class names, skipped files).

    Subfolders are classes; a folder of pictures with no subfolders is one class. Raises ValueError
    with fewer than 2 readable pictures. See :func:`_read_classes`.
    """
    return _read_classes(folder, size, ctx)[:4]


def _read_classes(folder: str | Path, size: int, ctx=None, seed: int = 0):
    """:func:`load_pictures` and a note for the user (a sample taken, a class left out), read by
    :func:`studio.image.folder.read_folder`: odd modes converted, broken files skipped and
    counted, a seeded sample of a very large folder."""
    from studio.image.folder import read_folder

    data = read_folder(folder, size, loose_as_one_class=True, seed=seed, ctx=ctx)
    if len(data.files) < 2:
        raise ValueError(
            f"{folder}: a generator needs at least 2 readable pictures, found "
            f"{len(data.files)} ({len(data.skipped)} unreadable)"
        )
    x = data.pixels
    x *= 2  # in place: a large folder's pixels are not copied twice
    x -= 1
    return x, data.targets, data.labels, data.skipped, data.note


CAPTION_FILES = ("captions.json", "captions.tsv", "captions.txt")


def read_captions(path: str | Path) -> dict[str, list[str]]:
    """A captions file: JSON ``{"file.png": "caption" | ["caption", ...] | {"captions": [...]}}``,
    or text lines ``file.png<TAB>caption`` (a file may have several lines). Raises ValueError
    saying what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the captions file {path.name}: {exc}") from exc
    out: dict[str, list[str]] = {}
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"the captions file {path.name} is not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from exc
        if not isinstance(data, dict):
            raise ValueError(
                f"the captions file {path.name} must map each picture's file name to its captions"
            )
        for name, value in data.items():
            if isinstance(value, dict):
                value = value.get("captions", value.get("caption"))
            caps = [value] if isinstance(value, str) else value
            if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
                raise ValueError(
                    f"the captions file {path.name}: {name!r} needs a caption or a list of them"
                )
            out[str(name)] = [c.strip() for c in caps if c.strip()]
    else:
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, tab, caption = line.partition("\t")
            if not tab or not caption.strip():
                raise ValueError(
                    f"the captions file {path.name}, line {number}: write FILE<TAB>CAPTION"
                )
            out.setdefault(name.strip(), []).append(caption.strip())
    out = {k: v for k, v in out.items() if v}
    if not out:
        raise ValueError(f"the captions file {path.name} has no captions")
    return out


def find_captions(folder: str | Path) -> Path | None:
    """The captions file in ``folder`` (captions.json, .tsv or .txt), if there is one."""
    for name in CAPTION_FILES:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def load_captioned(
    folder: str | Path, size: int, captions: str | Path, ctx=None, notes: list | None = None
):
    """(pixels (N, 3, S, S) in [-1, 1], per-picture caption lists, skipped files) for the pictures a
    captions file names (relative to ``folder``); past :data:`studio.image.folder.MAX_PICTURES`,
    a seeded random sample of them, said in ``notes``. Raises ValueError with fewer than 2
    usable."""
    from studio.image import folder as pictures

    read_rgb = pictures.read_rgb
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    table = read_captions(captions)
    if len(table) > pictures.MAX_PICTURES:  # memory and time stay bounded
        names = sorted(table)
        keep = np.random.default_rng(0).choice(len(names), pictures.MAX_PICTURES, replace=False)
        if notes is not None:
            notes.append(
                f"read a random {pictures.MAX_PICTURES:,} of the {len(names):,} captioned "
                f"pictures (at most {pictures.MAX_PICTURES:,})"
            )
        table = {names[i]: table[names[i]] for i in sorted(keep)}
    pixels, caps, skipped = [], [], []
    for done, (name, texts) in enumerate(sorted(table.items()), 1):
        file = root / name
        try:
            if not file.is_file():
                raise ValueError(f"{name} is not in {root.name}/")
            pixels.append(read_rgb(file, size))
            caps.append(texts)
        except ValueError as exc:
            skipped.append((str(file), str(exc)))
        if ctx is not None and done % 200 == 0:
            ctx.check_cancelled()
            ctx.progress(0.02 * done / len(table), f"reading {done}/{len(table)}")
    if len(pixels) < 2:
        raise ValueError(
            f"{root}: a generator needs at least 2 readable captioned pictures, found "
            f"{len(pixels)} ({len(skipped)} missing or unreadable)"
        )
    x = np.stack(pixels) * 2 - 1
    return x.astype(np.float32), caps, skipped


def embed_prompts(texts: list[str]) -> np.ndarray:
    """MiniLM sentence embeddings (unit length, 384 numbers) of ``texts``, cached on disk."""
    from studio.library.features import embed_texts

    return embed_texts(list(texts), cache=True)


@dataclass
class GanReport:
    steps: int
    seconds: float
    steps_per_s: float
    d_loss: float
    g_loss: float
    model_file: str
    samples_png: str
    labels: list[str]
    skipped: int
    resumed_from: int
    processes: int = 1  # > 1 under torchrun: each step then took `processes` batches
    note: str = ""  # what the user should know about the folder (a sample read, a class left out)


def _distributed(device: str) -> tuple[int, int, str, bool]:
    """(rank, world size, this process's device, whether we started the process group) under
    torchrun (WORLD_SIZE > 1): gloo on the CPU, nccl on CUDA with one GPU per process."""
    import os

    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device, False
    started = False
    if device.startswith("cuda"):
        local = int(os.environ.get("LOCAL_RANK", "0"))
        _torch().cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
        started = True
    return dist.get_rank(), dist.get_world_size(), device, started


def _foreign_checkpoint(path: Path, exc: BaseException) -> str:
    from studio.image._modelfile import error_reason, foreign_checkpoint

    return foreign_checkpoint(path, "generator", error_reason(exc))


def _read_checkpoint(path: Path) -> dict:
    """A training checkpoint written by :func:`_train`. Raises ValueError, in words, for a file
    that is damaged or not one (another program's, a torn copy), and leaves it as it is."""
    from studio.image._modelfile import load_checkpoint

    state = load_checkpoint(path, "generator")
    if not isinstance(state, dict) or not isinstance(state.get("meta"), dict):
        raise ValueError(_foreign_checkpoint(path, ValueError("no generator settings in it")))
    return state


def _refuse_other_model(output: Path) -> None:
    """Raise ValueError when ``output`` exists and is not a generator (a tagger, a music model):
    training would overwrite it."""
    from studio.image._modelfile import describe_model

    if output.is_file():
        what = describe_model(output)
        if what != "a Studio generator":
            raise ValueError(
                f"{output.name} is {what}, not a generator; it was left as it is: choose "
                "another output file (-o)"
            )


def to_pixels(images: np.ndarray) -> np.ndarray:
    """(N, 3, S, S) in [-1, 1], as the generators give them -> (N, S, S, 3) RGB uint8."""
    return ((images.transpose(0, 2, 3, 1) + 1) * 127.5).clip(0, 255).astype(np.uint8)


def _grid(images: np.ndarray, cols: int) -> np.ndarray:
    """(N, 3, S, S) in [-1, 1] -> one RGB uint8 grid with 2 px white gutters."""
    return _tile(to_pixels(images), cols, 255)


def _tile(pics: np.ndarray, cols: int, gutter: int) -> np.ndarray:
    """(N, S, S, C) uint8 pictures, ``cols`` to a row, with 2 px gutters of value ``gutter``."""
    n, s, _, channels = pics.shape
    rows = math.ceil(n / cols)
    out = np.full((rows * (s + 2) + 2, cols * (s + 2) + 2, channels), gutter, np.uint8)
    for i, pic in enumerate(pics):
        r, c = divmod(i, cols)
        out[2 + r * (s + 2) : 2 + r * (s + 2) + s, 2 + c * (s + 2) : 2 + c * (s + 2) + s] = pic
    return out


def _sample_grid(gen, conds, device, path: Path, per_class: int = 8, amp=None) -> None:
    """One row per condition in ``conds`` (class indices or text embeddings), under ``amp``'s
    autocast when given (a :class:`studio.image._precision.Precision`)."""
    import contextlib

    from PIL import Image as PILImage

    torch = _torch()
    g = torch.Generator().manual_seed(1234)
    z = torch.randn(len(conds) * per_class, Z_DIM, generator=g).to(device)
    y = conds.repeat_interleave(per_class, dim=0)
    gen.eval()
    with torch.inference_mode(), amp.autocast() if amp else contextlib.nullcontext():
        imgs = gen(z, y).float().cpu().numpy()
    gen.train()
    from studio.core.atomic import atomic_path

    with atomic_path(path) as tmp:  # the GUI reads it while training goes on; a kill keeps it whole
        PILImage.fromarray(_grid(imgs, per_class)).save(tmp, format="PNG")


def train_gan(
    folder: str | Path,
    output: str | Path,
    *,
    size: int = 32,
    arch: str = "modern",
    minutes: float | None = None,
    steps: int | None = None,
    batch: int = 64,
    seed: int = 0,
    resume: bool = True,
    sample_every_s: float = 120.0,
    checkpoint_every_s: float = 60.0,
    device: str = "cpu",
    command: str = "",
    captions: str | Path | None = None,
    precision: str = "auto",
    ctx=None,
) -> GanReport:
    """Train a class-conditional generator on ``folder`` until ``minutes`` or ``steps`` run out.

    ``output`` gets the generator (safetensors) with a card; ``output.ckpt`` holds the full state
    (both networks, optimisers, step, random state) and is picked up again when ``resume``; a
    sample grid goes to ``output.samples.png``. With a ``captions`` file (or a captions.json,
    .tsv or .txt in ``folder``) it is conditioned on text (MiniLM embeddings of the captions; the
    discriminator also learns to reject real pictures with the wrong caption) instead of classes.
    Under torchrun (``WORLD_SIZE`` > 1) it trains with DistributedDataParallel: gloo on the CPU,
    nccl on CUDA (one GPU per process). Each process takes every WORLD_SIZE-th picture (or caption
    pair) and ``batch`` of them per step; both networks' gradients are averaged across processes;
    rank 0 alone reads the clock for ``minutes``, reports progress, and writes the checkpoint, the
    samples and the model. The same seed and number of processes give the same generator.

    ``precision`` (:mod:`studio.image._precision`): ``auto`` runs both networks' passes under
    float16 autocast with a gradient scaler on CUDA and in plain float32 on the CPU; ``fp32``,
    ``bf16`` (any device) and ``fp16`` (CUDA only) choose. The losses, spectral norm, the
    averaged (EMA) generator, the weights and the checkpoint stay float32; the scaler's state is
    checkpointed and restored on resume.

    Raises ValueError for an unusable folder or captions file, or a checkpoint made with another
    architecture, size, conditioning or set of classes.
    """
    import contextlib

    rank, world, device, own_group = _distributed(device)
    try:
        return _train(
            folder, output, size=size, arch=arch, minutes=minutes, steps=steps, batch=batch,
            seed=seed, resume=resume, sample_every_s=sample_every_s,
            checkpoint_every_s=checkpoint_every_s, device=device, command=command,
            captions=captions, ctx=ctx if rank == 0 else None, rank=rank, world=world,
            precision=precision,
        )  # fmt: skip
    finally:
        if own_group:
            import torch.distributed as dist

            with contextlib.suppress(RuntimeError, ValueError):
                dist.destroy_process_group()


def _train(
    folder, output, *, size, arch, minutes, steps, batch, seed, resume, sample_every_s,
    checkpoint_every_s, device, command, captions, ctx, rank, world, precision="auto",
) -> GanReport:  # fmt: skip
    """:func:`train_gan` in one process of ``world`` (``rank`` 0 writes the files)."""
    import contextlib

    torch = _torch()
    import torch.nn.functional as F  # noqa: N812

    main = rank == 0
    distributed = world > 1
    if distributed:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

    from studio.image._modelfile import save_checkpoint
    from studio.image._precision import resolve_precision

    amp = resolve_precision(precision, device)  # before reading pictures: fp16 on a CPU fails fast
    if minutes is None and steps is None:
        minutes = 10.0
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    ckpt_path = output.with_name(output.name + ".ckpt")
    samples_path = output.with_name(output.stem + ".samples.png")
    if captions is None:
        captions = find_captions(folder)
    text_dim = TEXT_DIM if captions is not None else 0
    prompts: list[str] = []
    note = ""
    _refuse_other_model(output)
    if text_dim:
        notes: list[str] = []
        x, caps, skipped = load_captioned(folder, size, captions, ctx, notes)
        note = "; ".join(notes)
        texts = sorted({c for cs in caps for c in cs})
        index = {t: i for i, t in enumerate(texts)}
        if ctx is not None:
            ctx.progress(0.02, f"embedding {len(texts)} captions (MiniLM)")
        emb = embed_prompts(texts).astype(np.float32)
        pair_img = np.asarray([i for i, cs in enumerate(caps) for _ in cs], np.int64)
        pair_txt = np.asarray([index[c] for cs in caps for c in cs], np.int64)
        labels = []
        step_pick = max(1, len(caps) // 12)
        prompts = [caps[i][0] for i in range(0, len(caps), step_pick)][:12]
        y = pair_txt
    else:
        x, y, labels, skipped, note = _read_classes(folder, size, ctx, seed)
    n_pictures = len(x)
    if distributed:  # each process its share of the pictures (caption pairs for text models)
        if len(y) < world:
            raise ValueError(
                f"{len(y)} pictures cannot be shared among {world} processes: use fewer"
            )
        if text_dim:
            pair_img, y = pair_img[rank::world], y[rank::world]
        else:
            x, y = x[rank::world], y[rank::world]
    torch.manual_seed(seed)
    np.random.seed(seed)
    gen, disc = _build(arch, size, len(labels), text_dim)
    ema, _ = _build(arch, size, len(labels), text_dim)
    ema.load_state_dict(gen.state_dict())
    betas = (0.5, 0.999) if arch == "dcgan" else (0.0, 0.99)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=betas)
    scaler = amp.scaler()  # fp16 only: one scaler for both optimisers, updated once a step
    if amp.reduced:
        _spectral_norm_in_fp32(disc, amp)
    step = 0
    spent = 0.0
    if resume and ckpt_path.is_file():
        state = _read_checkpoint(ckpt_path)
        mine = {"arch": arch, "size": size, "labels": labels, "text_dim": text_dim}
        theirs = {k: state["meta"].get(k, 0 if k == "text_dim" else None) for k in mine}
        if theirs != mine:
            diff = ", ".join(
                f"{k} {theirs[k]!r} (now {mine[k]!r})" for k in mine if theirs[k] != mine[k]
            )
            raise ValueError(
                f"{ckpt_path.name} was made with {diff}; delete it or train with the same settings"
            )
        try:
            gen.load_state_dict(state["gen"])
            disc.load_state_dict(state["disc"])
            ema.load_state_dict(state["ema"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            step, spent = int(state["step"]), float(state["seconds"])
            torch.set_rng_state(state["rng"])
            if scaler is not None and isinstance(state.get("scaler"), dict):
                scaler.load_state_dict(state["scaler"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ValueError(_foreign_checkpoint(ckpt_path, exc)) from None
    resumed_from = step
    gen.to(device), disc.to(device), ema.to(device)
    g_net, d_net = gen, disc  # what the steps call: the same networks, DDP-wrapped under torchrun
    if distributed:
        # the networks start equal (same seed; DDP also sends rank 0's); the batches, latents
        # and augmentations differ per process but repeat for a seed, a rank and a resume step
        torch.manual_seed(seed * 1_000_003 + rank * 7919 + step)
        ids = [torch.device(device).index] if device.startswith("cuda") else None
        g_net = DistributedDataParallel(gen, device_ids=ids)
        d_net = DistributedDataParallel(disc, device_ids=ids)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    if text_dim:
        embt = torch.from_numpy(emb).to(device)
        pimg = torch.from_numpy(pair_img)
        grid_conds = embt[[index[p] for p in prompts]]
    else:
        grid_conds = torch.arange(min(len(labels), 12), device=device)
    batch = min(batch, len(xt))
    augment = diff_augment if arch == "modern" else (lambda t: t)
    t0 = time.perf_counter()
    last_ckpt = last_sample = t0
    budget = minutes * 60 if minutes is not None else None
    d_loss_v = g_loss_v = float("nan")

    def checkpoint():
        save_checkpoint(
            {
                "meta": {"arch": arch, "size": size, "labels": labels, "text_dim": text_dim},
                "gen": gen.state_dict(),
                "disc": disc.state_dict(),
                "ema": ema.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "step": step,
                "seconds": spent + time.perf_counter() - t0,
                "rng": torch.get_rng_state(),
                "precision": amp.name,
                **({"scaler": scaler.state_dict()} if scaler is not None else {}),
            },
            ckpt_path,
        )

    cancelled = False
    while True:
        elapsed = time.perf_counter() - t0
        stop = (steps is not None and step >= steps) or (budget is not None and elapsed >= budget)
        if distributed:  # rank 0's clock and cancel button decide for every process
            cancelled = cancelled or (ctx is not None and ctx.cancelled)
            flag = torch.tensor([float(stop), float(cancelled)], device=device)
            dist.broadcast(flag, 0)
            stop, cancelled = bool(flag[0] > 0), bool(flag[1] > 0)
            stop = stop or cancelled
        if stop:
            break
        z = torch.randn(batch, Z_DIM, device=device)
        if text_dim:
            idx = torch.randint(0, len(yt), (batch,))
            real, cls = xt[pimg[idx]].to(device), embt[yt[idx].to(device)]
            # the captions in pairs: two latents per caption, for the mode-seeking term below
            half = yt[torch.randint(0, len(yt), ((batch + 1) // 2,))]
            fake_cls = embt[torch.cat([half, half])[:batch].to(device)]
            wrong = embt[yt[torch.randint(0, len(yt), (batch,))].to(device)]
        else:
            idx = torch.randint(0, len(xt), (batch,))
            real, cls = xt[idx].to(device), yt[idx].to(device)
            fake_cls = yt[torch.randint(0, len(yt), (batch,))].to(device)
        with amp.autocast():
            fake = g_net(z, fake_cls)
            d_fake = d_net(augment(fake.detach()), fake_cls)
            if text_dim:  # matching-aware: a real picture with another caption counts as fake
                d_real, d_wrong = d_net(augment(real), cls, wrong)
            else:
                d_real, d_wrong = d_net(augment(real), cls), None
        # the losses in float32, outside autocast (a no-op in fp32)
        d_real, d_fake = d_real.float(), d_fake.float()
        if arch == "dcgan":
            d_loss = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
            if d_wrong is not None:
                d_loss = d_loss + 0.5 * F.softplus(d_wrong.float()).mean()
        else:
            d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            if d_wrong is not None:
                d_loss = d_loss + 0.5 * F.relu(1 + d_wrong.float()).mean()
        opt_d.zero_grad(set_to_none=True)
        if scaler is None:
            d_loss.backward()
            opt_d.step()
        else:  # skipped when the scaled gradients overflowed; the scale is updated after G's
            scaler.scale(d_loss).backward()
            scaler.step(opt_d)
        # the G step's gradients on D are thrown away: don't average them across processes
        no_sync = d_net.no_sync() if distributed else contextlib.nullcontext()
        with no_sync:
            with amp.autocast():
                g_out = d_net(augment(fake), fake_cls)
            g_out = g_out.float()
            g_loss = F.softplus(-g_out).mean() if arch == "dcgan" else -g_out.mean()
            if text_dim and batch >= 4:
                # mode seeking (Mao et al. 2019): two latents with one caption must give
                # pictures that differ, or the generator learns one picture per caption
                h = batch // 2
                pics = fake.float()
                lz = (pics[:h] - pics[h : 2 * h]).abs().mean(dim=(1, 2, 3)) / (
                    (z[:h] - z[h : 2 * h]).abs().mean(1)
                )
                g_loss = g_loss + MODE_SEEKING * F.relu(MODE_TARGET - lz).mean()
            opt_g.zero_grad(set_to_none=True)
            if scaler is None:
                g_loss.backward()
            else:
                scaler.scale(g_loss).backward()
        if scaler is None:
            opt_g.step()
        else:
            scaler.step(opt_g)
            scaler.update()
        with torch.no_grad():
            decay = 0.999 if step > 500 else 0.9
            if text_dim:  # warms up: averages over about a tenth of the steps so far
                decay = min(0.999, 1 - 1 / (1 + step / 10))
            for pe, pg in zip(ema.parameters(), gen.parameters(), strict=True):
                pe.lerp_(pg, 1 - decay)
            for be, bg in zip(ema.buffers(), gen.buffers(), strict=True):
                be.copy_(bg)
        step += 1
        d_loss_v, g_loss_v = float(d_loss.detach()), float(g_loss.detach())
        now = time.perf_counter()
        if ctx is not None:
            if not distributed:
                ctx.check_cancelled()
            frac = (now - t0) / budget if budget else step / max(steps or 1, 1)
            ctx.progress(
                min(0.02 + 0.96 * frac, 0.98), f"step {step}: D {d_loss_v:.3f}, G {g_loss_v:.3f}"
            )
        if main and now - last_ckpt >= checkpoint_every_s:
            checkpoint()
            last_ckpt = now
        if main and now - last_sample >= sample_every_s:
            shown = ema if arch == "modern" else gen
            _sample_grid(shown, grid_conds, device, samples_path, amp=amp)
            last_sample = now
            if ctx is not None:
                ctx.partial(str(samples_path))
    seconds = time.perf_counter() - t0
    if cancelled and ctx is not None:
        ctx.check_cancelled()  # rank 0 raises Cancelled once every process has stopped
    final = ema if arch == "modern" else gen
    if main:
        checkpoint()
        _sample_grid(final, grid_conds, device, samples_path, amp=amp)
    run_steps = step - resumed_from
    report = GanReport(
        step,
        spent + seconds,
        run_steps / max(seconds, 1e-9),
        d_loss_v,
        g_loss_v,
        str(output),
        str(samples_path),
        labels,
        len(skipped),
        resumed_from,
        world,
        note,
    )
    if main:
        _save_generator(
            final, output, arch, size, labels, report, n_pictures,
            folder, command, text_dim, prompts, amp.name,
        )  # fmt: skip
    if distributed:
        dist.barrier()  # the model is written before any process returns
    return report


def _save_generator(
    gen, path: Path, arch, size, labels, report, n_pictures, folder, command, text_dim=0,
    prompts=(), precision="fp32",
):  # fmt: skip
    import tomli_w
    from safetensors.torch import save_file

    from studio.core.atomic import atomic_path, write_text
    from studio.core.models import sha256_file

    state = {
        k: v.detach().float().cpu().contiguous()
        for k, v in gen.state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    meta = {
        "studio_kind": KIND,
        "arch": arch,
        "size": str(size),
        "labels": json.dumps(labels),
        "z_dim": str(Z_DIM),
        "format": "1",
        "steps": str(report.steps),
        "text_dim": str(text_dim),
        "conditioning": "text" if text_dim else "class",
        "prompts": json.dumps(list(prompts)),
    }
    if text_dim:
        meta["text_model"] = "all-minilm-l6-v2"
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    card = {
        "name": path.stem,
        "kind": "image-gan",
        "file": path.name,
        "sha256": sha256_file(path),
        "licence": "the training pictures' licence applies to this model and to what it makes",
        "source": f"trained by Studio on {n_pictures} pictures in {Path(folder).name}/ "
        + ("(captioned)" if text_dim else f"({len(labels)} classes)"),
        "command": command or f"studio image train-gan {folder} --size {size} --arch {arch}",
        "description": (
            f"{arch} text-conditioned generator (MiniLM embeddings), {size} px"
            if text_dim
            else f"{arch} class-conditional generator, {size} px, classes: "
            + ", ".join(labels[:40])
        ),
        "precision": precision,  # of the training run that finished it (weights: float32)
        "metrics": {
            "steps": report.steps,
            "train_seconds": round(report.seconds, 1),
            "steps_per_s": round(report.steps_per_s, 3),
        },
    }
    write_text(path.with_name(path.name + ".card.toml"), tomli_w.dumps(card))


@dataclass
class LoadedGenerator:
    net: object
    arch: str
    size: int
    labels: list[str]
    text_dim: int = 0  # > 0: conditioned on MiniLM text embeddings of this size
    prompts: tuple[str, ...] = ()  # example captions from its training set

    @property
    def text(self) -> bool:
        return self.text_dim > 0


def load_generator(path: str | Path, device: str = "cpu") -> LoadedGenerator:
    """A generator saved by :func:`train_gan`. Raises ValueError for any other file."""
    from safetensors.torch import load_file

    from studio.image._modelfile import studio_metadata

    path = Path(path)
    meta = studio_metadata(path, KIND, "generator")
    try:
        labels, size, arch = json.loads(meta["labels"]), int(meta["size"]), meta["arch"]
        text_dim = int(meta.get("text_dim", "0") or 0)
        prompts = tuple(json.loads(meta.get("prompts", "[]")))
        gen, _ = _build(arch, size, len(labels), text_dim)
        own = gen.state_dict()
        own.update(load_file(str(path)))
        gen.load_state_dict(own)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path.name} is a damaged or incompatible generator: {exc}") from exc
    return LoadedGenerator(gen.to(device).eval(), arch, size, labels, text_dim, prompts)


def latents(n: int, seed: int, truncation: float = 0.0):
    """``n`` latent vectors from ``seed``; with ``truncation`` > 0 every value beyond it is drawn
    again (the truncation trick: fewer odd pictures, less variety). The same as the Generate tab."""
    torch = _torch()
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, Z_DIM, generator=g)
    if truncation and truncation > 0:
        for _ in range(50):
            out = z.abs() > truncation
            if not out.any():
                break
            z[out] = torch.randn(int(out.sum()), generator=g)
        z = z.clamp(-truncation, truncation)
    return z


def sample_prompt(
    model: LoadedGenerator,
    n: int,
    seed: int,
    prompt: str,
    *,
    to: str | None = None,
    truncation: float = 0.0,
    device: str = "auto",
    precision: str = "auto",
) -> np.ndarray:
    """``n`` pictures (N, 3, S, S) float32 in [-1, 1] of ``prompt`` from a text-conditioned
    generator. With ``to``, one latent walks from ``prompt`` to ``to`` in ``n`` steps (an
    interpolation). The same seed and prompt give the same pictures. ``device`` "auto": the
    model's; ``precision`` (:mod:`studio.image._precision`) "auto": float16 autocast on CUDA,
    float32 on the CPU. Raises ValueError for an empty prompt or a class-conditional
    generator."""
    torch = _torch()
    if not model.text:
        raise ValueError(
            "this generator was trained on classes, not captions: use a class (--label) instead "
            "of a prompt"
        )
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValueError("type a prompt: what the icons should show")
    texts = [prompt] + ([to.strip()] if to and to.strip() else [])
    emb = torch.from_numpy(np.asarray(embed_prompts(texts), np.float32))
    if len(texts) == 2:
        t = torch.linspace(0, 1, n).unsqueeze(1)
        cond = emb[0] * (1 - t) + emb[1] * t
        cond = cond / cond.norm(dim=1, keepdim=True).clamp_min(1e-6)
        z = latents(1, seed, truncation).repeat(n, 1)
    else:
        cond = emb[0].repeat(n, 1)
        z = latents(n, seed, truncation)
    return _draw(model, z, cond, device, precision)


def _draw(model: LoadedGenerator, z, cond, device: str, precision: str) -> np.ndarray:
    """The generator on latents ``z`` and conditions ``cond`` (class indices or embeddings) on
    ``device`` ("auto": the model's), under ``precision``'s autocast: (N, 3, S, S) float32."""
    from studio.image._precision import resolve_precision

    torch = _torch()
    if device == "auto":
        device = str(next(model.net.parameters()).device)
    amp = resolve_precision(precision, device)
    with torch.inference_mode(), amp.autocast():
        out = model.net(z.to(device), cond.to(device))
    return out.float().cpu().numpy()


def with_alpha(images: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """(N, 3, S, S) in [-1, 1] -> (N, S, S, 4) uint8 RGBA: the near-white background that touches
    the border becomes transparent (soft at its edge); white inside the icon stays."""
    from scipy import ndimage

    rgb = to_pixels(images)
    out = np.empty((*rgb.shape[:3], 4), np.uint8)
    out[..., :3] = rgb
    whiteness = rgb.min(axis=3) / 255.0
    for i, w in enumerate(whiteness):
        regions, _ = ndimage.label(w > threshold)
        border = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
        background = np.isin(regions, border[border > 0])
        alpha = np.ones_like(w)
        alpha[background] = ((1 - w[background]) / (1 - threshold)).clip(0, 1)
        out[i, ..., 3] = (alpha * 255).round().astype(np.uint8)
    return out


def generate_prompt_grid(
    model: LoadedGenerator,
    n: int,
    seed: int,
    prompt: str,
    *,
    to: str | None = None,
    truncation: float = 0.0,
    transparent: bool = False,
    cols: int | None = None,
    scale: int = 1,
) -> np.ndarray:
    """A grid (uint8, RGB, or RGBA with ``transparent``) of ``n`` icons of ``prompt`` (see
    :func:`sample_prompt`), each ``scale`` times larger (nearest neighbour)."""
    images = sample_prompt(model, n, seed, prompt, to=to, truncation=truncation)
    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
    cols = cols or min(n, 8)
    if not transparent:
        return _grid(images, cols)
    return _tile(with_alpha(images), cols, 0)  # transparent gutters


def shipped_icons_model() -> Path:
    """The shipped text-to-icon generator (``resources/models/image/icons-*.safetensors``).
    Raises ValueError when this installation has none."""
    from studio.core.resources import resource_path

    folder = resource_path("models", "image")
    found = sorted(folder.glob("icons-*.safetensors")) if folder.is_dir() else []
    if not found:
        raise ValueError("this Studio has no shipped icon generator (resources/models/image)")
    _check_card(str(found[-1]))
    return found[-1]


@functools.lru_cache(maxsize=8)
def _check_card(path: str) -> None:
    """The file against the sha256 on its card, once per session. Raises ValueError."""
    import tomllib

    from studio.core.models import sha256_file

    card = Path(path + ".card.toml")
    try:
        want = tomllib.loads(card.read_text(encoding="utf-8"))["sha256"]
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{Path(path).name} has no readable card ({card.name}): {exc}") from exc
    if sha256_file(Path(path)) != want:
        raise ValueError(
            f"{Path(path).name} does not match the sha256 on its card: damaged or replaced"
        )


def sample(
    model: LoadedGenerator,
    n: int,
    seed: int,
    label: str | int | None = None,
    device: str = "auto",
    truncation: float = 0.0,
    precision: str = "auto",
) -> tuple[np.ndarray, list[int]]:
    """``n`` pictures (N, 3, S, S) float32 in [-1, 1] and their class indices. ``label``: a
    class name or index (default: the classes in turn). The same seed gives the same pictures.
    ``device`` "auto": the model's; ``precision`` "auto": float16 autocast on CUDA, float32 on
    the CPU. Raises ValueError for a label the model does not know.
    """
    torch = _torch()
    if model.text:
        raise ValueError("this generator draws from text: give a prompt (--prompt) instead")
    if label is None or label == "":
        classes = [i % len(model.labels) for i in range(n)]
    else:
        if isinstance(label, str) and label in model.labels:
            index = model.labels.index(label)
        elif str(label).isdigit() and int(label) < len(model.labels):
            index = int(label)
        else:
            close = [lab for lab in model.labels if str(label).lower() in lab.lower()]
            if len(close) == 1:
                index = model.labels.index(close[0])
            else:
                raise ValueError(
                    f"the generator has no class {label!r}; it has: {', '.join(model.labels[:30])}"
                )
        classes = [index] * n
    z = latents(n, seed, truncation)
    return _draw(model, z, torch.tensor(classes), device, precision), classes


def generate_grid(
    model: LoadedGenerator,
    n: int,
    seed: int,
    label=None,
    cols: int | None = None,
    truncation: float = 0.0,
):
    """An RGB uint8 grid of ``n`` samples (see :func:`sample`)."""
    images, _ = sample(model, n, seed, label, truncation=truncation)
    return _grid(images, cols or min(n, 8))
