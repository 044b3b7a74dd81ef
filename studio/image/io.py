"""Reading and writing pictures, keeping 16-bit depth and alpha, with provenance inside the file.

A :class:`Picture` is an RGB or RGBA array of uint8 or uint16. Files are decoded by OpenCV (16-bit
PNG and TIFF, alpha, greyscale), with Pillow as the fallback for what OpenCV cannot read (CMYK,
palette, some WebP and TIFF variants). The header is read first: a picture larger than
:data:`MAX_PIXELS`, or than :data:`MAX_DECODED_BYTES` once decoded, is refused with a message
before anything is decoded. What the decoders print on stderr or warn is caught
(:mod:`studio.core.chatter`): a refusal says it in Studio's words, damage on a picture that
still decodes goes to :attr:`Picture.warnings`.

Provenance (engine, model, parameters, seed) is written as JSON into a PNG ``iTXt`` chunk named
``studio:provenance``, or into an XMP packet for JPEG, WebP and TIFF, and read back by
:func:`read_provenance` ("reuse parameters") in bounded time and memory: at most
:data:`MAX_METADATA_BYTES` inflated, the XMP element found by linear search.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import struct
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.atomic import write_bytes
from studio.core.chatter import captured_stderr

__all__ = [
    "Picture",
    "ImageError",
    "PictureTooLarge",
    "load_picture",
    "save_picture",
    "read_provenance",
    "read_metadata",
    "read_header",
    "check_size",
    "Header",
    "MAX_PIXELS",
    "MAX_DECODED_BYTES",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_SCAN",
    "SAVE_SUFFIXES",
    "to_uint8",
]

# Limits, checked before the work (issue 18): a 2 MB PNG can claim 249 megapixels at 16 bits
# (1.5 GB decoded, 4 GB and 50 s with the copies), and a few KB of zlib inflate to a gigabyte.
#: pictures past this many pixels are refused from their header, before decoding
MAX_PIXELS = 200_000_000
#: nor are more than this many bytes of RGB(A) pixels decoded (width x height x channels x depth)
MAX_DECODED_BYTES = 1 << 30
#: one metadata text (a PNG text chunk inflated, an XMP element) is read up to this size
MAX_METADATA_BYTES = 1 << 20
#: outside PNG, the XMP packet is searched for in this many bytes at each end of the file
MAX_METADATA_SCAN = 16 << 20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAVE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")
PROVENANCE_KEY = "studio:provenance"


class ImageError(ValueError):
    """A picture could not be read or written (the message says why)."""


class PictureTooLarge(ImageError):
    """A picture is past :data:`MAX_PIXELS` or :data:`MAX_DECODED_BYTES` (from its header)."""


@dataclass
class Picture:
    """An RGB or RGBA picture: ``pixels`` (H, W, 3|4) of uint8 or uint16."""

    pixels: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    #: what reading it found wrong without refusing it (damage a decoder reported, metadata
    #: that was not read), in words
    warnings: list[str] = field(default_factory=list)

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
        return Picture(self.pixels.copy(), dict(self.provenance), self.path, list(self.warnings))

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


@dataclass
class Header:
    """What a picture's header says, read without decoding its pixels."""

    width: int
    height: int
    bits: int  # 8 or 16 per channel, as Studio will hold it
    alpha: bool

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decoded_bytes(self) -> int:
        """The bytes its RGB(A) pixels take once decoded."""
        return self.pixels * (4 if self.alpha else 3) * (2 if self.bits == 16 else 1)


def _png_header(path: Path) -> Header | None:
    """IHDR and tRNS of a PNG, read directly (Pillow reduces 16-bit RGB to 8 bits)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(33)
            if len(head) < 33 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
                return None
            width, height, bits, colour = struct.unpack(">IIBB", head[16:26])
            alpha = colour in (4, 6)
            if not alpha:
                for kind, _body, _whole in _png_chunks(fh, want=(b"tRNS",), stop=b"IDAT"):
                    alpha = kind == b"tRNS"
    except OSError as exc:
        raise ImageError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return Header(width, height, 16 if bits == 16 else 8, alpha)


@contextlib.contextmanager
def _quiet_pillow(notes: list[str]) -> Iterator[None]:
    """Pillow's Python warnings about a damaged file ("Truncated File Read", "Tag data larger
    than file") and the C libraries' stderr lines, caught; their words are added to ``notes``.
    (``warnings.catch_warnings`` is process-wide; a warning another thread raises meanwhile is
    shown when the block ends.)"""
    with captured_stderr() as chatter, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            mine = [w for w in caught if "PIL" in w.filename or "PIL" in str(w.category)]
            for w in caught:
                if w not in mine:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    notes.extend(str(w.message).strip()[:200] for w in mine)
    notes.extend(chatter.warnings())


def read_header(path: str | Path) -> Header:
    """Size, depth and alpha of the picture at ``path``, from its header alone (fast and small
    whatever the picture's size). Raises :class:`ImageError` for a file that is not a picture."""
    return _read_header(Path(path).expanduser(), [])


def _read_header(path: Path, notes: list[str]) -> Header:
    if not path.is_file():
        raise ImageError(f"no such picture: {path}")
    header = _png_header(path)
    if header is not None:
        return header
    from PIL import Image as PILImage

    PILImage.MAX_IMAGE_PIXELS = None  # Studio checks the size itself, with a clearer message
    try:
        with _quiet_pillow(notes), PILImage.open(path) as img:
            bands = img.getbands()
            bits = 16 if img.mode.startswith("I") or img.mode == "F" else 8
            if bits == 8 and hasattr(img, "tag_v2"):  # a TIFF says its depth in a tag
                samples = img.tag_v2.get(258)
                depth = max(samples) if isinstance(samples, tuple) and samples else samples
                bits = 16 if isinstance(depth, int) and depth > 8 else 8
            alpha = "A" in bands or "transparency" in img.info
            return Header(int(img.size[0]), int(img.size[1]), bits, alpha)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for damaged files
        raise ImageError(
            f"cannot read {path.name}: not a picture, or damaged ({_reason(exc)})"
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return text or type(exc).__name__


def check_size(header: Header, name: str, max_pixels: int = MAX_PIXELS) -> None:
    """Raise :class:`ImageError` when a picture of this header is past Studio's limits."""
    if header.width <= 0 or header.height <= 0:
        raise ImageError(f"{name} says it is {header.width}x{header.height}: damaged")
    if header.pixels > max_pixels:
        raise PictureTooLarge(
            f"{name} is {header.width}x{header.height} ({header.pixels / 1e6:.0f} megapixels), "
            f"larger than the {max_pixels / 1e6:.0f} megapixels Studio opens; downscale or "
            "split it first"
        )
    if header.decoded_bytes > MAX_DECODED_BYTES:
        raise PictureTooLarge(
            f"{name} is {header.width}x{header.height} at {header.bits} bits "
            f"({header.decoded_bytes / 2**20:,.0f} MiB once decoded), more than the "
            f"{MAX_DECODED_BYTES / 2**20:,.0f} MiB Studio decodes; downscale it or save it "
            "at 8 bits first"
        )


def load_picture(path: str | Path, max_pixels: int = MAX_PIXELS) -> Picture:
    """Read ``path`` (PNG, JPEG, WebP, TIFF, BMP...). Keeps 16-bit depth and alpha; greyscale,
    palette and CMYK become RGB(A). The header is checked against :data:`MAX_PIXELS` and
    :data:`MAX_DECODED_BYTES` before anything is decoded. What the decoders print (libpng,
    libjpeg, OpenCV) is caught: damage they report on a picture that still decodes goes to
    :attr:`Picture.warnings`, with any problem reading the metadata. Raises :class:`ImageError`
    for a missing, corrupt, truncated or too-large file."""
    path = Path(path).expanduser()
    notes: list[str] = []  # what the decoders said about damage
    header = _read_header(path, notes)
    check_size(header, path.name, max_pixels)
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)  # works with any characters in the path
    with captured_stderr() as chatter:
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    del data
    if decoded is not None and decoded.shape[:2] != (header.height, header.width):
        decoded = None  # OpenCV read part of it (an animated or multi-page file): use Pillow
    if decoded is None:
        pixels = _load_with_pillow(path, notes)  # OpenCV's complaint is moot: Pillow read it
    else:
        pixels = _from_cv(decoded)
        notes.extend(chatter.warnings())
    provenance, unread = read_metadata(path)
    said = [f"{path.name} may be damaged: {note}" for note in dict.fromkeys(notes)]
    return Picture(pixels, provenance, path, said[:3] + unread)


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


def _load_with_pillow(path: Path, notes: list[str]) -> np.ndarray:
    from PIL import Image as PILImage
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with _quiet_pillow(notes), PILImage.open(path) as img:
            img.load()
            mode = "RGBA" if ("A" in img.getbands() or "transparency" in img.info) else "RGB"
            if img.mode in ("I;16", "I;16B", "I;16L", "I"):
                grey = np.asarray(img, dtype=np.uint16)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(img.convert(mode))
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for damaged files
        said = _reason(exc)
        raise ImageError(f"cannot read {path.name}: damaged or truncated ({said})") from None


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


_XMP_OPEN, _XMP_CLOSE = b"<studio:provenance>", b"</studio:provenance>"


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


class _Unreadable(Exception):
    """The metadata is there but past a limit or damaged (the message says which)."""


def read_provenance(path: str | Path, strict: bool = False) -> dict[str, Any]:
    """The provenance Studio wrote into ``path`` ({} when there is none). Unreadable or
    too-large metadata gives {} too, or with ``strict`` (``--reuse``) an :class:`ImageError`
    saying why."""
    provenance, unread = read_metadata(path)
    if strict and unread:
        raise ImageError(unread[0])
    return provenance


def read_metadata(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """``(provenance, warnings)`` of the picture at ``path``, in bounded time and memory: a PNG's
    chunks are walked without reading its pixels, a text chunk is inflated to at most
    :data:`MAX_METADATA_BYTES`, other formats are searched for the XMP packet in their first and
    last :data:`MAX_METADATA_SCAN` bytes, linearly. A warning says why metadata that is there
    was not read."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            text = _png_provenance(fh, path.name) if fh.read(8) == PNG_SIGNATURE else None
            if text is None:
                text = _xmp_provenance(fh, path.name)
    except OSError:
        return {}, []
    except _Unreadable as exc:
        return {}, [str(exc)]
    if not text:
        return {}, []
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}, [f"the Studio parameters in {path.name} are damaged (not JSON); not read"]
    if not isinstance(value, dict):
        return {}, [f"the Studio parameters in {path.name} are not a table of values; not read"]
    return value, []


def _png_chunks(fh: Any, want: tuple[bytes, ...], stop: bytes = b"IEND") -> Any:
    """``(kind, body, whole)`` for each chunk of a PNG (``fh`` just past the signature) whose
    kind is in ``want``; others are skipped by seeking, so the pixels are never read. A body
    past :data:`MAX_METADATA_BYTES` comes as its first 100 bytes, ``whole`` False."""
    while True:
        head = fh.read(8)
        if len(head) < 8:
            return
        (length,) = struct.unpack(">I", head[:4])
        kind = head[4:8]
        if kind == stop or kind == b"IEND":
            return
        if kind not in want:
            fh.seek(length + 4, os.SEEK_CUR)
        elif length <= MAX_METADATA_BYTES:
            yield kind, fh.read(length), True
            fh.seek(4, os.SEEK_CUR)  # the CRC
        else:
            yield kind, fh.read(100), False
            fh.seek(length - 100 + 4, os.SEEK_CUR)


def _png_provenance(fh: Any, name: str) -> str | None:
    """The ``studio:provenance`` text chunk (iTXt as Studio writes it; tEXt and zTXt too)."""
    key = PROVENANCE_KEY.encode("latin-1") + b"\x00"
    for kind, body, whole in _png_chunks(fh, want=(b"iTXt", b"zTXt", b"tEXt")):
        if not body.startswith(key):
            continue  # another program's text
        if not whole:
            raise _Unreadable(
                f"the Studio parameters in {name} are larger than "
                f"{MAX_METADATA_BYTES // 2**20} MiB; not read"
            )
        rest = body[len(key) :]
        try:
            if kind == b"tEXt":
                return rest.decode("latin-1")
            if kind == b"zTXt":
                return _inflate(rest[1:], name).decode("latin-1")
            compressed = rest[0] == 1
            rest = rest[2:]
            rest = rest[rest.index(b"\x00") + 1 :]  # language tag
            rest = rest[rest.index(b"\x00") + 1 :]  # translated keyword
        except (IndexError, ValueError):
            raise _Unreadable(f"the Studio parameters in {name} are damaged; not read") from None
        return (_inflate(rest, name) if compressed else rest).decode("utf-8", "replace")
    return None


def _inflate(data: bytes, name: str) -> bytes:
    """zlib-inflate ``data`` to at most :data:`MAX_METADATA_BYTES` (a few KB can inflate to
    gigabytes)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_METADATA_BYTES + 1)
    except zlib.error:
        raise _Unreadable(f"the Studio parameters in {name} are damaged; not read") from None
    if len(out) > MAX_METADATA_BYTES:
        raise _Unreadable(
            f"the Studio parameters in {name} inflate to more than "
            f"{MAX_METADATA_BYTES // 2**20} MiB; not read"
        )
    return out


def _xmp_provenance(fh: Any, name: str) -> str | None:
    """The ``<studio:provenance>`` element of an XMP packet, found with two linear searches."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(0)
    parts = [fh.read(MAX_METADATA_SCAN)]
    if size > MAX_METADATA_SCAN:  # WebP and TIFF may keep XMP at the end
        fh.seek(max(MAX_METADATA_SCAN, size - MAX_METADATA_SCAN))
        parts.append(fh.read(MAX_METADATA_SCAN))
    for data in parts:
        start = data.find(_XMP_OPEN)
        if start < 0:
            continue
        start += len(_XMP_OPEN)
        end = data.find(_XMP_CLOSE, start, start + MAX_METADATA_BYTES + len(_XMP_CLOSE))
        if end < 0:
            closed = data.find(_XMP_CLOSE, start) >= 0
            raise _Unreadable(
                f"the Studio parameters in {name} are "
                + (f"longer than {MAX_METADATA_BYTES // 2**20} MiB" if closed else "cut off")
                + "; not read"
            )
        return html.unescape(data[start:end].decode("utf-8", "replace"))
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
