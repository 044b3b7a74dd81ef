"""Wide&Deep and DeepFM learn a small synthetic taste, for top-N (sampled negatives) and for
ratings (squared error), on the CPU; on CUDA when there is one."""

import numpy as np
import pytest
import scipy.sparse as sp

from studio.library.deep import DeepFM, WideDeep
from tests.library.test_recommenders import _data, _group


@pytest.mark.parametrize("cls", [WideDeep, DeepFM])
def test_deep_models_learn_who_likes_what(cls):
    data = _data(users=45, per_user=7)
    model = cls(epochs=30, lr=0.01, batch=128, device="cpu").fit(data)
    hits = 0
    for user in range(6):
        found = model.recommend(data.matrix[user], 3, user=user)
        hits += sum(_group(r.item) == user % 3 for r in found)
        assert all(r.reason.startswith("you liked") for r in found)
    assert hits >= 14  # of 18; random would be about 6
    # a person the model never saw, folded in from their row
    row = sp.csr_matrix(([1.0, 1.0, 1.0], ([0, 0, 0], [30, 31, 32])), shape=(1, 45))
    found = model.recommend(row, 3)
    assert sum(_group(r.item) == 2 for r in found) >= 2


@pytest.mark.parametrize("cls", [WideDeep, DeepFM])
def test_deep_models_predict_ratings_better_than_the_mean(cls):
    rng = np.random.default_rng(1)
    users, items = np.meshgrid(np.arange(20), np.arange(12), indexing="ij")
    users, items = users.ravel(), items.ravel()
    ratings = np.where((users % 2) == (items % 2), 4.5, 1.5) + rng.normal(0, 0.2, len(users))
    keep = rng.random(len(users)) < 0.8
    model = cls(epochs=60, lr=0.02, batch=64, device="cpu")
    model.fit_ratings(users[keep], items[keep], ratings[keep], 20, 12)
    predicted = model.predict(users[~keep], items[~keep])
    rmse = np.sqrt(np.mean((predicted - ratings[~keep]) ** 2))
    assert rmse < 0.6 * np.std(ratings[~keep])


def test_epochs_are_reported_to_the_caller():
    seen = []
    model = WideDeep(epochs=3, device="cpu")
    model.on_epoch = lambda m, e: seen.append(e)
    model.fit(_data())
    assert seen == [1, 2, 3]


@pytest.mark.gpu
def test_deep_models_run_on_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA")
    data = _data()
    model = DeepFM(epochs=5).fit(data)  # the default device: CUDA when present
    assert model.dev == "cuda"
    assert len(model.recommend(data.matrix[0], 5, user=0)) == 5
