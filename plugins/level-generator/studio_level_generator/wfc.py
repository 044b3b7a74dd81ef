"""Wave function collapse on tiles, learnt from an example map.

Which tiles may sit next to which (in each of the four directions), and how often each appears, are
read from :data:`EXAMPLE`. A level is grown cell by cell: the cell with the fewest possible tiles
left is fixed (weighted by frequency, from a seeded generator), and the choice is propagated to its
neighbours. The entrance (left edge) and the exit (right edge) are fixed as floor first; a finished
level is kept only if the exit can be walked to from the entrance, otherwise the next attempt runs.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from studio.plugins.api import Generator, Image, JobContext, Param

TILES = ("floor", "wall", "water", "grass", "door")
WALKABLE = {"floor", "grass", "door"}
COLOURS = {
    "floor": (196, 176, 140),
    "wall": (70, 62, 72),
    "water": (60, 110, 200),
    "grass": (96, 168, 80),
    "door": (170, 90, 40),
}
# the example level the rules are learnt from (F floor, W wall, ~ water, g grass, D door)
EXAMPLE = """
WWWWWWWWWWWWWWWW
WFFFFWggggWFFFFW
WFFFFDggggDFFFFW
WFFFFWgg~gWFFFFW
WWDWWWg~~gWWWDWW
WgggggggggggggggW
Wgg~~~ggggg~~~ggW
Wgg~~~ggggg~~~ggW
WggggggFFFggggggW
WWWWWWWFFFWWWWWWW
"""
_CODES = {"F": "floor", "W": "wall", "~": "water", "g": "grass", "D": "door"}
# (dy, dx) for up, right, down, left, and each direction's opposite
DIRS = ((-1, 0), (0, 1), (1, 0), (0, -1))
OPPOSITE = (2, 3, 0, 1)


def learn(example: str = EXAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(weights per tile, allowed[d, a, b]: tile b may be in direction d of tile a)."""
    rows = [line for line in example.strip().splitlines()]
    width = min(len(r) for r in rows)
    grid = np.array([[TILES.index(_CODES[c]) for c in r[:width]] for r in rows])
    n = len(TILES)
    weights = np.bincount(grid.ravel(), minlength=n).astype(float)
    allowed = np.zeros((4, n, n), bool)
    h, w = grid.shape
    for y in range(h):
        for x in range(w):
            for d, (dy, dx) in enumerate(DIRS):
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w:
                    allowed[d, grid[y, x], grid[ny, nx]] = True
    weights[weights == 0] = 0.01
    return weights, allowed


class Contradiction(Exception):
    pass


def collapse(width: int, height: int, rng: np.random.Generator, fixed: dict,
             weights: np.ndarray, allowed: np.ndarray) -> np.ndarray:  # fmt: skip
    """One attempt: a (height, width) grid of tile indices. Raises Contradiction."""
    n = len(TILES)
    possible = np.ones((height, width, n), bool)

    def propagate(start: list[tuple[int, int]]) -> None:
        queue = deque(start)
        while queue:
            y, x = queue.popleft()
            here = possible[y, x]
            for d, (dy, dx) in enumerate(DIRS):
                ny, nx = y + dy, x + dx
                if not (0 <= ny < height and 0 <= nx < width):
                    continue
                reachable = allowed[d][here].any(axis=0)
                before = possible[ny, nx]
                after = before & reachable
                if not after.any():
                    raise Contradiction()
                if (after != before).any():
                    possible[ny, nx] = after
                    queue.append((ny, nx))

    for (y, x), tile in fixed.items():
        possible[y, x] = False
        possible[y, x, TILES.index(tile)] = True
    propagate(list(fixed))
    while True:
        counts = possible.sum(axis=2)
        open_cells = counts > 1
        if not open_cells.any():
            return possible.argmax(axis=2)
        entropy = np.where(open_cells, counts + rng.random(counts.shape) * 0.1, np.inf)
        y, x = np.unravel_index(int(np.argmin(entropy)), entropy.shape)
        choices = np.flatnonzero(possible[y, x])
        p = weights[choices] / weights[choices].sum()
        tile = rng.choice(choices, p=p)
        possible[y, x] = False
        possible[y, x, tile] = True
        propagate([(y, x)])


def reachable(grid: np.ndarray, start: tuple[int, int], goal: tuple[int, int]) -> bool:
    """Whether ``goal`` can be walked to from ``start`` (4-neighbour steps on walkable tiles)."""
    walk = np.isin(grid, [TILES.index(t) for t in WALKABLE])
    seen = {start}
    queue = deque([start])
    while queue:
        y, x = queue.popleft()
        if (y, x) == goal:
            return True
        for dy, dx in DIRS:
            ny, nx = y + dy, x + dx
            if (
                0 <= ny < grid.shape[0]
                and 0 <= nx < grid.shape[1]
                and walk[ny, nx]
                and (ny, nx) not in seen
            ):
                seen.add((ny, nx))
                queue.append((ny, nx))
    return False


def render(grid: np.ndarray, cell: int, entrance, exit_) -> np.ndarray:
    colours = np.array([COLOURS[t] for t in TILES], np.uint8)
    image = np.repeat(np.repeat(colours[grid], cell, axis=0), cell, axis=1)
    for (y, x), mark in ((entrance, (255, 255, 255)), (exit_, (240, 40, 40))):
        image[y * cell + cell // 4 : (y + 1) * cell - cell // 4,
              x * cell + cell // 4 : (x + 1) * cell - cell // 4] = mark  # fmt: skip
    return image


class LevelGenerator(Generator):
    """A seeded level: the picture, and in its provenance the map as JSON-ready data."""

    kind = "image"
    title = "Game level (wave function collapse)"
    params = (
        Param("width", "int", 32, minimum=8, maximum=128, help="tiles across"),
        Param("height", "int", 20, minimum=6, maximum=96, help="tiles down"),
        Param("cell", "int", 12, minimum=2, maximum=64, help="pixels per tile in the picture"),
        Param("seed", "seed", -1),
        Param("attempts", "int", 60, minimum=1, maximum=1000,
              help="tries before giving up on a level with a path from entrance to exit"),
    )  # fmt: skip

    def run(self, request: dict, ctx: JobContext) -> Image:
        width, height = request["width"], request["height"]
        weights, allowed = learn()
        rng = np.random.default_rng(request["seed"])
        entrance = (int(rng.integers(1, height - 1)), 0)
        exit_ = (int(rng.integers(1, height - 1)), width - 1)
        fixed = {entrance: "floor", exit_: "floor"}
        for attempt in range(request["attempts"]):
            ctx.check_cancelled()
            ctx.progress(attempt / request["attempts"], f"attempt {attempt + 1}")
            try:
                grid = collapse(width, height, rng, fixed, weights, allowed)
            except Contradiction:
                continue
            if not reachable(grid, entrance, exit_):
                continue
            ctx.progress(1.0, f"level found on attempt {attempt + 1}")
            level = {
                "format": "studio-level/1",
                "width": width,
                "height": height,
                "tiles": list(TILES),
                "walkable": sorted(WALKABLE),
                "grid": grid.tolist(),
                "entrance": {"x": entrance[1], "y": entrance[0]},
                "exit": {"x": exit_[1], "y": exit_[0]},
                "attempts": attempt + 1,
            }
            pixels = render(grid, request["cell"], entrance, exit_)
            return Image(pixels, provenance={"map": level})
        raise RuntimeError(
            f"no level with a path from entrance to exit in {request['attempts']} attempts; "
            "try another seed or more attempts"
        )
