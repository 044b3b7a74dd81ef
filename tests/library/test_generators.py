"""Every recommender is a ``recommender`` contribution: a request in, Scores out, each item with
its reason and title."""

import pytest

from studio.core.jobs import JobContext
from studio.library import generators
from studio.library.service import Library
from tests.library.test_history_and_recommend import _library

NEW = ("UserKnnRecommender", "SvdRecommender", "SvdppRecommender", "TfidfRecommender",
       "WideDeepRecommender", "DeepFmRecommender")  # fmt: skip


@pytest.mark.parametrize("name", NEW)
def test_each_new_model_recommends_with_reasons(tmp_path, name):
    catalog, ids = _library(tmp_path)
    gen = getattr(generators, name)()
    assert gen.kind == "recommender" and name in generators.__all__
    gen._library = Library(catalog)
    request = {p.name: p.default for p in gen.params} | {"n": 4, "refresh": False}
    scores = gen.run(request, JobContext())
    assert scores.scores, name
    reasons = scores.provenance["reasons"]
    assert set(reasons) == set(scores.scores) and all(reasons.values())
    assert str(ids[("A", 2)]) not in scores.scores  # disliked
