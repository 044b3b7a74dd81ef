"""The library's recommendations: the catalog's history turned into interactions, the items'
features into vectors, and the recommenders run with their reasons. Also "more like this" from any
item, and the background feature computation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from studio.core.jobs import JobContext
from studio.library.catalog import EVENT_KINDS, Catalog, CatalogError, Item
from studio.library.recommenders import RECOMMENDERS, Interactions, Recommender

__all__ = ["Library", "Suggestion"]


@dataclass
class Suggestion:
    item: Item
    score: float
    reason: str


class Library:
    """Recommendations over one catalog. Rebuilt when the history changes (:meth:`refresh`)."""

    def __init__(self, catalog: Catalog | None = None, registry: Any = None):
        self.catalog = catalog or Catalog()
        self.registry = registry  # annotator plugins score items' text (reviews, notes)
        self._data: Interactions | None = None
        self._items: list[Item] = []
        self._row_of: dict[int, int] = {}  # item id -> its row in the interactions
        self._models: dict[str, Recommender] = {}
        self._disliked: dict[str, set[int]] = {}  # net negative or rejected, per user

    # -- building ----------------------------------------------------------------------------------
    def refresh(self) -> Interactions:
        """Read the items, history and features again; recommenders refit on next use."""
        import scipy.sparse as sp

        items = self.catalog.items(include_missing=True)
        labels = self.catalog.labels()  # what an image tagger said, when there is one
        index = {item.id: i for i, item in enumerate(items)}
        events = self.catalog.events()
        users = sorted({e[1] for e in events} | {"me"})
        u_index = {u: i for i, u in enumerate(users)}
        weights: dict[tuple[int, int], float] = {}
        times: dict[tuple[int, int], float] = {}
        self._disliked = {}
        rejected: set[tuple[int, int]] = set()
        for item_id, user, kind, value, at in events:
            if item_id not in index:
                continue
            key = (u_index[user], index[item_id])
            if kind == "reject":  # a rejection is final, whatever else happened
                rejected.add(key)
            if kind not in EVENT_KINDS or (
                value is not None and not (isinstance(value, int | float) and np.isfinite(value))
            ):
                continue  # an older import stored inf or NaN: ALS would fail on it for good
            w = EVENT_KINDS[kind]
            if kind == "rating" and value is not None:
                w = max(0.5, float(value) - 2.5) if value >= 2.5 else -1.0
            weights[key] = weights.get(key, 0.0) + w
            times[key] = max(times.get(key, 0.0), at)
        rows, cols, vals, stamps = [], [], [], []
        for (u, i), w in weights.items():
            if w > 0 and (u, i) not in rejected:
                rows.append(u)
                cols.append(i)
                vals.append(w)
                stamps.append(times[(u, i)])
            else:
                self._disliked.setdefault(users[u], set()).add(i)
        shape = (len(users), len(items))
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)
        when = sp.csr_matrix((stamps, (rows, cols)), shape=shape, dtype=np.float64)
        self._items = items
        self._row_of = index
        self._data = Interactions(
            [str(i.id) for i in items], users, matrix, when, self._vectors(items),
            [i.label for i in items], texts=[i.text() for i in items],
            tags=[_tags(i.tags) + labels.get(i.id, []) for i in items],
            kinds=[i.kind for i in items],
            media=self._media(items),
        )  # fmt: skip
        self._models = {}
        return self._data

    def _media(self, items: list[Item]) -> np.ndarray | None:
        """Each item's own audio, MIDI or picture features (32 numbers, zeros where none)."""
        media = self.catalog.feature("media")
        if not media:
            return None
        out = np.zeros((len(items), 32), np.float32)
        for row, item in enumerate(items):
            if item.id in media:
                m = media[item.id][:32]
                out[row, : len(m)] = m
        return out

    def _vectors(self, items: list[Item]) -> np.ndarray | None:
        """Unit vectors per item: the text embedding, with the item's own media features
        appended when it has them; None before any feature was computed."""
        text = self.catalog.feature("text")
        if not text:
            return None
        media = self.catalog.feature("media")
        notes = self.catalog.feature("annotation")
        dim = len(next(iter(text.values())))
        out = np.zeros((len(items), dim + 32 + 4), np.float32)
        for row, item in enumerate(items):
            if item.id in text:
                out[row, :dim] = text[item.id]
            if item.id in media:
                m = media[item.id][:32]
                out[row, dim : dim + len(m)] = 0.5 * m / (np.linalg.norm(m) + 1e-9)
            if item.id in notes:  # what annotators said of its text (a review's sentiment)
                a = notes[item.id][:4]
                out[row, dim + 32 : dim + 32 + len(a)] = 0.3 * a
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)

    def model(self, name: str) -> Recommender:
        data = self._data or self.refresh()
        if name not in self._models:
            if name not in RECOMMENDERS:
                raise CatalogError(f"unknown recommender {name!r}; use {', '.join(RECOMMENDERS)}")
            cls = RECOMMENDERS[name]
            if name == "content" and data.vectors is None:
                raise CatalogError(
                    "content recommendations need features: run `studio library features` "
                    "(or wait for the panel's)"
                )
            if name == "hybrid":
                # the blend validation chose on MovieLens (README, Library: Evaluation)
                weights = {"als": 1.0, "item-knn": 1.0, "content": 0.5}
                if data.matrix.nnz < 20:  # too little history to factorise: lean on the rest
                    weights = {"item-knn": 1.0, "content": 1.0, "popularity": 0.3}
                if data.vectors is None:
                    weights["tfidf"] = weights.pop("content")
                self._models[name] = RECOMMENDERS["hybrid"](weights, diversity=0.2).fit(data)
            elif name in ("als", "svd", "svdpp", "wide-deep", "deepfm") and data.matrix.nnz < 2:
                raise CatalogError(f"{name} needs some history: play, like or keep a few items")
            else:
                self._models[name] = cls().fit(data)
        return self._models[name]

    # -- asking ------------------------------------------------------------------------------------
    def recommend(self, n: int = 10, kind: str | None = None, like: int | None = None,
                  user: str = "me", engine: str = "hybrid",
                  same_kind: bool = True) -> list[Suggestion]:  # fmt: skip
        """The ``n`` best present items for ``user`` (or like item ``like``: "more like this",
        within that item's kind unless ``same_kind`` is False), each with a reason that names
        what drives it and how strongly. Missing, unreadable, disliked and rejected items are
        never suggested; with no history, the newest items are, and the reason says so."""
        import scipy.sparse as sp

        data = self._data or self.refresh()
        seed: int | None = None
        if like is not None:
            self.catalog.item(like)  # raises for an unknown id
            seed = self._row_of[like]
            row = sp.csr_matrix(([1.0], ([0], [seed])), shape=(1, len(data.items)))
            if kind is None and same_kind:
                kind = self._items[seed].kind
            model = self.model("content" if data.vectors is not None else "tfidf")
        else:
            if user in data.users:
                row = data.matrix[data.users.index(user)]
            else:
                row = sp.csr_matrix((1, len(data.items)))
            if row.nnz == 0:
                return self._fresh(n, kind, user)
            model = self.model(engine)
        blocked = self._disliked.get(user, set())
        suggestions: list[Suggestion] = []
        for rec in model.recommend(row, n=max(50, n * 5)):
            i = self._row_of[int(rec.item)]
            item = self._items[i]
            if not _suggestible(item) or i in blocked or (kind and item.kind != kind):
                continue
            reason = self._reason(model, i, rec, seed)
            if not reason:  # a suggestion nothing explains is not made
                continue
            suggestions.append(Suggestion(item, rec.score, reason))
            if len(suggestions) == n:
                break
        return suggestions

    def _reason(self, model: Recommender, item: int, rec: Any, seed: int | None) -> str:
        """What drives ``item``: the chosen (or seed) item most like it and what they share
        (the artist, a tag, tempo and key, colours) with how alike they are; else the model's
        own reason ("chosen by 3 of the 50 people with your taste (similarity 0.41)")."""
        if seed is not None:
            sims = model.similar(item, np.array([seed]))
            driver, strength = seed, (float(sims[0]) if sims is not None else None)
        elif rec.driver is not None:
            driver, strength = rec.driver, rec.strength
        else:
            return rec.reason
        said = f" ({strength:.2f})" if strength is not None else ""
        shared = _shared(self._items[driver], self._items[item], self._data, driver, item)
        if shared:
            return shared + said
        if seed is not None:
            return f"similar to {self._items[seed].label}{said}"
        return rec.reason or f"you liked {self._items[driver].label}{said}"

    def _fresh(self, n: int, kind: str | None, user: str = "me") -> list[Suggestion]:
        """No history yet: the newest items, said plainly."""
        if self._data is None:
            self.refresh()
        blocked = {self._items[i].id for i in self._disliked.get(user, set())}
        items = [i for i in self.catalog.items(kind=kind)[::-1]
                 if _suggestible(i) and i.id not in blocked][:n]  # fmt: skip
        return [Suggestion(i, 0.0, "added recently (no history yet: play, like or keep a few "
                                   "items for suggestions)") for i in items]  # fmt: skip

    # -- features ----------------------------------------------------------------------------------
    def compute_features(self, ctx: JobContext | None = None, batch: int = 64) -> int:
        """Text embeddings (MiniLM) and media features for every item that lacks them, with
        progress and cancel. Returns how many items got features.

        The work (the model, reading every file) happens outside any transaction; each batch's
        results are written in one short one, so ``feedback`` or a second ``add`` meanwhile
        waits milliseconds, not the whole batch."""
        from studio.library.features import embed_texts, media_features

        ctx = ctx or JobContext()
        have = set(self.catalog.feature("text"))
        todo = [i for i in self.catalog.items(include_missing=True) if i.id not in have]
        for start in range(0, len(todo), batch):
            ctx.check_cancelled()
            chunk = todo[start : start + batch]
            vectors = embed_texts([i.text() for i in chunk], cache=False)
            media: dict[int, np.ndarray] = {}
            for item in chunk:
                if not item.missing:
                    ctx.check_cancelled()
                    found = media_features(item)
                    if found is not None:
                        media[item.id] = found
            with self.catalog.transaction():
                for item, vector in zip(chunk, vectors, strict=True):
                    self.catalog.set_feature(item.id, "text", vector)
                    if item.id in media:
                        self.catalog.set_feature(item.id, "media", media[item.id])
            ctx.progress((start + len(chunk)) / len(todo), f"features: {start + len(chunk)} "
                         f"of {len(todo)}")  # fmt: skip
        self.annotate(ctx)
        self.label_pictures(ctx)
        self._data = None
        return len(todo)

    def label_pictures(self, ctx: JobContext | None = None, top: int = 3,
                       confidence: float = 0.2) -> int:  # fmt: skip
        """Tag every present picture not tagged yet with the image tagger, when there is one
        (``studio image train-tagger``): its ``top`` labels at least ``confidence`` sure join the
        item's tags for TF-IDF and the deep models. Returns how many pictures were tagged."""
        ctx = ctx or JobContext()
        done = set(self.catalog.labels())
        todo = [i for i in self.catalog.items(kind="image") if i.id not in done and not i.error]
        if not todo:
            return 0
        tagger = _tagger()
        if tagger is None:
            return 0
        name, tag = tagger
        for start in range(0, len(todo), 32):
            ctx.check_cancelled()
            chunk = todo[start : start + 32]
            results = tag([i.path for i in chunk], top)
            with self.catalog.transaction():
                for item, result in zip(chunk, results, strict=True):
                    if "error" in result:
                        continue
                    found = [(t["label"], t["confidence"]) for t in result["tags"]
                             if t["confidence"] >= confidence]  # fmt: skip
                    self.catalog.set_labels(item.id, found, name)
            ctx.progress((start + len(chunk)) / len(todo), "tagging pictures")
        return len(todo)

    def annotators(self) -> list[Any]:
        if self.registry is None:
            return []
        return list(self.registry.contributions("annotator"))

    def annotate_text(self, text: str) -> list[tuple[str, Any]]:
        """Every annotator plugin's Scores for ``text`` (those that fail are skipped, logged)."""
        import logging

        out = []
        for ref in self.annotators():
            try:
                out.append((ref.title, self.registry.run(ref.id, {"text": text})))
            except Exception as exc:  # noqa: BLE001 - a plugin's failure is its own, logged
                logging.getLogger(__name__).info("annotator %s: %s", ref.id, exc)
        return out

    def annotate(self, ctx: JobContext | None = None) -> int:
        """Score the text of every item that has a description with the annotator plugins;
        the scores join the item's features (the recommender's content vector)."""
        ctx = ctx or JobContext()
        if not self.annotators():
            return 0
        done = 0
        for item in self.catalog.items(include_missing=True):
            if not item.description.strip():
                continue
            ctx.check_cancelled()
            results = self.annotate_text(item.description)
            if results:
                values = [v for _title, scores in results for v in scores.scores.values()]
                with self.catalog.transaction():
                    self.catalog.set_feature(item.id, "annotation", np.asarray(values[:4]))
                done += 1
        return done

    def explain(self) -> dict[str, Any]:
        data = self._data or self.refresh()
        return {"items": len(data.items), "users": len(data.users),
                "interactions": int(data.matrix.nnz),
                "features": data.vectors is not None}  # fmt: skip


def _suggestible(item: Item) -> bool:
    """A file that is there and could be read (imported-history tracks are missing)."""
    return not item.missing and not item.error


def _tags(text: str) -> list[str]:
    import re

    return [t.strip().lower() for t in re.split(r"[,;/|]", text or "") if t.strip()]


def _shared(driver: Item, item: Item, data: Interactions | None, d_row: int, i_row: int) -> str:
    """What two items visibly share: the artist, a tag (theirs or an image tagger's), tempo and
    key (audio and MIDI), or colours (pictures); "" when nothing stands out. ``d_row`` and
    ``i_row``: their rows in ``data``."""
    if driver.artist and driver.artist.strip().lower() == item.artist.strip().lower():
        return f"same artist as {driver.label}"
    if data is not None and data.tags:
        mine, theirs = data.tags[i_row], set(data.tags[d_row])
    else:
        mine, theirs = _tags(item.tags), set(_tags(driver.tags))
    common = [t for t in mine if t in theirs]
    if common:
        return f"tagged '{common[0]}' like {driver.label}"
    if data is None or data.media is None or driver.kind != item.kind:
        return ""
    a, b = data.media[d_row], data.media[i_row]
    if not a.any() or not b.any():
        return ""
    if item.kind == "audio":  # tempo/200, key/11, ...
        if abs(a[0] - b[0]) * 200 < 6 and round(a[1] * 11) == round(b[1] * 11):
            return f"similar tempo and key to {driver.label}"
    elif item.kind == "midi":  # pitch-class histogram (12), density, bpm/200
        if int(np.argmax(a[:12])) == int(np.argmax(b[:12])) and abs(a[13] - b[13]) * 200 < 6:
            return f"similar tempo and key to {driver.label}"
    elif item.kind in ("image", "video"):  # a 12-bin hue histogram first
        ha, hb = a[:12], b[:12]
        cos = float(ha @ hb / (np.linalg.norm(ha) * np.linalg.norm(hb) + 1e-9))
        if cos > 0.9:
            return f"similar colours to {driver.label}"
    return ""


def _tagger() -> tuple[str, Any] | None:
    """(model name, tag(paths, top) -> results) for the newest image tagger, or None when
    there is none (or it cannot be loaded: logged)."""
    import logging

    try:
        from studio.core.models import ModelStore
        from studio.image.tagger import load_tagger, tag_files
        from studio.library.tags import find_tagger

        path = find_tagger(ModelStore.from_settings().user_dir)  # the artist's own, never the
    except (ImportError, ValueError):  # shipped emoji one (see find_tagger)
        return None
    if path is None:
        return None
    try:
        tagger = load_tagger(path)
    except Exception as exc:  # noqa: BLE001 - a broken tagger file must not stop the features
        logging.getLogger(__name__).warning("image tagger %s: %s", path, exc)
        return None
    return path.name, lambda paths, top: tag_files(tagger, paths, top)
