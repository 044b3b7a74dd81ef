"""The built-in recommenders as plugin-contract generators (kind ``recommender``): a request
(``user``, or ``like``: an item id for "more like this", ``n``, ``kind``) in, Scores out (item id
-> score), each item's reason in ``provenance["reasons"]``."""

from __future__ import annotations

from typing import Any

from studio.plugins.api import Generator, JobContext, Param, Scores

__all__ = ["HybridRecommender", "AlsRecommender", "ItemKnnRecommender", "UserKnnRecommender",
           "SvdRecommender", "SvdppRecommender", "TfidfRecommender", "ContentRecommender",
           "WideDeepRecommender", "DeepFmRecommender", "PopularityRecommender"]  # fmt: skip

_PARAMS = (
    Param("n", "int", 10, minimum=1, maximum=500, help="how many"),
    Param("kind", "choice", "any", choices=("any", "audio", "midi", "image", "video")),
    Param("user", "str", "me", help="whose taste"),
    Param("like", "int", -1, minimum=-1, help="an item id for 'more like this' (-1: none)"),
    Param("same_kind", "bool", True, help="more like this: only items of the same kind"),
)


class _Recommender(Generator):
    kind = "recommender"
    engine = "hybrid"
    params = _PARAMS

    def __init__(self) -> None:
        super().__init__()
        self._library: Any = None

    def run(self, request: dict[str, Any], ctx: JobContext) -> Scores:
        from studio.library.service import Library

        if self._library is None or request.get("refresh", True):
            self._library = Library()
        ctx.check_cancelled()
        kind = None if request["kind"] == "any" else request["kind"]
        like = None if request["like"] < 0 else request["like"]
        found = self._library.recommend(request["n"], kind, like, request["user"], self.engine,
                                        same_kind=request.get("same_kind", True))  # fmt: skip
        return Scores(
            {str(s.item.id): s.score for s in found},
            provenance={
                "engine": f"studio/{self.engine}",
                "reasons": {str(s.item.id): s.reason for s in found},
                "titles": {str(s.item.id): s.item.label for s in found},
                "order": [str(s.item.id) for s in found],
            },  # fmt: skip
        )


class HybridRecommender(_Recommender):
    title = "Hybrid (all of them, with reasons)"
    engine = "hybrid"


class AlsRecommender(_Recommender):
    title = "Implicit ALS"
    engine = "als"


class ItemKnnRecommender(_Recommender):
    title = "Item kNN (chosen together)"
    engine = "item-knn"


class UserKnnRecommender(_Recommender):
    title = "User kNN (people with your taste)"
    engine = "user-knn"


class SvdRecommender(_Recommender):
    title = "SVD (rating matrix factorisation)"
    engine = "svd"


class SvdppRecommender(_Recommender):
    title = "SVD++ (what you rated at all counts too)"
    engine = "svdpp"


class TfidfRecommender(_Recommender):
    title = "TF-IDF (shared words and tags)"
    engine = "tfidf"


class WideDeepRecommender(_Recommender):
    title = "Wide & Deep (side features, torch)"
    engine = "wide-deep"


class DeepFmRecommender(_Recommender):
    title = "DeepFM (side features, torch)"
    engine = "deepfm"


class ContentRecommender(_Recommender):
    title = "Content (similar titles, tags, sound, pictures)"
    engine = "content"


class PopularityRecommender(_Recommender):
    title = "Popular lately"
    engine = "popularity"
