"""Reading a folder of the artist's pictures for training (the generator and the tagger share it).

What an artist's folder may hold, and what becomes of it:

- pictures of any size and mode (CMYK, 16-bit, alpha, palette with transparency, animated GIF,
  1x1): read as RGB, alpha flattened on white, the first frame, padded to a white square;
- corrupt files (truncated, text renamed ``.jpg``, zero bytes) and pictures whose header claims
  more than Studio opens (a decompression bomb): skipped, each with its reason, and counted;
- tens of thousands of files: only names are listed (up to :data:`MAX_FILES`, else a message);
  past :data:`MAX_PICTURES` a seeded random sample, every class kept, is read and the report
  says so, so memory and time stay bounded (10,000 pictures of 64 px are 0.5 GB);
- a class whose pictures are all unreadable is left out, and the note says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_FILES",
    "MAX_PICTURES",
    "PictureFolder",
    "list_pictures",
    "read_folder",
    "read_rgb",
]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
#: a folder listing more picture files than this is refused (listing alone takes long)
MAX_FILES = 200_000
#: at most this many pictures are decoded for one training run: a seeded sample beyond it
MAX_PICTURES = 10_000


def read_rgb(path: str | Path, size: int) -> np.ndarray:
    """One picture as (3, size, size) float32 in [0, 1]: the first frame, CMYK and 16-bit
    converted, alpha flattened on white, padded to a square with white. Raises ValueError when the
    file cannot be decoded, or its header claims more pixels than Studio opens
    (:data:`studio.image.io.MAX_PIXELS`, :data:`~studio.image.io.MAX_DECODED_BYTES`).
    """
    from PIL import Image as PILImage
    from PIL import ImageOps

    from studio.image.io import Header, check_size

    name = Path(path).name
    PILImage.MAX_IMAGE_PIXELS = None  # as in studio.image.io: Studio checks sizes itself, below
    try:
        with PILImage.open(path) as img:
            # from the header, before decoding: the same limits as everywhere in Studio
            bits = 16 if img.mode.startswith("I") or img.mode == "F" else 8
            alpha = "A" in img.getbands() or "transparency" in img.info
            check_size(Header(int(img.width), int(img.height), bits, alpha), name)
            img.seek(0)  # animated GIF/WebP: the first frame
            if img.format == "JPEG":  # decode big photos at a fraction of their size: faster
                img.draft("RGB", (size * 2, size * 2))
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                arr = np.nan_to_num(np.asarray(img, dtype=np.float64))
                top = 65535.0 if arr.max() > 255 else 255.0
                if img.mode == "F" and arr.max() <= 1.0:  # a float picture in [0, 1]
                    top = 1.0
                img = PILImage.fromarray((arr / top * 255).clip(0, 255).astype(np.uint8))
            if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                flat = PILImage.new("RGBA", rgba.size, (255, 255, 255, 255))
                flat.alpha_composite(rgba)
                img = flat
            img = img.convert("RGB")
    except MemoryError as exc:
        raise ValueError(f"cannot read {name}: too large to decode") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for a broken file
        text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        if text.startswith(name):  # studio.image.io's own message names the file already
            raise ValueError(text) from None
        raise ValueError(f"cannot read {name}: {text or type(exc).__name__}") from None
    img = ImageOps.pad(img, (size, size), PILImage.BILINEAR, color=(255, 255, 255))
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def _walk(folder: Path, found: list[Path], root: Path, ctx=None) -> None:
    """Picture files under ``folder`` (recursively, hidden entries left out), names only; with
    ``ctx``, stopped (Cancelled) at the next subfolder once the job is cancelled."""
    stack = [folder]
    while stack:
        if ctx is not None:
            ctx.check_cancelled()
        here = stack.pop()
        try:
            entries = sorted(os.scandir(here), key=lambda e: e.name)
        except OSError:
            continue  # an unreadable subfolder: the rest still trains
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES and entry.is_file():
                    found.append(Path(entry.path))
                    if len(found) > MAX_FILES:
                        raise ValueError(
                            f"{root} holds more than {MAX_FILES:,} pictures; train on a "
                            "smaller folder (a sample of it)"
                        )
            except OSError:
                continue


def _loose(root: Path) -> list[Path]:
    """The picture files directly in ``root``."""
    return sorted(
        Path(e.path)
        for e in os.scandir(root)
        if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
        and not e.name.startswith(".")
        and e.is_file()
    )


def list_pictures(root: str | Path, loose_as_one_class: bool, ctx=None) -> dict[str, list[Path]]:
    """{class: picture files} for ``root``: one class per subfolder with pictures (searched
    recursively); with none and ``loose_as_one_class``, the pictures in ``root`` as one class
    ``"all"``. Only names are read. Raises ValueError for a missing folder or more than
    :data:`MAX_FILES` pictures; with a job context ``ctx``, Cancelled once it is cancelled."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root} is not a folder")
    groups: dict[str, list[Path]] = {}
    total: list[Path] = []
    try:
        subs = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        raise ValueError(f"cannot read the folder {root}: {exc.strerror or exc}") from None
    for sub in subs:
        before = len(total)
        _walk(root / sub, total, root, ctx)
        if len(total) > before:
            groups[sub] = sorted(total[before:])
    if not groups and loose_as_one_class:
        loose = _loose(root)
        if len(loose) > MAX_FILES:
            raise ValueError(
                f"{root} holds more than {MAX_FILES:,} pictures; train on a smaller folder"
            )
        if loose:
            groups["all"] = loose
    return groups


@dataclass
class PictureFolder:
    """The pictures read from a folder: ``pixels`` (N, 3, S, S) float32 in [0, 1], their class
    indices into ``labels``, their files, the files skipped (file, reason), how many picture files
    were found, and ``note``: what a user should be told (a sample taken, a class left out)."""

    pixels: np.ndarray
    targets: np.ndarray
    labels: list[str]
    files: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    found: int = 0
    note: str = ""


def _sample(groups: dict[str, list[Path]], cap: int, seed: int) -> dict[str, list[Path]]:
    """About ``cap`` files, drawn at random (seeded) in proportion to each class, every class
    keeping at least min(its count, 2) (1 when there are more than ``cap / 2`` classes).
    Raises ValueError for more classes than ``cap``."""
    if len(groups) > cap:
        raise ValueError(
            f"{len(groups):,} classes are more than the {cap:,} pictures Studio reads for one "
            "training: group them into fewer subfolders"
        )
    total = sum(len(f) for f in groups.values())
    floor = 2 if 2 * len(groups) <= cap else 1
    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {}
    for name, files in groups.items():
        k = min(len(files), max(floor, int(len(files) * cap / total)))
        pick = np.sort(rng.choice(len(files), size=k, replace=False))
        out[name] = [files[i] for i in pick]
    return out


def read_folder(
    root: str | Path,
    size: int,
    *,
    loose_as_one_class: bool = False,
    max_pictures: int | None = None,
    seed: int = 0,
    check=None,
    ctx=None,
) -> PictureFolder:
    """Read the pictures of ``root`` (see :func:`list_pictures`) at ``size`` px.

    More than ``max_pictures`` (default :data:`MAX_PICTURES`) are sampled (seeded by ``seed``);
    unreadable ones are skipped and listed; classes left with no readable picture are dropped.
    ``check``, if given, is called with {class: files} before anything is decoded (to refuse a
    folder early). Reports progress ("reading 200/10,000") through ``ctx`` and checks for
    cancellation.
    Raises ValueError for a missing or over-full folder; returns an empty set when nothing is
    readable (the caller says what it needs).
    """
    cap = MAX_PICTURES if max_pictures is None else max_pictures
    groups = list_pictures(root, loose_as_one_class)
    if check is not None:
        check(groups)
    found = sum(len(f) for f in groups.values())
    notes = []
    root = Path(root)
    from_loose = loose_as_one_class and list(groups) == ["all"] and not (root / "all").is_dir()
    if groups and not from_loose and (loose := len(_loose(root))):
        notes.append(
            f"left out the {loose:,} picture{'s' * (loose != 1)} directly in {root.name}/: "
            "with subfolders, each subfolder is a class"
        )
    if found > cap:
        groups = _sample(groups, cap, seed)
        chosen = sum(len(f) for f in groups.values())
        notes.append(f"read a random {chosen:,} of the {found:,} pictures (at most {cap:,})")
    entries = [(file, i) for i, files in enumerate(groups.values()) for file in files]
    pixels = np.empty((len(entries), 3, size, size), np.float32)
    targets, files, skipped = [], [], []
    for number, (file, index) in enumerate(entries):
        if ctx is not None and number % 100 == 0:
            ctx.check_cancelled()
            ctx.progress(0.02 * number / len(entries), f"reading {number:,}/{len(entries):,}")
        try:
            pixels[len(files)] = read_rgb(file, size)
        except ValueError as exc:
            skipped.append((str(file), str(exc)))
            continue
        targets.append(index)
        files.append(str(file))
    names = list(groups)
    present = sorted(set(targets))
    if present and len(present) < len(names):
        empty = [names[i] for i in range(len(names)) if i not in set(present)]
        notes.append(f"left out {', '.join(empty[:5])}: no readable picture")
        remap = {old: new for new, old in enumerate(present)}
        targets = [remap[t] for t in targets]
        names = [names[i] for i in present]
    kept = len(files)
    return PictureFolder(
        pixels[:kept] if kept < len(entries) else pixels,
        np.asarray(targets, np.int64),
        names,
        files,
        skipped,
        found,
        "; ".join(notes),
    )
