"""The library database (issue 18): an empty or damaged library.sqlite is refused and never
replaced, `doctor` checks it, folder matching is exact, search takes % and _ literally, feature
work leaves other writers free, and nothing printed lets a file name drive the terminal."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading

import numpy as np
import pytest

from studio.library.catalog import Catalog, CatalogError


def _env(tmp_path):
    return dict(
        os.environ,
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )


def _studio(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                          text=True, timeout=180, env=_env(tmp_path))  # fmt: skip


def _library_file(tmp_path):
    path = tmp_path / "data" / "studio" / "library.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize(
    "content, why",
    [
        (b"", "is an empty file (0 bytes)"),
        (b"not a database at all" * 50, "is not an SQLite database"),
    ],
)
def test_an_empty_or_foreign_library_file_is_refused_and_kept(tmp_path, content, why):
    """The issue: a 0-byte library.sqlite silently became an empty library."""
    path = _library_file(tmp_path)
    path.write_bytes(content)
    run = _studio(tmp_path, "library", "list")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: the library at")
    assert why in lines[0] and "left as it is" in lines[0]
    assert path.read_bytes() == content
    with pytest.raises(CatalogError, match=re.escape(why)):
        Catalog(path)
    assert path.read_bytes() == content


def test_another_programs_database_is_not_made_a_library(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes(text)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(CatalogError, match="of another program"):
        Catalog(path)
    assert path.read_bytes() == before


def _damaged(path):
    """A library whose item pages were overwritten (the header still says SQLite)."""
    catalog = Catalog(path)
    with catalog.transaction():
        for i in range(3000):
            catalog._upsert(f"/m/{i}.mp3", "audio", {"title": f"Song {i}" * 8}, None)
    catalog.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    catalog.close()  # the last connection: the -wal file is folded in and removed
    data = bytearray(path.read_bytes())
    page = 4096
    for at in range(2 * page, len(data) - page, 3 * page):
        data[at : at + page] = bytes([0x5A]) * page
    path.write_bytes(bytes(data))
    return bytes(data)


def test_a_damaged_library_gives_one_line_and_doctor_says_so(tmp_path):
    """Also the issue's deeply nested settings.toml, which made `doctor` fail with
    RecursionError: one doctor run reports both."""
    path = _library_file(tmp_path)
    damaged = _damaged(path)
    run = _studio(tmp_path, "library", "list")
    assert run.returncode == 1, run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("studio: the library at"), run.stderr
    assert "DatabaseError" not in lines[0]
    settings = tmp_path / "config" / "studio" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("theme = " + "[" * 5000 + "]" * 5000 + "\n")
    doctor = _studio(tmp_path, "doctor", "--json")
    report = json.loads(doctor.stdout)
    assert report["library"]["status"] == "error"
    assert "damaged" in report["library"]["detail"] or "cannot be read" in report["library"][
        "detail"
    ]  # fmt: skip
    assert "RecursionError" not in doctor.stdout + doctor.stderr
    assert report["settings"]["status"] == "warning"
    assert "nests values more than 32 levels deep" in report["settings"]["detail"]
    assert path.read_bytes() == damaged


def test_doctor_checks_a_good_library_and_an_empty_one(isolated_dirs):
    from studio import doctor
    from studio.library.catalog import default_catalog_path

    assert doctor._library()["status"] == "none"
    path = default_catalog_path()
    catalog = Catalog(path)
    catalog.upsert("/m/a.mp3", "audio", {"title": "A"})
    catalog.close()
    report = doctor._library()
    assert report["status"] == "ok", report
    assert report["items"] == 1 and report["schema"] >= 3
    assert doctor._leftovers()["status"] == "ok"
    (path.parent / ".library.0123abcd.tmp.sqlite").write_bytes(b"half")  # a killed write
    assert "1 half-written file" in doctor._leftovers()["detail"]
    path.unlink()
    path.write_bytes(b"")
    report = doctor._library()
    assert report["status"] == "error" and "0 bytes" in report["detail"]
    assert path.read_bytes() == b""


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"ID3" + name.encode() * 20)


@pytest.mark.parametrize("added, other", [("Music", "music"), ("my_pics", "myXpics")])
def test_scanning_a_folder_leaves_a_similar_name_alone(tmp_path, added, other):
    """The issue: adding `Music` marked items in `music` missing; `my_pics` did it to
    `myXpics` (a LIKE that ignores case and reads _ as any letter)."""
    _touch(tmp_path / added, "a.mp3")
    _touch(tmp_path / other, "b.mp3", "c.mp3")
    catalog = Catalog(tmp_path / "lib.sqlite")
    catalog.scan([str(tmp_path / other)], read_tags=False)
    report = catalog.scan([str(catalog.add_folder(tmp_path / added))], read_tags=False)
    assert report.missing == 0
    assert sorted(os.path.basename(i.path) for i in catalog.items()) == ["a.mp3", "b.mp3",
                                                                          "c.mp3"]  # fmt: skip
    (tmp_path / added / "a.mp3").unlink()
    assert catalog.scan([str(tmp_path / added)], read_tags=False).missing == 1


def test_search_takes_percent_and_underscore_literally(tmp_path):
    catalog = Catalog(tmp_path / "lib.sqlite")
    for title in ("100% cotton", "1000 cotton", "snake_case", "snakeXcase"):
        catalog.upsert(tmp_path / f"{title}.mp3", "audio", {"title": title})
    assert [i.title for i in catalog.search("100%")] == ["100% cotton"]
    assert [i.title for i in catalog.search("snake_case")] == ["snake_case"]
    assert len(catalog.search("cotton")) == 2


def test_feedback_succeeds_while_features_are_computed(tmp_path, monkeypatch):
    """The issue: while `library add` computed features, `feedback` and a second `add` failed
    after 30 s with `database is locked`. The other writer here waits at most 2 s."""
    from studio.library import features
    from studio.library.service import Library

    path = tmp_path / "lib.sqlite"
    catalog = Catalog(path)
    ids = [catalog.upsert(tmp_path / f"{i}.mid", "midi", {"title": f"T{i}"}) for i in range(12)]
    for i in range(12):
        (tmp_path / f"{i}.mid").write_bytes(b"")
    started, slow = threading.Event(), threading.Event()

    def media(item):  # reading a long file: the writer below must not wait for it
        started.set()
        slow.wait(10)
        return np.zeros(14, np.float32)

    monkeypatch.setattr(features, "embed_texts", lambda texts, **_: np.ones((len(texts), 384)))
    monkeypatch.setattr(features, "media_features", media)
    worker = threading.Thread(target=lambda: Library(Catalog(path)).compute_features())
    worker.start()
    try:
        assert started.wait(30)
        other = Catalog(path, busy_seconds=2.0)
        other.add_event(ids[0], "like")  # raises "database is locked" if features hold it
        other.upsert(tmp_path / "new.mp3", "audio", {"title": "New"})
        assert [e[2] for e in other.events()] == ["like"]
    finally:
        slow.set()
        worker.join(60)
    assert len(Catalog(path).feature("media")) == 12


def test_a_second_writer_succeeds_while_a_scan_reads_files(tmp_path, monkeypatch):
    """A scan reads tags outside its transactions: `feedback` or a second `add` meanwhile does
    not wait for the batch being read (here it may wait at most 2 s)."""
    from studio.library import scanner

    _touch(tmp_path / "songs", *(f"{i}.mp3" for i in range(5)))
    path = tmp_path / "lib.sqlite"
    catalog = Catalog(path)
    known = catalog.upsert(tmp_path / "known.mp3", "audio", {"title": "Known"})
    started, slow = threading.Event(), threading.Event()

    def read_metadata(_path, _kind):  # a slow disk: the writer below must not wait for it
        started.set()
        slow.wait(10)
        return {"title": "x"}

    monkeypatch.setattr(scanner, "read_metadata", read_metadata)
    worker = threading.Thread(target=lambda: Catalog(path).scan([str(tmp_path / "songs")]))
    worker.start()
    try:
        assert started.wait(30)
        other = Catalog(path, busy_seconds=2.0)
        other.add_event(known, "like")
        other.add_folder(tmp_path / "songs")
    finally:
        slow.set()
        worker.join(60)
    assert len(Catalog(path).items()) == 6
