"""Training the music transformer: resumable, deterministic for a seed, CUDA when present, DDP under
torchrun.

Examples are bar-aligned windows of a piece with the tracks in a random order; half of them are
turned into fill-in-the-middle examples (a span of bars in one or all tracks moved after
``FillStart``), so one model continues, infills and adds voices.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from studio.core.jobs import JobContext
from studio.music.tokens import MusicTokenizer, PieceTokens

__all__ = ["TrainConfig", "ExampleSampler", "train", "heldout_windows", "cross_entropy", "PRESETS"]


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


def train(
    cfg: TrainConfig,
    train_pieces: list[PieceTokens],
    val_pieces: list[PieceTokens],
    out_dir: Path,
    ctx: JobContext | None = None,
    device: str | None = None,
    resume: bool = True,
) -> TrainResult:
    """Train (or resume) a model into ``out_dir`` (checkpoint.pt, history.json).

    Under torchrun (WORLD_SIZE > 1) it runs DistributedDataParallel: gloo on the CPU, nccl on CUDA;
    rank 0 writes checkpoints and reports progress. Raises ValueError when there is nothing to train
    on.
    """
    import torch
    import torch.distributed as dist
    from torch.nn import functional as F

    from studio.core.devices import pick_device
    from studio.music.model import ModelConfig, MusicTransformer

    ctx = ctx or JobContext()
    if not train_pieces:
        raise ValueError("no training pieces: build a corpus first")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = device or pick_device("auto")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    main = rank == 0
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"

    tok = MusicTokenizer()
    torch.manual_seed(cfg.seed)
    model_cfg = ModelConfig(
        tok.vocab_size, cfg.context, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout
    )
    model = MusicTransformer(model_cfg)
    if cfg.init_from and not (resume and ckpt_path.exists()):
        from studio.music.model import grow_from, load_model

        source, _meta = load_model(_init_source(cfg.init_from))
        grow_from(model, source)
    model = model.to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )
    rng = np.random.default_rng([cfg.seed, rank])
    step, history = 0, []
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        saved = json.loads(state["config"])
        fixed = set(asdict(cfg)) - {"steps", "minutes", "eval_every", "checkpoint_every"}
        if any(saved.get(k) != v for k, v in asdict(cfg).items() if k in fixed):
            raise ValueError(
                f"{ckpt_path} was trained with other settings; use a new folder or --no-resume"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step = int(state["step"])
        history = json.loads(state["history"])
        states = json.loads(state["rng"])
        if rank < len(states):
            rng.bit_generator.state = states[rank]
        torch.set_rng_state(state["torch_rng"])
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model)
    sampler = ExampleSampler(tok, train_pieces, cfg.context, cfg.fim_rate, rng)
    val = heldout_windows(tok, val_pieces, cfg.context, cfg.eval_windows) if val_pieces else []
    started = time.monotonic()
    deadline = started + cfg.minutes * 60 if cfg.minutes else None
    losses: list[float] = []
    val_loss = history[-1].get("val_loss") if history else None

    def save() -> None:
        if not main:
            return
        from studio.core.atomic import atomic_write, write_text

        rng_states = [rng.bit_generator.state]
        with atomic_write(ckpt_path, "wb") as fh:
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "step": step,
                    "config": json.dumps(asdict(cfg)),
                    "history": json.dumps(history),
                    "rng": json.dumps(rng_states),
                    "torch_rng": torch.get_rng_state(),
                },
                fh,
            )
        write_text(out_dir / "history.json", json.dumps(history, indent=1))

    while step < cfg.steps:
        ctx.check_cancelled()
        net.train()
        for group in opt.param_groups:
            group["lr"] = _lr(cfg, step)
        x, y = sampler.batch(cfg.batch_size)
        logits, _ = net(x.to(device))
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1), ignore_index=tok.PAD
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        record = {
            "step": step,
            "loss": round(float(np.mean(losses[-20:])), 4),
            "seconds": round(time.monotonic() - started, 1),
        }
        if main and val and (step % cfg.eval_every == 0 or step == cfg.steps):
            val_loss, _ = cross_entropy(model, val, tok.PAD, device)
            record["val_loss"] = round(val_loss, 4)
        if main and ("val_loss" in record or step % 10 == 0):
            history.append(record)
        if main:
            vl = f", held-out {val_loss:.3f}" if val_loss is not None else ""
            ctx.progress(
                step / cfg.steps, f"step {step}/{cfg.steps}, loss {record['loss']:.3f}{vl}"
            )
        out_of_time = deadline is not None and time.monotonic() > deadline
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
            save()
        if out_of_time:
            break
    save()
    if world > 1:
        dist.barrier()
    return TrainResult(
        ckpt_path,
        step,
        float(np.mean(losses[-20:])) if losses else float("nan"),
        val_loss,
        history,
        time.monotonic() - started,
    )


def load_checkpoint_model(path: Path, device: str = "cpu"):
    """The model inside a training checkpoint (weights only, no pickle)."""
    import torch

    from studio.music.model import ModelConfig, MusicTransformer

    state = torch.load(path, map_location="cpu", weights_only=True)
    cfg = TrainConfig(**json.loads(state["config"]))
    tok = MusicTokenizer()
    model = MusicTransformer(
        ModelConfig(
            tok.vocab_size, cfg.context, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.dropout
        )
    )
    model.load_state_dict(state["model"])
    model.eval()
    return model.to(device), cfg, int(state["step"])
