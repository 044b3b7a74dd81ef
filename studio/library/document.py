"""The Library panel's document, without Qt: what the artist is looking at in the catalog (the
kind filter, the search text, the sort order, the recommender), the selected item, and the items
this project used (played, liked, asked "more like this" about).

The catalog itself stays global (``studio.library.catalog``: one SQLite file per user); a project
remembers items by their *paths*, which mean the same thing after the catalog is rebuilt or on
another machine with the same files, where row ids would not. One ``document.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from studio.core.document import (
    DOCUMENT_JSON,
    Document,
    DocumentError,
    read_json,
    stored_fields,
    to_jsonable,
    write_json,
)

__all__ = ["LibraryDocument", "KIND_FILTERS", "SORTS", "ENGINES", "VIEW_MODES"]

#: (key, label) of each choice, in the panel's order.
KIND_FILTERS = (("", "Everything"), ("audio", "Audio"), ("midi", "MIDI"), ("image", "Pictures"),
                ("video", "Video"))  # fmt: skip
SORTS = (("added", "Order added"), ("newest", "Newest first"), ("title", "Title"),
         ("kind", "Kind"))  # fmt: skip
ENGINES = (("hybrid", "All of them"), ("als", "Played together"), ("item-knn", "Chosen together"),
           ("content", "Similar content"), ("popularity", "Popular lately"),
           ("user-knn", "People with your taste"), ("svd", "Ratings (SVD)"),
           ("svdpp", "Ratings (SVD++)"), ("tfidf", "Shared words and tags"),
           ("wide-deep", "Wide & Deep"), ("deepfm", "DeepFM"))  # fmt: skip
VIEW_MODES = (("grid", "Grid"), ("list", "List"))

_CHOICES = {
    "kind_filter": KIND_FILTERS,
    "sort": SORTS,
    "engine": ENGINES,
    "view_mode": VIEW_MODES,
}


def _label(choices: tuple[tuple[str, str], ...], key: str) -> str:
    return next((label for k, label in choices if k == key), key)


class LibraryDocument(Document):
    """What the Library panel shows. The filter, search, sort and recommender are undo steps;
    the selection, the view mode and the record of used items are view state (saved, not
    undone)."""

    KIND = "library"
    VERSION = 1
    EXPORT_SUFFIXES = (".json",)
    FIELDS: ClassVar[dict[str, Any]] = {
        "kind_filter": "",  # "" (everything), audio, midi, image, video
        "tag_filter": "",  # "" (any), or a tag an image tagger gave (studio.library.tags)
        "search": "",
        "sort": "added",
        "engine": "hybrid",  # the recommender
        "view_mode": "grid",
        "selected": "",  # the selected item's path ("" none)
        "used": (),  # paths of the items this project used, oldest first
    }
    QUIET_FIELDS = frozenset({"selected", "view_mode", "used"})

    # -- edits -------------------------------------------------------------------------------------
    def set_filter(self, kind: str) -> None:
        self.set(f"Show {_label(KIND_FILTERS, kind)}", kind_filter=kind)

    def set_tag_filter(self, tag: str) -> None:
        self.set(f"Show tag {tag}" if tag else "Show any tag", tag_filter=tag)

    def set_search(self, text: str) -> None:
        """Typing merges into one undo step."""
        label = "Type in the search" if text else "Clear the search"
        self.set(label, merge_key="library.search", search=text)

    def set_sort(self, key: str) -> None:
        self.set(f"Sort by {_label(SORTS, key).lower()}", sort=key)

    def set_engine(self, key: str) -> None:
        self.set(f"Recommend by {_label(ENGINES, key).lower()}", engine=key)

    def select(self, path: str | Path | None) -> None:
        self.set_quiet(selected=str(path) if path else "")

    def use(self, path: str | Path) -> None:
        """Remember that this project used the item at ``path`` (once)."""
        path = str(path)
        if path and path not in self.used:
            self.set_quiet(used=(*self.used, path))

    def sort_items(self, items: list[Any]) -> list[Any]:
        """Catalog items (in the catalog's order, oldest first) in this document's order."""
        if self.sort == "newest":
            return list(reversed(items))
        if self.sort == "title":
            return sorted(items, key=lambda i: (i.label.lower(), i.id))
        if self.sort == "kind":
            return sorted(items, key=lambda i: (i.kind, i.label.lower(), i.id))
        return list(items)

    def summary(self) -> str:
        parts = [f"{len(self.used)} item{'s' if len(self.used) != 1 else ''} used"]
        if self.kind_filter:
            parts.append(f"showing {_label(KIND_FILTERS, self.kind_filter).lower()}")
        if self.tag_filter:
            parts.append(f"tagged {self.tag_filter}")
        if self.search:
            parts.append(f"search “{self.search}”")
        if self.selected:
            parts.append(f"selected {Path(self.selected).name}")
        return ", ".join(parts)

    # -- files -------------------------------------------------------------------------------------
    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        meta = super().write_snapshot(snapshot, folder)
        doc = cls(**{k: v for k, v in snapshot.items() if k in cls.FIELDS})
        meta["summary"] = doc.summary()
        meta["provenance"] = {"used": len(doc.used)}
        return meta

    @classmethod
    def read(cls, folder: Path) -> LibraryDocument:
        return cls._from_json(read_json(Path(folder) / DOCUMENT_JSON), str(folder))

    @classmethod
    def _from_json(cls, data: dict[str, Any], where: str) -> LibraryDocument:
        fields = stored_fields(data, cls.VERSION, f"the library view in {where}", where)
        values: dict[str, Any] = {}
        messages: list[str] = []
        for name, value in fields.items():
            if name not in cls.FIELDS:
                continue
            if name == "used":
                if isinstance(value, list) and all(isinstance(v, str) for v in value):
                    values[name] = tuple(value)
                else:
                    messages.append("the list of items this project used was not understood")
                continue
            choices = _CHOICES.get(name)
            if not isinstance(value, str) or (choices and value not in dict(choices)):
                messages.append(f"the setting {name} ({value!r}) was not understood: back to "
                                f"{cls.FIELDS[name]!r}")  # fmt: skip
                continue
            values[name] = value
        selected = values.get("selected", "")
        if selected and not Path(selected).exists():
            messages.append(f"the selected item {selected} is no longer there")
            values["selected"] = ""
        missing = [p for p in values.get("used", ()) if not Path(p).exists()]
        if missing:
            messages.append(
                f"{len(missing)} item{'s' if len(missing) != 1 else ''} this project used "
                f"{'are' if len(missing) != 1 else 'is'} no longer there: {Path(missing[0]).name}"
                + (", …" if len(missing) > 1 else "")
            )
        doc = cls(**values)
        doc.messages.extend(messages)
        return doc

    @classmethod
    def from_file(cls, path: str | Path) -> LibraryDocument:
        """A library view saved by :meth:`export` (.json). Raises DocumentError."""
        path = Path(path).expanduser()
        if path.suffix.lower() != ".json":
            raise DocumentError(f"{path.name}: a Library view is a .json file")
        return cls._from_json(read_json(path), path.name)

    def export(self, path: str | Path) -> Path:
        """Write the view and the used items as JSON (the project's document.json shape)."""
        path = Path(path).expanduser()
        if path.suffix.lower() not in self.EXPORT_SUFFIXES:
            raise DocumentError(f"the Library view is saved as .json, not {path.suffix!r}")
        data = {
            "kind": self.KIND,
            "version": self.VERSION,
            "fields": {k: to_jsonable(v) for k, v in self.values().items()},
        }
        return write_json(path, data)
