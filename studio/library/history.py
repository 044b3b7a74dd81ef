"""Importing listening histories and ratings into the catalog.

- ListenBrainz export: a JSON list (or JSON lines) of listens with ``listened_at`` and
  ``track_metadata`` (``track_name``, ``artist_name``, ``release_name``).
- Last.fm export (the usual CSV of scrobbles): ``artist, album, track, date`` with or without a
  header (``uts`` seconds or a "31 Jan 2024 12:34" date).
- A ratings CSV: ``user, item, rating, timestamp`` where ``item`` is a library id, a path, or a
  title.

A track that matches a library item (same title and artist) counts for that item; one that does
not becomes an item known only from history, so what others listened to together still teaches
the recommenders.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext
from studio.library.catalog import Catalog, CatalogError

__all__ = ["import_history", "HistoryError", "MAX_ROWS", "MAX_BYTES", "RATING_RANGE"]

#: The most listens or ratings one file may hold, and its largest size; a bigger file is refused
#: before anything is imported (split it, or import the last years only).
MAX_ROWS = 1_000_000
MAX_BYTES = 256 * 2**20
#: Ratings outside this range (and ``inf``/``nan``) are skipped row by row, with a count.
RATING_RANGE = (0.0, 10.0)
#: Times must fall between 1970 and 2200 (seconds since 1970).
_LATEST = 7_258_118_400.0
_LONGEST_TEXT = 1000  # characters kept of a title, an artist or a user name


class HistoryError(ValueError):
    """A history file Studio cannot read (the message says which line and why)."""


class _Skip(Exception):
    """One row that cannot be imported; the reason is counted and the row skipped."""


def _text(value: Any) -> str:
    return ("" if value is None else str(value)).strip()[:_LONGEST_TEXT]


def _time(value: Any) -> float:
    """Seconds since 1970 from a number or a date; raises _Skip for anything else."""
    if isinstance(value, bool) or value is None or value == "":
        raise _Skip("time missing")
    if isinstance(value, int | float):
        try:
            at = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise _Skip("time not between 1970 and 2200") from None
    else:
        text = str(value).strip()
        if len(text) > 40:
            raise _Skip("time not readable")
        try:
            at = float(text)
        except ValueError:
            at = _date(text)
    if not math.isfinite(at) or not 0.0 <= at <= _LATEST:
        raise _Skip("time not between 1970 and 2200")
    return at


def _date(text: str) -> float:
    for fmt in ("%d %b %Y %H:%M", "%d %b %Y, %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d"):  # fmt: skip
        try:
            return datetime.strptime(text, fmt).timestamp()
        except (ValueError, OverflowError, OSError):
            continue
    raise _Skip("time not readable")


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise HistoryError(
            f"{path.name} is {size / 2**20:.0f} MiB; Studio imports histories of at most "
            f"{MAX_BYTES // 2**20} MiB and {MAX_ROWS:,} rows (split the file)"
        )


def _too_many(path: Path) -> HistoryError:
    return _too_many_name(path.name)


def _too_many_name(name: str) -> HistoryError:
    return HistoryError(
        f"{name} holds more than {MAX_ROWS:,} rows, the most Studio imports at once "
        "(split the file); nothing was imported"
    )


Listen = tuple[str, str, str, float]


def _json(text: str, name: str) -> Any:
    """One JSON document, or JSON lines (one listen per line); HistoryError in words else."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass  # JSON lines, perhaps
    except RecursionError:
        raise HistoryError(f"{name}: JSON nested too deeply") from None
    except ValueError as exc:  # a number of thousands of digits
        raise HistoryError(f"{name}: {exc}") from None
    data = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if len(data) >= MAX_ROWS:
            raise _too_many_name(name)
        try:
            data.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise HistoryError(f"{name}, line {number}: not JSON ({exc.msg})") from None
        except RecursionError:
            raise HistoryError(f"{name}, line {number}: JSON nested too deeply") from None
        except ValueError as exc:
            raise HistoryError(f"{name}, line {number}: {exc}") from None
    return data


def _listenbrainz(path: Path, skipped: Counter) -> list[Listen]:
    data = _json(path.read_text(encoding="utf-8"), path.name)
    if isinstance(data, dict):
        payload = data.get("payload")
        data = payload.get("listens") if isinstance(payload, dict) else data.get("listens")
    if not isinstance(data, list):
        raise HistoryError(f"{path.name}: not a ListenBrainz export (no list of listens)")
    if len(data) > MAX_ROWS:
        raise _too_many(path)
    out = []
    for listen in data:
        meta = listen.get("track_metadata") if isinstance(listen, dict) else None
        if not isinstance(meta, dict):
            skipped["not a listen (no track_metadata)"] += 1
            continue
        title = _text(meta.get("track_name"))
        if not title:
            skipped["no track name"] += 1
            continue
        try:
            at = _time(listen.get("listened_at"))
        except _Skip as exc:
            skipped[str(exc)] += 1
            continue
        out.append((title, _text(meta.get("artist_name")), _text(meta.get("release_name")), at))
    return out


def _rows(path: Path):
    """The CSV's rows, at most MAX_ROWS (more raise HistoryError)."""
    with open(path, newline="", encoding="utf-8") as fh:
        for number, row in enumerate(csv.reader(fh), 1):
            if number > MAX_ROWS + 1:  # a header may come first
                raise _too_many(path)
            yield number, row


def _lastfm(path: Path, skipped: Counter) -> list[Listen]:
    out = []
    header = ["artist", "album", "track", "date"]
    for number, row in _rows(path):
        if number == 1 and [c.strip().lower() for c in row[:3]] in (
            ["artist", "album", "track"],
            ["uts", "utc_time", "artist"],
        ):
            header = [c.strip().lower() for c in row]
            continue
        record = dict(zip(header, row, strict=False))
        title = _text(record.get("track"))
        if not title:
            skipped["no track name"] += 1
            continue
        when = record.get("uts") or record.get("date") or record.get("utc_time") or ""
        try:
            at = _time(when) if when.strip() else time.time()
        except _Skip as exc:
            raise HistoryError(f"{path.name}, line {number}: {exc} ({when[:40]!r})") from None
        out.append((title, _text(record.get("artist")), _text(record.get("album")), at))
    return out


def _is_ratings(path: Path) -> bool:
    with open(path, newline="", encoding="utf-8") as fh:
        first = next(csv.reader(fh), [])
    return [c.strip().lower() for c in first[:3]] == ["user", "item", "rating"]


def _skipped(skipped: Counter) -> dict[str, str]:
    """``{"skipped": "3 rows: rating not a finite number; 1 row: ..."}`` or nothing."""
    if not skipped:
        return {}
    parts = [f"{n} row{'s' if n != 1 else ''}: {why}" for why, n in skipped.most_common()]
    return {"skipped": "; ".join(parts)}


def import_history(catalog: Catalog, path: str | Path, ctx: JobContext | None = None) -> dict:
    """Import ``path`` (ListenBrainz JSON, Last.fm CSV or a ratings CSV). One transaction: a
    broken file imports nothing. Rows that cannot be used (a rating that is not a finite number
    in :data:`RATING_RANGE`, a listen with no track or time) are skipped and counted under
    ``"skipped"``. Linear time: tracks are matched through one index built at the start.

    Returns counts; raises HistoryError for a file that cannot be read, or one over
    :data:`MAX_ROWS` rows or :data:`MAX_BYTES`."""
    ctx = ctx or JobContext()
    path = Path(path).expanduser()
    if not path.is_file():
        raise HistoryError(f"no such file: {path}")
    skipped: Counter = Counter()
    try:
        _check_size(path)
        if path.suffix.lower() in (".json", ".jsonl"):
            kind, rows = "listenbrainz", _listenbrainz(path, skipped)
        elif _is_ratings(path):
            return _import_ratings(catalog, path, ctx)
        else:
            kind, rows = "lastfm", _lastfm(path, skipped)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise HistoryError(f"cannot read {path.name}: {exc}") from None
    except OSError as exc:
        raise HistoryError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    matched = 0
    with catalog.transaction():
        tracks = _Tracks(catalog)
        for i, (title, artist, _album, at) in enumerate(rows):
            item_id, known = tracks.get(f"{artist}\x1f{title}", title, artist)
            matched += known
            catalog.db.execute(
                "INSERT INTO events(item_id, user, kind, value, at) VALUES (?, 'me', 'play', "
                "NULL, ?)", (item_id, at),
            )  # fmt: skip
            if i % 500 == 0:
                ctx.check_cancelled()
                ctx.progress(i / max(1, len(rows)), f"{i} listens")
    return {"format": kind, "listens": len(rows), "matched": matched, **_skipped(skipped)}


class _Tracks:
    """Library items by lower-case title and artist, read once: finding a track costs a dict
    look-up, not a scan of the items table (which made an import quadratic)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.ids: dict[tuple[str, str], int] = {}
        for item_id, title, artist in catalog.db.execute(
            "SELECT id, coalesce(title, ''), coalesce(artist, '') FROM items ORDER BY missing, id"
        ):
            self.ids.setdefault((title.lower(), artist.lower()), int(item_id))
        self.before = catalog.db.execute("SELECT max(id) FROM items").fetchone()[0] or 0

    def get(self, key: str, title: str, artist: str = "") -> tuple[int, bool]:
        """(the item's id, whether it was in the library before this import)."""
        found = self.ids.get((title.lower(), artist.lower()))
        if found is None:
            found = self.catalog.external_item(key, title, artist, lookup=False)
            self.ids[(title.lower(), artist.lower())] = found
        return found, found <= self.before


def _rating(text: Any) -> float:
    try:
        value = float(str(text).strip()[:40])
    except ValueError:
        raise _Skip("rating not a number") from None
    if not math.isfinite(value):
        raise _Skip("rating not a finite number")
    low, high = RATING_RANGE
    if not low <= value <= high:
        raise _Skip(f"rating outside {low:g} to {high:g}")
    return value


def _import_ratings(catalog: Catalog, path: Path, ctx: JobContext) -> dict:
    count = 0
    skipped: Counter = Counter()
    header: list[str] = []
    with catalog.transaction():
        tracks = _Tracks(catalog)
        for number, row in _rows(path):
            if number == 1:
                header = [c.strip().lower() for c in row]
                continue
            record = dict(zip(header, row, strict=False))
            if not row or not any(c.strip() for c in row):
                continue
            if record.get("item") is None or record.get("rating") is None:
                raise HistoryError(f"{path.name}, line {number}: expected user, item, rating")
            key = _text(record["item"])
            try:
                if not key:
                    raise _Skip("no item")
                rating = _rating(record["rating"])
                when = record.get("timestamp") or ""
                at = _time(when) if when.strip() else time.time()
            except _Skip as exc:
                if str(exc) == "rating not a number":  # a broken file, not one odd row
                    raise HistoryError(
                        f"{path.name}, line {number}: rating {record['rating'][:40]!r} is not "
                        "a number"
                    ) from None
                skipped[str(exc)] += 1
                continue
            item_id = _resolve(catalog, key, tracks)
            catalog.db.execute(
                "INSERT INTO events(item_id, user, kind, value, at) VALUES (?, ?, 'rating', ?, ?)",
                (item_id, _text(record.get("user")) or "me", rating, at),
            )
            count += 1
            if count % 1000 == 0:
                ctx.check_cancelled()
    return {"format": "ratings", "ratings": count, **_skipped(skipped)}


def _resolve(catalog: Catalog, key: str, tracks: _Tracks) -> int:
    if key.isascii() and key.isdigit() and len(key) < 19:
        try:
            return catalog.item(int(key)).id
        except CatalogError:
            pass
    found = catalog.find(key)
    if found:
        return found.id
    return tracks.get(f"item\x1f{key}", key)[0]
