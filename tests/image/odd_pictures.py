"""A folder of the odd and broken pictures an artist's folder may hold (issue 16, bad input).

Every readable one is small; the "huge" one is a 2 MB PNG whose header claims 249 megapixels.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tests.image.bombs import huge_png

#: readable, each in a way a plain RGB reader gets wrong
READABLE = (
    "cmyk.jpg",
    "deep16.png",
    "rgba.png",
    "la.png",
    "palette-clear.png",
    "anim.gif",
    "dot.png",
    "wide.png",
    "onebit.png",
)
#: skipped and counted
BROKEN = ("huge.png", "truncated.png", "text.jpg", "empty.png")


def make_odd_pictures(folder: Path) -> Path:
    """Write :data:`READABLE` and :data:`BROKEN` into ``folder``; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(folder / "cmyk.jpg")  # red in CMYK
    Image.fromarray(np.full((16, 12), 40000, np.uint16)).save(folder / "deep16.png")
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(folder / "rgba.png")  # all transparent
    Image.new("LA", (9, 9), (0, 0)).save(folder / "la.png")  # all transparent
    pal = Image.new("P", (12, 12), 1)
    pal.putpalette([0, 0, 0, 0, 200, 0] + [0] * 762)
    pal.save(folder / "palette-clear.png", transparency=1)  # index 1 is transparent
    frames = [Image.new("RGB", (12, 12), c) for c in ((0, 0, 255), (255, 0, 0), (0, 255, 0))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    Image.new("RGB", (1, 1), (10, 10, 10)).save(folder / "dot.png")
    Image.new("RGB", (200, 10), (0, 128, 0)).save(folder / "wide.png")
    Image.new("1", (8, 8), 0).save(folder / "onebit.png")
    (folder / "huge.png").write_bytes(huge_png())
    noisy = np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "PNG")
    (folder / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) * 6 // 10])
    (folder / "text.jpg").write_text("these are my notes, not a picture\n")
    (folder / "empty.png").write_bytes(b"")
    return folder


def tiny_png(colour=(200, 40, 40), size: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()
