"""Class-conditional GANs trained on the artist's own pictures (one subfolder per class).

Two architectures, the same training loop:

- ``dcgan``: the DCGAN baseline (Radford et al. 2016): transposed convolutions and batch norm in the
  generator, batch norm and leaky ReLU in the discriminator, the non-saturating logistic loss.
- ``modern``: for small sets (100-2,000 pictures): a hinge loss, spectral norm on every
  discriminator layer, a projection discriminator for the class, DiffAugment (Zhao et al. 2020:
  the same random colour, translation and cutout applied to real and generated pictures before the
  discriminator, so it cannot memorise the few real ones), and an exponential moving average of the
  generator's weights for sampling.

Training writes a checkpoint (atomically: a kill -9 loses at most the steps since the last one), a
sample grid every few minutes, and at the end the generator as a safetensors file with a card.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["GanReport", "generate_grid", "load_generator", "train_gan", "sample"]

KIND = "gan"
Z_DIM = 128
ARCHS = ("dcgan", "modern")
SIZES = (32, 64)


def _torch():
    import torch

    return torch


def _build(arch: str, size: int, n_classes: int):
    """(generator, discriminator) for ``arch`` at ``size`` px."""
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
            self.embed = nn.Embedding(n_classes, 32)
            self.fc = nn.Linear(Z_DIM + 32, chans[0] * 16)
            self.bn0 = nn.BatchNorm2d(chans[0])
            layers: list[nn.Module] = []
            for cin, cout in zip(chans, chans[1:], strict=False):
                if arch == "dcgan":
                    layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)]
                else:
                    layers += [
                        nn.Upsample(scale_factor=2),
                        nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
                    ]
                layers += [nn.BatchNorm2d(cout), nn.ReLU(True)]
            layers += [nn.Conv2d(chans[-1], 3, 3, 1, 1), nn.Tanh()]
            self.body = nn.Sequential(*layers)

        def forward(self, z, y):
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
            self.embed = sn(nn.Embedding(n_classes, self.feat))

        def forward(self, x, y):
            h = self.body(x).flatten(1)
            return self.out(h).squeeze(1) + (self.embed(y) * h).sum(1)  # projection

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
    with fewer than 2 readable pictures.
    """
    from studio.image.tagger import IMAGE_SUFFIXES, read_rgb

    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups: list[tuple[str, list[Path]]] = []
    for sub in subs:
        files = sorted(f for f in sub.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
        if files:
            groups.append((sub.name, files))
    loose = sorted(f for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
    if not groups:
        groups = [("all", loose)]
    pixels, targets, skipped = [], [], []
    total = sum(len(f) for _, f in groups)
    done = 0
    for index, (_name, files) in enumerate(groups):
        for file in files:
            done += 1
            try:
                pixels.append(read_rgb(file, size))
                targets.append(index)
            except ValueError as exc:
                skipped.append((str(file), str(exc)))
            if ctx is not None and done % 200 == 0:
                ctx.check_cancelled()
                ctx.progress(0.02 * done / total, f"reading {done}/{total}")
    if len(pixels) < 2:
        raise ValueError(
            f"{root}: a generator needs at least 2 readable pictures, found "
            f"{len(pixels)} ({len(skipped)} unreadable)"
        )
    x = np.stack(pixels) * 2 - 1
    return x.astype(np.float32), np.asarray(targets, np.int64), [g for g, _ in groups], skipped


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


def _save_atomic(obj: dict, path: Path) -> None:
    from studio.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        _torch().save(obj, tmp)


def _grid(images: np.ndarray, cols: int) -> np.ndarray:
    """(N, 3, S, S) in [-1, 1] -> one RGB uint8 grid with 2 px white gutters."""
    n, _, s, _ = images.shape
    rows = math.ceil(n / cols)
    out = np.full((rows * (s + 2) + 2, cols * (s + 2) + 2, 3), 255, np.uint8)
    pics = ((images.transpose(0, 2, 3, 1) + 1) * 127.5).clip(0, 255).astype(np.uint8)
    for i, pic in enumerate(pics):
        r, c = divmod(i, cols)
        out[2 + r * (s + 2) : 2 + r * (s + 2) + s, 2 + c * (s + 2) : 2 + c * (s + 2) + s] = pic
    return out


def _sample_grid(gen, labels, device, path: Path, per_class: int = 8) -> None:
    from PIL import Image as PILImage

    torch = _torch()
    shown = list(range(min(len(labels), 12)))
    g = torch.Generator().manual_seed(1234)
    z = torch.randn(len(shown) * per_class, Z_DIM, generator=g).to(device)
    y = torch.tensor([c for c in shown for _ in range(per_class)], device=device)
    gen.eval()
    with torch.inference_mode():
        imgs = gen(z, y).float().cpu().numpy()
    gen.train()
    PILImage.fromarray(_grid(imgs, per_class)).save(path)


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
    ctx=None,
) -> GanReport:
    """Train a class-conditional generator on ``folder`` until ``minutes`` or ``steps`` run out.

    ``output`` gets the generator (safetensors) with a card; ``output.ckpt`` holds the full state
    (both networks, optimisers, step, random state) and is picked up again when ``resume``; a
    sample grid goes to ``output.samples.png``. Raises ValueError for an unusable folder or a
    checkpoint made with another architecture, size or set of classes.
    """
    torch = _torch()
    import torch.nn.functional as F  # noqa: N812

    if minutes is None and steps is None:
        minutes = 10.0
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    ckpt_path = output.with_name(output.name + ".ckpt")
    samples_path = output.with_name(output.stem + ".samples.png")
    x, y, labels, skipped = load_pictures(folder, size, ctx)
    torch.manual_seed(seed)
    np.random.seed(seed)
    gen, disc = _build(arch, size, len(labels))
    ema, _ = _build(arch, size, len(labels))
    ema.load_state_dict(gen.state_dict())
    betas = (0.5, 0.999) if arch == "dcgan" else (0.0, 0.99)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=betas)
    step = 0
    spent = 0.0
    if resume and ckpt_path.is_file():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        mine = {"arch": arch, "size": size, "labels": labels}
        theirs = {k: state["meta"].get(k) for k in mine}
        if theirs != mine:
            diff = ", ".join(
                f"{k} {theirs[k]!r} (now {mine[k]!r})" for k in mine if theirs[k] != mine[k]
            )
            raise ValueError(
                f"{ckpt_path.name} was made with {diff}; delete it or train with the same settings"
            )
        gen.load_state_dict(state["gen"])
        disc.load_state_dict(state["disc"])
        ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        step, spent = int(state["step"]), float(state["seconds"])
        torch.set_rng_state(state["rng"])
    resumed_from = step
    gen.to(device), disc.to(device), ema.to(device)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batch = min(batch, len(xt))
    augment = diff_augment if arch == "modern" else (lambda t: t)
    use_amp = device.startswith("cuda")
    t0 = time.perf_counter()
    last_ckpt = last_sample = t0
    budget = minutes * 60 if minutes is not None else None
    d_loss_v = g_loss_v = float("nan")

    def checkpoint():
        _save_atomic(
            {
                "meta": {"arch": arch, "size": size, "labels": labels},
                "gen": gen.state_dict(),
                "disc": disc.state_dict(),
                "ema": ema.state_dict(),
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "step": step,
                "seconds": spent + time.perf_counter() - t0,
                "rng": torch.get_rng_state(),
            },
            ckpt_path,
        )

    while True:
        elapsed = time.perf_counter() - t0
        if steps is not None and step >= steps:
            break
        if budget is not None and elapsed >= budget:
            break
        idx = torch.randint(0, len(xt), (batch,))
        real, cls = xt[idx].to(device), yt[idx].to(device)
        z = torch.randn(batch, Z_DIM, device=device)
        fake_cls = yt[torch.randint(0, len(yt), (batch,))].to(device)
        with torch.autocast("cuda", enabled=use_amp):
            fake = gen(z, fake_cls)
            d_real = disc(augment(real), cls)
            d_fake = disc(augment(fake.detach()), fake_cls)
            if arch == "dcgan":
                d_loss = (F.softplus(-d_real) + F.softplus(d_fake)).mean()
            else:
                d_loss = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with torch.autocast("cuda", enabled=use_amp):
            g_out = disc(augment(fake), fake_cls)
            g_loss = F.softplus(-g_out).mean() if arch == "dcgan" else -g_out.mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        with torch.no_grad():
            decay = 0.999 if step > 500 else 0.9
            for pe, pg in zip(ema.parameters(), gen.parameters(), strict=True):
                pe.lerp_(pg, 1 - decay)
            for be, bg in zip(ema.buffers(), gen.buffers(), strict=True):
                be.copy_(bg)
        step += 1
        d_loss_v, g_loss_v = float(d_loss.detach()), float(g_loss.detach())
        now = time.perf_counter()
        if ctx is not None:
            ctx.check_cancelled()
            frac = (now - t0) / budget if budget else step / max(steps or 1, 1)
            ctx.progress(
                min(0.02 + 0.96 * frac, 0.98), f"step {step}: D {d_loss_v:.3f}, G {g_loss_v:.3f}"
            )
        if now - last_ckpt >= checkpoint_every_s:
            checkpoint()
            last_ckpt = now
        if now - last_sample >= sample_every_s:
            _sample_grid(ema if arch == "modern" else gen, labels, device, samples_path)
            last_sample = now
            if ctx is not None:
                ctx.partial(str(samples_path))
    seconds = time.perf_counter() - t0
    checkpoint()
    final = ema if arch == "modern" else gen
    _sample_grid(final, labels, device, samples_path)
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
    )
    _save_generator(final, output, arch, size, labels, report, len(x), folder, command)
    return report


def _save_generator(gen, path: Path, arch, size, labels, report, n_pictures, folder, command):
    import tomli_w
    from safetensors.torch import save_file

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
    }
    save_file(state, str(path), metadata=meta)
    card = {
        "name": path.stem,
        "kind": "image-gan",
        "file": path.name,
        "sha256": sha256_file(path),
        "licence": "the training pictures' licence applies to this model and to what it makes",
        "source": f"trained by Studio on {n_pictures} pictures in {Path(folder).name}/ "
        f"({len(labels)} classes)",
        "command": command or f"studio image train-gan {folder} --size {size} --arch {arch}",
        "description": f"{arch} class-conditional generator, {size} px, classes: "
        + ", ".join(labels[:40]),
        "metrics": {
            "steps": report.steps,
            "train_seconds": round(report.seconds, 1),
            "steps_per_s": round(report.steps_per_s, 3),
        },
    }
    path.with_name(path.name + ".card.toml").write_text(tomli_w.dumps(card), encoding="utf-8")


@dataclass
class LoadedGenerator:
    net: object
    arch: str
    size: int
    labels: list[str]


def load_generator(path: str | Path, device: str = "cpu") -> LoadedGenerator:
    """A generator saved by :func:`train_gan`. Raises ValueError for any other file."""
    from safetensors.torch import load_file

    from studio.image._modelfile import studio_metadata

    path = Path(path)
    meta = studio_metadata(path, KIND, "generator")
    labels, size, arch = json.loads(meta["labels"]), int(meta["size"]), meta["arch"]
    gen, _ = _build(arch, size, len(labels))
    own = gen.state_dict()
    own.update(load_file(str(path)))
    gen.load_state_dict(own)
    return LoadedGenerator(gen.to(device).eval(), arch, size, labels)


def sample(
    model: LoadedGenerator, n: int, seed: int, label: str | int | None = None, device: str = "cpu"
) -> tuple[np.ndarray, list[int]]:
    """``n`` pictures (N, 3, S, S) in [-1, 1] and their class indices. ``label``: a class name or
    index (default: the classes in turn). The same seed gives the same pictures.
    Raises ValueError for a label the model does not know.
    """
    torch = _torch()
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
    g = torch.Generator().manual_seed(int(seed))
    z = torch.randn(n, Z_DIM, generator=g)
    with torch.inference_mode():
        out = model.net(z.to(device), torch.tensor(classes, device=device)).float().cpu().numpy()
    return out, classes


def generate_grid(model: LoadedGenerator, n: int, seed: int, label=None, cols: int | None = None):
    """An RGB uint8 grid of ``n`` samples (see :func:`sample`)."""
    images, _ = sample(model, n, seed, label)
    return _grid(images, cols or min(n, 8))
