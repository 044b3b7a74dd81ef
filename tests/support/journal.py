"""A small document for project tests: text, a tuple of edit numbers, a picture-sized array
(stored as .npy) and a quiet selection. It stands in for a panel's document so the project tests
don't depend on any engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.core import atomic
from studio.core.document import Document, DocumentError, read_json, write_json

__all__ = ["JournalDocument"]


class JournalDocument(Document):
    KIND = "journal"
    VERSION = 2
    FIELDS = {"text": "", "edits": tuple, "pixels": None, "selection": None}
    QUIET_FIELDS = frozenset({"selection"})

    @classmethod
    def write_snapshot(cls, snapshot, folder: Path):
        files = ["document.json"]
        pixels = snapshot["pixels"]
        if pixels is not None:
            with atomic.atomic_write(folder / "pixels.npy") as fh:
                np.save(fh, pixels)
            files.append("pixels.npy")
        data = {
            "version": cls.VERSION,
            "text": snapshot["text"],
            "edits": list(snapshot["edits"]),
            "history": snapshot["__history__"],
        }
        write_json(folder / "document.json", data)
        return {"files": files, "summary": f"{len(snapshot['edits'])} edits"}

    @classmethod
    def read(cls, folder: Path):
        data = read_json(folder / "document.json")
        if data.get("version", 1) > cls.VERSION:
            raise DocumentError("written by a newer Studio")
        doc = cls(text=data["text"], edits=tuple(data["edits"]))
        try:
            doc.set_quiet(pixels=np.load(folder / "pixels.npy"))
        except FileNotFoundError:
            doc.messages.append("pixels.npy is missing; the picture is empty")
        doc.revision = 0
        return doc
