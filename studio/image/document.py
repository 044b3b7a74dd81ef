"""The Image panel's document, without Qt: a stack of layers, the mask, the results history with
provenance, the tool and style settings the panel shows, and undo of every change.

Layers are immutable (every operation makes a new array), so an undo step holds references, not
copies, and costs nothing until the picture changes; the oldest steps are dropped past a memory
budget. The picture is the *composite* of the visible layers: tools work on it, export writes it.
A generated picture (patterns, diffusion, a plugin) or an imported one arrives as a new layer, so
nothing the artist had is replaced; Edit ▸ Undo takes it away again.

In a project the document is ``layers/<content hash>.png`` (layers, the picture as opened and the
history's results: a file already on disk is not written again), ``mask.png`` (16-bit grey),
``history/<hash>-thumb.png`` and ``document.json`` (layer order, names, visibility, opacity,
provenance, the history and the settings).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from studio.core.atomic import write_bytes
from studio.core.document import (
    DOCUMENT_JSON,
    Command,
    Document,
    DocumentError,
    SetFields,
    UndoStack,
    read_json,
    write_json,
)
from studio.image.io import SAVE_SUFFIXES, ImageError, Picture, load_picture, save_picture

__all__ = [
    "ImageDocument",
    "Layer",
    "HistoryEntry",
    "SETTINGS",
    "composite",
    "content_key",
]

LAYERS_DIR = "layers"
HISTORY_DIR = "history"
MASK_FILE = "mask.png"
THUMB_SIDE = 96

#: What the panel's controls show (saved with the project, not undo steps). Parameters of tools and
#: generators are kept per tool / engine: ``{"blur": {"radius": 3}}``.
SETTINGS: dict[str, Any] = {
    "tool": "brightness",
    "tool_params": {},
    "live_preview": True,
    "in_mask": False,
    "mask_tool": "pan",
    "brush_size": 40,
    "show_mask": True,
    "compare": False,
    "style": "0",
    "style_picture": "",
    "style_strength": 1.0,
    "keep_colour": False,
    "upscale_model": "x4plus",
    "upscale_scale": 4,
    "engine": "pattern",
    "gen_params": {},
    "prompt": "",
    "use_canvas": False,
    "use_mask": False,
}


@dataclass(frozen=True, eq=False)
class Layer:
    """One picture in the stack: RGB or RGBA, uint8 or uint16, never modified in place."""

    name: str
    pixels: np.ndarray
    visible: bool = True
    opacity: float = 1.0
    provenance: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Layer:
        return dataclasses.replace(self, **changes)

    @property
    def opaque(self) -> bool:
        return self.pixels.shape[2] == 3 and self.opacity >= 1.0


@dataclass(frozen=True, eq=False)
class HistoryEntry:
    """A result with the parameters that made it (the History list; "reuse parameters"). In an
    opened project its pixels stay in ``source`` until they are needed."""

    label: str
    provenance: dict[str, Any]
    thumbnail: np.ndarray | None  # small RGB(A) uint8
    pixels: np.ndarray | None = field(default=None, repr=False)
    source: Path | None = None

    def load(self) -> np.ndarray | None:
        """The result's pixels (read from the project when they are not in memory)."""
        if self.pixels is not None:
            return self.pixels
        if self.source is None:
            return None
        try:
            pixels = load_picture(self.source).pixels
        except ImageError:
            return None
        _remember_key(pixels, self.source.stem)
        return pixels


class LazyImage:
    """An 8-bit :class:`~studio.core.media.Image` of some layers' composite, made on first use."""

    def __init__(self, layers: tuple[Layer, ...], provenance: dict[str, Any]) -> None:
        self._layers = layers
        self._pixels: np.ndarray | None = None
        self.provenance = provenance

    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            from studio.image.io import to_uint8

            self._pixels = to_uint8(composite(self._layers))
        return self._pixels

    @property
    def size(self) -> tuple[int, int]:
        h, w = self._layers[0].pixels.shape[:2]
        return int(w), int(h)


# -- content keys ----------------------------------------------------------------------------------
# Files are named by a hash of their pixels. Hashing 24 megapixels takes a tenth of a second, so
# each array's key is kept while the array lives (arrays are never modified in place).
_KEYS: dict[int, tuple[weakref.ref, str]] = {}
_KEYS_LOCK = threading.Lock()


def _forget(array_id: int):
    def callback(_ref) -> None:
        with _KEYS_LOCK:
            _KEYS.pop(array_id, None)

    return callback


def _remember_key(array: np.ndarray, key: str) -> None:
    with contextlib.suppress(TypeError), _KEYS_LOCK:
        _KEYS[id(array)] = (weakref.ref(array, _forget(id(array))), key)


def content_key(array: np.ndarray) -> str:
    """A hash of ``array``'s shape, type and values (the name of its file in a project)."""
    with _KEYS_LOCK:
        known = _KEYS.get(id(array))
    if known is not None and known[0]() is array:
        return known[1]
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{array.shape}{array.dtype.str}".encode())
    digest.update(np.ascontiguousarray(array).data)
    key = digest.hexdigest()
    _remember_key(array, key)
    return key


# -- compositing -----------------------------------------------------------------------------------
def fit_to(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """``pixels`` scaled to cover ``width`` x ``height`` and cropped at the centre (a generated
    picture of another size placed on the canvas)."""
    import cv2

    h, w = pixels.shape[:2]
    if (h, w) == (height, width):
        return pixels
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    shrink = scale < 1.0
    scaled = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return np.ascontiguousarray(scaled[top : top + height, left : left + width])


def showing(layers: tuple[Layer, ...]) -> list[Layer]:
    """The layers that show in the composite: visible, and not under an opaque layer."""
    visible = [layer for layer in layers if layer.visible and layer.opacity > 0]
    for i in range(len(visible) - 1, -1, -1):
        if visible[i].opaque:
            return visible[i:]
    return visible


STRIP = 512  # rows blended at a time: a 24-megapixel blend never holds float copies of it all


def _depth(pixels: np.ndarray, dtype: type) -> np.ndarray:
    if pixels.dtype == dtype:
        return pixels
    if dtype == np.uint16:
        return pixels.astype(np.uint16) * 257
    from studio.image.io import to_uint8

    return to_uint8(pixels)


def composite(layers: tuple[Layer, ...]) -> np.ndarray | None:
    """The visible layers blended bottom to top (alpha and opacity, "over"). One opaque layer on
    top of the rest is returned as it is (no copy). RGB when the result is opaque everywhere,
    else RGBA; 16-bit when any layer is. None when there are no layers."""
    import cv2

    if not layers:
        return None
    height, width = layers[0].pixels.shape[:2]
    shown = showing(layers)
    if not shown:
        return np.zeros((height, width, 4), np.uint8)
    if len(shown) == 1 and shown[0].opacity >= 1.0:  # over nothing: itself
        return shown[0].pixels
    dtype = np.uint16 if any(layer.pixels.dtype == np.uint16 for layer in shown) else np.uint8
    top = 65535.0 if dtype == np.uint16 else 255.0
    sources = [(_depth(fit_to(layer.pixels, height, width), dtype), layer.opacity)
               for layer in shown]  # fmt: skip
    if shown[0].opaque:  # the usual case: an opaque picture with layers over it
        out = sources[0][0]
        for src, opacity in sources[1:]:
            if src.shape[2] == 3:  # a plain cross-fade
                out = cv2.addWeighted(src, opacity, out, 1.0 - opacity, 0.0)
                continue
            blended = np.empty_like(out)
            for y in range(0, height, STRIP):
                rows = slice(y, y + STRIP)
                a = src[rows, :, 3:4].astype(np.float32) * (opacity / top)
                base = out[rows].astype(np.float32)
                mixed = base + (src[rows, :, :3].astype(np.float32) - base) * a
                blended[rows] = (mixed + 0.5).astype(dtype)
            out = blended
        return out
    out = np.empty((height, width, 4), dtype)
    for y in range(0, height, STRIP):
        rows = slice(y, y + STRIP)
        n = min(height, y + STRIP) - y
        rgb = np.zeros((n, width, 3), np.float32)  # premultiplied
        alpha = np.zeros((n, width, 1), np.float32)
        for src, opacity in sources:
            part = src[rows]
            if part.shape[2] == 4:
                a = part[..., 3:4].astype(np.float32) * (opacity / top)
            else:
                a = np.full((n, width, 1), opacity, np.float32)
            rgb = part[..., :3].astype(np.float32) / top * a + rgb * (1.0 - a)
            alpha = a + alpha * (1.0 - a)
        colour = np.where(alpha > 0, rgb / np.maximum(alpha, 1e-8), 0.0)
        out[rows] = (np.clip(np.concatenate([colour, alpha], axis=2), 0, 1) * top + 0.5).astype(
            dtype
        )
    if out[..., 3].min() == top:  # opaque after all
        return np.ascontiguousarray(out[..., :3])
    return out


def thumbnail(pixels: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    from studio.image.ops import make_proxy

    small, _ = make_proxy(pixels, side)
    return small


def _arrays(value: Any, out: dict[int, int]) -> None:
    if isinstance(value, np.ndarray):
        out[id(value)] = value.nbytes
    elif isinstance(value, Layer):
        out[id(value.pixels)] = value.pixels.nbytes
    elif isinstance(value, tuple | list):
        for item in value:
            _arrays(item, out)


def _command_arrays(command: Command, out: dict[int, int]) -> None:
    if isinstance(command, SetFields):
        for values in (command.before, command.after):
            for value in values.values():
                _arrays(value, out)
    for inner in getattr(command, "commands", ()):
        _command_arrays(inner, out)


class _BudgetUndoStack(UndoStack):
    """An undo stack that drops its oldest steps when the arrays they hold pass a budget."""

    def __init__(self, budget_bytes: int) -> None:
        super().__init__()
        self.budget_bytes = budget_bytes

    def push(self, command: Command, execute: bool = True) -> None:
        super().push(command, execute)
        if not self._macro:
            self.trim()

    def trim(self) -> None:
        seen: dict[int, int] = {}
        keep = 0
        for command in reversed(self._done):
            _command_arrays(command, seen)
            keep += 1
            if keep > 1 and sum(seen.values()) > self.budget_bytes:
                keep -= 1
                break
        dropped = len(self._done) - keep
        if dropped > 0:
            del self._done[:dropped]
            self.changed.emit()


def _edit_provenance(before: dict[str, Any], label: str) -> dict[str, Any]:
    """An edit's provenance: the operations so far on top of what made the picture."""
    before = dict(before)
    if before.get("engine") == "studio/image-edit":
        return {**before, "operations": [*before.get("operations", []), label]}
    chain = list(before.pop("history", []))
    if before:
        chain.append(before)
    return {"engine": "studio/image-edit", "operations": [label], "history": chain}


class ImageDocument(Document):
    """Layers, mask, results history and settings of the Image panel."""

    KIND: ClassVar[str] = "image"
    VERSION: ClassVar[int] = 1
    EXPORT_SUFFIXES: ClassVar[tuple[str, ...]] = SAVE_SUFFIXES
    BUDGET_BYTES: ClassVar[int] = 3 * 1024**3  # what undo steps may hold
    FIELDS: ClassVar[dict[str, Any]] = {
        "layers": (),  # bottom first
        "active_layer": 0,
        "mask": None,  # HxW float32 0..1, or no mask
        "history": (),  # HistoryEntry, oldest first
        "original": None,  # the picture as opened (before/after)
        "source": "",  # the file it came from
        **{name: (lambda v=v: dict(v)) if isinstance(v, dict) else v
           for name, v in SETTINGS.items()},
    }  # fmt: skip
    # The selection, the results list and the controls are saved but not undone.
    QUIET_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"active_layer", "history", "source", *SETTINGS}
    )

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.undo_stack = _BudgetUndoStack(self.BUDGET_BYTES)
        self._composite: tuple[tuple[Layer, ...], np.ndarray | None] | None = None

    @property
    def budget_bytes(self) -> int:
        return self.undo_stack.budget_bytes

    @budget_bytes.setter
    def budget_bytes(self, value: int) -> None:
        self.undo_stack.budget_bytes = int(value)
        self.undo_stack.trim()

    # -- the picture -------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return bool(self.layers)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the canvas; (0, 0) without layers."""
        if not self.layers:
            return (0, 0)
        h, w = self.layers[0].pixels.shape[:2]
        return (int(w), int(h))

    def composite(self) -> np.ndarray | None:
        """The picture: the visible layers blended (kept until the layers change)."""
        layers = self.layers
        if self._composite is None or self._composite[0] is not layers:
            self._composite = (layers, composite(layers))
        return self._composite[1]

    @property
    def pixels(self) -> np.ndarray | None:
        return self.composite()

    def provenance(self) -> dict[str, Any]:
        """What made the picture: the provenance of the layer that shows, or of each."""
        visible = showing(self.layers)
        if len(visible) == 1:
            return dict(visible[0].provenance)
        if not visible:
            return {}
        return {
            "engine": "studio/layers",
            "layers": [
                {"name": layer.name, "opacity": layer.opacity, **layer.provenance}
                for layer in visible
            ],
        }

    @property
    def has_alpha(self) -> bool:
        """Whether the picture may be transparent somewhere (no opaque layer under the rest)."""
        shown = showing(self.layers)
        return bool(self.layers) and (not shown or not shown[0].opaque)

    def shared_image(self) -> LazyImage | None:
        """The picture for the other panels (the Video panel's background), blended only when
        one of them asks."""
        if not self.layers:
            return None
        return LazyImage(self.layers, self.provenance())

    def picture(self) -> Picture | None:
        """The composite as a Picture with its provenance (what export writes)."""
        pixels = self.composite()
        if pixels is None:
            return None
        return Picture(pixels, self.provenance(), Path(self.source) if self.source else None)

    def layer_index(self) -> int:
        return min(max(0, self.active_layer), max(0, len(self.layers) - 1))

    # -- changes (each is one undo step) -----------------------------------------------------------
    def add_layer(
        self, pixels: np.ndarray, name: str, provenance: dict[str, Any] | None = None,
        label: str | None = None, result: bool = False,
    ) -> Layer:  # fmt: skip
        """Put ``pixels`` on top as a new layer (scaled to cover the canvas when its size
        differs); the first layer sets the canvas. ``result`` adds it to the history list."""
        info = dict(provenance or {})
        pixels = Picture(pixels).pixels  # RGB(A), 8 or 16 bits, or ImageError
        values: dict[str, Any] = {}
        if self.layers:
            w, h = self.size
            if pixels.shape[:2] != (h, w):
                info["placed"] = {"from": [pixels.shape[1], pixels.shape[0]], "to": [w, h]}
                pixels = fit_to(pixels, h, w)
        else:
            values["original"] = pixels
            values["mask"] = None
        layer = Layer(self._unique_name(name), pixels, provenance=info)
        layers = (*self.layers, layer)
        self.set(label or f"New layer {layer.name}", layers=layers,
                 active_layer=len(layers) - 1, **values)  # fmt: skip
        if result:
            self.add_result(label or name, info, pixels)
        return layer

    def _unique_name(self, name: str) -> str:
        names = {layer.name for layer in self.layers}
        name = name.strip() or "Layer"
        if name not in names:
            return name
        n = 2
        while f"{name} {n}" in names:
            n += 1
        return f"{name} {n}"

    def apply(
        self, pixels: np.ndarray, label: str, provenance: dict[str, Any] | None = None,
        result: bool = False, hidden: dict[int, np.ndarray] | None = None,
    ) -> None:  # fmt: skip
        """A tool's result on the composite: it replaces the layers that showed (one layer when
        one showed, their merge when several did); hidden layers and layers under an opaque one
        stay. A new size drops a mask that no longer fits; ``hidden`` gives the other layers'
        pixels (by index) after a geometry tool, else they are scaled to cover the new size.
        ``result`` adds it to the history list."""
        if not self.layers:
            raise ValueError("there is no picture to apply a tool to")
        pixels = Picture(pixels).pixels
        info = dict(provenance) if provenance is not None else _edit_provenance(
            self.provenance(), label)  # fmt: skip
        shown = {id(layer) for layer in showing(self.layers)}
        indices = [i for i, layer in enumerate(self.layers) if id(layer) in shown]
        name = self.layers[indices[0]].name if len(indices) == 1 else "Merged"
        merged = Layer(name, pixels, provenance=info)
        h, w = pixels.shape[:2]
        layers: list[Layer] = []
        active = len(self.layers)
        for i, layer in enumerate(self.layers):
            if id(layer) in shown:
                if i == indices[-1]:
                    active = len(layers)
                    layers.append(merged)
                continue
            if layer.pixels.shape[:2] != (h, w):  # a geometry tool: the other layers follow
                moved = (hidden or {}).get(i)
                layer = layer.replace(pixels=moved if moved is not None
                                      else fit_to(layer.pixels, h, w))  # fmt: skip
            layers.append(layer)
        if not indices:  # nothing showed: the result goes on top
            active = len(layers)
            layers.append(merged)
        values: dict[str, Any] = {"layers": tuple(layers), "active_layer": active}
        if self.mask is not None and self.mask.shape != (h, w):
            values["mask"] = None
        self.set(label, **values)
        if result:
            self.add_result(label, info, pixels)

    def add_result(self, label: str, provenance: dict[str, Any], pixels: np.ndarray) -> None:
        """Add a result to the history list (not an undo step: undone results stay listed)."""
        entry = HistoryEntry(label, dict(provenance), thumbnail(pixels), pixels)
        self.set_quiet(history=(*self.history, entry))

    def set_mask(self, mask: np.ndarray | None, label: str) -> None:
        """Replace the mask (None: no mask). Raises ValueError for a mask of the wrong size."""
        if mask is not None:
            mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
            w, h = self.size
            if mask.shape != (h, w):
                raise ValueError(
                    f"the mask is {mask.shape[1]}x{mask.shape[0]}, the picture {w}x{h}"
                )
        self.set(label, mask=mask)

    def invert_mask(self) -> None:
        w, h = self.size
        if not h:
            return
        current = self.mask
        self.set_mask(np.ones((h, w), np.float32) if current is None else 1.0 - current,
                      "mask: invert")  # fmt: skip

    def change_layer(self, index: int, label: str, merge_key: str | None = None,
                     **changes: Any) -> None:  # fmt: skip
        """Rename, show/hide or fade layer ``index`` (``name=``, ``visible=``, ``opacity=``)."""
        layers = list(self.layers)
        if not 0 <= index < len(layers):
            return
        if "opacity" in changes:
            changes["opacity"] = float(min(1.0, max(0.0, changes["opacity"])))
        old = layers[index]
        if all(getattr(old, k) == v for k, v in changes.items()):
            return
        layers[index] = old.replace(**changes)
        self.set(label, merge_key=merge_key, layers=tuple(layers))

    def remove_layer(self, index: int) -> None:
        if not 0 <= index < len(self.layers) or len(self.layers) < 2:
            return
        name = self.layers[index].name
        layers = self.layers[:index] + self.layers[index + 1 :]
        self.set(f"Delete layer {name}", layers=layers,
                 active_layer=min(index, len(layers) - 1))  # fmt: skip

    def move_layer(self, index: int, delta: int) -> None:
        """Move layer ``index`` up (+1) or down (-1) the stack."""
        target = index + delta
        if not (0 <= index < len(self.layers) and 0 <= target < len(self.layers)):
            return
        layers = list(self.layers)
        layers[index], layers[target] = layers[target], layers[index]
        self.set(f"Move layer {layers[target].name}", layers=tuple(layers),
                 active_layer=target)  # fmt: skip

    def restore(self, index: int) -> bool:
        """The result ``index`` of the history as a new layer on top (one undo step). False when
        its pixels are no longer there."""
        if not 0 <= index < len(self.history):
            return False
        entry = self.history[index]
        pixels = entry.load()
        if pixels is None:
            return False
        self.add_layer(pixels, entry.label, entry.provenance, f"Back to {entry.label}")
        return True

    def reuse(self, provenance: dict[str, Any]) -> str:
        """Put a result's parameters back into the settings. Returns which engine ("style",
        "pattern", "diffusion", or "" when there is nothing to reuse)."""
        engine = provenance.get("engine")
        params = dict(provenance.get("params") or {})
        if engine == "studio/style":
            style = str(provenance.get("style", "0"))
            picture = "" if all(p.split(":")[0].strip().isdigit() for p in style.split(",")) \
                else style  # fmt: skip
            self.set_quiet(style=style if not picture else self.style, style_picture=picture,
                           style_strength=float(provenance.get("strength", 1.0)),
                           keep_colour=bool(provenance.get("keep_colour")))  # fmt: skip
            return "style"
        if engine == "studio/pattern":
            key = "pattern"
        elif engine == "studio/diffusion":
            key = str(params.pop("model", "")) or self.engine
            self.set_quiet(prompt=str(params.pop("prompt", self.prompt)))
        else:
            return ""
        params.pop("init", None)
        params.pop("mask", None)
        gen = dict(self.gen_params)
        gen[key] = {**gen.get(key, {}), **params}
        self.set_quiet(engine=key, gen_params=gen)
        return "pattern" if key == "pattern" else "diffusion"

    # -- files -------------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> ImageDocument:
        """A document holding the picture at ``path`` as its one layer. Raises DocumentError."""
        try:
            picture = load_picture(path)
        except ImageError as exc:
            raise DocumentError(str(exc)) from None
        layer = Layer(Path(path).stem or "Picture", picture.pixels,
                      provenance=dict(picture.provenance))  # fmt: skip
        return cls(layers=(layer,), original=picture.pixels, source=str(path))

    def export(self, path: str | Path) -> Path:
        """Write the composite with its provenance (PNG, JPEG, WebP or TIFF by suffix; mode 0644
        with the usual umask). Raises DocumentError."""
        picture = self.picture()
        if picture is None:
            raise DocumentError("the image document is empty: nothing to export")
        try:
            return save_picture(picture, path)
        except ImageError as exc:
            raise DocumentError(str(exc)) from None

    def snapshot(self) -> dict[str, Any]:
        snap = super().snapshot()
        snap["__provenance__"] = self.provenance()
        return snap

    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Write the layers, the picture as opened and the results as ``layers/<hash>.png`` (only
        those not on disk yet), the mask, the thumbnails and document.json; remove pictures
        nothing refers to any more."""
        folder = Path(folder)
        (folder / LAYERS_DIR).mkdir(exist_ok=True)
        previous: dict[str, Any] = {}
        with contextlib.suppress(DocumentError):
            previous = read_json(folder / DOCUMENT_JSON)
        files: list[str] = []

        def listed(name: str) -> str:
            if name not in files:
                files.append(name)
            return name

        def picture_file(pixels: np.ndarray) -> str:
            name = f"{LAYERS_DIR}/{content_key(pixels)}.png"
            if not (folder / name).exists():
                save_picture(Picture(pixels), folder / name, provenance=False)
            return listed(name)

        def copy_file(source: Path, name: str) -> str:
            target = folder / name
            if not target.exists():
                write_bytes(target, Path(source).read_bytes())
            return listed(name)

        layers = []
        for layer in snapshot["layers"]:
            layers.append({"name": layer.name, "file": picture_file(layer.pixels),
                           "visible": layer.visible, "opacity": layer.opacity,
                           "provenance": _plain(layer.provenance)})  # fmt: skip
        history = []
        for entry in snapshot["history"]:
            item: dict[str, Any] = {"label": entry.label,
                                    "provenance": _plain(entry.provenance)}  # fmt: skip
            if entry.pixels is not None:
                item["file"] = picture_file(entry.pixels)
            elif entry.source is not None and entry.source.exists():
                item["file"] = copy_file(entry.source, f"{LAYERS_DIR}/{entry.source.name}")
            if entry.thumbnail is not None and "file" in item:
                thumb = f"{HISTORY_DIR}/{Path(item['file']).stem}-thumb.png"
                if not (folder / thumb).exists():
                    (folder / HISTORY_DIR).mkdir(exist_ok=True)
                    save_picture(Picture(entry.thumbnail), folder / thumb, provenance=False)
                item["thumbnail"] = listed(thumb)
            history.append(item)
        original = snapshot["original"]
        mask = snapshot["mask"]
        mask_key = None
        if mask is not None:
            mask_key = content_key(mask)
            if previous.get("mask_key") != mask_key or not (folder / MASK_FILE).exists():
                _write_mask(mask, folder / MASK_FILE)
            listed(MASK_FILE)
        settings = {name: _plain(snapshot[name]) for name in SETTINGS}
        data = {
            "kind": cls.KIND,
            "version": cls.VERSION,
            "layers": layers,
            "active_layer": snapshot["active_layer"],
            "original": picture_file(original) if original is not None else None,
            "mask": MASK_FILE if mask is not None else None,
            "mask_key": mask_key,
            "history": history,
            "undo": list(snapshot.get("__history__", [])),
            "source": snapshot["source"],
            "settings": settings,
        }
        write_json(folder / DOCUMENT_JSON, data)
        files.append(DOCUMENT_JSON)
        # Pictures of layers and results that are gone (after document.json no longer names them)
        keep = set(files)
        for sub in (LAYERS_DIR, HISTORY_DIR):
            for path in (folder / sub).glob("*.png") if (folder / sub).is_dir() else ():
                if f"{sub}/{path.name}" not in keep:
                    with contextlib.suppress(OSError):
                        path.unlink()
        if mask is None:
            with contextlib.suppress(OSError):
                (folder / MASK_FILE).unlink()
        size = ""
        if snapshot["layers"]:
            h, w = snapshot["layers"][0].pixels.shape[:2]
            size = f"{w}x{h}, "
        n, k = len(layers), len(history)
        summary = (f"{size}{n} layer{'s' * (n != 1)}, {k} history step{'s' * (k != 1)}"
                   + (", mask" if mask is not None else ""))  # fmt: skip
        provenance = _plain(snapshot.get("__provenance__", {}))
        return {"files": files, "summary": summary, "provenance": provenance}

    @classmethod
    def read(cls, folder: Path) -> ImageDocument:
        """Open what ``write_snapshot`` wrote. A missing or damaged layer, mask or result is left
        out with a line in ``messages``; the rest opens."""
        folder = Path(folder)
        data = read_json(folder / DOCUMENT_JSON)
        version = int(data.get("version", 1))
        if version > cls.VERSION:
            raise DocumentError(
                f"the image document was written by a newer Studio (format {version}, this one "
                f"reads up to {cls.VERSION})"
            )
        messages: list[str] = []
        loaded: dict[str, np.ndarray | None] = {}

        def load(name: str | None, what: str) -> np.ndarray | None:
            if not name:
                return None
            if name not in loaded:
                loaded[name] = read(name, what)
            return loaded[name]

        def read(name: str, what: str) -> np.ndarray | None:
            path = folder / name
            if not path.exists():
                messages.append(f"{what} ({name}) is missing; the rest of the picture opened")
                return None
            try:
                pixels = load_picture(path).pixels
            except ImageError as exc:
                messages.append(f"{what} ({name}) could not be read: {exc}")
                return None
            _remember_key(pixels, path.stem)
            return pixels

        layers: list[Layer] = []
        for item in data.get("layers", []):
            name = str(item.get("name", "Layer"))
            pixels = load(item.get("file"), f"layer {name!r}")
            if pixels is None:
                continue
            if layers and pixels.shape[:2] != layers[0].pixels.shape[:2]:
                h, w = layers[0].pixels.shape[:2]
                pixels = fit_to(pixels, h, w)
            layers.append(Layer(name, pixels, bool(item.get("visible", True)),
                                float(item.get("opacity", 1.0)),
                                dict(item.get("provenance") or {})))  # fmt: skip
        history: list[HistoryEntry] = []
        for item in data.get("history", []):
            label = str(item.get("label", "result"))
            source = folder / item["file"] if item.get("file") else None
            if source is not None and not source.exists():
                messages.append(f"the result {label!r} ({item['file']}) is missing")
                source = None
            thumb = None
            if item.get("thumbnail") and (folder / item["thumbnail"]).exists():
                with contextlib.suppress(ImageError):
                    thumb = load_picture(folder / item["thumbnail"]).pixels
            history.append(HistoryEntry(label, dict(item.get("provenance") or {}), thumb,
                                        None, source))  # fmt: skip
        mask = None
        if data.get("mask"):
            mask = _read_mask(folder / str(data["mask"]), messages)
            if mask is not None and layers and mask.shape != layers[0].pixels.shape[:2]:
                messages.append("the mask does not fit the picture and was left out")
                mask = None
        original = None
        if data.get("original"):
            original = load(data["original"], "the picture as opened")  # usually a layer
        values: dict[str, Any] = {
            "layers": tuple(layers),
            "active_layer": int(data.get("active_layer", 0)),
            "mask": mask,
            "history": tuple(history),
            "original": original,
            "source": str(data.get("source", "")),
        }
        for name, value in dict(data.get("settings", {})).items():
            if name in SETTINGS and _fits(value, SETTINGS[name]):
                values[name] = value
        doc = cls(**values)
        doc.messages.extend(messages)
        return doc


def _plain(value: Any) -> Any:
    """Provenance and settings as plain JSON data (NumPy numbers become numbers, anything else
    that JSON has no type for becomes its text: a save never fails on a plugin's provenance)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _fits(value: Any, default: Any) -> bool:
    """A saved setting of the right type (a hand-edited document.json can't break the panel)."""
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return type(value) is type(default)


def _write_mask(mask: np.ndarray, path: Path) -> None:
    import cv2

    grey = (np.clip(mask, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    ok, encoded = cv2.imencode(".png", grey)
    if not ok:
        raise OSError(f"could not encode {path.name}")
    write_bytes(path, encoded.tobytes())


def _read_mask(path: Path, messages: list[str]) -> np.ndarray | None:
    import cv2

    if not path.exists():
        messages.append(f"the mask ({path.name}) is missing; the picture opened without it")
        return None
    from studio.core.chatter import captured_stderr

    with captured_stderr():  # libpng's own words: the message below says it
        grey = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_UNCHANGED)
    if grey is None or grey.ndim != 2:
        messages.append(f"the mask ({path.name}) could not be read; the picture opened without it")
        return None
    top = 65535.0 if grey.dtype == np.uint16 else 255.0
    return grey.astype(np.float32) / top
