"""Small files that claim to be huge, as the issue 18 fuzzing found them: a 2 MB PNG of 249
megapixels at 16 bits, a PNG whose metadata inflates to a gigabyte, a JPEG with an unclosed
``<studio:provenance>`` block. Made in a second or two, by repeating one flushed deflate block
instead of compressing gigabytes."""

from __future__ import annotations

import struct
import zlib


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def zeros_deflated(size: int, block: int = 1 << 20) -> bytes:
    """A zlib stream of ``size`` zero bytes, made without compressing them all: after a full
    flush a raw deflate stream forgets its window, so every block of zeros compresses to the
    same bytes, and the Adler-32 of zeros is known (a = 1, b = size)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = comp.compress(bytes(block)) + comp.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(size, block)
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = last.compress(bytes(rest)) + last.flush(zlib.Z_FINISH)
    adler = ((size % 65521) << 16) | 1
    return b"\x78\xda" + one * count + tail + struct.pack(">I", adler)


def png(
    width: int, height: int, bits: int = 8, colour: int = 2, chunks: bytes = b"", pixels=None
) -> bytes:
    """A PNG of ``width`` x ``height`` black pixels (colour type 2: RGB), with ``chunks`` before
    the pixels. The pixels are zeros with filter 0, so their stream is all zeros."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    row = 1 + width * channels * bits // 8
    data = pixels if pixels is not None else zeros_deflated(row * height)
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunks
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def huge_png() -> bytes:
    """The issue's 1.9 MB PNG: 15,780 x 15,780 (249 megapixels) at 16 bits, RGB."""
    return png(15_780, 15_780, bits=16)


def metadata_bomb(size: int = 1 << 30, keyword: bytes = b"studio:provenance") -> bytes:
    """A 4x4 PNG whose compressed iTXt chunk ``keyword`` inflates to ``size`` bytes (1 GiB)."""
    body = keyword + b"\x00\x01\x00\x00\x00" + zeros_deflated(size)
    return png(4, 4, chunks=chunk(b"iTXt", body))


def jpeg_with_unclosed_xmp(jpeg: bytes, size: int = 1 << 20) -> bytes:
    """``jpeg`` with an APP1 XMP packet whose ``<studio:provenance>`` never closes, then
    ``size`` more bytes of the same opening tag in a comment (what made the old regex crawl)."""
    opening = b"<studio:provenance>"
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + opening + b"{" * 1000
    app1 = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    filler = (opening * (size // len(opening) + 1))[:size]
    comments = b""
    for at in range(0, len(filler), 65000):
        piece = filler[at : at + 65000]
        comments += b"\xff\xfe" + struct.pack(">H", len(piece) + 2) + piece
    return jpeg[:2] + app1 + comments + jpeg[2:]
