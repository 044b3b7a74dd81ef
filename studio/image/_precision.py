"""Mixed precision for the image trainers and samplers: one ``precision`` setting turned into an
autocast context and, for float16, a gradient scaler.

- ``auto`` (the default): float16 autocast with a :class:`torch.amp.GradScaler` on CUDA; plain
  float32 anywhere else, so CPU results are the same, bit for bit, as without autocast.
- ``fp32``: no autocast.
- ``bf16``: autocast to bfloat16 on any device, the CPU included (no scaler: bfloat16 has
  float32's range).
- ``fp16``: autocast to float16 with a gradient scaler; CUDA only.

Weights, optimiser state and checkpoints stay float32 in every mode: autocast only runs the
matrix products and convolutions in the lower precision.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

__all__ = [
    "PRECISIONS",
    "PRECISION_HELP",
    "Precision",
    "autocast",
    "backward_step",
    "resolve_precision",
]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
PRECISION_HELP = (
    "arithmetic precision: auto (default) = float16 autocast with a gradient scaler on a CUDA "
    "GPU, plain float32 on the CPU; fp32; bf16 (bfloat16 autocast, the CPU too); fp16 (float16 "
    "autocast with a gradient scaler, CUDA only)"
)


@dataclass(frozen=True)
class Precision:
    """A resolved precision: ``name`` is ``fp32``, ``bf16`` or ``fp16`` (never ``auto``)."""

    name: str
    device_type: str  # "cuda", "cpu", "mps"

    @property
    def reduced(self) -> bool:
        return self.name != "fp32"

    @property
    def dtype(self):
        import torch

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.name]

    def autocast(self):
        """The context the forward passes run in (a no-op for fp32)."""
        if not self.reduced:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device_type, dtype=self.dtype)

    def full(self):
        """A context that turns autocast off again inside :meth:`autocast` (for parts that must
        stay float32: spectral norm's power iteration, losses)."""
        if not self.reduced:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device_type, enabled=False)

    def scaler(self):
        """A :class:`torch.amp.GradScaler` for fp16, else None (bf16 and fp32 need none)."""
        if self.name != "fp16":
            return None
        import torch

        return torch.amp.GradScaler(self.device_type)


def autocast(amp: Precision | None):
    """``amp``'s autocast context; for None (float32, no precision chosen) a no-op."""
    return amp.autocast() if amp is not None else contextlib.nullcontext()


def backward_step(loss, opt, scaler) -> None:
    """``loss.backward()`` then ``opt.step()``, through ``scaler`` (fp16's GradScaler: scaled
    backward, step, update) when there is one."""
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


def resolve_precision(precision: str | None, device: str) -> Precision:
    """``precision`` (one of :data:`PRECISIONS`, None meaning ``auto``) on ``device`` ("cpu",
    "cuda", "cuda:1", "mps"). Raises ValueError, in words, for an unknown name and for fp16
    without CUDA."""
    name = (precision or "auto").strip().lower()
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use {', '.join(PRECISIONS)}")
    device_type = str(device).split(":")[0] or "cpu"
    if name == "auto":
        name = "fp16" if device_type == "cuda" else "fp32"
    if name == "fp16" and device_type != "cuda":
        raise ValueError(
            f"fp16 needs a CUDA GPU (this run is on the {device_type.upper()}): use bf16 or fp32"
        )
    return Precision(name, device_type)
