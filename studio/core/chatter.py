"""What C libraries print on stderr (libpng, libjpeg, libtiff, OpenCV, FFmpeg), caught at the
file-descriptor level around a call and turned into Studio's own words, or dropped.

Those libraries write straight to file descriptor 2, so ``contextlib.redirect_stderr`` never sees
them: a truncated PNG printed ``libpng error: PNG input buffer is incomplete`` before Studio's
own message. :func:`captured_stderr` points descriptor 2 at a temporary file for the length of a
``with`` block; afterwards :class:`Chatter` says what the libraries said (:meth:`Chatter.summary`
for a message, :meth:`Chatter.warnings` for what is worth telling the user about a picture that
did decode). Lines that are not a library's (a Python warning from another thread) are written
back to the real stderr, so nothing of Studio's own is lost.

Descriptor 2 is one per process, so captures are serialised by a lock; keep the blocks short (a
decode, the opening of a file), never around a whole job.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["Chatter", "captured_stderr", "is_library_line", "MAX_CHATTER_BYTES", "STDERR_LOCK"]

#: At most this much of what the libraries print is read back (a corrupt file can make libjpeg
#: print a line per damaged block).
MAX_CHATTER_BYTES = 64 * 1024

# What the C libraries' own lines look like. libjpeg's messages have no prefix, so they are
# matched by their words (jerror.h).
_LIBRARY = re.compile(
    r"^(libpng (warning|error)"
    r"|libtiff|TIFF\w*:"
    r"|Corrupt JPEG data|Premature end of JPEG|Invalid (JPEG|SOS|component)|Bogus "
    r"|Not a JPEG file|JPEG datastream|Unsupported JPEG|Improper call to JPEG"
    r"|Quantization table|Huffman table|Warning: unknown JFIF|Inconsistent progression"
    r"|Application transferred too few|Suspension not allowed"
    r"|\[ ?(WARN|ERROR|INFO|DEBUG)\s*:"  # OpenCV's logger: [ WARN:0@0.1] global ...
    r"|OpenCV\(|\[\w[\w\s-]* @ 0x[0-9a-f]+\]"  # OpenCV's errors, FFmpeg's [h264 @ 0x...] lines
    r"|libwebp|WebP|GIF|gif)",
    re.IGNORECASE,
)
# Warnings that say nothing about the picture the user gets (a colour profile libpng dislikes).
_HARMLESS = re.compile(
    r"iCCP|sRGB|profile|cHRM|gAMA|[itz]TXt|tEXt"
    r"|extraneous bytes before marker|unknown JFIF|Unknown field",
    re.IGNORECASE,
)
_ERROR = re.compile(r"error|premature|truncat|incomplete|corrupt|invalid|bad|not a", re.I)

#: Held by whoever points file descriptor 2 elsewhere for a moment (here, and
#: :func:`studio.core.syslibs.quiet_stderr`): two threads doing it at once could each restore the
#: other's target and leave stderr pointing at a deleted file.
STDERR_LOCK = threading.RLock()
_LOCK = STDERR_LOCK
_DEPTH = threading.local()


def is_library_line(line: str) -> bool:
    """Whether ``line`` is one a C library printed (rather than Python or Studio)."""
    return bool(_LIBRARY.match(line.strip()))


def _tidy(line: str) -> str:
    line = line.strip()
    line = re.sub(r"^\[ ?(WARN|ERROR|INFO|DEBUG)\s*:[^\]]*\]\s*(global\s+)?", "", line)
    line = re.sub(r"^\S+\.(cpp|c|hpp)\s*\(\d+\)\s*\w*\s*", "", line)  # OpenCV's source location
    return line[:200]


@dataclass
class Chatter:
    """The library lines caught by one :func:`captured_stderr` block."""

    lines: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines)

    def errors(self) -> list[str]:
        """The lines that say the data could not be read (tidied)."""
        return [_tidy(line) for line in self.lines if _ERROR.search(line)]

    def warnings(self) -> list[str]:
        """What is worth telling the user about a file that did decode: damage, in the
        library's words; colour-profile complaints and the like are dropped."""
        return [_tidy(line) for line in self.lines if not _HARMLESS.search(line)]

    def summary(self) -> str:
        """One short phrase for a message ("libpng error: PNG input buffer is incomplete"),
        or "" when the libraries said nothing of use."""
        picked = self.errors() or self.warnings()
        if not picked:
            return ""
        extra = len(picked) - 1
        return picked[0] + (f" (and {extra} more)" if extra else "")


@contextlib.contextmanager
def captured_stderr() -> Iterator[Chatter]:
    """Catch what C code writes to file descriptor 2 inside the block. The :class:`Chatter`
    yielded is filled in when the block ends (also when it raises). Nested blocks in one thread
    share the outer capture. Where descriptor 2 cannot be redirected, nothing is caught."""
    chatter = Chatter()
    depth = getattr(_DEPTH, "value", 0)
    if depth:
        yield chatter  # the outer block catches it all
        return
    with _LOCK:
        try:
            sink = tempfile.TemporaryFile()
        except OSError:
            yield chatter
            return
        with sink:
            try:
                sys.stderr.flush()
                saved = os.dup(2)
            except (OSError, ValueError, AttributeError):
                yield chatter
                return
            _DEPTH.value = 1
            try:
                os.dup2(sink.fileno(), 2)
                yield chatter
            finally:
                _DEPTH.value = 0
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    sys.stderr.flush()  # Python's own writes in the block go back out below
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read(MAX_CHATTER_BYTES).decode("utf-8", "replace")
                _sort(text, chatter)


def _sort(text: str, chatter: Chatter) -> None:
    others = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if is_library_line(line):
            chatter.lines.append(line.strip())
        else:
            others.append(line)
    if others:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write("\n".join(others) + "\n")
            sys.stderr.flush()
