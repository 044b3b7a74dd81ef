"""Printing text that came from files (titles, file names, MIDI track names, plugin manifests) to
a terminal without letting it drive the terminal.

A MIDI track named ``"\\x1b]0;evil\\x07"`` would retitle the window, ``"\\x1b[2J"`` clear the
screen; every CLI line that shows user data passes it through :func:`printable` first, which
shows such characters as escapes (``\\x1b``) instead.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates (they reorder what
# follows on the line, so a file name could show as another).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``str(value)`` with every control character (escape, bell, newline, tab, DEL, C1
    controls, bidi overrides) written as a visible escape such as ``\\x1b``; other text as is."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub(_escape, text)
