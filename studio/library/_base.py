"""The recommenders' common ground: the interactions they learn from, a recommendation with its
reason, the :class:`Recommender` base and the :class:`RatingModel` protocol. (A module of its own
so the torch models in :mod:`studio.library.deep` can subclass it without an import cycle.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Interactions", "Recommendation", "Recommender", "RatingModel"]


@dataclass
class Interactions:
    """Who chose what: ``matrix`` (users x items, scipy CSR) of positive weights; ``times`` the
    same shape with each choice's time (seconds), or None; ``vectors`` one row per item (unit
    length) for content, or None. Optional side data: ``ratings`` (the same shape, explicit
    ratings where there are some), per item ``texts`` (words for TF-IDF), ``tags`` (genres or
    tags), ``kinds`` and ``years`` (NaN when unknown), and ``media`` (per-item audio/MIDI/picture
    features, zero rows where none)."""

    items: list[str]
    users: list[str]
    matrix: Any
    times: Any = None
    vectors: np.ndarray | None = None
    titles: list[str] = field(default_factory=list)
    ratings: Any = None
    texts: list[str] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    years: np.ndarray | None = None
    media: np.ndarray | None = None

    def title(self, index: int) -> str:
        return self.titles[index] if self.titles else self.items[index]

    def row(self, user: int) -> Any:
        return self.matrix[user]


@dataclass
class Recommendation:
    """One suggestion: ``driver`` is the row of the user's item that drives it (None when
    people, not an item, do) and ``strength`` how alike the two are."""

    item: str
    score: float
    reason: str
    driver: int | None = None
    strength: float | None = None


class Recommender:
    """Base: :meth:`fit` on interactions, :meth:`score` a user's row into one score per item,
    :meth:`reason` explains one item for that row."""

    name = "recommender"
    needs_vectors = False

    def fit(self, data: Interactions) -> Recommender:
        self.data = data
        return self

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def reason(self, row: Any, item: int) -> str:
        return ""

    def linear(self, row: Any, user: int | None = None) -> Any:
        """``(items x d matrix, user vector, row mean, row covariance)`` when the scores are that
        matrix times that vector (the hybrid then scores several such parts in one pass), else
        None."""
        return None

    def sparse_score(self, row: Any, user: int | None = None) -> Any:
        """The scores as a sparse row when most are zero (item kNN), else None."""
        return None

    def similar(self, item: int, others: np.ndarray) -> np.ndarray | None:
        """How alike ``item`` is to each of ``others`` in this model's terms, or None when the
        model does not compare items (people or counts drive it)."""
        return None

    def driver(self, row: Any, item: int) -> tuple[int, float] | None:
        """The user's item most like ``item``, and how alike (None: no item drives it)."""
        key = (item, row.indices.tobytes(), row.data.tobytes())
        memo = getattr(self, "_driver_memo", None)
        if memo is not None and memo[0] == key:
            return memo[1]
        found = self._driver(row, item)
        self._driver_memo = (key, found)
        return found

    def _driver(self, row: Any, item: int) -> tuple[int, float] | None:
        own = row.indices
        if len(own) == 0:
            return None
        sims = self.similar(item, own)
        if sims is None:
            return None
        best = int(np.argmax(sims))
        return int(own[best]), float(sims[best])

    def _because(self, row: Any, item: int, _sims: Any = None) -> str:
        """ "you liked X (0.82)": the user's item most like ``item``, and how alike."""
        found = self.driver(row, item)
        if found is None:
            return ""
        return f"you liked {self.data.title(found[0])} ({found[1]:.2f})"

    def _recommendation(self, row: Any, item: int, score: float) -> Recommendation:
        found = self.driver(row, item)
        return Recommendation(self.data.items[item], score, self.reason(row, item),
                              *(found or (None, None)))  # fmt: skip

    def recommend(self, row: Any, n: int = 10, exclude_seen: bool = True,
                  user: int | None = None) -> list[Recommendation]:  # fmt: skip
        """The ``n`` best items for ``row``; ``user``: the row's index in the training matrix
        when it is one of them (lets ALS use its trained factors instead of folding in)."""
        scores = self.score(row, user).astype(np.float64, copy=True)
        if exclude_seen and row.nnz:
            scores[row.indices] = -np.inf
        top = _top(scores, n)
        return [self._recommendation(row, int(i), float(scores[i]))
                for i in top if np.isfinite(scores[i])]  # fmt: skip


class RatingModel:
    """A model that predicts ratings: :meth:`fit_ratings` on (user, item, rating) triples,
    :meth:`predict` one rating per (user, item) pair."""

    def fit_ratings(
        self,
        users: np.ndarray,
        items: np.ndarray,
        ratings: np.ndarray,
        n_users: int,
        n_items: int,
        side: Interactions | None = None,
    ) -> Any:
        raise NotImplementedError

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    if n <= 0:
        return np.array([], int)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]
