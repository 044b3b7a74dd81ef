"""Recommenders over an interaction matrix (users x items), each able to say why.

- :class:`Popularity`: how many people chose each item, recent choices counting more.
- :class:`ItemKNN`: items chosen together (cosine over the users who chose them).
- :class:`ALS`: implicit-feedback matrix factorisation with the ``implicit`` library; a new user
  is folded in from their items without retraining.
- :class:`ContentKNN`: items like the ones you chose, by their embeddings (text, audio, picture).
- :class:`Hybrid`: a weighted blend of the others' normalised scores, which covers items nobody has
  chosen yet through content and re-ranks for diversity (MMR).

Every recommender takes a user's row (their items and weights) rather than a user id, so new users
and "more like this" (a one-item row) work the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Interactions",
    "Recommendation",
    "Recommender",
    "Popularity",
    "ItemKNN",
    "ALS",
    "ContentKNN",
    "Hybrid",
    "RECOMMENDERS",
    "mmr",
]


@dataclass
class Interactions:
    """Who chose what: ``matrix`` (users x items, scipy CSR) of positive weights; ``times`` the
    same shape with each choice's time (seconds), or None; ``vectors`` one row per item (unit
    length) for content, or None."""

    items: list[str]
    users: list[str]
    matrix: Any
    times: Any = None
    vectors: np.ndarray | None = None
    titles: list[str] = field(default_factory=list)

    def title(self, index: int) -> str:
        return self.titles[index] if self.titles else self.items[index]

    def row(self, user: int) -> Any:
        return self.matrix[user]


@dataclass
class Recommendation:
    item: str
    score: float
    reason: str


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

    def _because(self, row: Any, item: int, sims: np.ndarray | None) -> str:
        """ "because you chose X": the user's item most similar to ``item``."""
        own = row.indices
        if len(own) == 0 or sims is None:
            return ""
        best = own[int(np.argmax(sims[own]))]
        return f"because you chose {self.data.title(best)}"

    def recommend(self, row: Any, n: int = 10, exclude_seen: bool = True,
                  user: int | None = None) -> list[Recommendation]:  # fmt: skip
        """The ``n`` best items for ``row``; ``user``: the row's index in the training matrix
        when it is one of them (lets ALS use its trained factors instead of folding in)."""
        scores = self.score(row, user).astype(np.float64, copy=True)
        if exclude_seen and row.nnz:
            scores[row.indices] = -np.inf
        top = _top(scores, n)
        return [Recommendation(self.data.items[i], float(scores[i]), self.reason(row, i))
                for i in top if np.isfinite(scores[i])]  # fmt: skip


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    if n <= 0:
        return np.array([], int)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


class Popularity(Recommender):
    """Items by how many chose them; with ``half_life`` (days), a choice's weight halves every
    that many days before the newest one."""

    name = "popularity"

    def __init__(self, half_life: float | None = 120.0):
        self.half_life = half_life

    def fit(self, data: Interactions) -> Popularity:
        super().fit(data)
        binary = data.matrix.copy()
        binary.data = np.ones_like(binary.data, dtype=np.float64)
        if self.half_life and data.times is not None and data.times.nnz:
            times = data.times.tocsr()
            newest = times.data.max()
            age_days = (newest - times.data) / 86400.0
            binary = times.copy()
            binary.data = np.power(0.5, age_days / self.half_life)
        self.counts = np.asarray(binary.sum(axis=0)).ravel()
        return self

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        return self.counts

    def reason(self, row: Any, item: int) -> str:
        return (
            f"popular: chosen {self.counts[item]:.0f} times"
            if self.counts[item] >= 1
            else "popular lately"
        )


class ItemKNN(Recommender):
    """Item-item cosine similarity over users, each item keeping its ``k`` nearest."""

    name = "item-knn"

    def __init__(self, k: int = 100, shrink: float = 10.0):
        self.k, self.shrink = k, shrink

    def fit(self, data: Interactions) -> ItemKNN:
        import scipy.sparse as sp

        super().fit(data)
        binary = data.matrix.tocsc().astype(np.float64)
        binary.data[:] = 1.0
        norms = np.sqrt(np.asarray(binary.multiply(binary).sum(axis=0)).ravel())
        co = (binary.T @ binary).tocsr().astype(np.float64)
        co.setdiag(0)
        co.eliminate_zeros()
        rows, cols = co.nonzero()
        co.data = co.data / (norms[rows] * norms[cols] + self.shrink)
        # keep the k strongest neighbours of each item
        kept = sp.lil_matrix(co.shape)
        for i in range(co.shape[0]):
            start, end = co.indptr[i], co.indptr[i + 1]
            if end - start > self.k:
                best = np.argpartition(-co.data[start:end], self.k - 1)[: self.k] + start
            else:
                best = np.arange(start, end)
            kept.rows[i] = co.indices[best].tolist()
            kept.data[i] = co.data[best].tolist()
        self.sim = kept.tocsr()
        return self

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        return np.asarray((row @ self.sim).todense()).ravel()

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item, np.asarray(self.sim[:, item].todense()).ravel())


class ALS(Recommender):
    """Implicit ALS (``implicit``): confidence ``1 + alpha * weight``. New users are folded in
    from their row (one least-squares solve), so no retraining is needed."""

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15,
                 alpha: float = 2.0, seed: int = 7):  # fmt: skip
        self.factors, self.regularization = factors, regularization
        self.iterations, self.alpha, self.seed = iterations, alpha, seed

    def fit(self, data: Interactions) -> ALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        super().fit(data)
        with threadpool_limits(1, "blas"):  # implicit runs its own threads; BLAS's would fight
            self.model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization,
                iterations=self.iterations, alpha=self.alpha, random_state=self.seed,
            )  # fmt: skip
            self.model.fit(data.matrix.tocsr().astype(np.float32), show_progress=False)
        items = np.asarray(self.model.item_factors)
        self.item_unit = items / (np.linalg.norm(items, axis=1, keepdims=True) + 1e-9)
        return self

    def user_vector(self, row: Any) -> np.ndarray:
        from implicit.cpu.als import AlternatingLeastSquares

        assert isinstance(self.model, AlternatingLeastSquares)
        return np.asarray(self.model.recalculate_user(0, row.tocsr().astype(np.float32))).ravel()

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if user is not None:
            return np.asarray(self.model.item_factors) @ np.asarray(self.model.user_factors[user])
        if row.nnz == 0:
            return np.zeros(len(self.data.items))
        return np.asarray(self.model.item_factors) @ self.user_vector(row)

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item, self.item_unit @ self.item_unit[item])


class ContentKNN(Recommender):
    """Items near the ones you chose, by their unit-length embeddings."""

    name = "content"
    needs_vectors = True

    def fit(self, data: Interactions) -> ContentKNN:
        super().fit(data)
        if data.vectors is None:
            raise ValueError("content recommendations need item embeddings")
        self.vectors = data.vectors.astype(np.float32)
        return self

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if row.nnz == 0:
            return np.zeros(len(self.data.items))
        weights = row.data.astype(np.float32)
        profile = weights @ self.vectors[row.indices]
        return self.vectors @ (profile / (np.linalg.norm(profile) + 1e-9))

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item, self.vectors @ self.vectors[item])


def mmr(scores: np.ndarray, vectors: np.ndarray, n: int, lam: float = 0.8,
        pool: int = 100) -> list[int]:  # fmt: skip
    """Maximal marginal relevance: from the ``pool`` best, pick ``n`` that score high and differ
    from those already picked (``lam`` 1: relevance only)."""
    candidates = [int(i) for i in _top(scores, pool) if np.isfinite(scores[i])]
    if not candidates:
        return []
    rel = scores[candidates]
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    unit = vectors[candidates]
    chosen: list[int] = []
    max_sim = np.full(len(candidates), -np.inf)
    for _ in range(min(n, len(candidates))):
        penalty = np.where(np.isfinite(max_sim), max_sim, 0.0)
        value = lam * rel - (1 - lam) * penalty
        value[[candidates.index(c) for c in chosen]] = -np.inf
        best = int(np.argmax(value))
        chosen.append(candidates[best])
        max_sim = np.maximum(max_sim, unit @ unit[best])
    return chosen


class Hybrid(Recommender):
    """A weighted sum of the parts' scores, each standardised over the candidate items; MMR over
    the item vectors (content when there are some, else ALS factors) for diversity. An item no
    one has chosen is reachable through content; a new user through ALS fold-in and content."""

    name = "hybrid"

    def __init__(self, weights: dict[str, float] | None = None, diversity: float = 0.0,
                 parts: dict[str, Recommender] | None = None):  # fmt: skip
        self.weights = dict(weights or {"als": 1.0, "item-knn": 0.5, "content": 0.3,
                                        "popularity": 0.2})  # fmt: skip
        self.diversity = diversity
        self.parts = parts or {}

    def fit(self, data: Interactions) -> Hybrid:
        super().fit(data)
        makers = {"als": ALS, "item-knn": ItemKNN, "popularity": Popularity,
                  "content": ContentKNN}  # fmt: skip
        for name, weight in self.weights.items():
            if weight and name not in self.parts:
                if name == "content" and data.vectors is None:
                    continue
                self.parts[name] = makers[name]().fit(data)
        vectors = data.vectors
        if vectors is None and "als" in self.parts:
            vectors = self.parts["als"].item_unit  # type: ignore[attr-defined]
        self.vectors = vectors
        return self

    def _parts_scores(self, row: Any, user: int | None = None) -> dict[str, np.ndarray]:
        out = {}
        for name, part in self.parts.items():
            s = part.score(row, user).astype(np.float64)
            std = s.std()
            out[name] = (s - s.mean()) / std if std > 0 else np.zeros_like(s)
        return out

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        total = np.zeros(len(self.data.items))
        for name, s in self._parts_scores(row, user).items():
            total += self.weights.get(name, 0.0) * s
        return total

    def recommend(self, row: Any, n: int = 10, exclude_seen: bool = True,
                  user: int | None = None) -> list[Recommendation]:  # fmt: skip
        parts = self._parts_scores(row, user)
        total = np.zeros(len(self.data.items))
        for name, s in parts.items():
            total += self.weights.get(name, 0.0) * s
        if exclude_seen and row.nnz:
            total[row.indices] = -np.inf
        if self.diversity > 0 and self.vectors is not None:
            picked = mmr(total, self.vectors, n, lam=1.0 - self.diversity)
        else:
            picked = [int(i) for i in _top(total, n) if np.isfinite(total[i])]
        out = []
        for i in picked:
            # the reason comes from the part that contributed most to this item
            lead = max(parts, key=lambda k: self.weights.get(k, 0.0) * parts[k][i])
            out.append(Recommendation(self.data.items[i], float(total[i]),
                                      self.parts[lead].reason(row, i)))  # fmt: skip
        return out


RECOMMENDERS = {
    "popularity": Popularity,
    "item-knn": ItemKNN,
    "als": ALS,
    "content": ContentKNN,
    "hybrid": Hybrid,
}
