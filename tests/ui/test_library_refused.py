"""A 0-byte library.sqlite (issue 18): the window opens, the Library panel says why, and the
file stays as it was."""

import pytest


@pytest.fixture
def empty_library(isolated_dirs):
    path = isolated_dirs["data"] / "studio" / "library.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_the_library_panel_shows_why_and_keeps_the_file(qtbot, empty_library, request):
    window = request.getfixturevalue("window")
    panel = window.panels["library"]
    window.raise_panel("library")
    panel.reload()
    qtbot.waitUntil(lambda: "0 bytes" in panel.status.text(), timeout=10000)
    assert "left as it is" in panel.status.text()
    assert window.isVisible()
    assert empty_library.read_bytes() == b""
