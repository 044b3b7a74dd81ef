import os
import shutil
import sqlite3

import numpy as np
import pytest

from studio.library.catalog import Catalog, CatalogError, record_saved


def _picture(path, value):
    from studio.image.io import Picture, save_picture

    return save_picture(Picture(np.full((8, 8, 3), value, np.uint8)), path, provenance=False)


@pytest.fixture
def media(tmp_path):
    root = tmp_path / "media"
    (root / "sub").mkdir(parents=True)
    _picture(root / "red.png", 10)
    _picture(root / "sub" / "blue.png", 200)
    shutil.copy(root / "red.png", root / "sub" / "red copy.png")
    (root / "broken.mp3").write_bytes(b"not an mp3" * 50)
    (root / "notes.txt").write_text("not media")
    return root


def test_scan_catalogs_media_and_finds_duplicates(tmp_path, media):
    catalog = Catalog(tmp_path / "lib.sqlite")
    catalog.add_folder(media)
    report = catalog.scan()
    assert report.added == 4 and report.unchanged == 0
    assert any("broken.mp3" in e and "unreadable tags" in e for e in report.errors)
    kinds = sorted(i.kind for i in catalog.items())
    assert kinds == ["audio", "image", "image", "image"]
    groups = catalog.duplicates()
    assert len(groups) == 1 and {os.path.basename(i.path) for i in groups[0]} == {
        "red.png", "red copy.png"}  # fmt: skip
    assert catalog.search("blue")[0].title == "blue"
    assert catalog.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rescans_are_incremental_and_notice_moves_and_deletions(tmp_path, media):
    catalog = Catalog(tmp_path / "lib.sqlite")
    catalog.add_folder(media)
    catalog.scan()
    blue = catalog.search("blue")[0]
    catalog.add_event(blue.id, "like")
    assert catalog.scan().unchanged == 4
    (media / "sub" / "blue.png").rename(media / "moved-blue.png")
    report = catalog.scan()
    assert report.moved == 1
    moved = catalog.item(blue.id)
    assert moved.path.endswith("moved-blue.png")  # the same item, its history kept
    assert catalog.events()[0][0] == blue.id
    (media / "red.png").unlink()
    assert catalog.scan().missing == 1
    assert all("red.png" != os.path.basename(i.path) for i in catalog.items())


def test_symlink_loops_unreadable_folders_and_removed_drives(tmp_path, media):
    os.symlink(media, media / "sub" / "loop")
    locked = media / "locked"
    locked.mkdir()
    _picture(locked / "secret.png", 5)
    locked.chmod(0)
    try:
        catalog = Catalog(tmp_path / "lib.sqlite")
        catalog.add_folder(media)
        report = catalog.scan()
        if os.geteuid() != 0:
            assert report.added == 4  # the loop is not followed; the locked folder is reported
            assert any("locked" in e for e in report.errors)
        else:
            assert report.added == 5  # root reads the locked folder; the loop is still not followed
    finally:
        locked.chmod(0o755)
    shutil.rmtree(media)
    report = catalog.scan()
    assert "folder not found" in report.errors[0]
    assert len(catalog.items()) >= 4  # kept: the drive may come back


def test_a_scan_killed_half_way_resumes(tmp_path, media):
    from studio.core.jobs import Cancelled, JobContext

    for i in range(30):
        _picture(media / f"extra{i}.png", i)
    catalog = Catalog(tmp_path / "lib.sqlite")
    catalog.add_folder(media)
    ctx = JobContext(on_progress=lambda f, m: ctx.cancel())
    with pytest.raises(Cancelled):
        catalog.scan(ctx=ctx, batch=10)
    done = len(catalog.items())
    assert 10 <= done < 34  # whole batches were committed
    report = Catalog(tmp_path / "lib.sqlite").scan()
    assert report.unchanged == done and report.added == 34 - done


def test_migrations_and_a_newer_database(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE items(id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, kind TEXT NOT "
        "NULL, size INTEGER, mtime REAL, quick_hash TEXT, title TEXT, artist TEXT, album TEXT, "
        "tags TEXT, description TEXT, duration REAL, width INTEGER, height INTEGER, added REAL, "
        "seen REAL, missing INTEGER NOT NULL DEFAULT 0, provenance TEXT, error TEXT);"
        "CREATE TABLE folders(path TEXT PRIMARY KEY, added REAL);"
        "CREATE TABLE events(id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, user TEXT NOT "
        "NULL DEFAULT 'me', kind TEXT NOT NULL, value REAL, at REAL NOT NULL);"
        "PRAGMA user_version=1;"
    )
    conn.close()
    catalog = Catalog(path)
    assert catalog.version == 3  # the features and the labels tables were added
    catalog.set_feature(catalog.upsert(tmp_path / "x.png", "image", {"title": "x"}), "text",
                        np.ones(3))  # fmt: skip
    catalog.set_labels(catalog.find(tmp_path / "x.png").id, [("cat", 0.9)])
    catalog.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    with pytest.raises(CatalogError, match="newer Studio"):
        Catalog(path)


def test_saved_files_join_the_library_with_provenance_and_a_keep(tmp_path):
    catalog = Catalog(tmp_path / "lib.sqlite")
    path = _picture(tmp_path / "made.png", 99)
    item_id = record_saved(path, {"engine": "studio/pattern", "seed": 4}, catalog)
    item = catalog.item(item_id)
    assert item.provenance["seed"] == 4
    assert catalog.events()[0][2] == "keep"
    assert record_saved(tmp_path / "notes.txt", {}, catalog) is None
    with pytest.raises(CatalogError, match="unknown feedback"):
        catalog.add_event(item_id, "love")
