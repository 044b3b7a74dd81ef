"""The Library panel's document without Qt: filter, search and sort as undo steps, the selection
and the used items as view state, a project's save and open, items that moved away."""

import json
from dataclasses import dataclass

import pytest

from studio.core.document import DocumentError
from studio.library.document import LibraryDocument
from studio.project import Project


@dataclass
class _Item:
    id: int
    label: str
    kind: str


def test_filter_search_and_sort_are_undo_steps_the_selection_is_not():
    doc = LibraryDocument()
    doc.set_filter("image")
    for text in ("c", "co", "cof"):
        doc.set_search(text)  # typing: one step
    doc.set_sort("title")
    doc.select("/media/coffee.png")
    doc.use("/media/coffee.png")
    doc.use("/media/coffee.png")  # once
    assert doc.undo_stack.labels() == ["Show Pictures", "Type in the search", "Sort by title"]
    assert doc.used == ("/media/coffee.png",) and doc.selected == "/media/coffee.png"
    doc.undo()
    doc.undo()
    assert doc.sort == "added" and doc.search == "" and doc.kind_filter == "image"
    assert doc.selected == "/media/coffee.png"  # view state stays
    doc.redo()
    assert doc.search == "cof"


def test_sort_orders_the_catalogs_items():
    items = [_Item(1, "b", "midi"), _Item(2, "A", "image"), _Item(3, "c", "audio")]
    doc = LibraryDocument()
    assert [i.id for i in doc.sort_items(items)] == [1, 2, 3]
    doc.set_sort("newest")
    assert [i.id for i in doc.sort_items(items)] == [3, 2, 1]
    doc.set_sort("title")
    assert [i.id for i in doc.sort_items(items)] == [2, 1, 3]
    doc.set_sort("kind")
    assert [i.kind for i in doc.sort_items(items)] == ["audio", "image", "midi"]


def test_project_round_trip_with_an_item_that_moved_away(tmp_path):
    kept, gone = tmp_path / "kept.png", tmp_path / "gone.mid"
    kept.write_bytes(b"x")
    gone.write_bytes(b"x")
    project = Project()
    doc = project.document("library")
    doc.set_filter("midi")
    doc.set_search("bach")
    doc.set_engine("content")
    doc.set_quiet(view_mode="list")
    doc.select(kept)
    doc.use(kept)
    doc.use(gone)
    saved = project.save(tmp_path / "p")
    assert json.loads((saved / "library" / "document.json").read_text())["fields"]["used"] == [
        str(kept), str(gone)]  # fmt: skip
    opened = Project.open(saved, lock=False)
    back = opened.documents["library"]
    assert back.values() == doc.values()
    assert opened.info()["documents"]["library"]["summary"].startswith("2 items used")
    gone.unlink()
    kept.unlink()
    opened.close()
    again = Project.open(saved, lock=False)
    back = again.documents["library"]
    assert back.selected == "" and back.used == (str(kept), str(gone))  # the record stays
    assert back.kind_filter == "midi" and back.search == "bach" and back.engine == "content"
    assert any("no longer there" in m and "kept.png" in m for m in again.messages)
    assert any("2 items this project used" in m for m in again.messages)


def test_bad_values_a_newer_format_and_the_json_view_file(tmp_path):
    folder = tmp_path / "library"
    folder.mkdir()
    data = {"version": 1, "fields": {"sort": "random", "search": "x", "used": "nope"}}
    (folder / "document.json").write_text(json.dumps(data))
    doc = LibraryDocument.read(folder)
    assert doc.sort == "added" and doc.search == "x" and doc.used == ()
    assert len(doc.messages) == 2
    (folder / "document.json").write_text(json.dumps({"version": 2}))
    with pytest.raises(DocumentError, match="newer Studio"):
        LibraryDocument.read(folder)
    doc.set_filter("audio")
    out = doc.export(tmp_path / "view.json")
    assert LibraryDocument.from_file(out).values() == doc.values()
    with pytest.raises(DocumentError):
        doc.export(tmp_path / "view.csv")
    with pytest.raises(DocumentError, match=".json"):
        LibraryDocument.from_file(tmp_path / "view.csv")
