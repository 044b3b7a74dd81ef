"""Wide&Deep and DeepFM recommenders in torch, small enough for a laptop's CPU (CUDA when present).

Both see the same fields: the user (an embedding, plus the mean of the embeddings of what they
chose, so a new user is folded in from their row), and the item's side features: its id, kind,
genres or tags, year (five-year buckets) and its dense features (the MiniLM embedding, audio and
MIDI features, when the catalog has them). They differ in how fields meet:

- **Wide&Deep** (Cheng et al. 2016): a wide linear part (per-feature weights and user x tag
  crosses, memorising) plus a deep MLP over the concatenated fields (generalising).
- **DeepFM** (Guo et al. 2017): first-order weights, a factorisation machine over every pair of
  fields, and the MLP, all sharing the field embeddings.

For top-N they learn from sampled negatives (each chosen item against ``negatives`` items drawn
uniformly, logistic loss); for ratings, squared error (:meth:`fit_ratings`). The MLP's first
layer is split into a user part and an item part, so scoring every item for a user costs one
small matrix product per layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from studio.library._base import Interactions, RatingModel, Recommender

__all__ = ["WideDeep", "DeepFM"]

MAX_TAGS = 8  # per item, the rest ignored
VOCAB = 2000  # the most frequent tags
YEAR_BUCKETS = 34  # unknown, then five-year buckets from 1900
DENSE_DIMS = 32  # the dense features' main directions (PCA)


def _device(preference: str | None) -> str:
    import torch

    if preference:
        return preference
    return "cuda" if torch.cuda.is_available() else "cpu"


class _Side:
    """The items' side features as tensors."""

    def __init__(self, data: Interactions, device: str):
        import torch

        n = len(data.items)
        kinds = data.kinds or ["item"] * n
        names = sorted(set(kinds))
        self.n_kinds = len(names)
        self.kind = torch.tensor([names.index(k) for k in kinds], device=device)
        tags = data.tags or [[] for _ in range(n)]
        counts: dict[str, int] = {}
        for ts in tags:
            for t in ts:
                counts[t] = counts.get(t, 0) + 1
        vocab = {t: i + 1 for i, t in enumerate(sorted(counts, key=lambda t: -counts[t])[:VOCAB])}
        self.n_tags = len(vocab) + 1
        padded = np.zeros((n, MAX_TAGS), np.int64)
        for row, ts in enumerate(tags):
            ids = [vocab[t] for t in ts if t in vocab][:MAX_TAGS]
            padded[row, : len(ids)] = ids
        self.tags = torch.from_numpy(padded).to(device)
        self.tag_count = (self.tags > 0).sum(1).clamp(min=1).float()
        years = np.full(n, np.nan) if data.years is None else np.asarray(data.years, float)
        bucket = np.where(np.isfinite(years), np.clip((np.nan_to_num(years) - 1900) // 5, 0,
                                                      YEAR_BUCKETS - 2) + 1, 0)  # fmt: skip
        self.year = torch.from_numpy(bucket.astype(np.int64)).to(device)
        dense = [m for m in (data.vectors, data.media) if m is not None]
        matrix = np.hstack(dense).astype(np.float32) if dense else np.zeros((n, 1), np.float32)
        if matrix.shape[1] > DENSE_DIMS:  # the main directions only: gathering 384 numbers
            centred = matrix - matrix.mean(axis=0)  # per sample was most of a step's time
            _u, _s, vt = np.linalg.svd(centred[:: max(1, n // 5000)], full_matrices=False)
            matrix = centred @ vt[:DENSE_DIMS].T
            matrix /= matrix.std() + 1e-9
        self.dense = torch.from_numpy(np.ascontiguousarray(matrix, np.float32)).to(device)


def _net(n_users: int, n_items: int, side: _Side, dim: int, hidden: int, wide: bool) -> Any:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.user = nn.Embedding(n_users + 1, dim)  # the last row: any user not trained on
            self.item = nn.Embedding(n_items, dim)
            self.kind = nn.Embedding(side.n_kinds, dim)
            self.tag = nn.Embedding(side.n_tags, dim, padding_idx=0)
            self.year = nn.Embedding(YEAR_BUCKETS, dim)
            self.dense = nn.Linear(side.dense.shape[1], dim)
            for emb in (self.user, self.item, self.kind, self.tag, self.year):
                nn.init.normal_(emb.weight, std=0.05)
            with torch.no_grad():
                self.tag.weight[0].zero_()
            self.user_b = nn.Embedding(n_users + 1, 1)
            self.item_b = nn.Embedding(n_items, 1)
            self.tag_b = nn.Embedding(side.n_tags, 1, padding_idx=0)
            self.kind_b = nn.Embedding(side.n_kinds, 1)
            self.year_b = nn.Embedding(YEAR_BUCKETS, 1)
            for emb in (self.user_b, self.item_b, self.tag_b, self.kind_b, self.year_b):
                nn.init.zeros_(emb.weight)
            self.bias = nn.Parameter(torch.zeros(1))
            self.lin_u = nn.Linear(2 * dim, hidden)
            self.lin_i = nn.Linear(5 * dim, hidden, bias=False)
            self.rest = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden // 2), nn.ReLU(),
                                      nn.Linear(hidden // 2, 1))  # fmt: skip
            self.wide = wide
            if wide:  # user x tag crosses, the wide part's memory
                self.cross = nn.Parameter(torch.zeros(n_users + 1, side.n_tags))

        # -- fields ------------------------------------------------------------------------------
        def user_fields(self, users, hist):
            return torch.stack([self.user(users), hist], 1)  # (B, 2, d)

        def item_fields(self, items):
            tags = side.tags[items]
            tag_mean = self.tag(tags).sum(1) / side.tag_count[items, None]
            return torch.stack([self.item(items), self.kind(side.kind[items]), tag_mean,
                                self.year(side.year[items]),
                                self.dense(side.dense[items])], 1)  # fmt: skip

        def item_first(self, items):
            tags = side.tags[items]
            return (self.item_b(items).squeeze(-1)
                    + self.tag_b(tags).squeeze(-1).sum(1) / side.tag_count[items]
                    + self.kind_b(side.kind[items]).squeeze(-1)
                    + self.year_b(side.year[items]).squeeze(-1))  # fmt: skip

        def cross_score(self, users, items):
            tags = side.tags[items]
            return self.cross[users[:, None], tags].sum(1) / side.tag_count[items]

        def forward(self, users, items, hist):
            uf, itf = self.user_fields(users, hist), self.item_fields(items)
            out = self.bias + self.user_b(users).squeeze(-1) + self.item_first(items)
            h = self.lin_u(uf.flatten(1)) + self.lin_i(itf.flatten(1))
            out = out + self.rest(h).squeeze(-1)
            if self.wide:
                out = out + self.cross_score(users, items)
            else:  # the factorisation machine over all seven fields
                f = torch.cat([uf, itf], 1)
                out = out + 0.5 * (f.sum(1).pow(2) - f.pow(2).sum(1)).sum(-1)
            return out

        def score_all(self, users, hist, cache):
            """(B users) x (every item), with the item side computed once (``cache``)."""
            uf = self.user_fields(users, hist)
            h = self.lin_u(uf.flatten(1))[:, None, :] + cache["lin"][None]
            out = self.rest(h).squeeze(-1) + cache["first"][None] + self.bias
            out = out + self.user_b(users)  # (B, 1) broadcast
            if self.wide:
                tags = side.tags
                out = out + self.cross[users][:, tags].sum(-1) / side.tag_count[None]
            else:
                s_u, q_u = uf.sum(1), uf.pow(2).sum((1, 2))
                s = s_u[:, None, :] + cache["sum"][None]
                out = out + 0.5 * (s.pow(2).sum(-1) - q_u[:, None] - cache["sq"][None])
            return out

        def item_cache(self):
            items = torch.arange(n_items, device=side.kind.device)
            itf = self.item_fields(items)
            return {"lin": self.lin_i(itf.flatten(1)), "first": self.item_first(items),
                    "sum": itf.sum(1), "sq": itf.pow(2).sum((1, 2)), "fields": itf}  # fmt: skip

    return Net()


class _Deep(Recommender, RatingModel):
    wide = True

    def __init__(self, dim: int = 16, hidden: int = 64, epochs: int = 6, lr: float = 0.005,
                 negatives: int = 4, batch: int = 4096, seed: int = 7,
                 device: str | None = None, user_dropout: float = 0.2):  # fmt: skip
        self.dim, self.hidden, self.epochs, self.lr = dim, hidden, epochs, lr
        self.user_dropout = user_dropout
        self.negatives, self.batch, self.seed, self.device = negatives, batch, seed, device
        #: called after each epoch with (self, epoch number); the evaluation uses it to choose
        #: the number of epochs on the validation slice
        self.on_epoch: Callable[[Any, int], None] | None = None
        self.mode = "ranking"

    # -- training ----------------------------------------------------------------------------------
    def _setup(self, data: Interactions, history: Any) -> None:
        import torch

        self.data = data
        self.dev = _device(self.device)
        torch.manual_seed(self.seed)
        self.side = _Side(data, self.dev)
        n_users, n_items = history.shape
        self.n_users = n_users
        self.net = _net(n_users, n_items, self.side, self.dim, self.hidden, self.wide).to(self.dev)
        binary = history.tocsr().astype(np.float32, copy=True)
        binary.data[:] = 1.0
        self.history = binary
        counts = np.maximum(1.0, np.diff(binary.indptr)).astype(np.float32)
        coo = binary.tocoo()
        self._hist_matrix = torch.sparse_coo_tensor(
            np.vstack([coo.row, coo.col]), coo.data, binary.shape, device=self.dev,
            check_invariants=False,
        ).coalesce()  # fmt: skip
        self._hist_counts = torch.from_numpy(counts).to(self.dev)
        self._cache = None

    def _hist(self, users, items=None, chosen=None):
        """Mean item embedding of each user's history, leaving out the item being learned."""
        import torch

        sums = torch.sparse.mm(self._hist_matrix, self.net.item.weight)
        s, c = sums[users], self._hist_counts[users]
        if items is not None and chosen is not None:
            s = s - chosen[:, None] * self.net.item.weight[items]
            c = (c - chosen).clamp(min=1)
        return s / c[:, None]

    def _train(self, users: np.ndarray, items: np.ndarray, targets: np.ndarray | None) -> None:
        import torch

        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=1e-6)
        n_items = len(self.data.items)
        for epoch in range(1, self.epochs + 1):
            self.net.train()
            order = rng.permutation(len(users))
            for start in range(0, len(order), self.batch):
                pick = order[start : start + self.batch]
                u, i = users[pick], items[pick]
                if targets is None:  # top-N: the chosen items against sampled ones
                    k = self.negatives
                    u = np.concatenate([u, np.repeat(u, k)])
                    i = np.concatenate([i, rng.integers(0, n_items, len(pick) * k)])
                    y = np.concatenate([np.ones(len(pick)), np.zeros(len(pick) * k)])
                    chosen = y
                else:
                    y = targets[pick] - self.mu
                    chosen = np.ones(len(pick))
                ut = torch.from_numpy(u).to(self.dev)
                it = torch.from_numpy(i).to(self.dev)
                yt = torch.from_numpy(y.astype(np.float32)).to(self.dev)
                ct = torch.from_numpy(chosen.astype(np.float32)).to(self.dev)
                hist = self._hist(ut, it, ct)
                # some samples as "a user not trained on": the model learns to lean on the
                # history too, which is all it has for a new user's row
                anonymous = rng.random(len(u)) < self.user_dropout
                ids = torch.from_numpy(np.where(anonymous, self.n_users, u)).to(self.dev)
                out = self.net(ids, it, hist)
                if targets is None:
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(out, yt)
                else:
                    loss = torch.nn.functional.mse_loss(out, yt)
                opt.zero_grad()
                loss.backward()
                opt.step()
            self._cache = None
            self.trained_epochs = epoch
            if self.on_epoch is not None:
                self.on_epoch(self, epoch)

    def fit(self, data: Interactions) -> _Deep:
        """Top-N: every chosen item against ``negatives`` sampled ones per epoch."""
        self.mode = "ranking"
        self._setup(data, data.matrix)
        coo = data.matrix.tocoo()
        self.mu = 0.0
        self._train(coo.row.astype(np.int64), coo.col.astype(np.int64), None)
        return self

    def fit_ratings(self, users, items, ratings, n_users, n_items, side=None) -> _Deep:
        """Ratings: squared error of (rating - mean); ``side``: the items' features."""
        import scipy.sparse as sp

        self.mode = "rating"
        users, items = np.asarray(users, np.int64), np.asarray(items, np.int64)
        ratings = np.asarray(ratings, np.float64)
        history = sp.csr_matrix((np.ones(len(users)), (users, items)), shape=(n_users, n_items))
        base = side or Interactions([str(i) for i in range(n_items)],
                                    [str(u) for u in range(n_users)], history)  # fmt: skip
        self._setup(base, history)
        self.mu = float(ratings.mean()) if len(ratings) else 0.0
        self.scale = (float(ratings.min()), float(ratings.max())) if len(ratings) else (0, 1)
        self._train(users, items, ratings)
        return self

    # -- scoring -----------------------------------------------------------------------------------
    def predict(self, users, items) -> np.ndarray:
        import torch

        self.net.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(users), 65536):
                u = torch.from_numpy(np.asarray(users[start : start + 65536], np.int64)).to(
                    self.dev)  # fmt: skip
                i = torch.from_numpy(np.asarray(items[start : start + 65536], np.int64)).to(
                    self.dev)  # fmt: skip
                out.append((self.net(u, i, self._hist(u)) + self.mu).cpu().numpy())
        return np.clip(np.concatenate(out) if out else np.zeros(0), *self.scale)

    def _item_cache(self) -> dict:
        import torch

        if self._cache is None:
            self.net.eval()
            with torch.inference_mode():
                self._cache = self.net.item_cache()
                fields = self._cache["fields"].flatten(1)
                self._unit = torch.nn.functional.normalize(fields, dim=1).cpu().numpy()
        return self._cache

    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Scores of every item for trained users (rows of the training matrix)."""
        import torch

        cache = self._item_cache()
        with torch.inference_mode():
            u = torch.from_numpy(np.asarray(users, np.int64)).to(self.dev)
            return self.net.score_all(u, self._hist(u), cache).float().cpu().numpy()

    def score(self, row: Any, user: int | None = None) -> np.ndarray:
        import torch

        if user is not None and user < self.n_users:
            return self.score_users(np.array([user]))[0]
        cache = self._item_cache()
        with torch.inference_mode():
            weights = self.net.item.weight
            if row.nnz:
                hist = weights[torch.from_numpy(row.indices.astype(np.int64)).to(self.dev)]
                hist = hist.mean(0, keepdim=True)
            else:
                hist = torch.zeros(1, weights.shape[1], device=self.dev)
            u = torch.tensor([self.n_users], device=self.dev)  # the row learnt for "anyone"
            return self.net.score_all(u, hist, cache)[0].float().cpu().numpy()

    def similar(self, item: int, others: np.ndarray) -> np.ndarray:
        self._item_cache()
        return self._unit[others] @ self._unit[item]

    def reason(self, row: Any, item: int) -> str:
        return self._because(row, item)


class WideDeep(_Deep):
    """Wide&Deep: per-feature weights and user x tag crosses (wide) beside an MLP (deep)."""

    name = "wide-deep"
    wide = True


class DeepFM(_Deep):
    """DeepFM: first-order weights, a factorisation machine over all field pairs and an MLP."""

    name = "deepfm"
    wide = False
