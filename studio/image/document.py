"""The Image panel's document, without Qt: the picture, its mask layer, the results history and
undo/redo of every change (tools, masks, results).

States are kept by reference (every operation makes a new array), so an undo step costs nothing
until the picture changes; the oldest steps are dropped past a memory budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.image.io import Picture

__all__ = ["Document", "State", "HistoryEntry"]


@dataclass(frozen=True)
class State:
    pixels: np.ndarray
    mask: np.ndarray | None  # HxW float32 0..1, or no mask
    provenance: dict[str, Any]
    label: str  # what made this state ("blur radius=2", "mask: brush")


@dataclass
class HistoryEntry:
    """A result with the parameters that made it (the History list; "reuse parameters")."""

    label: str
    provenance: dict[str, Any]
    thumbnail: np.ndarray  # small RGB(A) uint8
    state_index: int = -1
    pixels: np.ndarray | None = field(default=None, repr=False)  # the result (by reference)


@dataclass
class Document:
    picture: Picture
    budget_bytes: int = 3 * 1024**3
    _undo: list[State] = field(default_factory=list)
    _redo: list[State] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    mask: np.ndarray | None = None
    original: np.ndarray | None = None  # the picture as opened (before/after compare)

    def __post_init__(self) -> None:
        if self.original is None:
            self.original = self.picture.pixels

    @classmethod
    def open(cls, path: str | Path) -> Document:
        from studio.image.io import load_picture

        return cls(load_picture(path))

    # -- state -------------------------------------------------------------------------------------
    @property
    def pixels(self) -> np.ndarray:
        return self.picture.pixels

    @property
    def size(self) -> tuple[int, int]:
        return self.picture.size

    def _state(self, label: str) -> State:
        return State(self.picture.pixels, self.mask, dict(self.picture.provenance), label)

    def _restore(self, state: State) -> None:
        self.picture = Picture(state.pixels, dict(state.provenance), self.picture.path)
        self.mask = state.mask

    def _push(self, label: str) -> None:
        self._undo.append(self._state(label))
        self._redo.clear()
        self._trim()

    def _trim(self) -> None:
        def cost(state: State) -> int:
            return state.pixels.nbytes + (state.mask.nbytes if state.mask is not None else 0)

        seen: set[int] = set()
        total = 0
        for state in reversed(self._undo):
            for array in (state.pixels, state.mask):
                if array is not None and id(array) not in seen:
                    seen.add(id(array))
                    total += array.nbytes
        while len(self._undo) > 1 and total > self.budget_bytes:
            total -= cost(self._undo.pop(0))

    # -- changes (each is one undo step) -----------------------------------------------------------
    def change_pixels(
        self, pixels: np.ndarray, label: str, provenance: dict[str, Any] | None = None,
        result: bool = False,
    ) -> None:  # fmt: skip
        """Replace the picture (an applied tool, a style, an upscale, a generation). A size change
        drops a mask that no longer fits. ``result`` adds it to the history list."""
        self._push(label)
        info = dict(provenance) if provenance is not None else self._edit_provenance(label)
        self.picture = Picture(pixels, info, self.picture.path)
        if self.mask is not None and self.mask.shape != pixels.shape[:2]:
            self.mask = None
        if result:
            self.history.append(
                HistoryEntry(label, info, _thumbnail(pixels), len(self._undo), pixels)
            )

    def _edit_provenance(self, label: str) -> dict[str, Any]:
        before = dict(self.picture.provenance)
        if before.get("engine") == "studio/image-edit":
            return {**before, "operations": [*before.get("operations", []), label]}
        chain = list(before.pop("history", []))
        if before:
            chain.append(before)
        return {"engine": "studio/image-edit", "operations": [label], "history": chain}

    def change_mask(self, mask: np.ndarray | None, label: str) -> None:
        if mask is not None:
            mask = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
            if mask.shape != self.pixels.shape[:2]:
                raise ValueError(
                    f"the mask is {mask.shape[1]}x{mask.shape[0]}, the picture "
                    f"{self.size[0]}x{self.size[1]}"
                )
        self._push(label)
        self.mask = mask

    # -- undo --------------------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo_label(self) -> str:
        return self._undo[-1].label if self._undo else ""

    def redo_label(self) -> str:
        return self._redo[-1].label if self._redo else ""

    def undo(self) -> str:
        """Step back; returns what was undone ("" when there was nothing)."""
        if not self._undo:
            return ""
        state = self._undo.pop()
        current = self._state(state.label)
        self._redo.append(current)
        self._restore(state)
        return state.label

    def redo(self) -> str:
        if not self._redo:
            return ""
        state = self._redo.pop()
        self._undo.append(self._state(state.label))
        self._restore(state)
        return state.label


def _thumbnail(pixels: np.ndarray, side: int = 96) -> np.ndarray:
    from studio.image.ops import make_proxy

    small, _ = make_proxy(pixels, side)
    return small
