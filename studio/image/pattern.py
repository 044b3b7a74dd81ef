"""The built-in pattern generator: a seeded compositional pattern-producing network (CPPN).

A small random network maps each pixel's position (x, y, distance from the centre) to a colour.
The same seed gives the same pattern at any size, because the network sees coordinates, not
pixels. It needs no download and no training, and runs in torch on the GPU when there is one.
Useful for backgrounds and textures, and as a starting picture for image-to-image.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.plugins.api import Param

__all__ = ["PATTERN_PARAMS", "make_pattern"]

PATTERN_PARAMS = (
    Param("seed", "seed", -1, help="the same seed gives the same pattern at any size"),
    Param("width", "int", 1024, minimum=16, maximum=16384),
    Param("height", "int", 1024, minimum=16, maximum=16384),
    Param("zoom", "float", 1.0, minimum=0.05, maximum=20.0, step=0.05,
          help="larger: finer detail"),
    Param("complexity", "int", 4, minimum=1, maximum=10, help="layers of the network"),
    Param("style", "choice", "smooth", choices=("smooth", "waves", "cells", "stripes"),
          help="the network's activation: soft blends, ripples, cells or bands"),
    Param("colours", "choice", "colour", choices=("colour", "mono", "duotone")),
    Param("symmetry", "choice", "none", choices=("none", "mirror", "radial")),
)  # fmt: skip

_HIDDEN = 32


def _activation(style: str):
    import torch

    if style == "waves":
        return torch.sin
    if style == "cells":
        return lambda x: 1.0 - 2.0 * torch.abs(torch.tanh(x))
    if style == "stripes":
        return lambda x: torch.sin(3.0 * x).sign() * torch.tanh(x).abs()
    return torch.tanh


def make_pattern(request: dict[str, Any], ctx: JobContext | None = None, device: str = "cpu"):
    """A pattern as HxWx3 uint8. ``request`` holds :data:`PATTERN_PARAMS` (already resolved: a
    concrete seed). Rows are made in bands with progress and cancel."""
    import torch

    ctx = ctx or JobContext()
    width, height, seed = int(request["width"]), int(request["height"]), int(request["seed"])
    depth, zoom = int(request["complexity"]), float(request["zoom"])
    # float64 on the CPU: bit-for-bit the same pattern whatever else ran in the process (float32
    # results moved by one level after onnxruntime had run); float32 on a GPU, for speed
    dtype = torch.float64 if device == "cpu" else torch.float32
    gen = torch.Generator().manual_seed(seed)
    inputs = 4
    layers = []
    size = inputs
    for _ in range(depth):
        weight = torch.randn(size, _HIDDEN, generator=gen) * (1.6 / math.sqrt(size))
        bias = torch.randn(_HIDDEN, generator=gen) * 0.4
        layers.append((weight.to(device, dtype), bias.to(device, dtype)))
        size = _HIDDEN
    out_weight = (torch.randn(size, 3, generator=gen) * (2.0 / math.sqrt(size))).to(device, dtype)
    latent = float(torch.randn(1, generator=gen).item())
    palette = torch.rand(2, 3, generator=gen).to(device, dtype)
    act = _activation(request["style"])
    image = np.empty((height, width, 3), np.uint8)
    band = max(1, 262144 // width)  # about a quarter-million pixels at a time
    aspect = width / height
    for top in range(0, height, band):
        ctx.check_cancelled()
        rows = min(band, height - top)
        ys = (torch.arange(top, top + rows, device=device, dtype=dtype) + 0.5) / height
        xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width
        y = (ys * 2 - 1)[:, None].expand(rows, width) * zoom
        x = (xs * 2 - 1)[None, :].expand(rows, width) * zoom * aspect
        if request["symmetry"] == "mirror":
            x = x.abs()
        r = torch.sqrt(x * x + y * y)
        if request["symmetry"] == "radial":
            angle = torch.atan2(y, x)
            x, y = r, torch.cos(angle * 6)
        h = torch.stack([x, y, r, torch.full_like(x, latent)], dim=-1)
        for weight, bias in layers:
            h = act(h @ weight + bias)
        rgb = torch.sigmoid(h @ out_weight)
        if request["colours"] == "mono":
            rgb = rgb.mean(dim=-1, keepdim=True).expand(rows, width, 3)
        elif request["colours"] == "duotone":
            t = rgb.mean(dim=-1, keepdim=True)
            rgb = palette[0] * (1 - t) + palette[1] * t
        image[top : top + rows] = (rgb * 255 + 0.5).clamp(0, 255).to(torch.uint8).cpu().numpy()
        ctx.progress((top + rows) / height, "pattern")
    return image
