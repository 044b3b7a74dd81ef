"""Qt-free documents: what a panel shows and edits, with change events and an undo stack.

A document is a set of named fields holding immutable values (tuples, frozen dataclasses,
strings, numbers, NumPy arrays that are never modified in place). Every change goes through
``set`` (one undo step, shown in Edit ▸ Undo as its label) or ``set_quiet`` (view state such as
the selection: saved, not undone). Because values are replaced, never mutated, an undo step holds
references, not copies, and a snapshot for autosave is taken in microseconds on the window's
thread and written to disk on another.

Views subscribe to ``changed`` (psygnal, the event library napari uses): it is emitted with the
field's name and new value after every change, undo and redo. ``revision`` counts changes, so an
autosave knows whether anything happened since the last one.

Saving: ``snapshot()`` (cheap, any thread that owns the document) then ``write_snapshot(snap,
folder)`` (a classmethod, safe on a worker thread) writes plain files into the document's folder of
a project and returns their names; ``read(folder)`` builds the document back. Subclasses describe
their fields in ``FIELDS`` and override ``write_snapshot`` / ``read`` for their files.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from studio.core.atomic import write_text

__all__ = [
    "Command",
    "SetFields",
    "UndoStack",
    "Document",
    "DocumentError",
    "DOCUMENT_JSON",
    "read_json",
    "write_json",
    "plain",
    "check_format",
    "stored_fields",
]


class _LazySignal:
    """A psygnal ``Signal`` made on its first use. Importing psygnal reads its own version through
    importlib.metadata (a scan of the installed packages): a twentieth of a second that the window
    would spend before its first paint, where the panel in front is built with its document but
    follows the document's events only right after the paint."""

    def __init__(self, *types: Any) -> None:
        self._types = types
        self._owner: type = object
        self._name = ""
        self._signal: Any = None

    def __set_name__(self, owner: type, name: str) -> None:
        self._owner, self._name = owner, name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if self._signal is None:
            with _SIGNAL_LOCK:  # (documents are also read and written on worker threads)
                if self._signal is None:
                    from psygnal import Signal as _Signal

                    signal = _Signal(*self._types)
                    signal.__set_name__(self._owner, self._name)
                    self._signal = signal
        return self._signal.__get__(instance, owner)


_SIGNAL_LOCK = threading.Lock()


if TYPE_CHECKING:
    from psygnal import Signal
else:
    Signal = _LazySignal

DOCUMENT_JSON = "document.json"


class DocumentError(Exception):
    """A document could not be read or written; the message says which file and why."""


class Command:
    """One undoable step. ``redo`` applies it (also the first time), ``undo`` reverts it."""

    label: str = ""
    merge_key: str | None = None  # consecutive commands with the same key become one step

    def redo(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def undo(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def merge(self, other: Command) -> bool:
        """Absorb ``other`` (pushed just after this one); True if it was absorbed."""
        return False


class _Macro(Command):
    def __init__(self, label: str) -> None:
        self.label = label
        self.commands: list[Command] = []

    def redo(self) -> None:
        for command in self.commands:
            command.redo()

    def undo(self) -> None:
        for command in reversed(self.commands):
            command.undo()


class UndoStack:
    """Commands done and undone. ``changed`` fires when what can be undone or redone changes."""

    changed = Signal()

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._macro: list[_Macro] = []
        self._last_push = 0.0

    def push(self, command: Command, execute: bool = True) -> None:
        """Run ``command`` (unless ``execute`` is False: it was already applied) and record it."""
        if execute:
            command.redo()
        if self._macro:
            self._macro[-1].commands.append(command)
            return
        now = time.monotonic()
        top = self._done[-1] if self._done else None
        merged = (
            top is not None
            and not self._undone
            and command.merge_key is not None
            and top.merge_key == command.merge_key
            and now - self._last_push < 2.0
            and top.merge(command)
        )
        self._last_push = now
        if not merged:
            self._done.append(command)
            del self._done[: max(0, len(self._done) - self.limit)]
        self._undone.clear()
        self.changed.emit()

    @contextlib.contextmanager
    def macro(self, label: str) -> Iterator[None]:
        """Group every command pushed inside the block into one undo step named ``label``."""
        macro = _Macro(label)
        self._macro.append(macro)
        try:
            yield
        finally:
            self._macro.pop()
            if macro.commands:
                self.push(macro, execute=False)

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    def undo_text(self) -> str:
        return self._done[-1].label if self._done else ""

    def redo_text(self) -> str:
        return self._undone[-1].label if self._undone else ""

    def undo(self) -> str:
        """Undo the last step; returns its label ("" when there was none)."""
        if not self._done:
            return ""
        command = self._done.pop()
        command.undo()
        self._undone.append(command)
        self.changed.emit()
        return command.label

    def redo(self) -> str:
        if not self._undone:
            return ""
        command = self._undone.pop()
        command.redo()
        self._done.append(command)
        self.changed.emit()
        return command.label

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self.changed.emit()

    def labels(self) -> list[str]:
        """What can be undone, oldest first (the document's history)."""
        return [c.label for c in self._done]


class SetFields(Command):
    """Set some of a document's fields; undo puts the old values back."""

    def __init__(
        self, document: Document, label: str, after: dict[str, Any],
        merge_key: str | None = None,
    ) -> None:  # fmt: skip
        self.document = document
        self.label = label
        self.after = dict(after)
        self.before = {name: document.get(name) for name in after}
        self.merge_key = merge_key

    def redo(self) -> None:
        self.document._assign(self.after)

    def undo(self) -> None:
        self.document._assign(self.before)

    def merge(self, other: Command) -> bool:
        if not isinstance(other, SetFields) or other.document is not self.document:
            return False
        self.after.update(other.after)
        for name, value in other.before.items():
            self.before.setdefault(name, value)
        return True


class Document:
    """The base of every panel's document. Subclasses set ``KIND`` (the panel id), ``VERSION``
    (of their files), and ``FIELDS`` (name -> default, or a zero-argument factory)."""

    KIND: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[dict[str, Any]] = {}
    # Fields that are view state: saved with the document but never an undo step.
    QUIET_FIELDS: ClassVar[frozenset[str]] = frozenset()

    changed = Signal(str, object)  # field name, new value
    replaced = Signal()  # the whole document was replaced (read, reset)

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = {}
        for name, default in self.FIELDS.items():
            self._values[name] = default() if callable(default) else default
        unknown = set(values) - set(self.FIELDS)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        self._values.update(values)
        self.undo_stack = UndoStack()
        self.revision = 0
        self.messages: list[str] = []  # what went wrong while reading (a missing asset, ...)

    # -- fields ------------------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r}")

    def values(self) -> dict[str, Any]:
        return dict(self._values)

    def _assign(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name not in self._values:
                raise KeyError(f"{type(self).__name__} has no field {name!r}")
            self._values[name] = value
        self.revision += 1
        for name, value in values.items():
            self.changed.emit(name, value)

    def set(self, label: str, merge_key: str | None = None, **values: Any) -> None:
        """Change fields as one undo step called ``label``. Values equal to the current ones are
        skipped; nothing is recorded when nothing changes."""
        changes = {k: v for k, v in values.items() if not _same(self._values.get(k), v)}
        if not changes:
            return
        self.undo_stack.push(SetFields(self, label, changes, merge_key=merge_key))

    def set_quiet(self, **values: Any) -> None:
        """Change fields without an undo step (view state: the selection, a scroll position)."""
        changes = {k: v for k, v in values.items() if not _same(self._values.get(k), v)}
        if changes:
            self._assign(changes)

    def macro(self, label: str):
        """``with doc.macro("Generate 4 bars"):`` makes every ``set`` inside one undo step."""
        return self.undo_stack.macro(label)

    def undo(self) -> str:
        return self.undo_stack.undo()

    def redo(self) -> str:
        return self.undo_stack.redo()

    def reset(self, **values: Any) -> None:
        """Replace the whole content (a file opened into this panel outside a project): the undo
        history starts again."""
        fresh = type(self)(**values)
        self._values = fresh._values
        self.revision += 1
        self.undo_stack.clear()
        self.replaced.emit()

    def is_empty(self) -> bool:
        """True when the document holds nothing worth saving (a new, untouched panel)."""
        return all(
            _same(self._values[n], (d() if callable(d) else d)) for n, d in self.FIELDS.items()
        )

    # -- files -------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The fields by reference: cheap, and safe to write on another thread since values are
        never modified in place."""
        return dict(self._values) | {"__history__": self.undo_stack.labels()}

    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Write ``snapshot`` as plain files in ``folder`` (which exists). Returns what the
        project's ``project.toml`` lists for this document: at least ``files`` (names relative to
        ``folder``). The base writes JSON-able fields to document.json."""
        history = snapshot.get("__history__", [])
        data: dict[str, Any] = {"kind": cls.KIND, "version": cls.VERSION, "history": history}
        data["fields"] = {k: to_jsonable(v) for k, v in snapshot.items() if k != "__history__"}
        write_json(folder / DOCUMENT_JSON, data)
        return {"files": [DOCUMENT_JSON]}

    @classmethod
    def read(cls, folder: Path) -> Document:
        """Build the document from ``folder``. A file that is missing or unreadable leaves its
        field at the default and adds a line to ``messages``; a document.json from a newer
        Studio raises DocumentError."""
        data = read_json(folder / DOCUMENT_JSON)
        version = int(data.get("version", 1))
        if version > cls.VERSION:
            raise DocumentError(
                f"the {cls.KIND} document was written by a newer Studio (format {version}, "
                f"this one reads up to {cls.VERSION})"
            )
        values = {k: v for k, v in data.get("fields", {}).items() if k in cls.FIELDS}
        return cls(**values)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        import numpy as np

        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return False  # arrays are replaced, never compared element-wise
    except ImportError:  # pragma: no cover
        pass
    try:
        return bool(a == b)
    except Exception:
        return False


def to_jsonable(value: Any) -> Any:
    """Tuples become lists, dataclasses dicts, paths strings (document.json is plain JSON)."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: to_jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise TypeError(f"{type(value).__name__} is not plain data; override write_snapshot")


def plain(value: Any) -> Any:
    """Provenance and settings as plain JSON: NumPy numbers become numbers, tuples lists, and
    anything else its text (never an error)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return item()
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def check_format(data: dict[str, Any], version: int, what: str) -> None:
    """Refuse ``data`` (a document.json) written by a newer Studio than one that reads up to
    ``version``; ``what`` names it in the message ("the video settings in song.studio")."""
    try:
        found = int(data.get("version", 1))
    except (TypeError, ValueError):
        raise DocumentError(f"{what}: its format number is not a number") from None
    if found > version:
        raise DocumentError(
            f"{what} was written by a newer Studio (format {found}, this one reads up to {version})"
        )


def stored_fields(data: dict[str, Any], version: int, what: str, where: str) -> dict[str, Any]:
    """The ``fields`` object of a document.json, after :func:`check_format` (``what`` names the
    document, ``where`` its folder). Raises DocumentError when it is not a JSON object."""
    check_format(data, version, what)
    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise DocumentError(f"{where}: 'fields' is not a JSON object")
    return fields


def write_json(path: Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object; DocumentError names the file when it is missing or corrupt."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DocumentError(f"{path.name} is missing from {path.parent}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DocumentError(f"{path} could not be read: {exc}") from exc
    if not isinstance(data, dict):
        raise DocumentError(f"{path} does not hold a JSON object")
    return data


Factory = Callable[[], Any]
