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
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext
from studio.library.catalog import Catalog, CatalogError

__all__ = ["import_history", "HistoryError"]


class HistoryError(ValueError):
    """A history file Studio cannot read (the message says which line and why)."""


def _date(text: str) -> float:
    text = text.strip()
    if text.isdigit():
        return float(text)
    for fmt in ("%d %b %Y %H:%M", "%d %b %Y, %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d"):  # fmt: skip
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    raise ValueError(f"unknown date {text!r}")


def _listenbrainz(path: Path) -> list[tuple[str, str, str, float]]:
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data.get("payload", {}).get("listens", data.get("listens", []))
    out = []
    for listen in data:
        meta = listen.get("track_metadata") or {}
        title = str(meta.get("track_name") or "").strip()
        if title:
            out.append((title, str(meta.get("artist_name") or ""), str(meta.get("release_name")
                        or ""), float(listen.get("listened_at") or time.time())))  # fmt: skip
    return out


def _lastfm(path: Path) -> list[tuple[str, str, str, float]]:
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if rows and [c.strip().lower() for c in rows[0][:3]] in (
        ["artist", "album", "track"],
        ["uts", "utc_time", "artist"],
    ):
        header = [c.strip().lower() for c in rows[0]]
        rows = rows[1:]
    else:
        header = ["artist", "album", "track", "date"]
    for number, row in enumerate(rows, 1):
        record = dict(zip(header, row, strict=False))
        title = (record.get("track") or "").strip()
        if not title:
            continue
        when = record.get("uts") or record.get("date") or record.get("utc_time") or ""
        try:
            at = _date(when) if when else time.time()
        except ValueError as exc:
            raise HistoryError(f"{path.name}, line {number}: {exc}") from None
        out.append((title, record.get("artist", ""), record.get("album", ""), at))
    return out


def _is_ratings(path: Path) -> bool:
    with open(path, newline="", encoding="utf-8") as fh:
        first = next(csv.reader(fh), [])
    return [c.strip().lower() for c in first[:3]] == ["user", "item", "rating"]


def import_history(catalog: Catalog, path: str | Path, ctx: JobContext | None = None) -> dict:
    """Import ``path`` (ListenBrainz JSON, Last.fm CSV or a ratings CSV). One transaction: a
    broken file imports nothing. Returns counts."""
    ctx = ctx or JobContext()
    path = Path(path).expanduser()
    if not path.is_file():
        raise HistoryError(f"no such file: {path}")
    try:
        if path.suffix.lower() in (".json", ".jsonl"):
            kind, rows = "listenbrainz", _listenbrainz(path)
        elif _is_ratings(path):
            return _import_ratings(catalog, path, ctx)
        else:
            kind, rows = "lastfm", _lastfm(path)
    except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
        raise HistoryError(f"cannot read {path.name}: {exc}") from None
    matched = 0
    with catalog.transaction():
        for i, (title, artist, _album, at) in enumerate(rows):
            before = catalog.db.execute("SELECT max(id) FROM items").fetchone()[0] or 0
            item_id = catalog.external_item(f"{artist}\x1f{title}", title, artist)
            matched += item_id <= before
            catalog.db.execute(
                "INSERT INTO events(item_id, user, kind, value, at) VALUES (?, 'me', 'play', "
                "NULL, ?)", (item_id, at),
            )  # fmt: skip
            if i % 500 == 0:
                ctx.check_cancelled()
                ctx.progress(i / max(1, len(rows)), f"{i} listens")
    return {"format": kind, "listens": len(rows), "matched": matched}


def _import_ratings(catalog: Catalog, path: Path, ctx: JobContext) -> dict:
    count = 0
    with open(path, newline="", encoding="utf-8") as fh, catalog.transaction():
        reader = csv.DictReader(fh)
        for number, row in enumerate(reader, 2):
            try:
                user = (row["user"] or "").strip()
                key = (row["item"] or "").strip()
                rating = float(row["rating"])
                at = _date(row.get("timestamp") or "") if row.get("timestamp") else time.time()
            except (KeyError, TypeError, ValueError) as exc:
                raise HistoryError(f"{path.name}, line {number}: {exc}") from None
            item_id = _resolve(catalog, key)
            catalog.db.execute(
                "INSERT INTO events(item_id, user, kind, value, at) VALUES (?, ?, 'rating', ?, ?)",
                (item_id, user or "me", rating, at),
            )
            count += 1
            if count % 1000 == 0:
                ctx.check_cancelled()
    return {"format": "ratings", "ratings": count}


def _resolve(catalog: Catalog, key: str) -> int:
    if key.isdigit():
        try:
            return catalog.item(int(key)).id
        except CatalogError:
            pass
    found = catalog.find(key)
    if found:
        return found.id
    return catalog.external_item(f"item\x1f{key}", key)
