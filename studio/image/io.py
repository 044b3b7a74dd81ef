"""Reading and writing pictures, keeping 16-bit depth and alpha, with provenance inside the file.

A :class:`Picture` is an RGB or RGBA array of uint8 or uint16. Files are decoded by OpenCV (16-bit
PNG and TIFF, alpha, greyscale), with Pillow as the fallback for what OpenCV cannot read (CMYK,
palette, some WebP and TIFF variants). The header is read first: a picture larger than
:data:`MAX_PIXELS` is refused with a message before anything is decoded.

Provenance (engine, model, parameters, seed) is written as JSON into a PNG ``iTXt`` chunk named
``studio:provenance``, or into an XMP packet for JPEG, WebP and TIFF, and read back by
:func:`read_provenance` ("reuse parameters").
"""

from __future__ import annotations

import html
import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.atomic import write_bytes

__all__ = [
    "Picture",
    "ImageError",
    "load_picture",
    "save_picture",
    "read_provenance",
    "MAX_PIXELS",
    "SAVE_SUFFIXES",
    "to_uint8",
]

MAX_PIXELS = 250_000_000  # 250 megapixels: about 1 GB as 8-bit RGBA, 2 GB at 16 bits
SAVE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
PROVENANCE_KEY = "studio:provenance"


class ImageError(ValueError):
    """A picture could not be read or written (the message says why)."""


@dataclass
class Picture:
    """An RGB or RGBA picture: ``pixels`` (H, W, 3|4) of uint8 or uint16."""

    pixels: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        p = np.asarray(self.pixels)
        if p.ndim == 2:
            p = np.repeat(p[..., None], 3, axis=2)
        if p.ndim != 3 or p.shape[2] not in (3, 4):
            raise ImageError(f"a picture is (height, width, 3 or 4), not {p.shape}")
        if p.dtype not in (np.uint8, np.uint16):
            raise ImageError(f"a picture is 8 or 16 bits per channel, not {p.dtype}")
        self.pixels = p

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])

    @property
    def depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def has_alpha(self) -> bool:
        return self.pixels.shape[2] == 4

    def rgb8(self) -> np.ndarray:
        """The colour channels as 8-bit RGB (what previews and 8-bit tools take)."""
        return to_uint8(self.pixels[..., :3])

    def copy(self) -> Picture:
        return Picture(self.pixels.copy(), dict(self.provenance), self.path)

    def to_image(self):
        """As the plugin API's 8-bit :class:`~studio.core.media.Image`."""
        from studio.core.media import Image

        return Image(to_uint8(self.pixels), dict(self.provenance))


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        return ((pixels.astype(np.uint32) + 128) // 257).astype(np.uint8)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def _header(path: Path) -> tuple[int, int]:
    from PIL import Image as PILImage

    PILImage.MAX_IMAGE_PIXELS = None  # Studio checks the size itself, with a clearer message
    try:
        with PILImage.open(path) as img:
            return img.size
    except OSError as exc:
        raise ImageError(f"cannot read {path.name}: not a picture, or damaged ({exc})") from None


def load_picture(path: str | Path, max_pixels: int = MAX_PIXELS) -> Picture:
    """Read ``path`` (PNG, JPEG, WebP, TIFF, BMP...). Keeps 16-bit depth and alpha; greyscale,
    palette and CMYK become RGB(A). Raises :class:`ImageError` for a missing, corrupt, truncated
    or too-large file."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ImageError(f"no such picture: {path}")
    width, height = _header(path)
    if width * height > max_pixels:
        raise ImageError(
            f"{path.name} is {width}x{height} ({width * height / 1e6:.0f} megapixels), larger "
            f"than the {max_pixels / 1e6:.0f} megapixels Studio opens; downscale or split it first"
        )
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)  # works with any characters in the path
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if decoded is not None and decoded.shape[:2] != (height, width):
        decoded = None  # OpenCV read part of it (an animated or multi-page file): use Pillow
    if decoded is None:
        pixels = _load_with_pillow(path)
    else:
        pixels = _from_cv(decoded)
    return Picture(pixels, read_provenance(path), path)


def _from_cv(decoded: np.ndarray) -> np.ndarray:
    import cv2

    if decoded.dtype not in (np.uint8, np.uint16):
        scaled = (
            np.clip(decoded.astype(np.float64), 0, 1) * 65535
            if decoded.dtype.kind == "f"
            else decoded
        )
        decoded = np.asarray(scaled).astype(np.uint16)
    if decoded.ndim == 2:
        return cv2.cvtColor(decoded, cv2.COLOR_GRAY2RGB)
    if decoded.shape[2] == 4:
        return cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def _load_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image as PILImage
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with PILImage.open(path) as img:
            img.load()
            mode = "RGBA" if ("A" in img.getbands() or "transparency" in img.info) else "RGB"
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                grey = np.asarray(img, dtype=np.uint16)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(img.convert(mode))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"cannot read {path.name}: damaged or truncated ({exc})") from None


# -- provenance ------------------------------------------------------------------------------------
def _xmp_packet(provenance: dict[str, Any]) -> bytes:
    text = html.escape(json.dumps(provenance, sort_keys=True, default=str), quote=False)
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:studio="https://studio.invalid/ns/1.0/">'
        f"<studio:provenance>{text}</studio:provenance>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


_XMP_RE = re.compile(rb"<studio:provenance>(.*?)</studio:provenance>", re.S)


def _png_itxt(keyword: str, text: str) -> bytes:
    body = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return (
        struct.pack(">I", len(body))
        + b"iTXt"
        + body
        + struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    )


def _jpeg_with_xmp(data: bytes, xmp: bytes) -> bytes:
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    if len(payload) + 2 > 65535:
        raise ImageError("the provenance is too long for a JPEG; save as PNG")
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment + data[2:]  # right after the SOI marker


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance Studio wrote into ``path`` ({} when there is none or it is unreadable)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    text: str | None = None
    if data.startswith(b"\x89PNG"):
        text = _png_text(data, PROVENANCE_KEY)
    if text is None:
        match = _XMP_RE.search(data)
        if match:
            text = html.unescape(match.group(1).decode("utf-8", "replace"))
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _png_text(data: bytes, keyword: str) -> str | None:
    pos = 8
    key = keyword.encode("latin-1") + b"\x00"
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"iTXt" and body.startswith(key):
            rest = body[len(key) :]
            compressed = rest[0] == 1
            rest = rest[2:]
            rest = rest[rest.index(b"\x00") + 1 :]  # language tag
            rest = rest[rest.index(b"\x00") + 1 :]  # translated keyword
            return (zlib.decompress(rest) if compressed else rest).decode("utf-8", "replace")
        if kind == b"IEND":
            break
        pos += 12 + length
    return None


# -- writing ---------------------------------------------------------------------------------------
def save_picture(
    picture: Picture, path: str | Path, quality: int = 95, provenance: bool = True
) -> Path:
    """Write ``picture`` to ``path``; the format follows the suffix. PNG and TIFF keep 16 bits
    and alpha; WebP keeps alpha at 8 bits; JPEG is 8-bit RGB (alpha is flattened onto white).
    The file is written atomically (``studio.core.atomic``: a failure leaves the old file intact)
    with the user's umask, 0644 by default. Returns the path; raises :class:`ImageError`."""
    import cv2

    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in SAVE_SUFFIXES:
        raise ImageError(f"cannot save {path.name}: use {', '.join(SAVE_SUFFIXES)}")
    pixels = picture.pixels
    info = dict(picture.provenance) if provenance else {}
    if suffix in (".jpg", ".jpeg", ".webp") and pixels.dtype == np.uint16:
        pixels = to_uint8(pixels)
    if suffix in (".jpg", ".jpeg") and pixels.shape[2] == 4:
        alpha = pixels[..., 3:4].astype(np.float32) / 255.0
        pixels = (pixels[..., :3] * alpha + 255 * (1 - alpha) + 0.5).astype(np.uint8)
    if suffix in (".tif", ".tiff"):
        data = _tiff_bytes(pixels, info)
    elif suffix == ".webp":
        data = _webp_bytes(pixels, info, quality)
    else:
        code = cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix in (".jpg", ".jpeg") else []
        ok, encoded = cv2.imencode(suffix, cv2.cvtColor(pixels, code), params)
        if not ok:
            raise ImageError(f"could not encode {path.name}")
        data = encoded.tobytes()
        if info and suffix == ".png":
            text = json.dumps(info, sort_keys=True, default=str)
            data = data[:-12] + _png_itxt(PROVENANCE_KEY, text) + data[-12:]  # before IEND
        elif info:
            data = _jpeg_with_xmp(data, _xmp_packet(info))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(path, data)  # atomic, with the user's umask (0644 by default)
    except OSError as exc:
        raise ImageError(f"could not write {path}: {exc.strerror or exc}") from exc
    return path


def _tiff_bytes(pixels: np.ndarray, info: dict[str, Any]) -> bytes:
    import io

    import tifffile

    buffer = io.BytesIO()
    extratags = []
    if info:
        xmp = _xmp_packet(info)
        extratags.append((700, "B", len(xmp), xmp, True))
    tifffile.imwrite(
        buffer,
        pixels,
        photometric="rgb",
        extrasamples=("unassalpha",) if pixels.shape[2] == 4 else None,
        compression="zlib",
        extratags=extratags,
    )
    return buffer.getvalue()


def _webp_bytes(pixels: np.ndarray, info: dict[str, Any], quality: int) -> bytes:
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    mode = "RGBA" if pixels.shape[2] == 4 else "RGB"
    image = PILImage.fromarray(np.ascontiguousarray(pixels), mode)
    kwargs: dict[str, Any] = {"quality": int(quality)}
    if info:
        kwargs["xmp"] = _xmp_packet(info)
    image.save(buffer, "WEBP", **kwargs)
    return buffer.getvalue()
