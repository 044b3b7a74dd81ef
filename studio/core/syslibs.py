"""The system libraries Qt and audio need, checked before Qt is imported, with the exact install
line.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import glob
import os
from collections.abc import Iterator

__all__ = [
    "missing_libraries",
    "install_line",
    "QT_BASE",
    "QT_XCB",
    "AUDIO",
    "display_problem",
    "quiet_stderr",
]

# library name for ctypes.util.find_library -> Debian package
QT_BASE: dict[str, str] = {
    "EGL": "libegl1",
    "GL": "libgl1",
    "fontconfig": "libfontconfig1",
    "xkbcommon": "libxkbcommon0",
    "glib-2.0": "libglib2.0-0",
    "dbus-1": "libdbus-1-3",
}
QT_XCB: dict[str, str] = {
    "xcb-cursor": "libxcb-cursor0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-image": "libxcb-image0",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-randr": "libxcb-randr0",
    "xcb-render-util": "libxcb-render-util0",
    "xcb-shape": "libxcb-shape0",
    "xcb-xfixes": "libxcb-xfixes0",
    "xcb-xkb": "libxcb-xkb1",
    "X11-xcb": "libx11-xcb1",
}
AUDIO: dict[str, str] = {"portaudio": "libportaudio2"}
FONT_PACKAGE = "fonts-dejavu-core"


def _has_font() -> bool:
    for root in (
        "/usr/share/fonts",
        "/usr/local/share/fonts",
        os.path.expanduser("~/.fonts"),
        os.path.expanduser("~/.local/share/fonts"),
    ):
        if glob.glob(os.path.join(root, "**", "*.[ot]tf"), recursive=True):
            return True
    return False


def missing_libraries(wanted: dict[str, str], *, finder=ctypes.util.find_library) -> list[str]:
    """Debian packages of the libraries in ``wanted`` that this machine lacks (in order, no
    repeats).
    """
    missing: list[str] = []
    for lib, package in wanted.items():
        if finder(lib) is None and package not in missing:
            missing.append(package)
    return missing


def qt_platform() -> str:
    """The Qt platform plugin in use: the env var, or xcb/wayland by the display found."""
    env = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0]
    if env:
        return env
    if os.environ.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb"


def missing_for_gui(finder=ctypes.util.find_library) -> list[str]:
    """Debian packages Qt needs on this machine for the platform in use (plus a font)."""
    wanted = dict(QT_BASE)
    if qt_platform() == "xcb":
        wanted.update(QT_XCB)
    missing = missing_libraries(wanted, finder=finder)
    if not _has_font():
        missing.append(FONT_PACKAGE)
    return missing


def display_problem() -> str | None:
    """A message when no display exists for a real window, else None."""
    platform = qt_platform()
    if platform == "xcb" and not os.environ.get("DISPLAY"):
        return (
            "No display found (DISPLAY is not set). Start Studio from a desktop session, run it "
            "under xvfb-run, or use QT_QPA_PLATFORM=offscreen for a window nobody sees."
        )
    return None


def install_line(packages: list[str]) -> str:
    return "sudo apt-get install -y " + " ".join(packages)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence native libraries' own stderr lines for a moment (LiteRT's "Created TensorFlow Lite
    XNNPACK delegate", ncnn's "vkCreateInstance failed" on a machine without Vulkan): Studio
    reports what matters itself."""
    from studio.core.chatter import STDERR_LOCK

    with STDERR_LOCK:  # one redirection of descriptor 2 at a time (studio.core.chatter)
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
