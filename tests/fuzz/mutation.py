"""Byte-level mutation shared by the fuzz targets that start from real files (MIDI, pictures,
plugin manifests): hypothesis draws edits, each target adds one edit kind of its own."""

from __future__ import annotations

from hypothesis import strategies as st

COMMON = ("set", "insert", "delete", "truncate")


def edits(own: str, max_at: int, max_blob: int):
    """Edits ``(kind, at, blob)``: the common kinds plus the target's ``own`` kind."""
    return st.tuples(
        st.sampled_from([*COMMON, own]),
        st.integers(0, max_at),
        st.binary(min_size=1, max_size=max_blob),
    )


def apply_edit(data: bytearray, kind: str, at: int, blob: bytes) -> bool:
    """Apply a common edit at ``at`` (already within ``data``); False for the target's own kind,
    which the caller applies."""
    if kind == "set":
        data[at : at + len(blob)] = blob
    elif kind == "insert":
        data[at:at] = blob
    elif kind == "delete":
        del data[at : at + len(blob)]
    elif kind == "truncate":
        del data[at:]
    else:
        return False
    return True
