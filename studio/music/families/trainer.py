"""One trainer for the LSTM, VAE and GAN families (the transformer keeps
:func:`studio.music.training.train`, which ``studio music train --arch transformer`` calls).

Each family brings a *recipe* (its models, optimizers, one training step, a held-out evaluation and
an export to safetensors); the trainer owns what they share: seeding, the step loop, progress, a
``--minutes`` budget, atomic resumable checkpoints (``checkpoint.pt``, tensors and JSON only, read
back with ``weights_only=True``), the history, CUDA when present and DDP under torchrun (gloo on the
CPU, nccl on CUDA; the LSTM and the VAE).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import JobContext

__all__ = ["FamilyTrainConfig", "FamilyTrainResult", "train_family", "PRESETS", "recipe_for"]

TRAINED_ARCHS = ("lstm", "vae", "gan")


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
    if arch == "lstm":
        from studio.music.families.lstm_train import LSTMRecipe

        return LSTMRecipe
    if arch == "vae":
        from studio.music.families.vae import VAERecipe

        return VAERecipe
    if arch == "gan":
        from studio.music.families.gan import GANRecipe

        return GANRecipe
    raise ValueError(f"arch must be one of transformer, {', '.join(TRAINED_ARCHS)}")


@dataclass
class FamilyTrainResult:
    checkpoint: Path
    step: int
    train_loss: float
    val: dict[str, float] | None
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _fixed(cfg: FamilyTrainConfig) -> dict[str, Any]:
    d = asdict(cfg)
    for k in ("steps", "minutes", "eval_every", "checkpoint_every"):
        d.pop(k)
    return d


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
    ``history.json``). Deterministic for a seed on one process, across resumes too.

    Raises ValueError when there is nothing to train on or the checkpoint was made with other
    settings.
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
        if cfg.arch == "gan":
            raise ValueError("the GAN trains in one process; run it without torchrun")
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    main = rank == 0
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = out_dir / "checkpoint.pt"

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng([cfg.seed, rank])
    recipe = recipe_for(cfg.arch)(cfg, train_pieces, val_pieces, device, rng)
    step, history = 0, []
    if resume and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        if json.loads(state["fixed"]) != json.loads(json.dumps(_fixed(cfg))):
            raise ValueError(
                f"{ckpt_path} was trained with other settings; use a new folder or --no-resume"
            )
        for name, model in recipe.models.items():
            model.load_state_dict(state[f"model.{name}"])
        for name, opt in recipe.optimizers.items():
            opt.load_state_dict(state[f"opt.{name}"])
        step = int(state["step"])
        history = json.loads(state["history"])
        rng.bit_generator.state = json.loads(state["rng"])
        torch.set_rng_state(state["torch_rng"])
    if world > 1:
        recipe.nets = {
            k: torch.nn.parallel.DistributedDataParallel(m) for k, m in recipe.models.items()
        }
    started = time.monotonic()
    deadline = started + cfg.minutes * 60 if cfg.minutes else None
    losses: list[float] = []
    val = history[-1].get("val") if history else None

    def save() -> None:
        if not main:
            return
        state: dict[str, Any] = {
            "step": step,
            "fixed": json.dumps(_fixed(cfg)),
            "config": json.dumps(asdict(cfg)),
            "history": json.dumps(history),
            "rng": json.dumps(rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
        }
        for name, model in recipe.models.items():
            state[f"model.{name}"] = model.state_dict()
        for name, opt in recipe.optimizers.items():
            state[f"opt.{name}"] = opt.state_dict()
        with atomic_path(ckpt_path) as temp:
            torch.save(state, temp)
        write_text(out_dir / "history.json", json.dumps(history, indent=1))

    while step < cfg.steps:
        ctx.check_cancelled()
        for opt in recipe.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
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
        out_of_time = deadline is not None and time.monotonic() > deadline
        if step % cfg.checkpoint_every == 0 or step == cfg.steps or out_of_time:
            save()
        if out_of_time:
            break
    save()
    if world > 1:
        dist.barrier()
    return FamilyTrainResult(
        ckpt_path,
        step,
        float(np.mean(losses[-20:])) if losses else float("nan"),
        val,
        history,
        time.monotonic() - started,
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
