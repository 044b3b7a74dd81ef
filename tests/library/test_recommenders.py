"""Each recommender on a small synthetic taste: three groups of people, each choosing from its
own third of the catalog, with words and tags that say which third."""

import numpy as np
import pytest
import scipy.sparse as sp

from studio.library.recommenders import (
    ALS,
    SVD,
    Hybrid,
    Interactions,
    ItemKNN,
    Popularity,
    SVDpp,
    TfidfContent,
    UserKNN,
)

THEMES = ("horror", "comedy", "western")


def _data(users=30, items=45, per_user=6, seed=0):
    """Each person rates ``per_user`` of their group's items 4 or 5 (their choices) and three
    of the other groups' items 1 or 2 (known only to the rating models)."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    low_rows, low_cols, low_vals = [], [], []
    size = items // 3
    for u in range(users):
        group = u % 3
        for i in rng.choice(size, per_user, replace=False):
            rows.append(u)
            cols.append(group * size + int(i))
            vals.append(float(rng.integers(4, 6)))
        others = [i for i in range(items) if i // size != group]
        for i in rng.choice(others, 3, replace=False):
            low_rows.append(u)
            low_cols.append(int(i))
            low_vals.append(float(rng.integers(1, 3)))
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(users, items))
    ratings = sp.csr_matrix((vals + low_vals, (rows + low_rows, cols + low_cols)),
                            shape=(users, items))  # fmt: skip
    titles = [f"{THEMES[i // size]} film {i}" for i in range(items)]
    tags = [[THEMES[i // size]] for i in range(items)]
    return Interactions([str(i) for i in range(items)], [f"u{u}" for u in range(users)], matrix,
                        titles=titles, ratings=ratings, texts=titles, tags=tags,
                        kinds=["movie"] * items)  # fmt: skip


def _group(item: str, items=45) -> int:
    return int(item) // (items // 3)


SMALL = {  # SGD's defaults are for 100,000 ratings, not 300
    "svd": lambda: SVD(factors=8, epochs=100, lr=0.02),
    "svdpp": lambda: SVDpp(factors=8, epochs=100, lr=0.02),
}


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN, ALS, SVD, SVDpp, TfidfContent])
def test_each_recommender_follows_the_taste_and_names_its_reason(cls):
    data = _data()
    model = SMALL.get(cls.name, cls)().fit(data)
    row = data.matrix[0]  # a horror person
    found = model.recommend(row, 5, user=0)
    assert len(found) == 5
    assert sum(_group(r.item) == 0 for r in found) >= 4, [r.item for r in found]
    assert not {r.item for r in found} & {str(i) for i in row.indices}  # nothing chosen before
    for rec in found:
        assert rec.reason, cls.__name__
        assert "(" in rec.reason and ")" in rec.reason  # how strongly
    assert "horror film" in found[0].reason or "people with your taste" in found[0].reason


def test_a_new_person_is_folded_in_from_their_row():
    data = _data()
    row = sp.csr_matrix(([5.0, 5.0, 4.0], ([0, 0, 0], [31, 32, 33])), shape=(1, 45))  # westerns
    for make in (ALS, SMALL["svd"], SMALL["svdpp"], UserKNN, ItemKNN, TfidfContent):
        model = make().fit(data)
        found = model.recommend(row, 5)
        # rating models also weigh how well liked an item is overall (its bias)
        wanted = 3 if isinstance(model, SVD) else 4
        assert sum(_group(r.item) == 2 for r in found) >= wanted, type(model).__name__


def test_als_fold_in_is_the_solve_implicit_does():
    data = _data()
    model = ALS(factors=8, iterations=5).fit(data)
    row = data.matrix[4]
    ours = model.user_vector(row)
    theirs = np.asarray(model.model.recalculate_user(0, row.tocsr().astype(np.float32))).ravel()
    assert np.allclose(ours, theirs, atol=1e-3)


def test_svd_predicts_ratings_it_was_trained_on_better_than_the_mean():
    data = _data()
    coo = data.ratings.tocoo()
    model = SVD(factors=10, epochs=40).fit_ratings(coo.row, coo.col, coo.data, 30, 45)
    predicted = model.predict(coo.row, coo.col)
    assert np.sqrt(np.mean((predicted - coo.data) ** 2)) < np.std(coo.data)
    assert predicted.min() >= coo.data.min() and predicted.max() <= coo.data.max()


def test_tfidf_says_which_tag_is_shared():
    data = _data()
    model = TfidfContent().fit(data)
    found = model.recommend(data.matrix[2], 3)
    assert found[0].reason.startswith("tagged 'western' like western film")


def test_popularity_never_suggests_what_nobody_chose():
    data = _data(per_user=2)  # most items are in no one's history
    model = Popularity().fit(data)
    found = model.recommend(sp.csr_matrix((1, data.matrix.shape[1])), 60)
    chosen = set(np.flatnonzero(np.asarray(data.matrix.sum(axis=0)).ravel()).tolist())
    assert found and {int(r.item) for r in found} <= chosen
    assert all(r.reason.startswith("popular: chosen by") for r in found)


def test_the_hybrid_explains_with_the_part_that_drove_it():
    data = _data()
    model = Hybrid({"als": 1.0, "item-knn": 0.5, "user-knn": 0.5, "popularity": 0.1}).fit(data)
    found = model.recommend(data.matrix[1], 5, user=1)
    assert all(r.reason for r in found)
    assert sum(_group(r.item) == 1 for r in found) >= 4


def test_the_hybrids_fast_blend_ranks_exactly_like_its_scores():
    data = _data()
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(45, 8)).astype(np.float32)
    data.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    weights = {"als": 1.0, "item-knn": 0.5, "content": 0.25, "popularity": 0.1}
    model = Hybrid(weights).fit(data)
    for user in (0, 1, 2, None):
        row = data.matrix[user or 5]
        slow = model.score(row, user)
        fast, _ = model._blend(row, user)
        assert np.allclose(fast, slow, atol=1e-3), user
        slow[row.indices] = -np.inf
        picked = [int(r.item) for r in model.recommend(row, 8, user=user)]
        assert picked == [int(i) for i in np.argsort(-slow, kind="stable")[:8]]
