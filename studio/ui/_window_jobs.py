"""Jobs the main window runs: device detection at start, the core benchmark (Qt-free)."""

from __future__ import annotations

__all__ = ["detect_device_job", "run_core_benchmark"]


def detect_device_job(request, ctx):
    """Job: import torch off the GUI thread, resolve the device, apply the thread count."""
    from studio.core.devices import (
        DeviceUnavailable,
        apply_torch_threads,
        describe_device,
        pick_device,
    )

    ctx.progress(0.1, "loading torch")
    warning = ""
    try:
        device = pick_device(request["device"])
    except DeviceUnavailable as exc:
        device, warning = "cpu", f"{exc}; using the CPU"
    apply_torch_threads(request["threads"])
    return device, describe_device(device), warning


def run_core_benchmark(request, ctx):
    from studio.bench import run_benchmarks

    return run_benchmarks(["core"], ctx)
