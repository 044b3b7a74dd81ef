"""Projects without Qt: save and open, versions, locks, bad folders, full disks, recovery copies.

A small journal document stands in for a panel's so these tests don't depend on any engine; each
panel's own document has its round trip in tests/<domain>/test_document.py.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from studio import project as projects
from studio.core import atomic
from studio.project import Project, ProjectError, ProjectLocked, Recovery
from tests.support.journal import JournalDocument


@pytest.fixture(autouse=True)
def journal(monkeypatch):
    monkeypatch.setitem(
        projects.DOCUMENT_CLASSES, "music", "tests.support.journal:JournalDocument"
    )
    return JournalDocument


def _project_with_work(tmp_path) -> tuple[Project, Path]:
    project = Project()
    doc = project.document("music")
    doc.set("Type", text="verse one")
    doc.set("Add", edits=(1, 2, 3))
    doc.set("Paint", pixels=np.arange(12, dtype=np.uint8).reshape(2, 2, 3))
    path = project.save(tmp_path / "song")
    return project, path


# -- documents and undo ---------------------------------------------------------------------------
def test_every_change_is_an_undo_step_with_its_label_and_typing_merges():
    doc = JournalDocument()
    seen = []
    doc.changed.connect(lambda name, value: seen.append((name, value)))
    for text in ("h", "he", "hel"):
        doc.set("Type text", merge_key="text", text=text)
    doc.set_quiet(selection=(0, 2))
    with doc.macro("Generate 4 bars"):
        doc.set("a", edits=(1,))
        doc.set("b", edits=(1, 2), text="hello")
    assert doc.undo_stack.labels() == ["Type text", "Generate 4 bars"]
    assert doc.undo_stack.undo_text() == "Generate 4 bars"
    assert doc.undo() == "Generate 4 bars"
    assert (doc.text, doc.edits, doc.selection) == ("hel", (), (0, 2))
    assert doc.undo() == "Type text"
    assert doc.text == "" and doc.undo() == ""
    assert doc.redo() == "Type text" and doc.text == "hel"
    assert seen[-1] == ("text", "hel")
    doc.set("Same", text="hel")  # no change: no step
    assert doc.undo_stack.labels() == ["Type text"]


def test_a_new_edit_after_undo_drops_the_redo_branch():
    doc = JournalDocument()
    doc.set("one", edits=(1,))
    doc.set("two", edits=(1, 2))
    doc.undo()
    doc.set("three", edits=(1, 3))
    assert not doc.undo_stack.can_redo and doc.undo_stack.labels() == ["one", "three"]


# -- save and open --------------------------------------------------------------------------------
def test_save_and_open_round_trip_with_plain_files_and_the_users_umask(tmp_path):
    project, path = _project_with_work(tmp_path)
    assert path.name == "song.studio" and not project.dirty
    toml = (path / "project.toml").read_text()
    assert "format = 1" in toml and 'studio_version = "' in toml
    for file in ("project.toml", "music/document.json", "music/pixels.npy"):
        assert stat.S_IMODE((path / file).stat().st_mode) == 0o644, file
    assert not [p for p in path.rglob("*") if ".tmp" in p.name]
    project.close()

    again = Project.open(path)
    doc = again.document("music")
    assert (doc.text, doc.edits) == ("verse one", (1, 2, 3))
    assert doc.pixels.tolist() == np.arange(12).reshape(2, 2, 3).tolist()
    info = again.info()
    assert info["documents"]["music"]["summary"] == "3 edits"
    assert info["documents"]["music"]["files"][0]["bytes"] > 0
    assert not again.dirty
    again.close()


def test_saving_in_place_rewrites_only_the_documents_that_changed(tmp_path):
    project, path = _project_with_work(tmp_path)
    before = (path / "music" / "pixels.npy").stat().st_mtime_ns
    project.save()
    assert (path / "music" / "pixels.npy").stat().st_mtime_ns == before
    project.document("music").set("More", edits=(1, 2, 3, 4))
    project.save()
    assert (path / "music" / "pixels.npy").stat().st_mtime_ns != before
    project.close()


def test_a_project_from_a_newer_studio_is_refused_and_left_as_it_was(tmp_path):
    project, path = _project_with_work(tmp_path)
    project.close()
    text = (path / "project.toml").read_text().replace("format = 1", "format = 99")
    (path / "project.toml").write_text(text)
    with pytest.raises(ProjectError, match="newer Studio.*format 99"):
        Project.open(path)
    assert (path / "project.toml").read_text() == text


def test_a_corrupt_project_toml_says_so(tmp_path):
    project, path = _project_with_work(tmp_path)
    project.close()
    (path / "project.toml").write_bytes(b"format = [[[\x00")
    with pytest.raises(ProjectError, match="corrupt"):
        Project.open(path)
    with pytest.raises(ProjectError, match="no such folder"):
        Project.open(tmp_path / "nothing-here")


def test_opening_removes_the_temporaries_a_killed_save_left(tmp_path):
    project, path = _project_with_work(tmp_path)
    project.close()
    left = path / "music" / ".pixels.0a1b2c3d.tmp.npy"
    left.write_bytes(b"half")
    keep = path / "music" / ".notes-by-me"
    keep.write_bytes(b"mine")
    Project.open(path).close()
    assert not left.exists() and keep.exists()


def test_a_missing_asset_is_reported_and_the_rest_opens(tmp_path):
    project, path = _project_with_work(tmp_path)
    project.close()
    (path / "music" / "pixels.npy").unlink()
    again = Project.open(path)
    assert again.document("music").text == "verse one"
    assert any("pixels.npy is missing" in m for m in again.messages)
    again.close()


def test_a_document_that_cannot_be_read_does_not_stop_the_others(tmp_path, monkeypatch):
    project, path = _project_with_work(tmp_path)
    project.close()
    (path / "music" / "document.json").write_text("{not json")
    again = Project.open(path)
    assert "music" not in again.documents
    assert any("could not be opened" in m for m in again.messages)
    again.close()


def test_two_studios_never_write_one_project(tmp_path):
    project, path = _project_with_work(tmp_path)
    with pytest.raises(ProjectLocked, match="open in another Studio"):
        Project.open(path)
    project.close()
    Project.open(path).close()  # released: opens again


def test_a_read_only_folder_opens_read_only_and_save_as_still_works(tmp_path, monkeypatch):
    project, path = _project_with_work(tmp_path)
    project.close()
    path.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: refuse the lock file as a read-only folder does
        real = projects._Lock.acquire

        def acquire(self):
            if self.folder == path:
                raise PermissionError(errno.EROFS, "Read-only file system", str(path))
            return real(self)

        monkeypatch.setattr(projects._Lock, "acquire", acquire)
    try:
        again = Project.open(path)
        assert again.read_only and any("read-only" in m for m in again.messages)
        with pytest.raises(ProjectError, match="read-only"):
            again.save()
        copy = again.save(tmp_path / "copy")
        assert (copy / "project.toml").exists()
        again.close()
    finally:
        path.chmod(0o755)


def test_a_full_disk_during_save_keeps_the_project_as_it_was(tmp_path, monkeypatch):
    project, path = _project_with_work(tmp_path)
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file() and p.name != ".lock"}
    project.document("music").set("Type", text="chorus")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", full)
    with pytest.raises(ProjectError, match="No space left.*whole"):
        project.save()
    monkeypatch.undo()
    after = {p: p.read_bytes() for p in path.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # no temporaries left, nothing truncated
    assert project.dirty
    project.save()
    assert not project.dirty
    project.close()


def test_save_refuses_a_folder_that_is_not_a_project(tmp_path):
    (tmp_path / "photos.studio").mkdir()
    (tmp_path / "photos.studio" / "cat.jpg").write_bytes(b"x")
    project = Project()
    project.document("music").set("Type", text="x")
    with pytest.raises(ProjectError, match="not a Studio project"):
        project.save(tmp_path / "photos")
    assert (tmp_path / "photos.studio" / "cat.jpg").read_bytes() == b"x"


# -- atomic writes --------------------------------------------------------------------------------
def test_an_error_while_writing_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "take.wav"
    target.write_bytes(b"old take")
    with pytest.raises(RuntimeError):
        with atomic.atomic_write(target) as fh:
            fh.write(b"half a new")
            raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old take"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.wav"]
    old = os.umask(0o077)
    try:
        atomic.write_bytes(tmp_path / "private.bin", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.bin").stat().st_mode) == 0o600
    atomic.write_bytes(tmp_path / "public.bin", b"x")
    assert stat.S_IMODE((tmp_path / "public.bin").stat().st_mode) == 0o644


def test_a_write_removes_what_a_killed_writer_of_the_same_file_left(tmp_path):
    import time

    target = tmp_path / "song.wav"
    old = tmp_path / ".song.0a1b2c3d.tmp.wav"
    young = tmp_path / ".song.deadbeef.tmp.wav"
    other = tmp_path / ".other.0a1b2c3d.tmp.wav"
    for p in (old, young, other):
        p.write_bytes(b"half")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    os.utime(other, (hour_ago, hour_ago))
    atomic.write_bytes(target, b"whole")
    assert not old.exists() and young.exists() and other.exists()


# -- recovery -------------------------------------------------------------------------------------
def test_autosave_is_offered_back_only_once_its_studio_is_gone(tmp_path):
    root = tmp_path / "recovery"
    project, path = _project_with_work(tmp_path)
    project.document("music").set("Type", text="unsaved chorus")
    running = Recovery(root)
    running.autosave(project.snapshot(), project.path)
    assert Recovery(root).pending() == []  # its Studio still runs (holds the lock)
    running._lock.release()  # as a kill -9 would
    running._lock = None
    (entry,) = Recovery(root).pending()
    assert entry.original == path and "song.studio" in entry.describe()
    project.close()
    restored = projects.restore(entry)
    assert restored.document("music").text == "unsaved chorus"
    assert restored.path == path and restored.dirty
    restored.save()
    assert Project.open(path, lock=False).document("music").text == "unsaved chorus"
    entry.discard()
    assert Recovery(root).pending() == []
    restored.close()


def test_autosave_writes_only_what_changed_since_the_save_and_restore_fills_in_the_rest(
    tmp_path, monkeypatch
):
    monkeypatch.setitem(projects.DOCUMENT_CLASSES, "voice", "tests.support.journal:JournalDocument")
    project, path = _project_with_work(tmp_path)
    project.document("voice").set("Type", text="lyrics, saved")
    project.save()
    recovery = Recovery(tmp_path / "recovery")
    project.document("music").set("Type", text="changed after the save")
    recovery.autosave(project.snapshot(), project.path)
    copy = recovery.folder / "recovered.studio"
    npy = copy / "music" / "pixels.npy"
    first = npy.stat().st_mtime_ns
    assert not (copy / "voice").exists()  # unchanged since the save: not copied
    recovery.autosave(project.snapshot(), project.path)
    assert npy.stat().st_mtime_ns == first  # nothing changed since the last autosave
    recovery._lock.release()
    recovery._lock = None
    project.close()
    (entry,) = Recovery(tmp_path / "recovery").pending()
    restored = projects.restore(entry)
    assert restored.documents["music"].text == "changed after the save"
    assert restored.documents["voice"].text == "lyrics, saved"  # from the project itself
    assert restored.dirty
    restored.close()
    recovery.discard()
    assert not recovery.folder.exists()
