"""TOML read within bounds: size, nesting depth and dotted-key length are checked on the text
before :mod:`tomllib` parses it.

tomllib recurses once per nested array or inline table (a few thousand ``[`` end in
RecursionError) and a dotted key of 100,000 parts uses gigabytes; the settings file and plugin
manifests are read with this instead, so such a file gives a message, not a crash.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

__all__ = ["TomlError", "loads", "MAX_DEPTH", "MAX_BYTES", "MAX_DOTS"]

#: The deepest nesting of arrays, inline tables and tables (``[a]`` is 1, ``[[a]]`` 2).
MAX_DEPTH = 32
#: The most parts one dotted key may have (``a.b.c`` has 3).
MAX_DOTS = 32
#: The largest file read.
MAX_BYTES = 2**20


class TomlError(ValueError):
    """The text is not TOML, or breaks a bound; the message says which, in words."""


# What matters outside strings: quotes open strings, # a comment, brackets nest, and the
# separators end a key (so the dots of one dotted key are counted together).
_SPECIAL = re.compile(r"""["'#\[\]{}=,\n.]""")
_BASIC = re.compile(r'(?:[^"\\\n]|\\.)*"')
_LITERAL = re.compile(r"[^'\n]*'")
_ML_BASIC = re.compile(r'(?:[^"\\]|\\.|"(?!""))*"""', re.DOTALL)
_ML_LITERAL = re.compile(r"(?:[^']|'(?!''))*'''", re.DOTALL)


def _scan(text: str, max_depth: int, max_dots: int) -> tuple[int, int]:
    """(deepest nesting, most parts of one key) outside strings and comments. Stops as soon as
    one passes its bound (so a pathological file costs little), or at an unterminated string
    (tomllib then says what is wrong)."""
    depth = deepest = dots = most = 0
    pos = 0
    while True:
        found = _SPECIAL.search(text, pos)
        if found is None:
            break
        ch, pos = found.group(), found.end()
        if ch == '"' or ch == "'":
            triple = text.startswith(ch * 2, pos)
            pattern = (_ML_BASIC if ch == '"' else _ML_LITERAL) if triple else (
                _BASIC if ch == '"' else _LITERAL)  # fmt: skip
            end = pattern.match(text, pos + 2 if triple else pos)
            if end is None:
                break
            pos = end.end()
            if triple:  # up to two more quotes belong to the string (5 quotes: 2 and a close)
                for _ in range(2):
                    if text.startswith(ch, pos):
                        pos += 1
        elif ch == "#":
            newline = text.find("\n", pos)
            if newline < 0:
                break
            pos = newline
        elif ch == ".":
            dots += 1
            most = max(most, dots)
            if most >= max_dots:
                break
        else:
            dots = 0
            if ch in "[{":
                depth += 1
                deepest = max(deepest, depth)
                if deepest > max_depth:
                    break
            elif ch in "]}":
                depth -= 1
    return deepest, most + 1


def _deepest_value(data: Any, limit: int) -> int:
    """How deeply the parsed value nests (iteratively; stops counting past ``limit``)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def loads(
    text: str | bytes,
    source: str = "TOML",
    *,
    max_depth: int = MAX_DEPTH,
    max_dots: int = MAX_DOTS,
    max_bytes: int = MAX_BYTES,
) -> dict[str, Any]:
    """Parse ``text`` (str, or UTF-8 bytes) as TOML within the bounds.

    Returns the parsed tables. Raises :class:`TomlError` (a message naming ``source``) for text
    that is not UTF-8 or not TOML, larger than ``max_bytes``, nested deeper than ``max_depth``,
    or with a key of more than ``max_dots`` parts."""
    size = len(text)
    if size > max_bytes:
        raise TomlError(
            f"{source} is {size:,} bytes; at most {max_bytes:,} are read (is it the right file?)"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TomlError(f"{source} is not UTF-8 text (byte {exc.start})") from None
    deepest, parts = _scan(text, max_depth, max_dots)
    if deepest > max_depth:
        raise TomlError(f"{source} nests values more than {max_depth} levels deep")
    if parts > max_dots:
        raise TomlError(f"{source} has a dotted key of more than {max_dots} parts")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(f"{source} is not valid TOML ({exc})") from None
    except RecursionError:  # the scan stopped early at a broken string; tomllib went on
        raise TomlError(f"{source} nests values too deeply; at most {max_depth}") from None
    except ValueError as exc:  # an integer of thousands of digits, say
        raise TomlError(f"{source} holds a value TOML cannot read ({exc})") from None
    if _deepest_value(data, max_depth) > max_depth:
        raise TomlError(f"{source} nests values more than {max_depth} levels deep")
    return data
