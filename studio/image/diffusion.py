"""The artist's own diffusion models: any diffusers-format folder (Stable Diffusion 1.x/2.x, SDXL
class) in the model folder, loaded offline, for text-to-image, image-to-image and inpainting.

- Nothing is downloaded: the folder is read with ``local_files_only`` and the Hugging Face hub is
  set offline before diffusers is imported.
- Weights load only from safetensors. A folder with only pickled ``.bin`` weights is refused with
  the command that converts it; a folder with parts missing is refused naming them.
- A loaded pipeline stays warm (:class:`DiffusionEngine` keeps one per folder, device and
  precision); switching between text-to-image, image-to-image and inpainting shares its weights.
- Each step is a preview (``ctx.partial``: a quick colour approximation of the latents), a
  progress report and a cancel point. fp16 and PyTorch's scaled-dot-product attention on a GPU;
  attention slicing and CPU offload for small GPUs.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.jobs import Cancelled, JobContext
from studio.plugins.api import Param

__all__ = [
    "DiffusionError",
    "ModelFolder",
    "inspect_folder",
    "find_diffusion_models",
    "DiffusionEngine",
    "DIFFUSION_PARAMS",
    "folder_sha256",
    "ENGINE",
]

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before diffusers or transformers are imported
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # Studio reports progress and problems
os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")

DIFFUSION_PARAMS = (
    Param("prompt", "str", "", help="what to make"),
    Param("negative_prompt", "str", "", label="Negative prompt", help="what to avoid"),
    Param("steps", "int", 25, minimum=1, maximum=200),
    Param("guidance", "float", 7.0, minimum=0.0, maximum=30.0, step=0.5,
          help="how closely to follow the prompt"),
    Param("seed", "seed", -1),
    Param("width", "int", 512, minimum=64, maximum=2048, help="a multiple of 8"),
    Param("height", "int", 512, minimum=64, maximum=2048, help="a multiple of 8"),
    Param("strength", "float", 0.6, minimum=0.0, maximum=1.0, step=0.05,
          help="image-to-image and inpainting: how much to change the starting picture"),
    Param("attention_slicing", "bool", False, label="Attention slicing",
          help="less GPU memory, a little slower"),
    Param("cpu_offload", "bool", False, label="CPU offload",
          help="for small GPUs: keep the parts not in use in main memory (needs accelerate)"),
    Param("half_precision", "bool", True, label="fp16 on a GPU"),
)  # fmt: skip

#: How Stable Diffusion's four latent channels roughly map to RGB (for the per-step preview).
_LATENT_RGB = np.array(
    [
        [0.298, 0.207, 0.208],
        [0.187, 0.286, 0.173],
        [-0.158, 0.189, 0.264],
        [-0.184, -0.271, -0.473],
    ],
    np.float32,
)

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")


class DiffusionError(ValueError):
    """A model folder that cannot be used, or a bad request (the message says what to do)."""


@dataclass
class ModelFolder:
    path: Path
    pipeline_class: str
    components: dict[str, str] = field(default_factory=dict)  # name -> library class

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def is_xl(self) -> bool:
        return "XL" in self.pipeline_class


def quiet_libraries() -> None:
    """diffusers and transformers print progress bars and advice on every load: Studio shows its
    own progress."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def _conversion_hint(path: Path) -> str:
    return (
        f"{path.name} holds only pickled .bin weights, which Studio does not load (a pickle can "
        "run code). Convert it once, in a Python you trust:\n"
        '  python -c "from diffusers import DiffusionPipeline; DiffusionPipeline.from_pretrained('
        f"'{path}', local_files_only=True).save_pretrained('{path}-safetensors', "
        'safe_serialization=True)"\n'
        "then put the new folder in the model folder."
    )


def inspect_folder(path: str | Path) -> ModelFolder:
    """Check a diffusers folder without loading it. Raises :class:`DiffusionError` naming what is
    missing, or explaining how to convert pickled weights."""
    path = Path(path).expanduser()
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise DiffusionError(f"{path} is not a diffusers model folder (it has no model_index.json)")
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DiffusionError(f"{path.name}/model_index.json is unreadable: {exc}") from None
    components = {
        name: value[1]
        for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and value[0] is not None
    }
    missing = [name for name in components if not (path / name).is_dir()]
    if missing:
        raise DiffusionError(f"{path.name} is missing {', '.join(sorted(missing))}")
    pickled_only = []
    for name in components:
        files = [f for f in (path / name).iterdir() if f.suffix in _WEIGHT_SUFFIXES]
        if files and not any(f.suffix == ".safetensors" for f in files):
            pickled_only.append(name)
    if pickled_only:
        raise DiffusionError(_conversion_hint(path))
    weighted = ("unet", "vae", "text_encoder")
    unweighted = [
        name for name in weighted
        if name in components and not any((path / name).glob("*.safetensors"))
    ]  # fmt: skip
    if unweighted:
        raise DiffusionError(f"{path.name} has no weights in {', '.join(unweighted)}")
    return ModelFolder(path, str(index.get("_class_name", "")), components)


def find_diffusion_models(models_dir: str | Path) -> list[Path]:
    """Diffusers folders (with a model_index.json) under ``<models>/image/``."""
    root = Path(models_dir) / "image"
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob("*/model_index.json"))


_HASHES: dict[tuple[str, int, float], str] = {}


def folder_sha256(path: Path) -> str:
    """The folder's sha256 (files in path order), remembered for the session per folder state."""
    from studio.core.models import sha256_file

    files = [f for f in path.rglob("*") if f.is_file()]
    key = (str(path), sum(f.stat().st_size for f in files), max(f.stat().st_mtime for f in files))
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


def latents_preview(latents: Any) -> np.ndarray:
    """A quick HxWx3 uint8 look at SD latents (1x4xhxw), without the VAE."""
    lat = latents[0].float().cpu().numpy()
    if lat.shape[0] != 4:
        lat = lat[:4] if lat.shape[0] > 4 else np.pad(lat, ((0, 4 - lat.shape[0]), (0, 0), (0, 0)))
    rgb = np.tensordot(lat.transpose(1, 2, 0), _LATENT_RGB, axes=1)
    return np.clip((rgb + 1.0) * 127.5, 0, 255).astype(np.uint8)


class DiffusionEngine:
    """Keeps loaded pipelines warm and runs them. Thread-safe per call (one generation at a time
    per engine)."""

    def __init__(self) -> None:
        self._pipes: dict[tuple[str, str, str], Any] = {}
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            self._pipes.clear()
        from studio.core.models import _empty_gpu_cache

        _empty_gpu_cache()

    def _dtype(self, device: str, half: bool) -> Any:
        import torch

        return torch.float16 if half and device == "cuda" else torch.float32

    def load(self, folder: ModelFolder, device: str = "cpu", half: bool = True,
             cpu_offload: bool = False, attention_slicing: bool = False) -> Any:  # fmt: skip
        """The folder's pipeline on ``device`` (loaded once, then kept)."""
        import torch

        dtype = self._dtype(device, half)
        key = (str(folder.path), device if not cpu_offload else "offload", str(dtype))
        pipe = self._pipes.get(key)
        if pipe is None:
            try:
                from diffusers import DiffusionPipeline
            except ImportError:
                raise DiffusionError(
                    "your own diffusion models need the diffusion extra: "
                    "pip install 'studio[diffusion]' (diffusers, transformers, accelerate)"
                ) from None

            quiet_libraries()
            options: dict[str, Any] = {"local_files_only": True, "use_safetensors": True}
            if dtype != torch.float32:
                options["torch_dtype"] = dtype
            try:
                with warnings.catch_warnings():  # renamed keywords in newer diffusers
                    warnings.simplefilter("ignore", FutureWarning)
                    pipe = DiffusionPipeline.from_pretrained(folder.path, **options)
            except (OSError, ValueError) as exc:
                raise DiffusionError(f"{folder.name} could not be loaded: {exc}") from None
            pipe.set_progress_bar_config(disable=True)
            if cpu_offload and device == "cuda":
                pipe.enable_model_cpu_offload()
            else:
                pipe.to(device)
            if hasattr(torch.nn.functional, "scaled_dot_product_attention"):
                from diffusers.models.attention_processor import AttnProcessor2_0

                pipe.unet.set_attn_processor(AttnProcessor2_0())  # SDPA
            self._pipes = {key: pipe}  # one model warm at a time: big models do not pile up
        if attention_slicing:
            pipe.enable_attention_slicing()
        else:
            pipe.disable_attention_slicing()
        return pipe

    def generate(
        self,
        folder: str | Path | ModelFolder,
        request: dict[str, Any],
        ctx: JobContext | None = None,
        device: str = "cpu",
        init: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Text-to-image (no ``init``), image-to-image (``init``) or inpainting (``init`` and
        ``mask``, HxW 0..1 where 1 is repainted). ``request`` holds :data:`DIFFUSION_PARAMS`,
        resolved (a concrete seed). Returns HxWx3 uint8. Raises :class:`DiffusionError`,
        :class:`Cancelled`."""
        import torch

        ctx = ctx or JobContext()
        if not isinstance(folder, ModelFolder):
            folder = inspect_folder(folder)
        if not str(request.get("prompt", "")).strip():
            raise DiffusionError("write a prompt")
        width, height = int(request["width"]), int(request["height"])
        if width % 8 or height % 8:
            raise DiffusionError("width and height must be multiples of 8")
        steps = int(request["steps"])
        ctx.progress(0.0, f"loading {folder.name}")
        with self._lock:
            pipe = self.load(folder, device, bool(request.get("half_precision", True)),
                             bool(request.get("cpu_offload")),
                             bool(request.get("attention_slicing")))  # fmt: skip
            mode = "text" if init is None else ("inpaint" if mask is not None else "image")
            run = self._for_mode(pipe, mode)
            generator = torch.Generator(device="cpu").manual_seed(int(request["seed"]))
            kwargs: dict[str, Any] = {
                "prompt": request["prompt"],
                "negative_prompt": request.get("negative_prompt") or None,
                "num_inference_steps": steps,
                "guidance_scale": float(request["guidance"]),
                "generator": generator,
                "output_type": "np",
                "callback_on_step_end": self._callback(ctx, steps, mode, request),
            }
            if mode == "text":
                kwargs.update(width=width, height=height)
            else:
                from PIL import Image as PILImage

                kwargs["image"] = PILImage.fromarray(np.ascontiguousarray(init[..., :3]))
                kwargs["strength"] = float(request["strength"])
                if mode == "inpaint":
                    m = (np.clip(mask, 0, 1) * 255).astype(np.uint8)
                    kwargs["mask_image"] = PILImage.fromarray(m)
                    kwargs.update(width=width, height=height)
            try:
                with torch.inference_mode():
                    result = run(**kwargs)
            except Cancelled:
                raise
            except torch.OutOfMemoryError:
                raise DiffusionError(
                    "the GPU ran out of memory: try a smaller size, attention slicing, CPU "
                    "offload, or the CPU"
                ) from None
        images = result.images
        return (np.clip(images[0], 0, 1) * 255 + 0.5).astype(np.uint8)

    @staticmethod
    def _for_mode(pipe: Any, mode: str) -> Any:
        if mode == "text":
            return pipe
        from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

        cls = AutoPipelineForInpainting if mode == "inpaint" else AutoPipelineForImage2Image
        derived = cls.from_pipe(pipe)  # shares the loaded weights: no reload
        derived.set_progress_bar_config(disable=True)
        return derived

    @staticmethod
    def _callback(ctx: JobContext, steps: int, mode: str, request: dict[str, Any]):
        total = steps if mode == "text" else max(1, int(steps * float(request["strength"])))

        def on_step(pipe, index, _timestep, values):
            ctx.check_cancelled()
            ctx.progress(min(1.0, (index + 1) / total), f"step {index + 1} of {total}")
            latents = values.get("latents")
            if latents is not None:
                ctx.partial(latents_preview(latents))
            return values

        return on_step


#: The process's engine: one warm pipeline shared by the panel, the CLI and the generators.
ENGINE = DiffusionEngine()
