"""The music transformer's training recipe for the one music trainer
(:func:`studio.music.families.trainer.train_family`, which owns the loop: checkpoints, resume,
``--minutes``, seeding, progress, held-out metrics, CUDA and DDP under torchrun).

Examples are bar-aligned windows of a piece with the tracks in a random order; half of them are
turned into fill-in-the-middle examples (a span of bars in one or all tracks moved after
``FillStart``), so one model continues, infills and adds voices. :class:`TokenRecipe` is the step
and held-out NLL that the transformer and the LSTM share; :func:`train` keeps the transformer's
own settings (:class:`TrainConfig`, :data:`PRESETS`) as they were.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.music.families.trainer import FamilyTrainConfig
from studio.music.tokens import MusicTokenizer, PieceTokens

__all__ = [
    "TrainConfig",
    "ExampleSampler",
    "TokenRecipe",
    "TransformerRecipe",
    "train",
    "heldout_windows",
    "cross_entropy",
    "PRESETS",
]


@dataclass
class TrainConfig:
    steps: int = 2000
    batch_size: int = 16
    lr: float = 2e-3
    min_lr_ratio: float = 0.1
    warmup: int = 100
    weight_decay: float = 0.1
    seed: int = 0
    context: int = 512
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6
    dropout: float = 0.1
    fim_rate: float = 0.5
    eval_every: int = 200
    eval_windows: int = 192
    checkpoint_every: int = 100
    minutes: float | None = None  # stop (resumably) after this long
    # start from a trained, smaller model (same width): its weights, extra layers passing through
    init_from: str | None = None


PRESETS: dict[str, dict] = {
    "tiny": {
        "d_model": 64,
        "n_layers": 2,
        "n_heads": 2,
        "context": 256,
        "batch_size": 8,
        "steps": 50,
        "eval_every": 25,
        "eval_windows": 16,
        "checkpoint_every": 25,
    },
    # ~0.9M parameters: what 2 CPU cores train well in about an hour (1.4 s a step here)
    "small": {"d_model": 128, "n_layers": 4, "n_heads": 4, "steps": 1800, "eval_every": 200},
    # 1.3M parameters, started from the shipped small model (its 4 layers plus 2 that pass their
    # input through at first), trained on the whole corpus at a lower learning rate: on a shared
    # CPU this is what learns the new styles in the hour there is
    "medium": {
        "d_model": 128,
        "n_layers": 6,
        "n_heads": 4,
        "batch_size": 8,
        "steps": 240,
        "lr": 4e-4,
        "warmup": 10,
        "eval_every": 40,
        "eval_windows": 48,
        "checkpoint_every": 10,
        "init_from": "resources:studio-music-small",
    },
}


def _init_source(spec: str) -> Path:
    """The model file an ``init_from`` names: ``resources:NAME`` is a shipped model."""
    if spec.startswith("resources:"):
        from studio.core.resources import resources_dir

        return resources_dir() / "models" / "music" / f"{spec.split(':', 1)[1]}.safetensors"
    return Path(spec).expanduser()


def piece_bar_costs(piece: PieceTokens) -> np.ndarray:
    """Tokens each bar adds across all tracks (its notes plus a Bar token per track)."""
    costs = np.zeros(piece.n_bars, dtype=np.int64)
    for track in piece.tracks:
        lens = np.array([len(b) + 1 for b in track.bars], dtype=np.int64)
        costs[: len(lens)] += lens
        costs[len(lens) :] += 1
    return costs


def _window(costs: np.ndarray, start: int, budget: int) -> int:
    """End (exclusive) of the longest bar window from ``start`` within ``budget`` (>= 1 bar)."""
    total, end = 0, start
    while end < len(costs) and total + costs[end] <= budget:
        total += costs[end]
        end += 1
    return max(end, start + 1)


class ExampleSampler:
    """Random training examples (token id lists of at most ``context + 1`` tokens)."""

    def __init__(
        self,
        tok: MusicTokenizer,
        pieces: list[PieceTokens],
        context: int,
        fim_rate: float,
        rng: np.random.Generator,
    ) -> None:
        if not pieces:
            raise ValueError("no training pieces")
        self.tok, self.pieces, self.context, self.fim_rate, self.rng = (
            tok,
            pieces,
            context,
            fim_rate,
            rng,
        )
        self.costs = [piece_bar_costs(p) for p in pieces]

    def budget(self, piece: PieceTokens) -> int:
        return self.context + 1 - 6 - 2 * len(piece.tracks) - 3

    def example(self) -> list[int]:
        rng = self.rng
        i = int(rng.integers(len(self.pieces)))
        piece, costs = self.pieces[i], self.costs[i]
        order = list(range(len(piece.tracks)))
        if len(order) > 1 and rng.random() < 0.5:
            rng.shuffle(order)
        budget = self.budget(piece)
        if costs.sum() <= budget:
            start, end = 0, piece.n_bars
        else:
            start = int(rng.integers(piece.n_bars))
            end = _window(costs, start, budget)
        fill: list[tuple[int, int]] = []
        if rng.random() < self.fim_rate and end > start:
            k = int(rng.integers(1, min(4, end - start) + 1))
            a = int(rng.integers(start, end - k + 1))
            tracks = (
                order
                if (len(order) == 1 or rng.random() < 0.5)
                else [order[int(rng.integers(len(order)))]]
            )
            fill = [(t, b) for t in tracks for b in range(a, a + k)]
        seq = self.tok.sequence(piece, order, (start, end), fill)
        return seq[: self.context + 1]

    def batch(self, size: int):
        import torch

        seqs = [self.example() for _ in range(size)]
        return _pad(seqs, self.tok.PAD, torch)


def _pad(seqs: list[list[int]], pad: int, torch):
    width = max(len(s) for s in seqs)
    arr = np.full((len(seqs), width), pad, dtype=np.int64)
    for row, s in enumerate(seqs):
        arr[row, : len(s)] = s
    data = torch.from_numpy(arr)
    return data[:, :-1], data[:, 1:]


def heldout_windows(
    tok: MusicTokenizer, pieces: list[PieceTokens], context: int, limit: int | None = None
) -> list[list[int]]:
    """Every held-out piece cut into consecutive bar windows that fit the context, tracks in stored
    order, no fill: the fixed token set both the transformer and the n-gram are measured on."""
    windows: list[list[int]] = []
    for piece in pieces:
        costs = piece_bar_costs(piece)
        budget = context + 1 - 6 - 2 * len(piece.tracks) - 1
        start = 0
        while start < piece.n_bars:
            end = _window(costs, start, budget)
            windows.append(tok.sequence(piece, None, (start, end))[: context + 1])
            start = end
            if limit and len(windows) >= limit:
                return windows
    return windows


def cross_entropy(
    model,
    windows: list[list[int]],
    pad: int,
    device: str = "cpu",
    batch_size: int = 16,
    ctx: JobContext | None = None,
) -> tuple[float, int]:
    """Mean cross-entropy (nats per token) of ``model`` over ``windows``; returns (mean, tokens)."""
    import torch
    from torch.nn import functional as F

    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(windows), batch_size):
            if ctx:
                ctx.check_cancelled()
            x, y = _pad(windows[i : i + batch_size], pad, torch)
            logits, _ = model(x.to(device))
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                y.to(device).reshape(-1),
                ignore_index=pad,
                reduction="sum",
            )
            total += float(loss)
            count += int((y != pad).sum())
    return total / max(1, count), count


@dataclass
class TrainResult:
    checkpoint: Path
    step: int
    train_loss: float
    val_loss: float | None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (
        cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    )


#: TrainConfig's fields that the one trainer's config has too; the others are the transformer's
#: ``model`` settings there (its size, the schedule's floor, its examples and held-out windows).
_COMMON = (
    "steps",
    "batch_size",
    "lr",
    "warmup",
    "seed",
    "eval_every",
    "checkpoint_every",
    "minutes",
)


def family_config(cfg: TrainConfig) -> FamilyTrainConfig:
    """The one trainer's config for a transformer's :class:`TrainConfig`."""
    own = asdict(cfg)
    common = {k: own.pop(k) for k in _COMMON}
    return FamilyTrainConfig(arch="transformer", model=own, **common)


def transformer_config(raw: dict[str, Any]) -> TrainConfig:
    """The :class:`TrainConfig` a checkpoint's saved config describes: the one trainer's (``arch``
    and ``model``) or one written by the transformer's former loop (TrainConfig's own fields).
    Raises ValueError for another family's or settings this version does not know."""
    if "arch" in raw:
        if raw["arch"] != "transformer":
            raise ValueError(f"it holds a {raw['arch']} model, not a transformer")
        raw = {**{k: raw[k] for k in _COMMON}, **raw["model"]}
    known = {f.name for f in fields(TrainConfig)}
    if set(raw) - known:
        raise ValueError(f"it has settings this version does not know: {sorted(set(raw) - known)}")
    return TrainConfig(**raw)


class TokenRecipe:
    """What the token families (the transformer and the LSTM) share in the one trainer: training
    examples from :class:`ExampleSampler`, a step (cross-entropy, gradients clipped at 1) and the
    held-out NLL on :func:`heldout_windows`. A subclass builds ``model``, ``models``,
    ``optimizers`` and ``tok``, then calls :meth:`_data`."""

    metric = "nll"
    key = "token"  # the name of its one model and optimizer

    def _data(self, train_pieces, val_pieces, rng, shard, fim_rate: float, windows: int) -> None:
        from studio.music.families.trainer import shard_of

        context = self.model.cfg.context
        self.nets = dict(self.models)
        # no pieces: a recipe made only to export a checkpoint
        self.sampler = (
            ExampleSampler(self.tok, shard_of(train_pieces, shard), context, fim_rate, rng)
            if train_pieces
            else None
        )
        self.val = heldout_windows(self.tok, val_pieces, context, windows) if val_pieces else []

    def step(self, step: int) -> dict[str, float]:
        import torch
        from torch.nn import functional as F

        net, opt = self.nets[self.key], self.optimizers[self.key]
        net.train()
        x, y = self.sampler.batch(self.cfg.batch_size)
        logits, _ = net(x.to(self.device))
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.to(self.device).reshape(-1),
            ignore_index=self.tok.PAD,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        return {"loss": float(loss.detach())}

    def evaluate(self) -> dict[str, float]:
        if not self.val:
            return {}
        value, _ = cross_entropy(self.model, self.val, self.tok.PAD, self.device)
        return {"nll": value}


class TransformerRecipe(TokenRecipe):
    """The transformer in the one trainer: AdamW (no decay on biases and norms), a warm-up then a
    cosine learning rate down to ``min_lr_ratio``, and optionally a start from a smaller trained
    model (``init_from``)."""

    key = "transformer"

    def __init__(self, cfg, train_pieces, val_pieces, device, rng, shard=(0, 1)) -> None:
        import torch

        from studio.music.model import ModelConfig, MusicTransformer

        self.cfg, self.device = cfg, device
        self.own = t = transformer_config(asdict(cfg))
        self.tok = MusicTokenizer()
        self.model = MusicTransformer(
            ModelConfig(self.tok.vocab_size, t.context, t.d_model, t.n_layers, t.n_heads, t.dropout)
        ).to(device)
        decay = [p for p in self.model.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.model.parameters() if p.dim() < 2]
        self.models = {"transformer": self.model}
        self.optimizers = {
            "transformer": torch.optim.AdamW(
                [
                    {"params": decay, "weight_decay": t.weight_decay},
                    {"params": no_decay, "weight_decay": 0.0},
                ],
                lr=t.lr,
                betas=(0.9, 0.95),
            )
        }
        self._data(train_pieces, val_pieces, rng, shard, t.fim_rate, t.eval_windows)

    def begin(self) -> None:
        """On a fresh start (not a resume): the weights of ``init_from``, grown to this size."""
        if self.own.init_from:
            from studio.music.model import grow_from, load_model

            source, _meta = load_model(_init_source(self.own.init_from), self.device)
            grow_from(self.model, source)

    def lr_at(self, step: int) -> float:
        return _lr(self.own, step)

    @staticmethod
    def upgrade_checkpoint(state: dict[str, Any]) -> dict[str, Any]:
        """A checkpoint of the transformer's former loop (``model``, ``optimizer`` and its own
        config) in the one trainer's form, so a run begun before resumes where it was."""
        from studio.music.families.trainer import fixed_settings

        if "model" not in state or "optimizer" not in state:
            raise ValueError("it is not a checkpoint of a music model")
        cfg = family_config(transformer_config(json.loads(state["config"])))
        history = []
        for record in json.loads(state["history"]):
            if "val_loss" in record:
                record = dict(record)
                record["val"] = {"nll": record.pop("val_loss")}
            history.append(record)
        return {
            "model.transformer": state["model"],
            "opt.transformer": state["optimizer"],
            "step": state["step"],
            "fixed": json.dumps(fixed_settings(cfg)),
            "config": json.dumps(asdict(cfg)),
            "history": json.dumps(history),
            "rng": state["rng"],
            "torch_rng": state["torch_rng"],
        }

    def export(self, path: Path, extra: dict[str, str]) -> None:
        from studio.music.model import save_model

        save_model(self.model, path, extra)

    def description(self) -> str:
        t = self.own
        return f"music transformer, d_model {t.d_model}, {t.n_layers} layers, context {t.context}"


def train(
    cfg: TrainConfig,
    train_pieces: list[PieceTokens],
    val_pieces: list[PieceTokens],
    out_dir: Path,
    ctx: JobContext | None = None,
    device: str | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train (or resume) a transformer into ``out_dir`` (checkpoint.pt, history.json) with the one
    music trainer (:func:`studio.music.families.trainer.train_family`): deterministic for a seed,
    across resumes too; DDP under torchrun. A checkpoint of the former transformer loop resumes.
    Raises ValueError when there is nothing to train on or the checkpoint has other settings."""
    from studio.music.families.trainer import train_family

    result = train_family(
        family_config(cfg), train_pieces, val_pieces, out_dir, ctx, device, resume
    )
    val_loss = (result.val or {}).get("nll")
    return TrainResult(
        result.checkpoint,
        result.step,
        result.train_loss,
        val_loss,
        result.history,
        result.seconds,
    )


def load_checkpoint_model(path: Path, device: str = "cpu"):
    """(model, TrainConfig, step) of a transformer training checkpoint (weights only, no pickle),
    of the one trainer or of the former transformer loop. Raises ValueError for another family's."""
    import torch

    from studio.music.model import ModelConfig, MusicTransformer

    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        cfg = transformer_config(json.loads(state["config"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(
            f"{Path(path).name} is not a transformer training checkpoint: {exc}"
        ) from exc
    tok = MusicTokenizer()
    model = MusicTransformer(
        ModelConfig(
            tok.vocab_size, cfg.context, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout
        )
    )
    model.load_state_dict(
        state["model.transformer"] if "model.transformer" in state else state["model"]
    )
    model.eval()
    return model.to(device), cfg, int(state["step"])
