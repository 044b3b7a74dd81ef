"""An image tagger's labels in the catalog: which tags there are, which items carry one, what one
item was tagged with and how sure the tagger was, and tagging every picture and video again with
the current tagger (``studio image train-tagger``).

A tagger answers one label per picture (its most confident); the others it was at least somewhat
sure of are kept too, with their confidence, for the details and the recommenders. Filtering by
tag goes by the answer.

The labels live in the catalog's ``labels`` table (item, label, confidence, model); rows with an
empty label mean "tagged, nothing was sure enough".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.core.jobs import JobContext
from studio.library.catalog import Catalog

__all__ = ["find_tagger", "item_tags", "items_labelled", "items_tagged", "retag", "tag_counts"]

TAGGED_KINDS = ("image", "video")


_BEST = "l.confidence = (SELECT MAX(m.confidence) FROM labels m WHERE m.item_id = l.item_id)"


def tag_counts(catalog: Catalog, kind: str | None = None) -> list[tuple[str, int]]:
    """Every tag that is some present item's best (the tagger's answer for it), with how many
    items, most common first (then by name). ``kind``: only items of that kind."""
    sql = (
        "SELECT l.label, COUNT(DISTINCT l.item_id) FROM labels l JOIN items i ON i.id = l.item_id "
        f"WHERE l.label != '' AND i.missing = 0 AND {_BEST}"
    )
    args: list[Any] = []
    if kind:
        sql += " AND i.kind = ?"
        args.append(kind)
    sql += " GROUP BY l.label ORDER BY COUNT(DISTINCT l.item_id) DESC, l.label"
    return [(str(label), int(n)) for label, n in catalog.db.execute(sql, args)]


def items_tagged(catalog: Catalog, label: str, best: bool = True) -> set[int]:
    """The ids of the items whose best tag is ``label`` (``best`` False: that have it among
    their tags at all)."""
    sql = "SELECT l.item_id FROM labels l WHERE l.label = ?" + (f" AND {_BEST}" if best else "")
    return {int(r[0]) for r in catalog.db.execute(sql, (label,))}


def items_labelled(catalog: Catalog, text: str) -> set[int]:
    """The ids of the items whose best tag holds every word of ``text`` (a search: "horror
    poster" finds an item tagged "poster: horror")."""
    words = [w.lower() for w in text.split() if w.strip()]
    if not words:
        return set()
    found: dict[int, str] = {}
    rows = catalog.db.execute(f"SELECT l.item_id, l.label FROM labels l WHERE l.label != '' "
                              f"AND {_BEST}")  # fmt: skip
    for item_id, label in rows:
        found[int(item_id)] = found.get(int(item_id), "") + " " + str(label).lower()
    return {i for i, labels in found.items() if all(w in labels for w in words)}


def item_tags(catalog: Catalog, item_id: int) -> list[tuple[str, float]]:
    """(label, confidence) the tagger gave ``item_id``, most confident first."""
    rows = catalog.db.execute(
        "SELECT label, confidence FROM labels WHERE item_id = ? AND label != '' "
        "ORDER BY confidence DESC, label",
        (int(item_id),),
    )
    return [(str(label), float(conf or 0.0)) for label, conf in rows]


def find_tagger(models_dir: str | Path | None = None):
    """The tagger the Library uses: the newest the artist trained, in ``<models_dir>/tagger``;
    None when there is none. The shipped OpenMoji tagger (12 emoji groups, for ``studio image
    tag``) is deliberately not used: its groups say nothing true about an artist's own pictures."""
    if models_dir is None:
        return None
    folder = Path(models_dir) / "tagger"
    if not folder.is_dir():
        return None
    found = sorted(folder.glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def _frame_pixels(item, size: int):
    """A video's frame (its thumbnail's) as (3, size, size) float32 in [0, 1], padded with
    white as the tagger's own reader does; None when it cannot be read."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageOps

    from studio.library.thumbs import thumbnail

    frame = thumbnail(item.path, item.kind, size=max(128, size))
    if frame is None:
        return None
    img = ImageOps.pad(PILImage.fromarray(frame), (size, size), PILImage.BILINEAR,
                       color=(255, 255, 255))  # fmt: skip
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0


def retag(
    catalog: Catalog,
    tagger_path: str | Path,
    ctx: JobContext | None = None,
    *,
    top: int = 3,
    confidence: float = 0.2,
    only_new: bool = False,
) -> dict[str, int]:
    """Tag every present picture and video (a frame of it) with the tagger at ``tagger_path``:
    its ``top`` labels at least ``confidence`` sure replace what an earlier tagger said. With
    ``only_new``, items this tagger already tagged are left as they are.

    Returns counts: ``tagged``, ``unreadable``, ``kept`` (``only_new``). Raises ValueError when
    the file is not a tagger."""
    import numpy as np

    from studio.image.tagger import load_tagger, read_rgb

    ctx = ctx or JobContext()
    tagger_path = Path(tagger_path)
    tagger = load_tagger(tagger_path)
    model = tagger_path.name
    done: set[int] = set()
    if only_new:
        done = {int(r[0]) for r in catalog.db.execute(
            "SELECT DISTINCT item_id FROM labels WHERE model = ?", (model,))}  # fmt: skip
    items = [i for kind in TAGGED_KINDS for i in catalog.items(kind=kind)
             if not i.error and i.id not in done]  # fmt: skip
    counts = {"tagged": 0, "unreadable": 0, "kept": len(done)}
    for start in range(0, len(items), 32):
        ctx.check_cancelled()
        chunk = items[start : start + 32]
        pixels, readable = [], []
        for item in chunk:
            try:
                if item.kind == "image":
                    pixels.append(read_rgb(item.path, tagger.size))
                else:
                    frame = _frame_pixels(item, tagger.size)
                    if frame is None:
                        raise ValueError("no frame")
                    pixels.append(frame)
                readable.append(item)
            except (ValueError, OSError):
                counts["unreadable"] += 1
        if readable:
            probs = tagger.predict(np.stack(pixels))
            with catalog.transaction():
                for item, p in zip(readable, probs, strict=True):
                    order = np.argsort(-p)[: max(1, top)]
                    found = [(tagger.labels[i], float(p[i])) for i in order
                             if p[i] >= confidence]  # fmt: skip
                    catalog.set_labels(item.id, found, model)
            counts["tagged"] += len(readable)
        ctx.progress((start + len(chunk)) / max(1, len(items)),
                     f"tagging {start + len(chunk)} of {len(items)}")  # fmt: skip
    return counts
