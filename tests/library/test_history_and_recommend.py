import json
import re
from pathlib import Path

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


ENGINES = ("hybrid", "item-knn", "user-knn", "als", "svd", "svdpp", "tfidf", "wide-deep",
           "deepfm", "popularity")  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_suggests_with_a_reason(tmp_path, engine):
    catalog, ids = _library(tmp_path)
    suggestions = Library(catalog).recommend(5, engine=engine)
    assert suggestions
    assert all(s.reason for s in suggestions)
    assert ids[("A", 2)] not in {s.item.id for s in suggestions}  # disliked: never
    assert ids[("A", 0)] not in {s.item.id for s in suggestions}  # already chosen


def test_recommendations_follow_taste_and_say_why(tmp_path):
    catalog, ids = _library(tmp_path)
    library = Library(catalog)
    top = library.recommend(5, engine="item-knn")
    assert sum(s.item.artist == "A" for s in top) >= 4  # the same taste
    # what drives it, and how strongly: the shared artist of an item "me" liked
    assert top[0].reason.startswith("same artist as A – jazz piano trio")
    assert re.search(r" \((0|1)\.\d\d\)$", top[0].reason)  # and how strongly
    people = library.recommend(3, engine="user-knn")
    assert all("people with your taste" in s.reason for s in people)


def test_content_and_more_like_this_need_features(tmp_path):
    catalog, ids = _library(tmp_path)
    library = Library(catalog)
    assert library.compute_features() == 30
    similar = library.recommend(5, like=ids[("C", 3)])
    assert sum(s.item.artist == "C" for s in similar) >= 4
    assert all(
        s.reason.startswith(
            ("same artist as C – baroque harpsichord 3 (", "similar to C – baroque harpsichord 3 (")
        )
        for s in similar
    )
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
    assert suggestions[0].reason.startswith("added recently (no history yet")


def _file(tmp_path, name, data=b"x"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_unreadable_missing_and_rejected_items_are_never_suggested(tmp_path):
    catalog = Catalog(tmp_path / "lib.sqlite")
    good = catalog.upsert(_file(tmp_path, "good.png"), "image", {"title": "good"})
    broken = catalog.upsert(_file(tmp_path, "broken.mid"), "midi",
                            {"title": "broken", "error": "unreadable MIDI (EOFError)"})  # fmt: skip
    gone = catalog.upsert(_file(tmp_path, "gone.png"), "image", {"title": "gone"})
    catalog.db.execute("UPDATE items SET missing = 1 WHERE id = ?", (gone,))
    rejected = catalog.upsert(_file(tmp_path, "rejected.png"), "image", {"title": "rejected"})
    catalog.add_event(rejected, "reject")
    # no positive history: the newest items, but none of those
    assert [s.item.id for s in Library(catalog).recommend(10)] == [good]
    # with history, no engine suggests them either
    for other in range(6):
        item = catalog.upsert(_file(tmp_path, f"o{other}.png"), "image", {"title": f"o{other}"})
        for user in ("ann", "bob"):
            catalog.add_event(item, "like", user=user)
            catalog.add_event(broken, "like", user=user)
            catalog.add_event(rejected, "like", user=user)
            catalog.add_event(good, "like", user=user)
    catalog.add_event(catalog.search("o0")[0].id, "like")
    catalog.add_event(rejected, "like")  # liked after a reject: still rejected
    library = Library(catalog)
    for engine in ENGINES:
        found = {s.item.id for s in library.recommend(10, engine=engine)}
        assert not found & {broken, gone, rejected}, engine


def test_more_like_this_stays_within_the_kind_and_popular_needs_plays(tmp_path):
    catalog, ids = _library(tmp_path)
    cat = catalog.upsert(_file(tmp_path, "chelsea.png"), "image",
                         {"title": "chelsea", "tags": "cat, pet"})  # fmt: skip
    kitten = catalog.upsert(_file(tmp_path, "kitten.png"), "image",
                            {"title": "kitten", "tags": "cat"})  # fmt: skip
    library = Library(catalog)
    library.compute_features()
    library.refresh()
    similar = library.recommend(5, like=cat)
    assert similar and all(s.item.kind == "image" for s in similar)
    assert similar[0].item.id == kitten
    assert similar[0].reason.startswith("tagged 'cat' like chelsea (")
    assert any(s.item.kind == "audio" for s in library.recommend(5, like=cat, same_kind=False))
    # nobody opened the pictures: "popular" never names them
    popular = library.recommend(40, engine="popularity")
    assert popular and cat not in {s.item.id for s in popular}
    assert all(s.reason.startswith("popular: chosen by") for s in popular)


def test_titles_come_from_tags_then_the_file_name_without_control_characters(tmp_path):
    import mido

    from studio.library.scanner import read_metadata

    mid = mido.MidiFile()
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("track_name", name="Melody"))
    track.append(mido.Message("note_on", note=60, velocity=64, time=0))
    track.append(mido.Message("note_off", note=60, velocity=0, time=480))
    mid.tracks.append(track)
    mid.save(tmp_path / "Moonlight\x07 Sonata.mid")
    meta = read_metadata(tmp_path / "Moonlight\x07 Sonata.mid", "midi")
    assert meta["title"] == "Moonlight Sonata"  # not "Melody", and no BEL
    catalog = Catalog(tmp_path / "lib.sqlite")
    old = catalog.upsert(tmp_path / "Old Scan.mid", "midi", {"title": "Vocals"})
    nul = catalog.upsert(tmp_path / "x.wav", "audio", {"title": "Blue\x00 Moon", "artist": "Ella"})
    assert catalog.item(old).label == "Old Scan"  # an older scan's generic title is not shown
    assert catalog.item(nul).label == "Ella – Blue Moon"


def test_an_image_taggers_labels_join_the_tags_tfidf_reads(tmp_path, monkeypatch):
    from studio.library import service

    catalog = Catalog(tmp_path / "lib.sqlite")
    said = {"tabby": "cat", "siamese": "cat", "oak": "tree", "pine": "tree"}
    ids = {n: catalog.upsert(_file(tmp_path, f"{n}.png"), "image", {"title": n}) for n in said}

    def tag(paths, top):
        sure = [{"label": said[Path(p).stem], "confidence": 0.9} for p in paths]
        return [{"file": p, "tags": [t, {"label": "unsure", "confidence": 0.05}]}
                for p, t in zip(paths, sure, strict=True)]  # fmt: skip

    monkeypatch.setattr(service, "_tagger", lambda: ("fake-tagger", tag))
    library = Library(catalog)
    assert library.label_pictures() == 4
    assert library.label_pictures() == 0  # only once per picture
    assert catalog.labels()[ids["oak"]] == ["tree"]  # the unsure label is left out
    similar = library.recommend(3, like=ids["tabby"])
    assert similar[0].item.id == ids["siamese"]
    assert similar[0].reason.startswith("tagged 'cat' like tabby (")
