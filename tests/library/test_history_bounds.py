"""History import (issue 18): linear time, a row limit, and ratings that are not finite numbers
skipped row by row with a count, so ALS never sees NaN."""

import json
import subprocess
import sys

import numpy as np
import pytest

from studio.library import history
from studio.library.catalog import Catalog
from studio.library.history import HistoryError, import_history
from studio.library.service import Library


@pytest.fixture
def catalog(tmp_path):
    return Catalog(tmp_path / "lib.sqlite")


def _listens(n: int) -> list[dict]:
    return [
        {"listened_at": 1_700_000_000 + i,
         "track_metadata": {"track_name": f"Song {i % (n // 2)}", "artist_name": f"A{i % 997}"}}
        for i in range(n)
    ]  # fmt: skip


def test_50k_listens_import_in_one_pass(tmp_path, catalog):
    """The issue: 100k listens took up to 887 s (each listen scanned the items table)."""
    song = catalog.upsert(tmp_path / "s.mp3", "audio", {"title": "SONG 1", "artist": "a1"})
    (tmp_path / "lb.json").write_text(json.dumps(_listens(50_000)))
    result = import_history(catalog, tmp_path / "lb.json")
    assert result["listens"] == 50_000
    assert result["matched"] == 1  # "Song 1" by "A1" is the file (case ignored)
    plays = catalog.db.execute("SELECT count(*) FROM events WHERE kind = 'play'").fetchone()[0]
    assert plays == 50_000
    assert catalog.db.execute("SELECT count(*) FROM events WHERE item_id = ?", (song,)).fetchone(
    )[0] == 1  # fmt: skip


def test_inf_nan_and_absurd_ratings_are_skipped_with_a_count(tmp_path, catalog):
    """The issue: a rating of `inf` was accepted, after which ALS always failed with `NaN
    encountered in factors`."""
    rows = ["user,item,rating,timestamp"]
    for u in range(6):
        for i in range(8):
            rows.append(f"u{u},Track {i},{1 + (u + i) % 5},{1_700_000_000 + i}")
    rows += ["u0,Track 1,inf,1", "u1,Track 2,-inf,1", "u2,Track 3,nan,1", "u3,Track 4,1e400,1",
             "u4,Track 5,99,1", "u5,Track 6,4,1e999"]  # fmt: skip
    (tmp_path / "ratings.csv").write_text("\n".join(rows) + "\n")
    result = import_history(catalog, tmp_path / "ratings.csv")
    assert result["ratings"] == 48
    assert "4 rows: rating not a finite number" in result["skipped"]
    assert "1 row: rating outside 0 to 10" in result["skipped"]
    assert "1 row: time not between 1970 and 2200" in result["skipped"]
    values = [e[3] for e in catalog.events()]
    assert all(np.isfinite(v) for v in values)
    suggestions = Library(catalog).recommend(3, engine="als", user="u0")
    assert all(np.isfinite(s.score) for s in suggestions)


def test_the_cli_says_which_rows_were_skipped(tmp_path):
    (tmp_path / "r.csv").write_text("user,item,rating\nann,Blue,5\nbob,Blue,inf\ncy,Red,nan\n")
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "c"),
           "XDG_CACHE_HOME": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "studio", "library", "import-history", str(tmp_path / "r.csv")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "ratings: 1" in run.stdout
    assert "skipped: 2 rows: rating not a finite number" in run.stdout


def test_a_file_over_the_row_limit_is_refused_and_imports_nothing(tmp_path, catalog, monkeypatch):
    monkeypatch.setattr(history, "MAX_ROWS", 1000)
    (tmp_path / "lb.json").write_text(json.dumps(_listens(1001)))
    with pytest.raises(HistoryError, match=r"more than 1,000 rows.*nothing was imported"):
        import_history(catalog, tmp_path / "lb.json")
    (tmp_path / "big.csv").write_text("".join(f"A,B,T{i},{1_700_000_000 + i}\n"
                                              for i in range(1002)))  # fmt: skip
    with pytest.raises(HistoryError, match="more than 1,000 rows"):
        import_history(catalog, tmp_path / "big.csv")
    assert catalog.events() == []


@pytest.mark.parametrize(
    "document, why",
    [
        ([["not", "a", "listen"]], "not a listen"),
        ([{"listened_at": "inf", "track_metadata": {"track_name": "X"}}], "time not between"),
        ([{"listened_at": [1], "track_metadata": {"track_name": "X"}}], "time not readable"),
        ([{"listened_at": 1e300, "track_metadata": {"track_name": "X"}}], "time not between"),
        ([{"track_metadata": {"track_name": ""}}], "no track name"),
    ],
)
def test_odd_listens_are_skipped_and_counted(tmp_path, catalog, document, why):
    (tmp_path / "lb.json").write_text(json.dumps(document))
    result = import_history(catalog, tmp_path / "lb.json")
    assert result["listens"] == 0 and why in result["skipped"]


@pytest.mark.parametrize(
    "text, why",
    [
        ('{"payload": []}', "not a ListenBrainz export"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("5", "not a ListenBrainz export"),
        ('{"a": 1}\n{"b"', "line 2: not JSON"),
    ],
)
def test_a_file_that_is_not_a_history_gives_a_message(tmp_path, catalog, text, why):
    (tmp_path / "lb.json").write_text(text)
    with pytest.raises(HistoryError, match=why):
        import_history(catalog, tmp_path / "lb.json")


def test_an_inf_rating_stored_by_an_older_import_is_ignored(tmp_path, catalog):
    song = catalog.upsert(tmp_path / "a.mp3", "audio", {"title": "A"})
    other = catalog.upsert(tmp_path / "b.mp3", "audio", {"title": "B"})
    with catalog.transaction():  # what the old import wrote
        for value in (float("inf"), float("-inf"), "lots"):
            catalog.db.execute("INSERT INTO events(item_id, user, kind, value, at) VALUES "
                               "(?, 'me', 'rating', ?, 1)", (song, value))  # fmt: skip
    for item in (song, other):
        catalog.add_event(item, "play", user="ann")
    data = Library(catalog).refresh()
    assert np.isfinite(data.matrix.data).all()
    with pytest.raises(Exception, match="not a finite number"):
        catalog.add_event(song, "rating", float("nan"))
