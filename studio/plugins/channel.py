"""The typed channel between Studio and an isolated plugin worker: data, never code.

A frame is a JSON header plus raw byte buffers::

    !II (JSON length, buffer count) | JSON | for each buffer: !Q length | bytes

The JSON is a control message (``{"type": "run", ...}``). Values inside it are plain JSON, or a
tagged object for what JSON lacks:

- ``{"__nd": i, "dtype": "<f4", "shape": [..]}``: a NumPy array whose bytes are buffer ``i``
  (numeric and bool dtypes only: an object array would carry code);
- ``{"__b": i}``: bytes; ``{"__t": [...]}``: a tuple; ``{"__d": [[k, v], ...]}``: a dict whose
  keys are not all strings;
- ``{"__m": "MidiClip", "f": {...}}``: one of the media types of :mod:`studio.core.media`, made
  again from its fields through its constructor (which checks them).

Nothing is unpickled: a worker can send Studio a wrong value, never a function to call.
"""

from __future__ import annotations

import dataclasses
import json
import select
import socket
import struct
import time
from typing import Any

__all__ = ["ChannelError", "encode", "decode", "send", "recv", "MAX_JSON", "MAX_BUFFER"]

MAX_JSON = 64 * 1024 * 1024
MAX_BUFFER = 8 * 1024 * 1024 * 1024
_HEAD = struct.Struct("!II")
_LEN = struct.Struct("!Q")
_MEDIA = ("Note", "MidiClip", "AudioClip", "Image", "Mask", "Scores")
_NUMERIC_KINDS = "biufc"


class ChannelError(RuntimeError):
    """A frame or a value that the channel does not carry (the message says what)."""


def _media_types() -> dict[str, type]:
    from studio.core import media

    return {name: getattr(media, name) for name in _MEDIA}


def encode(value: Any, buffers: list[bytes | memoryview]) -> Any:
    """``value`` as JSON-able data; array and byte payloads are appended to ``buffers``.
    Raises ChannelError for a value the channel does not carry."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [encode(v, buffers) for v in value]
    if isinstance(value, tuple):
        return {"__t": [encode(v, buffers) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: encode(v, buffers) for k, v in value.items()}
        return {"__d": [[encode(k, buffers), encode(v, buffers)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray, memoryview)):
        buffers.append(bytes(value))
        return {"__b": len(buffers) - 1}
    module = type(value).__module__
    if module == "numpy" or module.startswith("numpy."):
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.dtype.kind not in _NUMERIC_KINDS or value.dtype.hasobject:
                raise ChannelError(f"an array of dtype {value.dtype} cannot be carried")
            array = np.ascontiguousarray(value)
            buffers.append(array.data.cast("B") if array.size else b"")
            return {"__nd": len(buffers) - 1, "dtype": array.dtype.str,
                    "shape": list(array.shape)}  # fmt: skip
        if isinstance(value, np.generic):
            return encode(value.item(), buffers)
    name = type(value).__name__
    if name in _MEDIA and dataclasses.is_dataclass(value) and module == "studio.core.media":
        fields = {f.name: encode(getattr(value, f.name), buffers)
                  for f in dataclasses.fields(value) if f.init}  # fmt: skip
        return {"__m": name, "f": fields}
    if module == "pathlib" or module.startswith("pathlib."):
        return str(value)
    raise ChannelError(f"a value of type {type(value).__name__} cannot be carried")


def decode(data: Any, buffers: list[bytes]) -> Any:
    """The value :func:`encode` made. Raises ChannelError on anything malformed."""
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, buffers) for v in data]
    if not isinstance(data, dict):
        raise ChannelError(f"unexpected {type(data).__name__} in a frame")
    try:
        if "__t" in data:
            return tuple(decode(v, buffers) for v in data["__t"])
        if "__d" in data:
            return {_hashable(decode(k, buffers)): decode(v, buffers) for k, v in data["__d"]}
        if "__b" in data:
            return bytes(buffers[int(data["__b"])])
        if "__nd" in data:
            return _array(data, buffers)
        if "__m" in data:
            cls = _media_types().get(str(data["__m"]))
            if cls is None:
                raise ChannelError(f"unknown media type {data['__m']!r}")
            fields = {str(k): decode(v, buffers) for k, v in dict(data["f"]).items()}
            if cls.__name__ == "MidiClip":  # (beat, bpm) pairs are tuples on the Studio side
                for key in ("tempo_changes", "meter_changes"):
                    if isinstance(fields.get(key), list):
                        fields[key] = [tuple(v) for v in fields[key]]
            return cls(**fields)
    except ChannelError:
        raise
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise ChannelError(f"a malformed value in a frame ({type(exc).__name__}: {exc})") from None
    return {str(k): decode(v, buffers) for k, v in data.items()}


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    return key


def _array(data: dict[str, Any], buffers: list[bytes]) -> Any:
    import numpy as np

    dtype = np.dtype(str(data["dtype"]))
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject:
        raise ChannelError(f"an array of dtype {dtype} is refused")
    shape = tuple(int(n) for n in data["shape"])
    raw = buffers[int(data["__nd"])]
    count = 1
    for n in shape:
        if n < 0:
            raise ChannelError("a negative array dimension")
        count *= n
    if count * dtype.itemsize != len(raw):
        raise ChannelError(f"array bytes ({len(raw)}) do not match shape {shape} of {dtype}")
    # a copy: writable, and independent of the receive buffer
    return (
        np.frombuffer(raw, dtype=dtype).reshape(shape).copy() if count else np.zeros(shape, dtype)
    )


# -- frames -------------------------------------------------------------------------------------
def send(sock: socket.socket, message: dict[str, Any]) -> None:
    """Send one message (a dict with a ``type``), its media as raw buffers."""
    buffers: list[bytes | memoryview] = []
    header = json.dumps(encode(message, buffers), separators=(",", ":")).encode()
    if len(header) > MAX_JSON:
        raise ChannelError(f"a message of {len(header)} bytes of JSON is too large")
    parts: list[bytes | memoryview] = [_HEAD.pack(len(header), len(buffers)), header]
    for buf in buffers:
        parts += [_LEN.pack(len(buf)), buf]
    for part in parts:
        sock.sendall(part)


class Closed(ChannelError):
    """The other end closed the channel."""


def _exact(sock: socket.socket, size: int, deadline: float | None) -> bytes:
    view = bytearray(size)
    got = 0
    while got < size:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("a frame did not arrive in time")
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                raise TimeoutError("a frame did not arrive in time")
        n = sock.recv_into(memoryview(view)[got:], size - got)
        if n == 0:
            raise Closed("the channel closed")
        got += n
    return bytes(view)


def recv(sock: socket.socket, deadline: float | None = None) -> dict[str, Any]:
    """Receive one message. Raises Closed at the end, TimeoutError past ``deadline`` (a
    ``time.monotonic()`` value) and ChannelError on a malformed frame."""
    size, count = _HEAD.unpack(_exact(sock, _HEAD.size, deadline))
    if size > MAX_JSON or count > 1_000_000:
        raise ChannelError(f"a frame header announces {size} bytes and {count} buffers")
    try:
        data = json.loads(_exact(sock, size, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChannelError(f"a frame is not JSON ({exc})") from None
    buffers = []
    for _ in range(count):
        (length,) = _LEN.unpack(_exact(sock, _LEN.size, deadline))
        if length > MAX_BUFFER:
            raise ChannelError(f"a buffer of {length} bytes is too large")
        buffers.append(_exact(sock, length, deadline))
    message = decode(data, buffers)
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ChannelError("a message without a type")
    return message


def readable(sock: socket.socket, timeout: float) -> bool:
    ready, _, _ = select.select([sock], [], [], max(0.0, timeout))
    return bool(ready)
