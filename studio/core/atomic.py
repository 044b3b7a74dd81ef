"""The one way Studio writes a file: to a hidden temporary beside it, flushed to disk, then renamed
over the target. A crash, a kill or a full disk never truncates or deletes what was there, and
no temporary is left behind by an error.

New files get the user's umask (0644 by default), like every program's outputs; an existing
file keeps its mode.

- ``atomic_write(path, "wb")``: a context manager giving an open file.
- ``atomic_path(path)``: a context manager giving a temporary *path* with the same suffix, for
  libraries that write by file name (soundfile, Pillow, ffmpeg, OpenCV).
- ``write_bytes`` / ``write_text``: the one-liners.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_write",
    "atomic_path",
    "write_bytes",
    "write_text",
    "output_mode",
    "fsync_dir",
    "remove_leftovers",
]


def output_mode() -> int:
    """The mode a new output file gets: 0666 less the process umask (0644 with umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _temp_for(path: Path) -> Path:
    # Same folder (a rename across file systems is not atomic), hidden, same suffix (libraries
    # pick the format from it).
    return path.with_name(f".{path.stem}.{os.urandom(4).hex()}.tmp{path.suffix}")


STALE_SECONDS = 600.0


def _remove_stale_temporaries(path: Path) -> None:
    """A writer killed while writing ``path`` left ``.STEM.XXXXXXXX.tmp.SUFFIX`` beside it: the
    next write of the same file removes those older than 10 minutes (a younger one may be
    another process's write in progress)."""
    import re
    import time

    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.[0-9a-f]{{8}}\.tmp")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    now = time.time()
    for entry in entries:
        if entry.name.startswith(".") and pattern.match(entry.name):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > STALE_SECONDS:
                    os.unlink(entry.path)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _finish(temp: Path, path: Path) -> None:
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = output_mode()
    os.chmod(temp, mode)
    with open(temp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without an error, the file
    written there replaces ``path``. On an error the temporary is removed and ``path`` is
    untouched. Raises OSError (with the target named) when the folder can't be written."""
    path = Path(path)
    _remove_stale_temporaries(path)
    temp = _temp_for(path)
    try:
        yield temp
        if not temp.exists():
            raise OSError(f"nothing was written to {path}")
        _finish(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary beside ``path`` for writing (``"wb"`` or ``"w"``); it replaces ``path``
    when the block ends without an error."""
    if "w" not in mode or "+" in mode or "a" in mode:
        raise ValueError(f"atomic_write writes whole files, not mode {mode!r}")
    if "b" not in mode and encoding is None:
        encoding = "utf-8"
    with atomic_path(path) as temp:
        with open(temp, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def remove_leftovers(folder: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Remove the temporaries a killed writer left in ``folder`` (hidden ``.NAME.XXXXXXXX.tmp``
    files). Call it only where no other writer can be at work (a project whose lock is held).
    Returns what was removed."""
    import re

    pattern = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[^.]+)?$")
    root = Path(folder)
    removed = []
    for path in root.rglob(".*") if recursive else root.glob(".*"):
        if pattern.match(path.name) and path.is_file():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed
