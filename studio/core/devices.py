"""Compute device choice (cuda > mps > cpu) and a description for the status bar."""

from __future__ import annotations

import importlib.util
import os
import sys

__all__ = [
    "DEVICE_CHOICES",
    "torch_available",
    "available_devices",
    "pick_device",
    "describe_device",
    "memory_in_use",
    "apply_torch_threads",
    "DeviceUnavailable",
]

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
ENV_VAR = "STUDIO_DEVICE"


class DeviceUnavailable(RuntimeError):
    """The device asked for does not exist on this machine."""


def torch_available() -> bool:
    return "torch" in sys.modules or importlib.util.find_spec("torch") is not None


def _torch():
    import torch

    return torch


def available_devices() -> list[str]:
    """Devices this machine can run torch on, best first; always ends with ``cpu``."""
    found: list[str] = []
    if torch_available():
        torch = _torch()
        if torch.cuda.is_available():
            found.append("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            found.append("mps")
    found.append("cpu")
    return found


def pick_device(preference: str | None = "auto") -> str:
    """Resolve a device name.

    ``STUDIO_DEVICE`` overrides ``preference``; ``auto`` picks cuda > mps > cpu. A named device that
    is missing raises :class:`DeviceUnavailable` with a readable message.
    """
    choice = (os.environ.get(ENV_VAR) or preference or "auto").strip().lower()
    if choice not in DEVICE_CHOICES:
        raise DeviceUnavailable(
            f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}"
        )
    devices = available_devices()
    if choice == "auto":
        return devices[0]
    if choice not in devices:
        raise DeviceUnavailable(
            f"device {choice!r} is not available here (found: {', '.join(devices)})"
        )
    return choice


def apply_torch_threads(threads: int) -> int:
    """Set torch's intra-op threads (0 = leave torch's default). Returns the count in use."""
    torch = _torch()
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def describe_device(device: str) -> str:
    """Status-bar text such as ``CUDA: NVIDIA H100`` or ``CPU: 2 threads``."""
    if device == "cuda":
        torch = _torch()
        return f"CUDA: {torch.cuda.get_device_name(0)}"
    if device == "mps":
        return "MPS: Apple GPU"
    threads = _torch().get_num_threads() if "torch" in sys.modules else os.cpu_count() or 1
    return f"CPU: {threads} thread{'s' if threads != 1 else ''}"


def memory_in_use() -> str:
    """Resident memory of this process, plus allocated GPU memory when torch uses CUDA."""
    import psutil

    rss = psutil.Process().memory_info().rss / 2**20
    text = f"RAM {rss:,.0f} MiB"
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None) if torch is not None else None
    try:
        if cuda is not None and cuda.is_available() and cuda.is_initialized():
            text += f" · GPU {cuda.memory_allocated() / 2**20:,.0f} MiB"
    except (AttributeError, RuntimeError):  # torch is still being imported on a worker thread
        pass
    return text
