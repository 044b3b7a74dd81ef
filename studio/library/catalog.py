"""The media catalog: SQLite in WAL mode, with migrations, incremental scans and history.

Every change is a transaction, and a scan commits in batches, so a scan killed half way leaves a
consistent database and the next scan carries on (unchanged files are recognised by size and
modification time and skipped). A file that moved keeps its history: it is recognised by a quick
content hash (the size and the first and last 64 KB). Files that disappear are marked missing,
not forgotten (a removed drive comes back).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext

__all__ = [
    "Catalog",
    "Item",
    "ScanReport",
    "KINDS",
    "EVENT_KINDS",
    "kind_of",
    "quick_hash",
    "default_catalog_path",
    "record_saved",
    "CatalogError",
    "clean_text",
    "is_generic_title",
    "check_library_file",
]

KINDS = {
    "audio": (".mp3", ".flac", ".ogg", ".opus", ".m4a", ".wav", ".aiff", ".aif"),
    "midi": (".mid", ".midi"),
    "image": (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"),
    "video": (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"),
}
#: What the artist's actions mean to the recommenders (weights of a positive signal; negative
#: ones are remembered and exclude the item).
EVENT_KINDS = {
    "play": 1.0,
    "like": 3.0,
    "keep": 3.0,
    "rating": 1.0,  # value - 2.5, at least 0.5 (a 1..5 rating)
    "skip": -0.5,
    "dislike": -3.0,
    "reject": -3.0,
}
QUICK_BYTES = 64 * 1024

MIGRATIONS = [
    # 1: the first schema
    """
    CREATE TABLE items(
        id INTEGER PRIMARY KEY,
        path TEXT UNIQUE NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER, mtime REAL, quick_hash TEXT,
        title TEXT, artist TEXT, album TEXT, tags TEXT, description TEXT,
        duration REAL, width INTEGER, height INTEGER,
        added REAL, seen REAL, missing INTEGER NOT NULL DEFAULT 0,
        provenance TEXT, error TEXT
    );
    CREATE INDEX items_hash ON items(quick_hash);
    CREATE INDEX items_kind ON items(kind);
    CREATE TABLE folders(path TEXT PRIMARY KEY, added REAL);
    CREATE TABLE events(
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        user TEXT NOT NULL DEFAULT 'me',
        kind TEXT NOT NULL, value REAL, at REAL NOT NULL
    );
    CREATE INDEX events_item ON events(item_id);
    CREATE INDEX events_user ON events(user);
    """,
    # 2: features computed in the background (one vector per item and feature name)
    """
    CREATE TABLE features(
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        name TEXT NOT NULL, vector BLOB NOT NULL, computed REAL,
        PRIMARY KEY(item_id, name)
    );
    """,
    # 3: labels an image tagger gave a picture (TF-IDF and the deep models read them as tags)
    """
    CREATE TABLE labels(
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        label TEXT NOT NULL, confidence REAL, model TEXT,
        PRIMARY KEY(item_id, label)
    );
    """,
]


_SPACES = None
_GENERIC = None


def clean_text(text: str) -> str:
    """``text`` without control characters (NUL, escapes, bidi overrides), spaces collapsed."""
    global _SPACES
    import re
    import unicodedata

    if _SPACES is None:
        _SPACES = re.compile(r"\s+")
    kept = "".join(" " if ch in "\t\n\r" else ch for ch in text
                   if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf"))  # fmt: skip
    return _SPACES.sub(" ", kept).strip()


def is_generic_title(title: str) -> bool:
    """A name that says what a part or a file is, not what the piece is: "Melody", "Vocals",
    "Track 3", "Audio 01", "Untitled"."""
    global _GENERIC
    import re

    if _GENERIC is None:
        words = ("track", "audio", "melody", "vocals?", "voice", "piano", "bass", "drums?",
                 "guitar", "strings?", "lead", "harmony", "chords?", "untitled", "unknown",
                 "midi", "song", "sequence", "instrument", "part", "channel", "new track",
                 "recording", "image", "img", "dsc", "video", "movie", "clip", "tempo track",
                 "conductor", "staff", "synth", "pad", "accompaniment")  # fmt: skip
        _GENERIC = re.compile(rf"^\s*(?:{'|'.join(words)})?[\s_#.-]*\d*\s*$", re.IGNORECASE)
    return bool(_GENERIC.match(title))


class CatalogError(RuntimeError):
    """The catalog could not be opened or changed (the message says why)."""


def default_catalog_path() -> Path:
    from studio.core import paths

    return paths.data_dir() / "library.sqlite"


def kind_of(path: str | Path) -> str | None:
    suffix = Path(path).suffix.lower()
    for kind, suffixes in KINDS.items():
        if suffix in suffixes:
            return kind
    return None


def quick_hash(path: Path, size: int | None = None) -> str:
    """blake2b of the size and the first and last 64 KB: enough to recognise a moved file or a
    duplicate without reading a whole video."""
    size = path.stat().st_size if size is None else size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as fh:
        digest.update(fh.read(QUICK_BYTES))
        if size > 2 * QUICK_BYTES:
            fh.seek(-QUICK_BYTES, os.SEEK_END)
            digest.update(fh.read(QUICK_BYTES))
    return digest.hexdigest()


@dataclass
class Item:
    id: int
    path: str
    kind: str
    title: str = ""
    artist: str = ""
    album: str = ""
    tags: str = ""
    description: str = ""
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    size: int = 0
    missing: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def label(self) -> str:
        """Artist – title; the file name when the title is missing or generic ("Melody")."""
        title = self.title
        if not title or is_generic_title(title):
            title = clean_text(Path(self.path).stem) or Path(self.path).name
        return f"{self.artist} – {title}" if self.artist else title

    def text(self) -> str:
        """What the text embedding reads."""
        parts = [self.title, self.artist, self.album, self.tags, self.description]
        return ". ".join(p for p in parts if p) or Path(self.path).stem


@dataclass
class ScanReport:
    added: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    missing: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return self.added + self.updated + self.moved + self.unchanged

    def summary(self) -> str:
        text = (f"{self.files} files: {self.added} new, {self.updated} changed, {self.moved} "
                f"moved, {self.unchanged} unchanged, {self.missing} missing")  # fmt: skip
        if self.errors:
            text += f"; {len(self.errors)} could not be read"
        return text


_COLUMNS = ("id", "path", "kind", "title", "artist", "album", "tags", "description", "duration",
            "width", "height", "size", "missing", "provenance", "error")  # fmt: skip


def _item(row: sqlite3.Row) -> Item:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["provenance"] = json.loads(values["provenance"] or "{}")
    values["missing"] = bool(values["missing"])
    for key in ("title", "artist", "album", "tags", "description", "error"):
        values[key] = clean_text(values[key] or "")  # older scans kept control characters
    values["size"] = values["size"] or 0
    return Item(**values)


_SQLITE_MAGIC = b"SQLite format 3\x00"
_LEAVE_IT = "it was left as it is: move it away to start a new library, or restore a copy"


def check_library_file(path: str | Path) -> None:
    """Refuse a file that is not a Studio library before SQLite touches it: a 0-byte file, one
    without SQLite's header, or an SQLite database of another program. Such a file is never
    replaced or emptied. Raises CatalogError; a missing file passes (a new library)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CatalogError(f"cannot read the library at {path}: {exc.strerror or exc}") from None
    if not head:
        raise CatalogError(f"the library at {path} is an empty file (0 bytes); {_LEAVE_IT}")
    if head != _SQLITE_MAGIC:
        raise CatalogError(f"the library at {path} is not an SQLite database; {_LEAVE_IT}")


class Catalog:
    """One SQLite database. Thread-safe: each thread gets its own connection.

    An existing file that is empty, damaged or not a Studio library is refused with a
    CatalogError and left untouched. ``busy_seconds``: how long a write waits for another
    writer (each holds the database for one short transaction at a time)."""

    def __init__(self, path: str | Path | None = None, busy_seconds: float = 30.0):
        self.path = Path(path) if path else default_catalog_path()
        self.busy_seconds = busy_seconds
        self._local = threading.local()
        check_library_file(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._check_schema()
            self.migrate()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise CatalogError(
                f"the library at {self.path} is damaged ({exc}); {_LEAVE_IT}"
            ) from None
        except OSError as exc:
            raise CatalogError(f"cannot open the library at {self.path}: {exc}") from None

    def _check_schema(self) -> None:
        """A database with tables but no Studio schema version is another program's. Read with
        a plain connection, before WAL mode is switched on (which rewrites the header)."""
        if not self.path.exists():
            return
        conn = sqlite3.connect(self.path, timeout=self.busy_seconds)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
            ).fetchone()[0]
        finally:
            conn.close()
        if version == 0:
            if tables:
                raise CatalogError(
                    f"the library at {self.path} is an SQLite database of another program; "
                    + _LEAVE_IT
                )

    # -- connection and schema ---------------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def transaction(self):
        """``with catalog.transaction():`` one atomic change."""
        return _Transaction(self.db)

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Bring the schema up to date, one migration per transaction. Returns the version."""
        current = self.version
        if current > len(MIGRATIONS):
            raise CatalogError(
                f"the library at {self.path} is from a newer Studio (schema {current}); "
                "update Studio, or move the file away to start a new library"
            )
        for number in range(current, len(MIGRATIONS)):
            with self.transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number + 1}")
        return self.version

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- items -------------------------------------------------------------------------------------
    def items(self, kind: str | None = None, include_missing: bool = False,
              limit: int | None = None) -> list[Item]:  # fmt: skip
        sql = f"SELECT {', '.join(_COLUMNS)} FROM items WHERE 1=1"
        args: list[Any] = []
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        if not include_missing:
            sql += " AND missing = 0"
        sql += " ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_item(r) for r in self.db.execute(sql, args)]

    def item(self, item_id: int) -> Item:
        row = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM items WHERE id = ?", (int(item_id),)
        ).fetchone()
        if row is None:
            raise CatalogError(f"no item {item_id} in the library")
        return _item(row)

    def find(self, path: str | Path) -> Item | None:
        row = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM items WHERE path = ?", (str(path),)
        ).fetchone()
        return _item(row) if row else None

    def search(self, text: str, kind: str | None = None, limit: int = 50) -> list[Item]:
        """Items whose title, artist, album, tags, description or path contain every word."""
        words = [w for w in text.lower().split() if w]
        sql = f"SELECT {', '.join(_COLUMNS)} FROM items WHERE missing = 0"
        args: list[Any] = []
        for word in words:
            sql += (" AND lower(coalesce(title,'') || ' ' || coalesce(artist,'') || ' ' || "
                    "coalesce(album,'') || ' ' || coalesce(tags,'') || ' ' || "
                    "coalesce(description,'') || ' ' || path) LIKE ? ESCAPE '\\'")  # fmt: skip
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{escaped}%")
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        sql += f" ORDER BY id LIMIT {int(limit)}"
        return [_item(r) for r in self.db.execute(sql, args)]

    def duplicates(self) -> list[list[Item]]:
        """Groups of present files with the same quick hash."""
        groups: dict[str, list[Item]] = {}
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)}, quick_hash FROM items WHERE missing = 0 AND "
            "quick_hash IN (SELECT quick_hash FROM items WHERE missing = 0 AND quick_hash IS NOT "
            "NULL GROUP BY quick_hash HAVING count(*) > 1) ORDER BY quick_hash, id"
        )
        for row in rows:
            groups.setdefault(row[-1], []).append(_item(row[:-1]))
        return list(groups.values())

    def upsert(self, path: str | Path, kind: str, meta: dict[str, Any],
               provenance: dict[str, Any] | None = None) -> int:  # fmt: skip
        """Add or update the item at ``path`` (one transaction). Returns its id."""
        with self.transaction():
            return self._upsert(str(path), kind, meta, provenance)

    def _upsert(self, path: str, kind: str, meta: dict[str, Any],
                provenance: dict[str, Any] | None) -> int:  # fmt: skip
        now = time.time()
        fields = {k: meta.get(k) for k in ("size", "mtime", "quick_hash", "title", "artist",
                                          "album", "tags", "description", "duration", "width",
                                          "height", "error")}  # fmt: skip
        existing = self.db.execute("SELECT id FROM items WHERE path = ?", (path,)).fetchone()
        info = json.dumps(provenance, default=str) if provenance else None
        if existing:
            sets = ", ".join(f"{k} = ?" for k in fields)
            self.db.execute(
                f"UPDATE items SET {sets}, kind = ?, seen = ?, missing = 0, "
                "provenance = coalesce(?, provenance) WHERE id = ?",
                (*fields.values(), kind, now, info, existing[0]),
            )
            return int(existing[0])
        cursor = self.db.execute(
            f"INSERT INTO items(path, kind, added, seen, provenance, {', '.join(fields)}) "
            f"VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(fields))})",
            (path, kind, now, now, info, *fields.values()),
        )
        return int(cursor.lastrowid or 0)

    def add_file(self, path: str | Path, provenance: dict[str, Any] | None = None) -> int:
        """Catalog one media file now (tags, size, quick hash). Returns its id; raises
        CatalogError for a file that is not media or cannot be read."""
        from studio.library.scanner import read_metadata

        path = Path(path).resolve()
        kind = kind_of(path)
        if kind is None or not path.is_file():
            raise CatalogError(f"{path.name} is not a media file the library knows")
        try:
            stat = path.stat()
            digest = quick_hash(path, stat.st_size)
        except OSError as exc:
            raise CatalogError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        meta = {"size": stat.st_size, "mtime": stat.st_mtime, "quick_hash": digest}
        meta.update(read_metadata(path, kind))
        return self.upsert(path, kind, meta, provenance)

    # -- folders and scanning ----------------------------------------------------------------------
    def folders(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM folders ORDER BY path")]

    def add_folder(self, folder: str | Path) -> str:
        path = str(Path(folder).expanduser().resolve())
        if not Path(path).is_dir():
            raise CatalogError(f"no such folder: {path}")
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO folders VALUES (?, ?)", (path, time.time()))
        return path

    def scan(self, folders: list[str] | None = None, ctx: JobContext | None = None,
             batch: int = 400, read_tags: bool = True) -> ScanReport:  # fmt: skip
        """Scan ``folders`` (default: all added). Streams the tree, commits every ``batch`` files,
        recognises unchanged files by size and mtime, moved ones by their quick hash, and marks
        what disappeared as missing. Never follows directory symlinks (no loops)."""
        from studio.library.scanner import read_metadata

        ctx = ctx or JobContext()
        report = ScanReport()
        began = time.perf_counter()
        roots = [str(Path(f).expanduser().resolve()) for f in (folders or self.folders())]
        scan_started = time.time()
        pending: list[tuple[str, os.stat_result, str]] = []

        def flush() -> None:
            # files are read (hash, tags) before the transaction, so other writers (feedback,
            # a second add) wait for the short write of a batch, not for its reading
            read = [self._read_one(path, stat, kind, report, read_tags, read_metadata)
                    for path, stat, kind in pending]  # fmt: skip
            with self.transaction():
                for (path, stat, kind), (row, meta) in zip(pending, read, strict=True):
                    if meta is not None or row is not None:
                        self._scan_one(path, stat, kind, report, row, meta, scan_started)
            pending.clear()

        for root in roots:
            if not Path(root).is_dir():
                report.errors.append(f"{root}: folder not found (a removed drive?); kept as is")
                continue
            for path, stat in _walk(root, report):
                ctx.check_cancelled()
                kind = kind_of(path)
                if kind is None:
                    continue
                pending.append((path, stat, kind))
                if len(pending) >= batch:
                    flush()
                    ctx.progress(0.0, f"{report.files} files")
            if pending:
                flush()
            with self.transaction():
                # exactly this folder: no LIKE (it ignores case and reads "_" as any letter,
                # so adding "Music" marked "music" missing)
                prefix = root.rstrip(os.sep) + os.sep
                cursor = self.db.execute(
                    "UPDATE items SET missing = 1 WHERE missing = 0 AND seen < ? AND "
                    "(path = ? OR substr(path, 1, ?) = ?)",
                    (scan_started, root, len(prefix), prefix),
                )
                report.missing += cursor.rowcount
        report.seconds = time.perf_counter() - began
        ctx.progress(1.0, report.summary())
        return report

    def _read_one(self, path: str, stat: os.stat_result, kind: str, report: ScanReport,
                  read_tags: bool, read_metadata) -> tuple[Any, dict[str, Any] | None]:  # fmt: skip
        """(the item's row or None, what the file says or None when it is unchanged or
        unreadable), outside any transaction."""
        row = self.db.execute(
            "SELECT id, size, mtime FROM items WHERE path = ?", (path,)
        ).fetchone()
        if row and row[1] == stat.st_size and row[2] == stat.st_mtime:
            return row, None
        try:
            digest = quick_hash(Path(path), stat.st_size)
        except OSError as exc:
            report.errors.append(f"{path}: {exc.strerror or exc}")
            return None, None
        meta: dict[str, Any] = {"size": stat.st_size, "mtime": stat.st_mtime, "quick_hash": digest}
        meta.update(read_metadata(Path(path), kind) if read_tags else {"title": Path(path).stem})
        if meta.get("error"):
            report.errors.append(f"{path}: {meta['error']}")
        return row, meta

    def _scan_one(self, path: str, stat: os.stat_result, kind: str, report: ScanReport,
                  row: Any, meta: dict[str, Any] | None, scan_started: float) -> None:  # fmt: skip
        now = time.time()
        if meta is None:  # unchanged
            self.db.execute("UPDATE items SET seen = ?, missing = 0 WHERE id = ?", (now, row[0]))
            report.unchanged += 1
            return
        digest = meta["quick_hash"]
        if row is None:
            # a file with this content that this scan has not seen where it was: moved here?
            # (copies seen in this scan are duplicates, not moves; a few candidates at most)
            moved = self.db.execute(
                "SELECT id, path FROM items WHERE quick_hash = ? AND size = ? AND "
                "(missing = 1 OR seen < ?) ORDER BY missing DESC LIMIT 8",
                (digest, stat.st_size, scan_started),
            ).fetchall()
            for old_id, old_path in moved:
                if not Path(old_path).exists():  # the same file, somewhere else now
                    self.db.execute("UPDATE items SET path = ? WHERE id = ?", (path, old_id))
                    self._upsert(path, kind, meta, None)
                    report.moved += 1
                    return
            self._upsert(path, kind, meta, None)
            report.added += 1
        else:
            self._upsert(path, kind, meta, None)
            report.updated += 1

    # -- history -----------------------------------------------------------------------------------
    def add_event(self, item_id: int, kind: str, value: float | None = None,
                  user: str = "me", at: float | None = None) -> None:  # fmt: skip
        if kind not in EVENT_KINDS:
            raise CatalogError(f"unknown feedback {kind!r}; use {', '.join(EVENT_KINDS)}")
        if value is not None and not math.isfinite(value):
            raise CatalogError(f"a {kind} of {value!r} is not a finite number")
        self.item(item_id)  # raises for an unknown item
        with self.transaction():
            self.db.execute(
                "INSERT INTO events(item_id, user, kind, value, at) VALUES (?, ?, ?, ?, ?)",
                (int(item_id), user, kind, value, at or time.time()),
            )

    def events(self, user: str | None = None) -> list[tuple[int, str, str, float | None, float]]:
        sql = "SELECT item_id, user, kind, value, at FROM events"
        args: tuple = ()
        if user:
            sql += " WHERE user = ?"
            args = (user,)
        return [tuple(r) for r in self.db.execute(sql + " ORDER BY at", args)]  # type: ignore

    def external_item(self, key: str, title: str, artist: str = "", kind: str = "audio",
                      lookup: bool = True) -> int:  # fmt: skip
        """An item for a track known only from an imported history (not a file here). With
        ``lookup``, an item of the same title and artist is used instead (a scan of the table:
        an import of many tracks keeps its own index and passes False)."""
        if lookup:
            found = self.db.execute(
                "SELECT id FROM items WHERE lower(coalesce(title,'')) = lower(?) AND "
                "lower(coalesce(artist,'')) = lower(?) ORDER BY missing, id LIMIT 1",
                (title, artist),
            ).fetchone()
            if found:
                return int(found[0])
        meta = {"title": title, "artist": artist}
        item_id = self._upsert(f"history:{key}", kind, meta, {"source": "imported history"})
        self.db.execute("UPDATE items SET missing = 1 WHERE id = ?", (item_id,))
        return item_id

    # -- features ----------------------------------------------------------------------------------
    def set_labels(self, item_id: int, labels: list[tuple[str, float]], model: str = "") -> None:
        """Replace what a tagger said of ``item_id``: (label, confidence) pairs. An empty list
        records that the item was tagged and nothing was confident enough."""
        self.db.execute("DELETE FROM labels WHERE item_id = ?", (int(item_id),))
        for label, confidence in labels or [("", 0.0)]:
            self.db.execute(
                "INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)",
                (int(item_id), clean_text(label), float(confidence), model),
            )

    def labels(self) -> dict[int, list[str]]:
        """Each tagged item's labels, most confident first ("" rows: tagged, nothing found)."""
        out: dict[int, list[str]] = {}
        for item_id, label in self.db.execute(
            "SELECT item_id, label FROM labels ORDER BY item_id, confidence DESC"
        ):
            out.setdefault(int(item_id), [])
            if label:
                out[int(item_id)].append(label)
        return out

    def set_feature(self, item_id: int, name: str, vector) -> None:
        import numpy as np

        data = np.asarray(vector, np.float32).tobytes()
        self.db.execute(
            "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?)",
            (item_id, name, data, time.time()),
        )

    def feature(self, name: str) -> dict[int, Any]:
        import numpy as np

        return {
            int(r[0]): np.frombuffer(r[1], np.float32)
            for r in self.db.execute("SELECT item_id, vector FROM features WHERE name = ?", (name,))
        }


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        self.outer = not self.db.in_transaction
        if self.outer:
            self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_exc: Any) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def _walk(root: str, report: ScanReport) -> Iterator[tuple[str, os.stat_result]]:
    """Every regular file under ``root``, streamed; unreadable folders are reported and skipped;
    directory symlinks are not followed (no loops)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file():  # a symlink to a file is followed
                            yield entry.path, entry.stat()
                    except OSError as exc:
                        report.errors.append(f"{entry.path}: {exc.strerror or exc}")
        except OSError as exc:
            report.errors.append(f"{folder}: {exc.strerror or exc}")


def record_saved(path: str | Path, provenance: dict[str, Any] | None = None,
                 catalog: Catalog | None = None) -> int | None:  # fmt: skip
    """Add a file a panel just saved to the library with its provenance and a "keep" (the panels
    call this). Returns its id, or None when the file is not a media file or the library cannot be
    written (never an error for the panel)."""
    import logging

    if kind_of(path) is None or not Path(path).is_file():
        return None
    try:
        catalog = catalog or Catalog()
        item_id = catalog.add_file(path, provenance or {})
        catalog.add_event(item_id, "keep")
        return item_id
    except (CatalogError, OSError, sqlite3.Error) as exc:
        logging.getLogger(__name__).warning("could not add %s to the library: %s", path, exc)
        return None
