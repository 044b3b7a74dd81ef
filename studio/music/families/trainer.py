"""The one music trainer: the transformer, the LSTM, the VAE and the GAN.

Each family brings a *recipe* (its models, optimizers, one training step, a held-out evaluation and
an export to safetensors; optionally ``begin()`` on a fresh start, ``lr_at(step)`` for its own
schedule and ``upgrade_checkpoint(state)`` for an older checkpoint layout); the trainer owns what
they share: seeding, the step loop, progress, a ``--minutes`` budget, atomic resumable checkpoints
(``checkpoint.pt``, tensors and JSON only, read back with ``weights_only=True``), the history, CUDA
when present and DDP under torchrun for every family (gloo on the CPU, nccl on CUDA): each model
wrapped, the data sharded per rank (:func:`shard_of`), the ranks agreeing when to stop, only rank 0
writing, and the ranks' weights compared at the end.

The transformer's recipe and its own settings (``TrainConfig``, its presets) live in
:mod:`studio.music.training`; its ``train()`` runs this loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from studio.core.jobs import JobContext

T = TypeVar("T", bound=Sequence)

__all__ = [
    "FamilyTrainConfig",
    "FamilyTrainResult",
    "train_family",
    "PRESETS",
    "recipe_for",
    "shard_of",
]

TRAINED_ARCHS = ("transformer", "lstm", "vae", "gan")


@dataclass
class FamilyTrainConfig:
    arch: str = "lstm"
    steps: int = 2000
    batch_size: int = 16
    lr: float = 2e-3
    warmup: int = 50
    seed: int = 0
    eval_every: int = 100
    checkpoint_every: int = 50
    minutes: float | None = None
    model: dict[str, Any] = field(default_factory=dict)  # the family's size settings


#: Sizes: ``tiny`` for tests and quick tries, ``small`` what 2 CPU cores train in about an hour.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "lstm": {
        "tiny": {"steps": 20, "batch_size": 4, "eval_every": 10, "checkpoint_every": 10,
                 "model": {"d_model": 32, "n_layers": 1, "context": 128}},
        "small": {"steps": 3000, "batch_size": 16, "lr": 2e-3,
                  "model": {"d_model": 224, "n_layers": 2, "context": 256}},
    },
    "vae": {
        "tiny": {"steps": 20, "batch_size": 8, "eval_every": 10, "checkpoint_every": 10,
                 "lr": 1e-3, "model": {"z": 8, "emb": 16, "enc": 32, "dec": 48, "cond": 32}},
        "small": {"steps": 6000, "batch_size": 32, "lr": 1e-3, "eval_every": 200,
                  "checkpoint_every": 100, "model": {}},
    },
    "gan": {
        "tiny": {"steps": 20, "batch_size": 8, "eval_every": 10, "checkpoint_every": 10,
                 "lr": 2e-4, "model": {"width": 32, "z": 16}},
        "small": {"steps": 6000, "batch_size": 32, "lr": 2e-4, "eval_every": 200,
                  "checkpoint_every": 100, "warmup": 0, "model": {}},
    },
}  # fmt: skip


def recipe_for(arch: str):
    """The recipe class of ``arch``. Raises ValueError for an unknown one."""
    if arch == "transformer":
        from studio.music.training import TransformerRecipe

        return TransformerRecipe
    if arch == "lstm":
        from studio.music.families.lstm_train import LSTMRecipe

        return LSTMRecipe
    if arch == "vae":
        from studio.music.families.vae import VAERecipe

        return VAERecipe
    if arch == "gan":
        from studio.music.families.gan import GANRecipe

        return GANRecipe
    raise ValueError(f"arch must be one of {', '.join(TRAINED_ARCHS)}")


def shard_of(items: T, shard: tuple[int, int]) -> T:
    """This rank's share of the training ``items`` (``shard`` is (rank, world size)): every
    world-th item from the rank's own; all of them in one process, or when there are fewer items
    than ranks (each rank then draws from all, with its own random stream)."""
    rank, world = shard
    if world <= 1 or len(items) < world:
        return items
    return items[rank::world]  # type: ignore[return-value]


@dataclass
class FamilyTrainResult:
    checkpoint: Path
    step: int
    train_loss: float
    val: dict[str, float] | None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    ranks: int = 1  # processes that trained it (torchrun); their weights were found identical


def fixed_settings(cfg: FamilyTrainConfig) -> dict[str, Any]:
    """The settings a run cannot change when it resumes (all but its length and its rhythm)."""
    d = asdict(cfg)
    for k in ("steps", "minutes", "eval_every", "checkpoint_every"):
        d.pop(k)
    return d


def _weights_digest(models: dict[str, Any]) -> str:
    """A SHA-256 of every parameter of ``models``: equal on two ranks only for the same weights."""
    digest = hashlib.sha256()
    for name, model in sorted(models.items()):
        for key, param in model.named_parameters():
            digest.update(f"{name}.{key}".encode())
            digest.update(param.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def train_family(
    cfg: FamilyTrainConfig,
    train_pieces: list,
    val_pieces: list,
    out_dir: Path,
    ctx: JobContext | None = None,
    device: str | None = None,
    resume: bool = True,
) -> FamilyTrainResult:
    """Train (or resume) ``cfg.arch`` on the pieces into ``out_dir`` (``checkpoint.pt``,
    ``history.json``). Deterministic for a seed, across resumes too (under torchrun for the same
    number of processes: every rank's random state is in the checkpoint).

    Under torchrun (WORLD_SIZE > 1) it runs DistributedDataParallel: gloo on the CPU, nccl on
    CUDA; rank 0 evaluates, reports progress and writes. Raises ValueError when there is nothing to
    train on, the checkpoint was made with other settings, or the ranks' weights drift apart.
    """
    import torch
    import torch.distributed as dist

    from studio.core.atomic import atomic_path, write_text
    from studio.core.devices import pick_device

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
    resuming = resume and ckpt_path.exists()

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, rank])
    recipe = recipe_for(cfg.arch)(cfg, train_pieces, val_pieces, device, rng, shard=(rank, world))
    if not resuming and hasattr(recipe, "begin"):
        recipe.begin()
    if world > 1:  # the same weights everywhere (DDP checks), but each rank its own dropout, noise
        torch.manual_seed(int(np.random.default_rng([cfg.seed, rank, 1]).integers(2**62)))
    step, history = 0, []
    if resuming:
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if "fixed" not in state:
            upgrade = getattr(recipe, "upgrade_checkpoint", None)
            if upgrade is None:
                raise ValueError(
                    f"{ckpt_path} is not a {cfg.arch} checkpoint; use a new folder or --no-resume"
                )
            try:
                state = upgrade(state)
            except ValueError as exc:
                raise ValueError(
                    f"{ckpt_path} cannot be resumed ({exc}); use a new folder or --no-resume"
                ) from exc
        if json.loads(state["fixed"]) != json.loads(json.dumps(fixed_settings(cfg))):
            raise ValueError(
                f"{ckpt_path} was trained with other settings; use a new folder or --no-resume"
            )
        for name, model in recipe.models.items():
            model.load_state_dict(state[f"model.{name}"])
        for name, opt in recipe.optimizers.items():
            opt.load_state_dict(state[f"opt.{name}"])
        step = int(state["step"])
        history = json.loads(state["history"])
        # one random state per rank (a checkpoint from before held rank 0's alone)
        states = json.loads(state["rng"])
        states = states if isinstance(states, list) else [states]
        torch_states = state["torch_rng"]
        torch_states = torch_states if isinstance(torch_states, list) else [torch_states]
        if rank < len(states):
            rng.bit_generator.state = states[rank]
        if rank < len(torch_states):
            torch.set_rng_state(torch_states[rank])
    if world > 1:
        recipe.nets = {
            k: torch.nn.parallel.DistributedDataParallel(m) for k, m in recipe.models.items()
        }
    started = time.monotonic()
    deadline = started + cfg.minutes * 60 if cfg.minutes else None
    losses: list[float] = []
    val = history[-1].get("val") if history else None
    ranks_digests: list[str] = []

    def gathered(value: Any) -> list[Any]:
        """``value`` of every rank, in rank order (a collective: every rank calls it)."""
        if world == 1:
            return [value]
        out: list[Any] = [None] * world
        dist.all_gather_object(out, value)
        return out

    def anyone(flag: bool) -> bool:
        """True on every rank when it is True on one (so that all stop at the same step)."""
        if world == 1:
            return flag
        t = torch.tensor([int(flag)], device=device if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def save() -> None:
        rng_states = gathered(rng.bit_generator.state)
        torch_states = gathered(torch.get_rng_state())
        if not main:
            return
        state: dict[str, Any] = {
            "step": step,
            "fixed": json.dumps(fixed_settings(cfg)),
            "config": json.dumps(asdict(cfg)),
            "history": json.dumps(history),
            "rng": json.dumps(rng_states),
            "torch_rng": torch_states,
        }
        if ranks_digests:
            state["ranks"] = json.dumps({"world": world, "weights_sha256": ranks_digests})
        for name, model in recipe.models.items():
            state[f"model.{name}"] = model.state_dict()
        for name, opt in recipe.optimizers.items():
            state[f"opt.{name}"] = opt.state_dict()
        with atomic_path(ckpt_path) as temp:
            torch.save(state, temp)
        write_text(out_dir / "history.json", json.dumps(history, indent=1))

    lr_at = getattr(recipe, "lr_at", None)
    while step < cfg.steps:
        ctx.check_cancelled()
        lr = lr_at(step) if lr_at else cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
        for opt in recipe.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        parts = recipe.step(step)
        step += 1
        losses.append(parts["loss"])
        record: dict[str, Any] = {
            "step": step,
            "loss": round(float(np.mean(losses[-20:])), 4),
            "seconds": round(time.monotonic() - started, 1),
        }
        record.update({k: round(v, 4) for k, v in parts.items() if k != "loss"})
        if main and (step % cfg.eval_every == 0 or step == cfg.steps):
            val = recipe.evaluate()
            record["val"] = {k: round(v, 4) for k, v in val.items()}
        if main and ("val" in record or step % 10 == 0):
            history.append(record)
        if main:
            shown = f", held-out {recipe.metric} {val[recipe.metric]:.3f}" if val else ""
            ctx.progress(
                step / cfg.steps, f"step {step}/{cfg.steps}, loss {record['loss']:.3f}{shown}"
            )
        out_of_time = deadline is not None and anyone(time.monotonic() > deadline)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
            save()
        if out_of_time:
            break
    if world > 1:
        ranks_digests = gathered(_weights_digest(recipe.models))
    save()
    if world > 1:
        dist.barrier()
        if len(set(ranks_digests)) > 1:
            raise ValueError(
                f"the {world} training processes ended with different weights (a fault in the "
                f"distributed setup); {ckpt_path} holds rank 0's"
            )
    return FamilyTrainResult(
        ckpt_path,
        step,
        float(np.mean(losses[-20:])) if losses else float("nan"),
        val,
        history,
        time.monotonic() - started,
        world,
    )


def checkpoint_recipe(path: Path, train_pieces: list, device: str = "cpu"):
    """(recipe with the checkpoint's weights, config, step): for exporting a finished run.
    ``train_pieces`` feed what the export derives from data (the VAE's attribute vectors)."""
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True)
    raw = json.loads(state["config"])
    cfg = FamilyTrainConfig(**raw)
    rng = np.random.default_rng([cfg.seed, 99])
    recipe = recipe_for(cfg.arch)(cfg, train_pieces, [], device, rng)
    for name, model in recipe.models.items():
        model.load_state_dict(state[f"model.{name}"])
        model.eval()
    return recipe, cfg, int(state["step"])
