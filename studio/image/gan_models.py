"""Trained generators (``studio image train-gan``) as engines of the Image panel's Generate tab.

Qt-free. :func:`find_generators` lists the generator files in the user's model folder
(``<model folder>/image-gan``) and the shipped ones, reading only their safetensors headers (no
torch, so the window can list them at start-up). :func:`gan_params` gives the controls a generator
needs as data (a class for a class-conditional one; seed, count, truncation), and
:func:`generate` makes a grid of pictures with its provenance, as the CLI's ``studio image
generate --engine FILE`` does.
"""

from __future__ import annotations

import json
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from studio.plugins.api import Param

__all__ = [
    "GAN_ENGINE",
    "ANY_LABEL",
    "GanModel",
    "describe",
    "find_generators",
    "gan_params",
    "generate",
    "read_metadata",
]

GAN_ENGINE = "studio/image-gan"
ANY_LABEL = "(each in turn)"
MAX_COUNT = 64
_HEADER_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class GanModel:
    """What the Generate tab shows of one generator file."""

    path: Path
    arch: str
    size: int
    labels: tuple[str, ...]
    text: bool  # conditioned on a text prompt (else on the classes in ``labels``)
    origin: str  # "user" or "shipped"
    examples: tuple[str, ...] = ()  # captions it learnt from (a text model's prompt ideas)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def title(self) -> str:
        """Short, for a list: the name and what it draws from."""
        what = "prompt" if self.text else f"{len(self.labels)} classes"
        return f"{self.name} ({what})"

    @property
    def details(self) -> str:
        mine = "your generator" if self.origin == "user" else "shipped with Studio"
        what = "draws from a prompt" if self.text else "classes: " + ", ".join(self.labels[:12])
        return f"{mine}, {self.arch}, {self.size} px; {what}\n{self.path}"


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file, read from its header without torch.
    Raises ValueError for a file that is not safetensors."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            (length,) = struct.unpack("<Q", fh.read(8))
            if not 0 < length <= _HEADER_LIMIT:
                raise ValueError("bad header length")
            header = json.loads(fh.read(length))
    except (OSError, struct.error, ValueError) as exc:
        raise ValueError(f"{path.name} is not a safetensors file ({exc})") from exc
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return {str(k): str(v) for k, v in (meta or {}).items()}


def _is_text(meta: dict[str, str]) -> bool:
    return bool(meta.get("text_dim") and meta.get("text_dim") != "0") or meta.get(
        "conditioning", ""
    ) in ("text", "prompt")


def describe(path: str | Path, origin: str = "user") -> GanModel:
    """A generator file's description. Raises ValueError for a file that is not a Studio
    generator."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"the generator {path.name} is no longer in {path.parent}")
    meta = read_metadata(path)
    if meta.get("studio_kind") != "gan":
        raise ValueError(
            f"{path.name} is not a Studio generator (it is {meta.get('studio_kind') or 'unknown'})"
        )
    try:
        labels = tuple(str(x) for x in json.loads(meta.get("labels", "[]")))
        size = int(meta.get("size", "0"))
        examples = tuple(str(x) for x in json.loads(meta.get("prompts", "[]")))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path.name}: its settings are unreadable ({exc})") from exc
    return GanModel(path, meta.get("arch", "?"), size, labels, _is_text(meta), origin, examples)


def find_generators(user_dir: str | Path | None, shipped_dir: str | Path | None = None):
    """Every generator file: the shipped ones (under ``shipped_dir``, any depth), then the user's
    (``user_dir``/image-gan), each name once. Files that are not generators are left out."""
    found: list[GanModel] = []
    places = []
    if shipped_dir is not None:
        places.append(("shipped", Path(shipped_dir), "**/*.safetensors"))
    if user_dir is not None:
        places.append(("user", Path(user_dir) / "image-gan", "*.safetensors"))
    for origin, root, pattern in places:
        if not root.is_dir():
            continue
        for path in sorted(root.glob(pattern)):
            try:
                found.append(describe(path, origin))
            except ValueError:
                continue
    return found


def gan_params(model: GanModel) -> tuple[Param, ...]:
    """The controls ``model`` needs, as data for the panel's parameter form (a text model's
    prompt is the panel's prompt box)."""
    from studio.plugins.api import Param

    params: list[Param] = []
    if not model.text and len(model.labels) > 1:
        params.append(
            Param("label", "choice", ANY_LABEL, label="Class", choices=(ANY_LABEL, *model.labels),
                  help="what to draw: one of the classes (subfolders) it learnt, or each in turn")
        )  # fmt: skip
    if model.text:
        params.append(
            Param("to", "str", "", label="Morph to",
                  help="a second prompt: the pictures walk from the first prompt to this one "
                       "(empty: no morph)")
        )  # fmt: skip
    params += [
        Param("seed", "seed", -1, help="the same seed gives the same pictures"),
        Param("count", "int", 16, minimum=1, maximum=MAX_COUNT, help="how many pictures"),
        Param("truncation", "float", 0.0, minimum=0.0, maximum=3.0, step=0.1,
              help="below 1 draws safer, more typical pictures; 0 is off (the full variety)"),
        Param("scale", "int", 4, minimum=1, maximum=8,
              help="each picture this many times larger in the grid (sharp pixels)"),
    ]  # fmt: skip
    if model.text:
        params.append(
            Param("transparent", "bool", False, label="Transparent background",
                  help="the white around each icon becomes transparent (for game sprites)")
        )  # fmt: skip
    return tuple(params)


_cache: dict[tuple[str, float, str], Any] = {}
_lock = threading.Lock()


def _load(path: Path, device: str):
    """The loaded generator, kept warm (the last one only)."""
    from studio.image.gan import load_generator

    key = (str(path), path.stat().st_mtime, device)
    with _lock:
        if key not in _cache:
            _cache.clear()
            _cache[key] = load_generator(path, device)
        return _cache[key]


def _grid(images: np.ndarray, cols: int, scale: int) -> np.ndarray:
    """(N, 3, S, S) in [-1, 1] -> an RGB uint8 grid with white gutters, each picture ``scale``
    times larger (nearest neighbour: pixel art stays sharp)."""
    from studio.image.gan import _grid as gan_grid

    if scale > 1:
        images = images.repeat(scale, axis=2).repeat(scale, axis=3)
    return gan_grid(images, cols)


def generate(request: dict, ctx=None, device: str = "cpu"):
    """A grid of pictures from the generator file ``request["model"]``, as an
    :class:`~studio.core.media.Image` with its provenance (engine, model, parameters, seed).

    ``request``: ``model`` (a path), ``seed`` (-1: a random one), ``count``, ``truncation``,
    ``scale``, and ``label`` (a class name, or :data:`ANY_LABEL`) or ``prompt`` (text models).
    Raises ValueError for a file that is not a generator, a class it does not know, or a prompt
    asked of a class-conditional one.
    """
    import numpy as np
    import torch

    from studio.core.media import Image

    path = Path(str(request.get("model", "")))
    model = describe(path)  # a clear message for a missing or foreign file
    count = int(request.get("count", 16))
    if not 1 <= count <= MAX_COUNT:
        raise ValueError(f"count must be 1 to {MAX_COUNT}, not {count}")
    seed = int(request.get("seed", -1))
    if seed < 0:
        seed = int.from_bytes(__import__("os").urandom(3), "little")
    truncation = float(request.get("truncation", 0.0))
    scale = max(1, min(8, int(request.get("scale", 1))))
    label = str(request.get("label") or "")
    prompt = str(request.get("prompt") or "").strip()
    if ctx is not None:
        ctx.progress(0.1, f"loading {path.name}")
    if model.text:
        from studio.image.gan import generate_prompt_grid

        if not prompt:
            raise ValueError(f"{path.name} draws from a prompt: type what to draw")
        to = str(request.get("to") or "").strip()
        if ctx is not None:
            ctx.progress(0.5, f"drawing {count} pictures of “{prompt}”")
        grid = generate_prompt_grid(_load(path, device), count, seed, prompt, to=to or None,
                                    truncation=truncation, scale=scale,
                                    transparent=bool(request.get("transparent")))  # fmt: skip
        images = None
        label = ""
    else:
        from studio.image.gan import latents

        loaded = _load(path, device)
        if label in ("", ANY_LABEL):
            classes = [i % len(loaded.labels) for i in range(count)]
            label = ""
        elif label in loaded.labels:
            classes = [loaded.labels.index(label)] * count
        else:
            raise ValueError(
                f"{path.name} has no class {label!r}; it has: {', '.join(loaded.labels[:30])}"
            )
        if ctx is not None:
            ctx.check_cancelled()
            ctx.progress(0.5, f"drawing {count} pictures")
        z = latents(count, seed, truncation)
        with torch.inference_mode():
            net = loaded.net
            images = net(z.to(device), torch.tensor(classes, device=device)).float().cpu().numpy()
        grid = None
    if images is not None:
        grid = _grid(images, min(count, 8), scale)
    params = {"model": str(path), "label": label, "prompt": prompt if model.text else "",
              "seed": seed, "count": count, "truncation": truncation, "scale": scale}  # fmt: skip
    if model.text:
        params.update(to=str(request.get("to") or ""), transparent=bool(request.get("transparent")))
    provenance = {"engine": GAN_ENGINE, "model": path.name, "arch": model.arch, "params": params}
    return Image(np.ascontiguousarray(grid), provenance=provenance)
