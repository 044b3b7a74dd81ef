"""Projects: an artist's session saved as one folder, ``NAME.studio/``.

::

    song.studio/
      project.toml          format version, Studio version, dates, the documents and their files
      music/                clip.mid, takes/take-1.mid, document.json (controls, selection, history)
      voice/                document.json (text, SSML, lyrics, settings), takes/*.flac
      image/                layers and history as PNG, mask.png, document.json
      video/                document.json (source, engine, refine and effect settings)
      library/              document.json (filter, search, selection; the items the project used)

Every file is a plain file another tool opens. Each is written atomically, and ``project.toml``
last, so a kill during a save leaves a project that opens (a document holds either its old or its
new files). The library catalog stays global; a project remembers the items it used.

Autosave writes the same format to a recovery copy in the user state folder (``Recovery``); after
a crash the next start offers it back. Two Studios never write one project: the first holds a lock
(``flock``, released by the OS even after ``kill -9``), the second opens it read-only or not at all.

Qt-free: the window, the CLI and the tests all use this module.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import __version__
from studio.core import paths
from studio.core.atomic import remove_leftovers, write_bytes
from studio.core.document import Document, DocumentError

__all__ = [
    "FORMAT",
    "SUFFIX",
    "DOCUMENT_CLASSES",
    "Project",
    "ProjectError",
    "ProjectLocked",
    "Recovery",
    "RecoveryEntry",
    "pending_recoveries",
    "restore",
    "document_class",
    "project_path",
]

FORMAT = 1  # of project.toml; a newer one is refused, older ones are migrated in _migrate
SUFFIX = ".studio"
PROJECT_TOML = "project.toml"
LOCK_FILE = ".lock"

# The document class of each panel, by import path (projects load only what they hold).
DOCUMENT_CLASSES: dict[str, str] = {
    "music": "studio.music.document:MusicDocument",
    "image": "studio.image.document:ImageDocument",
    "video": "studio.video.document:VideoDocument",
    "voice": "studio.voice.document:VoiceDocument",
    "library": "studio.library.document:LibraryDocument",
    "arrange": "studio.arrange.document:ArrangeDocument",
}


class ProjectError(Exception):
    """A project could not be opened or saved; the message says which file and why, and what
    was there is unchanged."""


class ProjectLocked(ProjectError):
    """Another running Studio has this project open."""


def project_path(path: str | os.PathLike[str]) -> Path:
    """``song`` or ``song.studio`` -> ``song.studio`` (a project is always a .studio folder)."""
    path = Path(path).expanduser()
    if path.name == PROJECT_TOML:
        path = path.parent
    return path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX)


def document_class(kind: str) -> type[Document]:
    try:
        module, _, attr = DOCUMENT_CLASSES[kind].partition(":")
    except KeyError:
        raise ProjectError(f"no panel called {kind!r}") from None
    return getattr(importlib.import_module(module), attr)


def _now() -> str:
    """Now in UTC, to the second, ISO 8601 (``2026-11-30T06:50:12+00:00``, as
    ``datetime.now(UTC).replace(microsecond=0).isoformat()`` writes it): made with ``time``, as
    a new project asks for it before the first paint and ``datetime`` costs ~25 ms to import."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def _toml_dumps(data: dict[str, Any]) -> str:
    import tomli_w

    return tomli_w.dumps(data)


def _folder_size(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_size
    return total


class _Lock:
    """An advisory lock on a project folder, held while it is open in this process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        lock = self.folder / LOCK_FILE
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a read-only folder: nobody can write it, so no lock is needed
            raise PermissionError(exc.errno, exc.strerror, str(lock)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            finally:
                os.close(fd)
            raise ProjectLocked(
                f"{self.folder.name} is open in another Studio ({holder}); close it there first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {os.uname().nodename}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


@dataclass
class Project:
    """The documents of every panel, and where they are saved (``path`` None: untitled)."""

    path: Path | None = None
    documents: dict[str, Document] = field(default_factory=dict)
    created: str = field(default_factory=_now)
    used_items: list[str] = field(default_factory=list)  # library items the project used
    messages: list[str] = field(default_factory=list)  # what could not be read when opening
    read_only: bool = False
    _saved: dict[str, int] = field(default_factory=dict)  # kind -> revision on disk
    _lock: _Lock | None = field(default=None, repr=False)

    # -- documents ---------------------------------------------------------------------------------
    def document(self, kind: str) -> Document:
        """The panel's document, made empty the first time it is asked for."""
        if kind not in self.documents:
            self.documents[kind] = document_class(kind)()
            self._saved[kind] = self.documents[kind].revision
        return self.documents[kind]

    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else "Untitled"

    @property
    def dirty(self) -> bool:
        """Something changed since the last save (or, untitled, since it was made)."""
        return any(doc.revision != self._saved.get(k, 0) for k, doc in self.documents.items())

    def revisions(self) -> dict[str, int]:
        return {k: d.revision for k, d in self.documents.items()}

    def use_item(self, item: str) -> None:
        if item not in self.used_items:
            self.used_items.append(item)

    # -- saving ------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything needed to write the project, taken by reference (microseconds): write it
        with ``write_snapshot`` on any thread."""
        return {
            "created": self.created,
            "used_items": list(self.used_items),
            "saved": dict(self._saved),  # the revision of each document on disk
            "documents": {
                k: (type(d), d.snapshot(), d.revision) for k, d in self.documents.items()
            },
        }

    @staticmethod
    def write_snapshot(
        snapshot: dict[str, Any], path: Path, skip: frozenset[str] = frozenset()
    ) -> dict[str, int]:
        """Write ``snapshot`` as project ``path``. Documents in ``skip`` are unchanged on disk
        and not rewritten. Returns the revision written of each document. Raises ProjectError
        (the folder as it was) on a full disk or a read-only folder."""
        path = project_path(path)
        old: dict[str, Any] = {}
        with contextlib.suppress(ProjectError, FileNotFoundError):
            old = _read_toml(path / PROJECT_TOML)
        documents: dict[str, Any] = {}
        written: dict[str, int] = {}
        try:
            path.mkdir(parents=True, exist_ok=True)
            for kind, (cls, snap, revision) in snapshot["documents"].items():
                if kind in skip and kind in old.get("documents", {}):
                    documents[kind] = old["documents"][kind]
                    written[kind] = revision
                    continue
                folder = path / kind
                folder.mkdir(exist_ok=True)
                meta = cls.write_snapshot(snap, folder)
                documents[kind] = {
                    "version": cls.VERSION,
                    "folder": kind,
                    "history_steps": len(snap.get("__history__", [])),
                    **meta,
                }
                written[kind] = revision
            data = {
                "format": FORMAT,
                "studio_version": __version__,
                "created": snapshot.get("created") or _now(),
                "saved": _now(),
                "documents": documents,
                "library": {"used": snapshot.get("used_items", [])},
            }
            write_bytes(path / PROJECT_TOML, _toml_dumps(data).encode("utf-8"))
        except OSError as exc:
            raise ProjectError(
                f"could not save {path.name}: {exc.strerror or exc}; every file in it is "
                "whole (the one being written is unchanged)"
            ) from exc
        return written

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write every document (only the changed ones when saving in place). Save As to a new
        folder writes everything and moves the lock there."""
        target = project_path(path) if path is not None else self.path
        if target is None:
            raise ProjectError("an untitled project needs a name: use Save As")
        same = self.path is not None and target.resolve() == self.path.resolve()
        if same and self.read_only:
            raise ProjectError(f"{target.name} is open read-only; use Save As")
        if target.exists() and not (target / PROJECT_TOML).exists() and any(target.iterdir()):
            raise ProjectError(f"{target} is a folder that is not a Studio project")
        skip = frozenset(
            k for k, d in self.documents.items() if same and d.revision == self._saved.get(k)
        )
        written = self.write_snapshot(self.snapshot(), target, skip)
        self.mark_saved(written, target)
        return target

    def mark_saved(self, written: dict[str, int], path: Path | None = None) -> None:
        """Record what a (possibly background) save wrote."""
        if path is not None and (self.path is None or path.resolve() != self.path.resolve()):
            self.release()
            self.path = path
            self.read_only = False
            with contextlib.suppress(ProjectLocked, PermissionError):
                self.lock()
        self._saved.update(written)

    def lock(self) -> None:
        if self.path is not None and self._lock is None:
            lock = _Lock(self.path)
            lock.acquire()
            self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    # -- opening -----------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], lock: bool = True) -> Project:
        """Open a project folder. Raises ProjectError for a missing or corrupt project.toml,
        a newer format, or (``ProjectLocked``) a project open in another Studio. A document or
        asset that can't be read is skipped with a line in ``messages``; the rest opens.
        A read-only folder opens read-only (Save As still works)."""
        path = project_path(path)
        if not path.is_dir():
            raise ProjectError(f"{path} is not a Studio project (no such folder)")
        data = _migrate(_read_toml(path / PROJECT_TOML), path)
        project = cls(path=path, created=str(data.get("created", _now())))
        project.used_items = [str(x) for x in data.get("library", {}).get("used", [])]
        if lock:
            try:
                project.lock()
                remove_leftovers(path)  # a killed save's temporaries (we hold the lock)
            except PermissionError:
                project.read_only = True
                project.messages.append(
                    f"{path.name} is in a folder you can't write: opened read-only (Save As to "
                    "keep changes)"
                )
        for kind, meta in dict(data.get("documents", {})).items():
            if kind not in DOCUMENT_CLASSES:
                project.messages.append(f"skipped {kind!r}: this Studio has no such panel")
                continue
            try:
                doc_cls = document_class(kind)
                if int(meta.get("version", 1)) > doc_cls.VERSION:
                    raise DocumentError(f"written by a newer Studio (format {meta.get('version')})")
                doc = doc_cls.read(path / str(meta.get("folder", kind)))
            except (DocumentError, OSError, ValueError, KeyError, TypeError) as exc:
                project.messages.append(f"the {kind} document could not be opened: {exc}")
                continue
            project.messages.extend(f"{kind}: {m}" for m in doc.messages)
            project.documents[kind] = doc
            project._saved[kind] = doc.revision
        return project

    def close(self) -> None:
        self.release()

    def info(self) -> dict[str, Any]:
        """What ``studio project info`` prints: documents with their files, sizes, versions,
        history and provenance."""
        data: dict[str, Any] = {}
        if self.path is not None and (self.path / PROJECT_TOML).exists():
            data = _read_toml(self.path / PROJECT_TOML)
        documents = {}
        for kind, meta in data.get("documents", {}).items():
            folder = self.path / str(meta.get("folder", kind)) if self.path else None
            files = []
            for name in meta.get("files", []):
                file = folder / name if folder else None
                size = file.stat().st_size if file is not None and file.exists() else None
                files.append({"name": name, "bytes": size, "missing": size is None})
            doc = self.documents.get(kind)
            documents[kind] = {
                "version": meta.get("version", 1),
                "files": files,
                "bytes": sum(f["bytes"] or 0 for f in files),
                "history": doc.undo_stack.labels() if doc is not None else [],
                "provenance": meta.get("provenance", {}),
                "summary": meta.get("summary", ""),
            }
        return {
            "path": str(self.path) if self.path else None,
            "name": self.name,
            "format": data.get("format", FORMAT),
            "studio_version": data.get("studio_version", __version__),
            "created": data.get("created", self.created),
            "saved": data.get("saved"),
            "bytes": _folder_size(self.path) if self.path else 0,
            "documents": documents,
            "library": {"used": list(self.used_items)},
            "messages": list(self.messages),
        }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(
            f"{path.parent.name} has no {PROJECT_TOML}: not a Studio project"
        ) from None
    except OSError as exc:
        raise ProjectError(f"{path} could not be read: {exc.strerror or exc}") from exc
    import tomllib  # (imported here: the window paints before any project is read)

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path} is corrupt ({exc}); nothing was changed") from exc
    if not isinstance(data.get("documents", {}), dict):
        raise ProjectError(f"{path} is corrupt: 'documents' is not a table")
    return data


def _migrate(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """Bring project.toml from an older format to this one; refuse a newer one."""
    try:
        version = int(data.get("format", 1))
    except (TypeError, ValueError):
        raise ProjectError(f"{path.name}/{PROJECT_TOML} has no valid format number") from None
    if version > FORMAT:
        raise ProjectError(
            f"{path.name} was saved by a newer Studio (project format {version}, "
            f"Studio {data.get('studio_version', '?')}); this Studio {__version__} reads up to "
            f"format {FORMAT}. Update Studio to open it; the project was not changed."
        )
    # Format 1 is the first; later formats add their steps here, oldest first.
    return data


# -- recovery --------------------------------------------------------------------------------------
@dataclass
class RecoveryEntry:
    """Unsaved work an earlier Studio left behind."""

    folder: Path
    original: Path | None  # the project it belonged to (None: untitled)
    saved: str
    pid: int

    @property
    def project_folder(self) -> Path:
        return self.folder / ("recovered" + SUFFIX)

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def describe(self) -> str:
        what = self.original.name if self.original else "an untitled project"
        return f"{what}, autosaved {self.saved}"


class Recovery:
    """This process's recovery copy: ``autosave`` writes the project there (only what changed),
    ``discard`` removes it after a save or a clean close. A copy whose process is gone (its lock is
    free) is offered back by ``pending``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or paths.recovery_dir()
        import uuid

        self.folder = self.root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock: _Lock | None = None
        self._written: dict[str, int] = {}

    def autosave(self, snapshot: dict[str, Any], original: Path | None) -> dict[str, int]:
        """Write to the recovery copy the documents of ``snapshot`` that changed since the project
        was saved (the others are in the project itself; ``restore`` takes them from there), and
        only those not already written at the same revision. Safe on a worker thread (one at a
        time)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = _Lock(self.folder)
            self._lock.acquire()
        on_disk = snapshot.get("saved", {})
        changed = {k: v for k, v in snapshot["documents"].items() if on_disk.get(k) != v[2]}
        snapshot = {**snapshot, "documents": changed}
        skip = frozenset(k for k, (_c, _s, rev) in changed.items() if self._written.get(k) == rev)
        written = Project.write_snapshot(snapshot, self.folder / ("recovered" + SUFFIX), skip)
        self._written.update(written)
        import datetime as _dt

        meta = {
            "original": str(original) if original else None,
            "saved": _dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "pid": os.getpid(),
        }
        write_bytes(self.folder / "recovery.json", json.dumps(meta).encode())
        return written

    def discard(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        self._written.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def pending(self) -> list[RecoveryEntry]:
        """Recovery copies left by Studios that are no longer running, newest first."""
        return pending_recoveries(self.root, exclude=self.folder)


def pending_recoveries(
    root: Path | None = None, exclude: Path | None = None
) -> list[RecoveryEntry]:
    root = root or paths.recovery_dir()
    entries = []
    if not root.is_dir():
        return []
    for folder in root.iterdir():
        if folder == exclude or not (folder / "recovery.json").exists():
            continue
        if not (folder / ("recovered" + SUFFIX) / PROJECT_TOML).exists():
            continue
        lock = _Lock(folder)
        try:
            lock.acquire()  # free: its Studio is gone
        except (ProjectLocked, PermissionError):
            continue
        finally:
            lock.release()
        try:
            meta = json.loads((folder / "recovery.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        original = Path(meta["original"]) if meta.get("original") else None
        entries.append(RecoveryEntry(folder, original, str(meta.get("saved", "")),
                                     int(meta.get("pid", 0))))  # fmt: skip
    return sorted(entries, key=lambda e: e.saved, reverse=True)


def restore(entry: RecoveryEntry) -> Project:
    """Open a recovery copy as unsaved work: its path is the original project's (so Save writes
    there), its documents count as changed, and the documents it does not hold (unchanged since
    the last save) come from the original project. The copy stays until ``entry.discard()``
    (call it once the restored work has been autosaved again or saved)."""
    project = Project.open(entry.project_folder, lock=False)
    project.path = entry.original
    project._saved = {k: -1 for k in project.documents}
    if project.path is not None and (project.path / PROJECT_TOML).is_file():
        try:
            saved = Project.open(project.path, lock=False)
        except ProjectError as exc:
            project.messages.append(f"the saved project could not be read: {exc}")
        else:
            for kind, doc in saved.documents.items():
                if kind not in project.documents:
                    project.documents[kind] = doc
                    project._saved[kind] = doc.revision
            project.messages.extend(saved.messages)
        with contextlib.suppress(ProjectLocked, PermissionError):
            project.lock()
    return project
