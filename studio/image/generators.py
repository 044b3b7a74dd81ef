"""The built-in image generators as plugin-contract generators (kind ``image``)."""

from __future__ import annotations

from typing import Any

from studio.image.diffusion import DIFFUSION_PARAMS
from studio.image.pattern import PATTERN_PARAMS
from studio.plugins.api import Generator, Image, JobContext, Param

__all__ = ["PatternGenerator", "DiffusionGenerator"]


class PatternGenerator(Generator):
    kind = "image"
    title = "Neural patterns (built in)"
    description = (
        "Seeded patterns from a small random network of positions (a CPPN): backgrounds and "
        "textures at any size, no download."
    )

    params = PATTERN_PARAMS

    def run(self, request: dict[str, Any], ctx: JobContext) -> Image:
        from studio.image.pattern import make_pattern

        pixels = make_pattern(request, ctx, self.device)
        provenance = {"engine": "studio/pattern", "params": _plain(request, self.params)}
        return Image(pixels, provenance)


class DiffusionGenerator(Generator):
    kind = "image"
    title = "Your diffusion model"
    description = (
        "Any diffusers-format folder (Stable Diffusion 1.x/2.x, SDXL class) in the model "
        "folder's image/ directory, offline and from safetensors only. Optional inputs: init "
        "(an Image, for image-to-image) and mask (a Mask, for inpainting)."
    )

    params = (
        Param("model", "str", "", help="the model folder (a path, or its name in image/)"),
        *DIFFUSION_PARAMS,
    )

    def run(self, request: dict[str, Any], ctx: JobContext) -> Image:
        from studio.image.diffusion import ENGINE, folder_sha256, inspect_folder

        folder = inspect_folder(resolve_model(request["model"]))
        init = request.get("init")
        mask = request.get("mask")
        pixels = ENGINE.generate(
            folder, request, ctx, self.device,
            init=None if init is None else init.pixels[..., :3],
            mask=None if mask is None else mask.alpha,
        )  # fmt: skip
        provenance = {
            "engine": "studio/diffusion",
            "model": folder.name,
            "model_sha256": folder_sha256(folder.path),
            "mode": "text" if init is None else ("inpaint" if mask is not None else "image"),
            "params": _plain(request, self.params),
        }
        return Image(pixels, provenance)


def resolve_model(name: str):
    """A model folder by path, or by name in ``<model folder>/image/``. Raises DiffusionError."""
    from pathlib import Path

    from studio.core.models import ModelStore
    from studio.image.diffusion import DiffusionError, find_diffusion_models

    if not name:
        raise DiffusionError("choose a diffusion model folder")
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    store = ModelStore.from_settings()
    for folder in find_diffusion_models(store.user_dir):
        if folder.name == name:
            return folder
    raise DiffusionError(
        f"no diffusion model {name!r}: put its diffusers folder in {store.user_dir / 'image'}"
    )


def _plain(request: dict[str, Any], params) -> dict[str, Any]:
    return {p.name: request.get(p.name) for p in params}
