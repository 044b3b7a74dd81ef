"""Labelled picture folders made in the tests: ``root/<label>/<i>.png``, drawn from one seeded
generator, and the two-class "sprites" set (a red or a blue square somewhere on white) that the
GAN tests train on."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image

#: the sprites' classes and their squares' colours
SPRITE_COLOURS = {"fire": (230, 60, 20), "water": (20, 90, 230)}


def labelled_folder(
    root: Path,
    labels: Iterable[str],
    count: int,
    draw: Callable[[str, np.random.Generator], Image.Image],
    seed: int = 0,
) -> Path:
    """``count`` pictures a label, ``draw(label, rng)`` each, all from one generator seeded with
    ``seed`` (label by label, in order), saved as ``root/<label>/<i>.png``."""
    rng = np.random.default_rng(seed)
    for label in labels:
        (root / label).mkdir(parents=True)
        for i in range(count):
            draw(label, rng).save(root / label / f"{i}.png")
    return root


def square(colour: tuple[int, int, int], rng: np.random.Generator, size: int = 24) -> Image.Image:
    """A size x size white picture with a square of ``colour``, half as wide, somewhere on it."""
    pic = np.full((size, size, 3), 255, np.uint8)
    y, x = rng.integers(0, size // 2, 2)
    pic[y : y + size // 2, x : x + size // 2] = colour
    return Image.fromarray(pic)


def sprites(root: Path, count: int, size: int = 24, broken: bool = False) -> Path:
    """Two classes, fire and water, of ``count`` squares each; with ``broken``, water also holds
    broken.png, a file that is not a picture."""
    labelled_folder(
        root, SPRITE_COLOURS, count, lambda label, rng: square(SPRITE_COLOURS[label], rng, size)
    )
    if broken:
        (root / "water" / "broken.png").write_bytes(b"not a png")
    return root
