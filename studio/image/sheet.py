"""Sprite sheets: generated icons packed edge to edge in one PNG, with an atlas game engines read.

The atlas is TexturePacker's "JSON (hash)" layout, which Phaser (``load.atlas``), PixiJS
(``Spritesheet``), Godot and Unity importers and most 2D engines load: ``frames`` maps each
sprite's name to its rectangle in the sheet; ``meta`` names the image, its size, and Studio's
provenance (engine, model, prompt or class, seed). Icons are square and untrimmed, so every frame's
``spriteSourceSize`` is the whole cell.
"""

from __future__ import annotations

import math
import re

import numpy as np

APP = "Studio"


def frame_name(text: str, index: int) -> str:
    """A frame name from a prompt or class: lower case, words joined by ``-``, then the index
    (``"a red dragon"``, 3 -> ``a-red-dragon-03``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-") or "icon"
    return f"{slug}-{index:02d}"


def pack(icons: np.ndarray, names: list[str], image: str, meta: dict | None = None,
         cols: int | None = None) -> tuple[np.ndarray, dict]:  # fmt: skip
    """``icons`` (N, S, S, C) uint8, C 3 or 4, packed row by row, ``cols`` to a row (default: the
    smallest square-ish grid), with no gap. Returns (the sheet (H, W, C) uint8, the atlas as a
    JSON-ready dict). ``image``: the sheet's file name as the atlas refers to it. Raises
    ValueError for no icons, or names that are not one per icon and unique."""
    if icons.ndim != 4 or not len(icons):
        raise ValueError("a sprite sheet needs at least one icon")
    if len(names) != len(icons) or len(set(names)) != len(names):
        raise ValueError("a sprite sheet needs one unique name per icon")
    n, h, w, c = icons.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    sheet = np.zeros((rows * h, cols * w, c), np.uint8)
    if c == 3:
        sheet[:] = 255  # an opaque sheet's empty cells are background white
    frames = {}
    for i, (icon, name) in enumerate(zip(icons, names, strict=True)):
        r, col = divmod(i, cols)
        x, y = col * w, r * h
        sheet[y : y + h, x : x + w] = icon
        frames[name] = {
            "frame": {"x": x, "y": y, "w": w, "h": h},
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
            "sourceSize": {"w": w, "h": h},
        }
    atlas = {
        "frames": frames,
        "meta": {
            "app": APP,
            "image": image,
            "format": "RGBA8888" if c == 4 else "RGB888",
            "size": {"w": int(sheet.shape[1]), "h": int(sheet.shape[0])},
            "scale": "1",
            **({"studio": meta} if meta else {}),
        },
    }
    return sheet, atlas
