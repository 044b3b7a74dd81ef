"""Fuzzing the picture readers (issue 18): PNG chunks (text chunks that inflate to gigabytes,
headers that claim huge sizes), JPEG with XMP (unclosed and repeated ``<studio:provenance>``),
mutated real files of every format Studio writes, and random bytes.

The property: reading a file as ``image info``, ``--reuse`` and the Image panel do ends in a
picture or in one :class:`~studio.image.io.ImageError` in words, within a time and memory budget,
and no C library (libpng, libjpeg, OpenCV) prints on stderr, nor Pillow warns. Inputs that once
failed are kept in ``corpus_image/`` (named by how they failed, with their suffix) and run every
time; ``make fuzz`` leaves new ones in ``build/fuzz/failures/image/``.
"""

from __future__ import annotations

import inspect
import json
import os
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import oracle
from tests.fuzz.mutation import apply_edit, edits
from tests.image import bombs

# Budgets per case, under tracemalloc (several times slower than a plain run). Pictures are
# read with a 2-megapixel limit (what the limits do is the same at any size; 2 MP keep the
# budget small): a legitimate case decodes at most 2 MP x 4 channels x 16 bits = 16 MiB, and its
# 8-bit copy goes through 32-bit integers. A metadata bomb of 64 MiB, inflated, breaks it.
IMAGE_SECONDS, IMAGE_MIB = 4.0, 96.0
FUZZ_PIXELS = 2_000_000
CORPUS = Path(__file__).parent / "corpus_image"
_FOLDER = Path(tempfile.mkdtemp(prefix="studio-fuzz-image-"))
_LONG = os.environ.get("STUDIO_FUZZ") == "fuzz"


class ChatterLeaked(AssertionError):
    """A C library printed on stderr, or Pillow warned: the user would see its line before
    Studio's."""


def _read(data: bytes, suffix: str) -> None:
    """What ``image info``, the panel's Open and ``generate --reuse`` do with a file."""
    from studio.image.io import ImageError, load_picture, read_provenance

    path = _FOLDER / f"case{suffix}"
    path.write_bytes(data)
    strict = "strict" in inspect.signature(read_provenance).parameters  # after issue 18
    try:
        read_provenance(path, strict=True) if strict else read_provenance(path)
    except ImageError:
        pass  # --reuse refuses it with a message; the picture may still open
    picture = load_picture(path, max_pixels=FUZZ_PIXELS)
    picture.rgb8()
    json.dumps(picture.provenance, default=str)


def image(data: bytes, suffix: str = ".png") -> None:
    """:func:`_read`, with file descriptor 2 watched: a library line printed there fails."""
    sink = tempfile.TemporaryFile()
    saved = os.dup(2)
    os.dup2(sink.fileno(), 2)
    try:
        with warnings.catch_warnings(record=True) as caught:  # Pillow's "Truncated File Read"
            warnings.simplefilter("always")
            _read(data, suffix)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        sink.seek(0)
        leaked = sink.read(2000).decode("utf-8", "replace").strip()
        sink.close()
    if leaked:
        raise ChatterLeaked(f"printed on stderr: {leaked[:300]}")
    if caught:
        raise ChatterLeaked(f"warned: {caught[0].category.__name__}: {caught[0].message}")


def check(data: bytes, suffix: str) -> str:
    return oracle.check(
        "image", lambda: image(data, suffix), data, seconds=IMAGE_SECONDS, mib=IMAGE_MIB
    )


# -- inputs ----------------------------------------------------------------------------------------
def _seeds() -> list[tuple[bytes, str]]:
    from studio.image.io import Picture, save_picture

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    rgb[:12] = 90  # some flat area, so the compressors make real structure
    rgba = np.dstack([rgb, rng.integers(0, 256, (24, 32), dtype=np.uint8)])
    deep = rgb.astype(np.uint16) * 257
    info = {"engine": "studio/pattern", "params": {"seed": 3, "zoom": 1.5}, "note": "<&>"}
    out = []
    for pixels, suffix in (
        (rgb, ".png"), (rgba, ".png"), (deep, ".png"), (rgb, ".jpg"), (rgba, ".webp"),
        (deep, ".tif"),
    ):  # fmt: skip
        path = save_picture(Picture(pixels, info), _FOLDER / f"seed{len(out)}{suffix}")
        out.append((path.read_bytes(), suffix))
    return out


SEEDS = _seeds()


def _plain_jpeg() -> bytes:
    """A JPEG with no provenance (one with it would close an unclosed block further on)."""
    import cv2

    pixels = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return cv2.imencode(".jpg", pixels)[1].tobytes()


_edit = edits("repeat", 1 << 16, 8)


@st.composite
def mutated(draw) -> tuple[bytes, str]:
    seed, suffix = draw(st.sampled_from(SEEDS))
    data = bytearray(seed)
    for kind, at, blob in draw(st.lists(_edit, max_size=6)):
        at %= max(1, len(data))
        if not apply_edit(data, kind, at, blob):  # repeat
            data[at:at] = data[at : at + 16] * (blob[0] % 32)
    return bytes(data), suffix


_KEYWORDS = st.sampled_from([b"studio:provenance", b"Comment", b"XML:com.adobe.xmp", b""])
_JSONISH = st.one_of(
    st.just(b'{"engine": "x", "params": {"seed": 1}}'),
    st.just(b'{"params": [1, 2]}'),
    st.integers(1, 200_000).map(lambda n: b"[" * n),  # nesting past the recursion limit
    st.binary(max_size=64),
)


@st.composite
def text_chunk(draw) -> bytes:
    kind = draw(st.sampled_from([b"iTXt", b"zTXt", b"tEXt"]))
    key = draw(_KEYWORDS)
    if draw(st.integers(0, 3)) == 0:  # a bomb: a few KB that inflate to up to 64 MiB
        size = draw(st.sampled_from([1 << 20, (1 << 20) + 1, 8 << 20, 64 << 20]))
        packed = bombs.zeros_deflated(size)
        compressed = True
    else:
        text = draw(_JSONISH)
        compressed = kind == b"zTXt" or draw(st.booleans())
        import zlib

        packed = zlib.compress(text) if compressed else text
        if draw(st.integers(0, 9)) == 0:
            packed = packed[: draw(st.integers(0, len(packed)))]  # a cut stream
    if kind == b"tEXt":
        body = key + b"\x00" + packed
    elif kind == b"zTXt":
        body = key + b"\x00\x00" + packed
    else:
        body = key + b"\x00" + (b"\x01\x00" if compressed else b"\x00\x00") + b"\x00\x00" + packed
    return bombs.chunk(kind, body)


@st.composite
def png_generated(draw) -> tuple[bytes, str]:
    small = st.integers(1, 64)
    huge = st.sampled_from([0, 2000, 15_780, 40_000, 1 << 20, 0x7FFFFFFF, 0xFFFFFFFF])
    width = draw(st.one_of(small, small, huge))
    height = draw(st.one_of(small, small, huge))
    bits, colour = draw(
        st.one_of(
            st.sampled_from([(8, 2), (16, 2), (8, 6), (16, 6), (8, 0), (16, 0), (8, 4)]),
            st.tuples(st.integers(0, 255), st.integers(0, 255)),
        )
    )
    chunks = b"".join(draw(st.lists(text_chunk(), max_size=3)))
    if draw(st.booleans()):
        chunks += bombs.chunk(b"tRNS", draw(st.binary(max_size=6)))
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour, 3)
    raw = (1 + width * channels * max(bits, 1) // 8) * height
    if raw <= 64 << 20 and draw(st.booleans()):
        pixels = bombs.zeros_deflated(raw)  # a valid black picture of that size
    else:
        pixels = draw(st.binary(max_size=200))
    try:
        data = bombs.png(width, height, bits % 256, colour, chunks, pixels=pixels)
    except KeyError:  # a colour type png() has no channel count for: write the header by hand
        ihdr = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 0)
        data = b"\x89PNG\r\n\x1a\n" + bombs.chunk(b"IHDR", ihdr) + chunks
        data += bombs.chunk(b"IDAT", pixels) + bombs.chunk(b"IEND", b"")
    return data, ".png"


_XMP_PIECES = st.sampled_from(
    [b"<studio:provenance>", b"</studio:provenance>", b"{", b"}", b'"params": {"seed": 1}',
     b"&amp;", b"&#x41;", b"&#99999999999;", b"<x:xmpmeta>", b"\xff\xd9", b"\x00"]
)  # fmt: skip


@st.composite
def jpeg_xmp(draw) -> tuple[bytes, str]:
    jpeg = _plain_jpeg()
    if draw(st.integers(0, 4)) == 0:  # the old regex took 7 s for 100 KB of these, 80 s for 300
        sizes = [0, 1000, 20_000, 60_000, 100_000] if _LONG else [0, 1000, 20_000]
        return bombs.jpeg_with_unclosed_xmp(jpeg, draw(st.sampled_from(sizes))), ".jpg"
    pieces = draw(st.lists(st.tuples(_XMP_PIECES, st.integers(1, 400)), max_size=8))
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + b"".join(p * n for p, n in pieces)[:65000]
    declared = len(xmp) + 2 if draw(st.integers(0, 4)) else draw(st.integers(0, 0xFFFF))
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", declared) + xmp + jpeg[2:], ".jpg"


IMAGE_INPUTS = st.one_of(
    mutated(),
    png_generated(),
    jpeg_xmp(),
    st.tuples(st.binary(max_size=300), st.sampled_from([".png", ".jpg", ".tif", ".webp"])),
)


# -- the tests -------------------------------------------------------------------------------------
@given(IMAGE_INPUTS)
@example((bombs.metadata_bomb(64 << 20), ".png"))  # the metadata bomb, smaller
@example((bombs.png(15_780, 15_780, bits=16), ".png"))  # the 249-megapixel PNG
def test_any_picture_file_ends_in_a_picture_or_a_message(case):
    data, suffix = case
    check(data, suffix)


CASES = sorted(p for p in CORPUS.glob("*") if p.is_file())


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_a_picture_that_once_failed_now_ends_in_a_picture_or_a_message(path):
    check(path.read_bytes(), path.suffix or ".png")
