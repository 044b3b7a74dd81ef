import json

import numpy as np
import pytest

from studio.library.catalog import Catalog
from studio.library.history import HistoryError, import_history
from studio.library.service import Library


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "lib.sqlite")


def test_listenbrainz_lastfm_and_ratings_imports(tmp_path, catalog):
    song = catalog.upsert(tmp_path / "song.mp3", "audio", {"title": "Blue Moon", "artist": "Ella"})
    listens = [
        {
            "listened_at": 1700000000,
            "track_metadata": {"track_name": "Blue Moon", "artist_name": "Ella"},
        },  # fmt: skip
        {
            "listened_at": 1700000300,
            "track_metadata": {"track_name": "Autumn Leaves", "artist_name": "Nat"},
        },  # fmt: skip
    ]
    (tmp_path / "lb.json").write_text(json.dumps(listens))
    result = import_history(catalog, tmp_path / "lb.json")
    assert result == {"format": "listenbrainz", "listens": 2, "matched": 1}
    assert [e[0] for e in catalog.events()].count(song) == 1
    (tmp_path / "scrobbles.csv").write_text(
        "Ella,Songs,Blue Moon,31 Jan 2024 12:34\nNat,Hits,Mona Lisa,01 Feb 2024 08:00\n"
    )
    assert import_history(catalog, tmp_path / "scrobbles.csv")["listens"] == 2
    (tmp_path / "ratings.csv").write_text(
        f"user,item,rating,timestamp\nann,{song},5,1700000000\nbob,Mona Lisa,2,1700000001\n"
    )
    assert import_history(catalog, tmp_path / "ratings.csv") == {"format": "ratings",
                                                                 "ratings": 2}  # fmt: skip
    (tmp_path / "bad.csv").write_text("user,item,rating,timestamp\nann,1,lots,0\n")
    before = len(catalog.events())
    with pytest.raises(HistoryError, match="line 2"):
        import_history(catalog, tmp_path / "bad.csv")
    assert len(catalog.events()) == before  # a broken file imports nothing


def _library(tmp_path):
    """30 items in three themes; users who like one theme each; 'me' likes two of theme A."""
    catalog = Catalog(tmp_path / "lib.sqlite")
    themes = {"A": "jazz piano trio", "B": "heavy metal guitar", "C": "baroque harpsichord"}
    ids = {}
    for theme, words in themes.items():
        for i in range(10):
            path = tmp_path / f"{theme}{i}.mp3"
            path.write_bytes(b"x")
            ids[(theme, i)] = catalog.upsert(path, "audio", {"title": f"{words} {i}",
                                                             "artist": theme})  # fmt: skip
    rng = np.random.default_rng(0)
    for u in range(12):
        theme = "ABC"[u % 3]
        for i in rng.choice(10, 6, replace=False):
            catalog.add_event(ids[(theme, int(i))], "like", user=f"user{u}")
    catalog.add_event(ids[("A", 0)], "like")
    catalog.add_event(ids[("A", 1)], "keep")
    catalog.add_event(ids[("A", 2)], "dislike")
    return catalog, ids


def test_recommendations_follow_taste_and_say_why(tmp_path):
    catalog, ids = _library(tmp_path)
    library = Library(catalog)
    for engine in ("hybrid", "item-knn", "als", "popularity"):
        suggestions = library.recommend(5, engine=engine)
        assert len(suggestions) == 5, engine
        assert all(s.reason for s in suggestions), engine
        assert ids[("A", 2)] not in {s.item.id for s in suggestions}  # disliked: never
        assert ids[("A", 0)] not in {s.item.id for s in suggestions}  # already chosen
    top = library.recommend(5, engine="item-knn")
    assert sum(s.item.artist == "A" for s in top) >= 4  # the same taste
    assert "because you chose" in top[0].reason


def test_content_and_more_like_this_need_features(tmp_path):
    catalog, ids = _library(tmp_path)
    library = Library(catalog)
    assert library.compute_features() == 30
    similar = library.recommend(5, like=ids[("C", 3)])
    assert sum(s.item.artist == "C" for s in similar) >= 4
    assert all(s.reason == "C – baroque harpsichord 3" or "similar to" in s.reason
               for s in similar)  # fmt: skip
    # a new item nobody has chosen is reachable through content
    path = tmp_path / "new.mp3"
    path.write_bytes(b"x")
    new = catalog.upsert(path, "audio", {"title": "jazz piano trio live", "artist": "A"})
    library.compute_features()
    library.refresh()
    found = {s.item.id for s in library.recommend(10, engine="content")}
    assert new in found


def test_an_empty_history_gets_the_newest_items_plainly(tmp_path):
    catalog = Catalog(tmp_path / "lib.sqlite")
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(b"x")
        catalog.upsert(tmp_path / f"{i}.png", "image", {"title": f"p{i}"})
    suggestions = Library(catalog).recommend(2)
    assert [s.item.title for s in suggestions] == ["p2", "p1"]
    assert "no history yet" in suggestions[0].reason
