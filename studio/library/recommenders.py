"""Recommenders over an interaction matrix (users x items), each able to say why.

- :class:`Popularity`: how many people chose each item, recent choices counting more.
- :class:`ItemKNN`: items chosen together (cosine over the users who chose them).
- :class:`UserKNN`: what the people with your taste chose (cosine over the items they chose);
  it also predicts ratings (mean-centred neighbours).
- :class:`ALS`: implicit-feedback matrix factorisation with the ``implicit`` library (its GPU
  solver when CUDA is present); a new user is folded in from their items without retraining.
- :class:`SVD` and :class:`SVDpp`: rating matrix factorisation with scikit-surprise; they predict
  ratings and rank by predicted rating.
- :class:`TfidfContent`: items whose words (titles, tags, genres, a tagger's labels) weigh like
  the ones you chose.
- :class:`ContentKNN`: items like the ones you chose, by their embeddings (text, audio, picture).
- ``wide-deep`` and ``deepfm`` (:mod:`studio.library.deep`): torch models over the items' side
  features.
- :class:`Hybrid`: a weighted blend of the others' normalised scores, which covers items nobody has
  chosen yet through content and re-ranks for diversity (MMR).

Every recommender takes a user's row (their items and weights) rather than a user id, so new users
and "more like this" (a one-item row) work the same way. Reasons name what drives a suggestion and
how strongly ("you liked X (0.82)").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.library._base import (
    Interactions,
    RatingModel,
    Recommendation,
    Recommender,
    _top,
)
from studio.library.deep import DeepFM, WideDeep

__all__ = [
    "Interactions",
    "Recommendation",
    "Recommender",
    "RatingModel",
    "Popularity",
    "ItemKNN",
    "UserKNN",
    "ALS",
    "SVD",
    "SVDpp",
    "TfidfContent",
    "ContentKNN",
    "Hybrid",
    "WideDeep",
    "DeepFM",
    "RECOMMENDERS",
    "mmr",
]


def _standardise(scores: np.ndarray) -> np.ndarray:
    """Scores as z-scores over all items (non-finite ones at the lowest finite score)."""
    s = np.asarray(scores, np.float64)
    finite = np.isfinite(s)
    if not finite.all():
        s = np.where(finite, s, s[finite].min() if finite.any() else 0.0)
    std = s.std()
    return (s - s.mean()) / std if std > 0 else np.zeros_like(s)


def _binary(matrix: Any) -> Any:
    out = matrix.tocsr().astype(np.float64, copy=True)
    out.data[:] = 1.0
    return out


class Popularity(Recommender):
    """Items by how many chose them; with ``half_life`` (days), a choice's weight halves every
    that many days before the newest one. An item nobody chose is never suggested by it."""

    name = "popularity"
    constant = True  # the same scores for everyone

    def __init__(self, half_life: float | None = 120.0):
        self.half_life = half_life

    def fit(self, data: Interactions) -> Popularity:
        super().fit(data)
        binary = _binary(data.matrix)
        self.people = np.asarray(binary.sum(axis=0)).ravel()  # real choices, not decayed
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

    def recommend(self, row: Any, n: int = 10, exclude_seen: bool = True,
                  user: int | None = None) -> list[Recommendation]:  # fmt: skip
        scores = self.counts.astype(np.float64, copy=True)
        scores[self.people < 1] = -np.inf  # "popular" needs real history
        if exclude_seen and row.nnz:
            scores[row.indices] = -np.inf
        return [self._recommendation(row, int(i), float(scores[i]))
                for i in _top(scores, n) if np.isfinite(scores[i])]  # fmt: skip

    def reason(self, row: Any, item: int) -> str:
        people = int(self.people[item])
        if people < 1:
            return ""
        return f"popular: chosen by {people} {'person' if people == 1 else 'people'}"


class ItemKNN(Recommender):
    """Item-item cosine similarity over users, each item keeping its ``k`` nearest."""

    name = "item-knn"

    def __init__(self, k: int = 100, shrink: float = 10.0):
        self.k, self.shrink = k, shrink

    def fit(self, data: Interactions) -> ItemKNN:
        import scipy.sparse as sp

        super().fit(data)
        binary = _binary(data.matrix).tocsc()
        norms = np.sqrt(np.asarray(binary.multiply(binary).sum(axis=0)).ravel())
        co = (binary.T @ binary).tocsr().astype(np.float64)
        co.setdiag(0)
        co.eliminate_zeros()
        rows, cols = co.nonzero()
        co.data = co.data / (norms[rows] * norms[cols] + self.shrink)
        # keep the k strongest neighbours of each item
        keep_rows, keep_cols, keep_vals = [], [], []
        for i in range(co.shape[0]):
            start, end = co.indptr[i], co.indptr[i + 1]
            if end - start > self.k:
                best = np.argpartition(-co.data[start:end], self.k - 1)[: self.k] + start
            else:
                best = np.arange(start, end)
            keep_rows.append(np.full(len(best), i))
            keep_cols.append(co.indices[best])
            keep_vals.append(co.data[best])
        if keep_rows:
            self.sim = sp.csr_matrix((np.concatenate(keep_vals), (np.concatenate(keep_rows),
                                      np.concatenate(keep_cols))), shape=co.shape)  # fmt: skip
        else:
            self.sim = sp.csr_matrix(co.shape)
        self.sim_t = self.sim.T.tocsr()
        self.sim_t.sort_indices()
        return self

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        return np.asarray((row @ self.sim).todense()).ravel()

    def sparse_score(self, row: Any, user: int | None = None) -> Any:
        out = (row @ self.sim).tocsr()
        out.sum_duplicates()
        return out

    def similar(self, item: int, others: np.ndarray) -> np.ndarray:
        start, end = self.sim_t.indptr[item], self.sim_t.indptr[item + 1]
        cols, vals = self.sim_t.indices[start:end], self.sim_t.data[start:end]
        out = np.zeros(len(others))
        if len(cols):
            at = np.minimum(np.searchsorted(cols, others), len(cols) - 1)
            hit = cols[at] == others
            out[hit] = vals[at[hit]]
        return out

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item)


class UserKNN(Recommender, RatingModel):
    """User-user cosine similarity: an item scores the summed similarity of the ``k`` people
    most like you who chose it. As a rating model: your mean plus your neighbours' mean-centred
    ratings of the item, weighted by similarity."""

    name = "user-knn"

    def __init__(self, k: int = 50, shrink: float = 0.0):
        self.k, self.shrink = k, shrink
        self._cache: tuple[Any, np.ndarray, np.ndarray] | None = None

    def fit(self, data: Interactions) -> UserKNN:
        super().fit(data)
        self.binary = _binary(data.matrix)
        self.unit = _unit_rows(self.binary)
        self._cache = None
        return self

    def neighbours(self, row: Any, user: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar people to ``row`` (indices; ``user``, its own row in the
        matrix, left out) and their similarities. The last answer is kept for the reasons."""
        key = tuple(row.indices.tolist())
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1], self._cache[2]
        mine = _binary(row)
        mine = mine / max(1e-9, float(np.sqrt(mine.multiply(mine).sum())))
        sims = np.asarray((self.unit @ mine.T).todense()).ravel()
        if self.shrink:
            sims *= row.nnz / (row.nnz + self.shrink)
        if user is not None:
            sims[user] = 0.0
        top = _top(sims, self.k)
        top = top[sims[top] > 0]
        self._cache = (key, top, sims[top])
        return top, sims[top]

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if row.nnz == 0:
            return np.zeros(len(self.data.items))
        self._cache = None
        top, sims = self.neighbours(row, user)
        if len(top) == 0:
            return np.zeros(len(self.data.items))
        return np.asarray(self.binary[top].T @ sims).ravel()

    def recommend(self, row: Any, n: int = 10, exclude_seen: bool = True,
                  user: int | None = None) -> list[Recommendation]:  # fmt: skip
        scores = self.score(row, user).astype(np.float64, copy=True)
        scores[scores <= 0] = -np.inf  # none of the people like you chose it
        if exclude_seen and row.nnz:
            scores[row.indices] = -np.inf
        return [self._recommendation(row, int(i), float(scores[i]))
                for i in _top(scores, n) if np.isfinite(scores[i])]  # fmt: skip

    def reason(self, row: Any, item: int) -> str:
        top, sims = self.neighbours(row)
        if len(top) == 0:
            return ""
        chose = np.asarray(self.binary[top][:, item].todense()).ravel() > 0
        if not chose.any():
            return ""
        return (f"chosen by {int(chose.sum())} of the {len(top)} people with your taste "
                f"(similarity {float(sims[chose].mean()):.2f})")  # fmt: skip

    # -- ratings -----------------------------------------------------------------------------------
    def fit_ratings(self, users, items, ratings, n_users, n_items, side=None) -> UserKNN:
        import scipy.sparse as sp

        r = sp.csr_matrix((ratings.astype(np.float64), (users, items)), shape=(n_users, n_items))
        counts = np.maximum(1, np.diff(r.indptr))
        self.global_mean = float(ratings.mean()) if len(ratings) else 0.0
        sums = np.asarray(r.sum(axis=1)).ravel()
        self.means = np.where(np.diff(r.indptr) > 0, sums / counts, self.global_mean)
        centred = r.copy()
        centred.data -= np.repeat(self.means, np.diff(r.indptr))
        self.centred = centred
        self.rated = _binary(r)
        unit = _unit_rows(centred)
        sims = np.asarray((unit @ unit.T).todense())
        np.fill_diagonal(sims, 0.0)
        self.user_sims = sims
        self.scale = (float(ratings.min()), float(ratings.max())) if len(ratings) else (0, 1)
        return self

    def predict(self, users, items) -> np.ndarray:
        out = np.empty(len(users))
        for u in np.unique(users):
            where = np.flatnonzero(users == u)
            sims = self.user_sims[u]
            top = _top(sims, self.k)
            top = top[sims[top] > 0]
            wanted = items[where]
            if len(top) == 0:
                out[where] = self.means[u]
                continue
            num = np.asarray(self.centred[top][:, wanted].T @ sims[top]).ravel()
            den = np.asarray(self.rated[top][:, wanted].T @ sims[top]).ravel()
            out[where] = self.means[u] + np.where(den > 0, num / np.where(den > 0, den, 1), 0)
        return np.clip(out, *self.scale)


def _moments(model: Any, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows' mean and (population) covariance, computed once per fitted model: a linear
    score's mean and spread over all items follow from them without scoring every item."""
    cached = getattr(model, "_moments_cache", None)
    if cached is None or cached[0] is not matrix:
        m = matrix.astype(np.float64)
        mu = m.mean(axis=0)
        cov = (m.T @ m) / len(m) - np.outer(mu, mu)
        cached = (matrix, mu, cov)
        model._moments_cache = cached
    return cached[1], cached[2]


def _unit_rows(matrix: Any) -> Any:
    import scipy.sparse as sp

    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix


def _cuda_for_implicit() -> bool:
    try:
        import implicit.gpu

        return bool(implicit.gpu.HAS_CUDA)
    except Exception:  # noqa: BLE001 - an implicit without its CUDA part
        return False


class ALS(Recommender):
    """Implicit ALS (``implicit``): confidence ``1 + alpha * weight``. Trained on the GPU when
    implicit has CUDA and a GPU is present (``gpu=None``: when available), scored on the CPU.
    New users are folded in from their row (one least-squares solve), so no retraining is
    needed."""

    name = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, iterations: int = 15,
                 alpha: float = 2.0, seed: int = 7, gpu: bool | None = None):  # fmt: skip
        self.factors, self.regularization = factors, regularization
        self.iterations, self.alpha, self.seed = iterations, alpha, seed
        self.gpu = gpu
        self.used_gpu = False

    def fit(self, data: Interactions) -> ALS:
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        super().fit(data)
        params = dict(
            factors=self.factors,
            regularization=self.regularization,
            iterations=self.iterations,
            alpha=self.alpha,
            random_state=self.seed,
        )
        matrix = data.matrix.tocsr().astype(np.float32)
        use_gpu = _cuda_for_implicit() if self.gpu is None else self.gpu
        self.used_gpu = False
        if use_gpu:
            try:
                from implicit.gpu.als import AlternatingLeastSquares as GpuALS

                gpu_model = GpuALS(**params)
                gpu_model.fit(matrix, show_progress=False)
                self.model = gpu_model.to_cpu()
                self.used_gpu = True
            except Exception:  # noqa: BLE001 - no usable GPU after all: the CPU solver
                use_gpu = False
        if not use_gpu:
            with threadpool_limits(1, "blas"):  # implicit runs its own threads; BLAS's would fight
                self.model = AlternatingLeastSquares(**params)
                self.model.fit(matrix, show_progress=False)
        self.item_factors = np.ascontiguousarray(self.model.item_factors, dtype=np.float32)
        self.item_unit = self.item_factors / (
            np.linalg.norm(self.item_factors, axis=1, keepdims=True) + 1e-9
        )
        self.yty = (self.item_factors.T @ self.item_factors).astype(np.float64)
        return self

    def user_vector(self, row: Any) -> np.ndarray:
        """The user's factors from their row: ``(YtY + Yt(C-I)Y + reg I) x = Yt C p`` (the same
        solve implicit does, with YtY computed once)."""
        idx = row.indices
        conf = self.alpha * row.data.astype(np.float64)
        y = self.item_factors[idx].astype(np.float64)
        a = self.yty + self.regularization * np.eye(self.factors)
        a += (y * (conf - 1.0)[:, None]).T @ y
        b = (y * conf[:, None]).sum(axis=0)
        return np.linalg.solve(a, b).astype(np.float32)

    def linear(self, row: Any, user: int | None = None) -> Any:
        if user is not None:
            x = np.asarray(self.model.user_factors[user], np.float64)
        elif row.nnz:
            x = self.user_vector(row).astype(np.float64)
        else:
            return None
        return (self.item_factors, x, *_moments(self, self.item_factors))

    def linear_matrix(self) -> np.ndarray:
        return self.item_factors

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if user is not None:
            return self.item_factors @ np.asarray(self.model.user_factors[user], np.float32)
        if row.nnz == 0:
            return np.zeros(len(self.data.items), np.float32)
        return self.item_factors @ self.user_vector(row)

    def similar(self, item: int, others: np.ndarray) -> np.ndarray:
        return self.item_unit[others] @ self.item_unit[item]

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item)


class SVD(Recommender, RatingModel):
    """Biased matrix factorisation of ratings (scikit-surprise's SVD, SGD): ``mu + b_u + b_i +
    q_i . p_u``. Trained on the explicit ratings when the data has them, else on the weights.
    Ranks by predicted rating; a new user is folded in by ridge regression on their row."""

    name = "svd"

    def __init__(self, factors: int = 100, epochs: int = 20, lr: float = 0.005,
                 reg: float = 0.02, seed: int = 7):  # fmt: skip
        self.factors, self.epochs, self.lr, self.reg, self.seed = factors, epochs, lr, reg, seed

    def _algo(self) -> Any:
        from surprise import SVD as SurpriseSVD

        return SurpriseSVD(n_factors=self.factors, n_epochs=self.epochs, lr_all=self.lr,
                           reg_all=self.reg, random_state=self.seed)  # fmt: skip

    def fit(self, data: Interactions) -> SVD:
        super().fit(data)
        source = (data.ratings if data.ratings is not None else data.matrix).tocoo()
        self.fit_ratings(source.row, source.col, source.data, *source.shape, side=data)
        return self

    def fit_ratings(self, users, items, ratings, n_users, n_items, side=None) -> SVD:
        import pandas as pd
        from surprise import Dataset, Reader

        users, items = np.asarray(users), np.asarray(items)
        ratings = np.asarray(ratings, np.float64)
        lo, hi = (float(ratings.min()), float(ratings.max())) if len(ratings) else (0.0, 1.0)
        self.scale = (lo, hi if hi > lo else lo + 1.0)
        frame = pd.DataFrame({"u": users, "i": items, "r": ratings})
        trainset = Dataset.load_from_df(
            frame, Reader(rating_scale=self.scale)
        ).build_full_trainset()
        algo = self._algo()
        algo.fit(trainset)
        self.mu = float(trainset.global_mean)
        # surprise's inner ids -> our rows and columns (unknown ones keep zero factors)
        u_of = np.array([trainset.to_raw_uid(k) for k in range(trainset.n_users)], int)
        i_of = np.array([trainset.to_raw_iid(k) for k in range(trainset.n_items)], int)
        self.known_items = np.zeros(n_items, bool)
        self.known_items[i_of] = True
        self.pu = np.zeros((n_users, self.factors), np.float32)
        self.qi = np.zeros((n_items, self.factors), np.float32)
        self.bu = np.zeros(n_users)
        self.bi = np.zeros(n_items)
        self.pu[u_of], self.qi[i_of] = algo.pu, algo.qi
        self.bu[u_of], self.bi[i_of] = algo.bu, algo.bi
        self._implicit(algo, trainset, u_of, i_of, n_users, n_items)
        self.q_unit = self.qi / (np.linalg.norm(self.qi, axis=1, keepdims=True) + 1e-9)
        return self

    def _implicit(self, algo, trainset, u_of, i_of, n_users, n_items) -> None:
        """SVD++ adds each user's implicit part to their factors; plain SVD has none."""

    def _user(self, row: Any, user: int | None) -> tuple[np.ndarray, float]:
        if user is not None:
            return self.pu[user], float(self.bu[user])
        # ridge regression of the row's residuals on the item factors; the bias, shrunk
        # towards zero, is left out of it so a row of only high ratings still points somewhere
        idx = row.indices
        q = self.qi[idx].astype(np.float64)
        y = row.data - self.mu - self.bi[idx]
        p = np.linalg.solve(q.T @ q + max(self.reg, 1e-3) * len(idx) * np.eye(q.shape[1]),
                            q.T @ y)  # fmt: skip
        return p.astype(np.float32), float(y.sum() / (len(idx) + 5.0))

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if row.nnz == 0 and user is None:
            return np.where(self.known_items, self.mu + self.bi, -np.inf)
        p, b = self._user(row, user)
        out = self.mu + b + self.bi + self.qi @ p
        return np.where(self.known_items, out, -np.inf)

    def predict(self, users, items) -> np.ndarray:
        out = self.mu + self.bu[users] + self.bi[items] + np.einsum(
            "ij,ij->i", self.pu[users], self.qi[items])  # fmt: skip
        return np.clip(out, *self.scale)

    def similar(self, item: int, others: np.ndarray) -> np.ndarray:
        return self.q_unit[others] @ self.q_unit[item]

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item)


class SVDpp(SVD):
    """SVD++ (scikit-surprise): SVD whose user factors also sum the implicit factors of every
    item the user rated, so what you rated at all counts, not only how."""

    name = "svdpp"

    def __init__(self, factors: int = 20, epochs: int = 20, lr: float = 0.007,
                 reg: float = 0.02, seed: int = 7):  # fmt: skip
        super().__init__(factors, epochs, lr, reg, seed)

    def _algo(self) -> Any:
        from surprise import SVDpp as SurpriseSVDpp

        return SurpriseSVDpp(n_factors=self.factors, n_epochs=self.epochs, lr_all=self.lr,
                             reg_all=self.reg, random_state=self.seed,
                             cache_ratings=True)  # fmt: skip

    def _implicit(self, algo, trainset, u_of, i_of, n_users, n_items) -> None:
        self.yj = np.zeros((n_items, self.factors), np.float32)
        self.yj[i_of] = algo.yj
        for inner, raw in enumerate(u_of):
            rated = trainset.ur[inner]
            if rated:
                cols = i_of[[j for j, _ in rated]]
                self.pu[raw] += self.yj[cols].sum(axis=0) / np.sqrt(len(cols))

    def _user(self, row: Any, user: int | None) -> tuple[np.ndarray, float]:
        if user is not None:
            return self.pu[user], float(self.bu[user])
        p, b = super()._user(row, None)
        if row.nnz:
            p = p + self.yj[row.indices].sum(axis=0) / np.sqrt(row.nnz)
        return p, b


def _words(text: str) -> list[str]:
    import re

    stop = {"the", "a", "an", "of", "and", "in", "on", "to", "for", "with", "at", "by", "from",
            "is", "it", "la", "le", "les", "de", "der", "die", "das", "el"}  # fmt: skip
    return [w for w in re.findall(r"[^\W\d_][\w'-]*", text.lower()) if w not in stop and len(w) > 1]


class TfidfContent(Recommender):
    """TF-IDF over each item's words (``texts``: titles, tags, genres, a tagger's labels) with
    each tag or genre kept whole; items near the weighted sum of yours (cosine)."""

    name = "tfidf"

    def fit(self, data: Interactions) -> TfidfContent:
        from sklearn.feature_extraction.text import TfidfVectorizer

        super().fit(data)
        n = len(data.items)
        texts = data.texts or data.titles or data.items
        tags = data.tags or [[] for _ in range(n)]
        docs = [_words(t) + [f"#{g.strip().lower()}" for g in gs if g.strip()]
                for t, gs in zip(texts, tags, strict=True)]  # fmt: skip
        vectorizer = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, min_df=1)
        if not any(docs):
            docs[0] = ["-"]
        self.matrix = vectorizer.fit_transform(docs).tocsr().astype(np.float32)
        self.terms = np.asarray(vectorizer.get_feature_names_out())
        return self

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if row.nnz == 0:
            return np.zeros(len(self.data.items), np.float32)
        profile = np.asarray((row.astype(np.float32) @ self.matrix).todense()).ravel()
        norm = float(np.linalg.norm(profile))
        if norm == 0:
            return np.zeros(len(self.data.items), np.float32)
        return np.asarray(self.matrix @ (profile / norm)).ravel()

    def similar(self, item: int, others: np.ndarray) -> np.ndarray:
        return np.asarray((self.matrix[others] @ self.matrix[item].T).todense()).ravel()

    def reason(self, row: Any, item: int) -> str:
        found = self.driver(row, item)
        if found is None or found[1] <= 0:
            return ""
        best, strength = found
        shared = self.matrix[best].multiply(self.matrix[item]).tocoo()
        term = str(self.terms[shared.col[int(np.argmax(shared.data))]])
        said = f"tagged '{term[1:]}'" if term.startswith("#") else f"'{term}'"
        return f"{said} like {self.data.title(best)} ({strength:.2f})"


class ContentKNN(Recommender):
    """Items near the ones you chose, by their unit-length embeddings."""

    name = "content"
    needs_vectors = True

    def fit(self, data: Interactions) -> ContentKNN:
        super().fit(data)
        if data.vectors is None:
            raise ValueError("content recommendations need item embeddings")
        self.vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
        return self

    def _profile(self, row: Any) -> np.ndarray:
        profile = row.data.astype(np.float32) @ self.vectors[row.indices]
        return profile / (np.linalg.norm(profile) + 1e-9)

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        if row.nnz == 0:
            return np.zeros(len(self.data.items), np.float32)
        return self.vectors @ self._profile(row)

    def linear(self, row: Any, user: int | None = None) -> Any:
        if row.nnz == 0:
            return None
        return (self.vectors, self._profile(row).astype(np.float64),
                *_moments(self, self.vectors))  # fmt: skip

    def linear_matrix(self) -> np.ndarray:
        return self.vectors

    def similar(self, item: int, others: np.ndarray) -> np.ndarray:
        return self.vectors[others] @ self.vectors[item]

    def reason(self, row: Any, item: int) -> str:
        found = self.driver(row, item)
        if found is None:
            return ""
        return f"similar to {self.data.title(found[0])} ({found[1]:.2f})"


def mmr(scores: np.ndarray, vectors: np.ndarray, n: int, lam: float = 0.8,
        pool: int = 100) -> list[int]:  # fmt: skip
    """Maximal marginal relevance: from the ``pool`` best, pick ``n`` that score high and differ
    from those already picked (``lam`` 1: relevance only)."""
    candidates = np.array([int(i) for i in _top(scores, pool) if np.isfinite(scores[i])], int)
    if len(candidates) == 0:
        return []
    rel = scores[candidates]
    span = rel.max() - rel.min()
    rel = (rel - rel.min()) / span if span > 0 else np.ones_like(rel)
    unit = vectors[candidates]
    chosen: list[int] = []
    max_sim = np.zeros(len(candidates))
    taken = np.zeros(len(candidates), bool)
    for step in range(min(n, len(candidates))):
        value = lam * rel - (1 - lam) * (max_sim if step else 0.0)
        value[taken] = -np.inf
        best = int(np.argmax(value))
        taken[best] = True
        chosen.append(int(candidates[best]))
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
        self.parts = {k: v for k, v in (parts or {}).items() if self.weights.get(k)}

    def fit(self, data: Interactions) -> Hybrid:
        super().fit(data)
        for name, weight in self.weights.items():
            if weight and name not in self.parts:
                if name == "content" and data.vectors is None:
                    continue
                self.parts[name] = RECOMMENDERS[name]().fit(data)
        vectors = data.vectors
        if vectors is None and "als" in self.parts:
            vectors = self.parts["als"].item_unit  # type: ignore[attr-defined]
        self.vectors = vectors
        self._stacked: dict[tuple[str, ...], np.ndarray] = {}
        self._constant: dict[str, np.ndarray] = {}
        return self

    def _parts_scores(self, row: Any, user: int | None = None) -> dict[str, np.ndarray]:
        return {name: _standardise(part.score(row, user)) for name, part in self.parts.items()}

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        total = np.zeros(len(self.data.items))
        for name, s in self._parts_scores(row, user).items():
            total += self.weights.get(name, 0.0) * s
        return total

    def _blend(self, row: Any, user: int | None) -> tuple[np.ndarray, dict[str, Any]]:
        """The same sum as :meth:`score`, fast: the linear parts (ALS, content) are standardised
        from their items' mean and covariance and scored in one pass over their stacked
        matrices, a sparse part (item kNN) only where it is not zero, and a constant one
        (popularity) once. Returns the total and, per part, item -> standardised score."""
        n = len(self.data.items)
        total = np.zeros(n, np.float32)
        offset = 0.0
        per_item: dict[str, Any] = {}
        stacked: list[str] = []
        coefs: list[np.ndarray] = []
        for name, part in self.parts.items():
            w = self.weights.get(name, 0.0)
            linear = part.linear(row, user)
            if linear is not None:
                mat, x, mu, cov = linear
                mean, std = float(mu @ x), float(np.sqrt(max(0.0, float(x @ cov @ x))))
                if std <= 1e-12:
                    per_item[name] = lambda i: 0.0
                    continue
                stacked.append(name)
                coefs.append((x * (w / std)).astype(np.float32))
                offset -= w * mean / std
                per_item[name] = lambda i, m=mat, x=x, a=mean, b=std: (float(m[i] @ x) - a) / b
                continue
            sparse = part.sparse_score(row, user)
            if sparse is not None:
                values = sparse.data.astype(np.float64)
                mean = values.sum() / n
                std = float(np.sqrt(max(0.0, (values**2).sum() / n - mean**2)))
                if std <= 1e-12:
                    per_item[name] = lambda i: 0.0
                    continue
                offset -= w * mean / std
                total[sparse.indices] += (w / std) * values
                lookup = dict(zip(sparse.indices.tolist(), values.tolist(), strict=True))
                per_item[name] = lambda i, d=lookup, a=mean, b=std: (d.get(int(i), 0.0) - a) / b
                continue
            if getattr(part, "constant", False):
                z = self._constant.get(name)
                if z is None:
                    z = self._constant[name] = _standardise(part.score(row, user)).astype(
                        np.float32)  # fmt: skip
            else:
                z = _standardise(part.score(row, user))
            total += w * z
            per_item[name] = z.__getitem__
        if stacked:
            key = tuple(stacked)
            if key not in self._stacked:
                self._stacked[key] = np.ascontiguousarray(
                    np.hstack([self.parts[k].linear_matrix() for k in key]), np.float32
                )
            total += self._stacked[key] @ np.concatenate(coefs)
        total += np.float32(offset)
        return total, per_item

    def recommend(self, row: Any, n: int = 10, exclude_seen: bool = True,
                  user: int | None = None) -> list[Recommendation]:  # fmt: skip
        total, parts = self._blend(row, user)
        if exclude_seen and row.nnz:
            total[row.indices] = -np.inf
        if self.diversity > 0 and self.vectors is not None:
            picked = mmr(total, self.vectors, n, lam=1.0 - self.diversity)
        else:
            picked = [int(i) for i in _top(total, n) if np.isfinite(total[i])]
        out = []
        for i in picked:
            # the reason comes from the part that contributed most to this item and can say why
            found = Recommendation(self.data.items[i], float(total[i]), "")
            for lead in sorted(parts, key=lambda k: -self.weights.get(k, 0.0) * parts[k](i)):
                reason = self.parts[lead].reason(row, i)
                if reason:
                    driver = self.parts[lead].driver(row, i)
                    found = Recommendation(self.data.items[i], float(total[i]), reason,
                                           *(driver or (None, None)))  # fmt: skip
                    break
            out.append(found)
        return out

    def similar(self, item: int, others: np.ndarray) -> np.ndarray | None:
        for name in sorted(self.parts, key=lambda k: -self.weights.get(k, 0.0)):
            sims = self.parts[name].similar(item, others)
            if sims is not None:
                return sims
        return None


RECOMMENDERS: dict[str, type[Recommender]] = {
    "popularity": Popularity,
    "item-knn": ItemKNN,
    "user-knn": UserKNN,
    "als": ALS,
    "svd": SVD,
    "svdpp": SVDpp,
    "tfidf": TfidfContent,
    "content": ContentKNN,
    "wide-deep": WideDeep,
    "deepfm": DeepFM,
    "hybrid": Hybrid,
}
