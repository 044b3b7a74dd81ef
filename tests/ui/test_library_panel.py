"""The Library panel: add a folder, browse and search with thumbnails, like, more like this."""

import numpy as np
import pytest

from studio.ui.jobs import JobState


def _like(seed: str, entry: str) -> bool:
    """A suggestion's reason (the entry's second line) says it is similar to ``seed``
    ("similar to coffee", "similar colours to coffee (0.42)")."""
    _title, _, reason = entry.partition("\n")
    return "similar" in reason and seed in reason


@pytest.fixture
def media(tmp_path):
    import soundfile as sf
    from skimage import data

    from studio.image.io import Picture, save_picture

    root = tmp_path / "media"
    root.mkdir()
    for name in ("coffee", "chelsea", "rocket"):
        save_picture(Picture(getattr(data, name)()), root / f"{name}.png", provenance=False)
    t = np.linspace(0, 1, 8000)
    sf.write(root / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t), 8000)
    (root / "broken.png").write_bytes(b"junk")
    return root


@pytest.fixture
def panel(qtbot, window, media):
    p = window.panels["library"]
    window.raise_panel("library")
    handle = p.add_folder(media)
    with qtbot.waitSignal(handle.finished, timeout=120000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    return p


def test_adding_a_folder_catalogs_it_with_thumbnails(qtbot, panel):
    assert panel.grid.count() == 5
    assert "5 new" in panel.status.text() and "1 could not be read" in panel.status.text()
    qtbot.waitUntil(lambda: len(panel._thumbs) >= 4, timeout=20000)
    panel.document.set_quiet(view_mode="list")
    assert panel.grid.viewMode().name == "ListMode"
    assert panel.view_combo.currentData() == "list"


def test_search_and_filters(qtbot, panel):
    panel.search.setText("chel")
    qtbot.waitUntil(lambda: panel.grid.count() == 1, timeout=5000)
    assert panel.items[0].title == "chelsea"
    assert panel.document.search == "chel"
    panel.search.clear()
    panel.document.set_filter("audio")
    qtbot.waitUntil(lambda: panel.grid.count() == 1, timeout=5000)
    assert panel.items[0].kind == "audio"
    assert panel.kind_combo.currentData() == "audio"
    panel.document.undo()  # the filter
    qtbot.waitUntil(lambda: panel.grid.count() == 5, timeout=5000)


def test_like_then_recommendations_with_reasons_and_more_like_this(qtbot, panel):
    assert panel.select(panel.catalog.search("coffee")[0].id)
    with qtbot.waitSignal(panel.context.runner.submitted, timeout=5000):
        panel.feedback("like")
    # the first suggestion's reason names the liked item ("because you chose coffee")
    qtbot.waitUntil(lambda: panel.recs.count() > 0 and "coffee"
                    in panel.recs.item(0).text().partition("\n")[2], timeout=30000)  # fmt: skip
    assert not panel.recs.item(0).text().startswith("coffee")
    handle = panel.more_like_this()
    with qtbot.waitSignal(handle.finished, timeout=30000):
        pass
    assert "More like" in panel.recs_title.text()
    assert all(_like("coffee", panel.recs.item(i).text()) for i in range(panel.recs.count()))
    panel.feedback("dislike")
    assert panel.catalog.events()[-1][2] == "dislike"


def test_playing_without_a_sound_card_is_a_message(qtbot, panel):
    import os

    if os.environ.get("ALSA_CONFIG_PATH"):
        pytest.skip("a null sound device is set")
    assert panel.select(panel.catalog.search("tone")[0].id)
    handle = panel._play_audio(panel.selected().path)
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert handle.state in (JobState.SUCCEEDED, JobState.FAILED)
    if handle.state == JobState.FAILED:
        assert panel.status.text()


def test_more_like_this_from_another_panels_file(qtbot, window, panel, media):
    image = window.panels["image"]
    window.raise_panel("image")
    assert image.open_file(media / "chelsea.png")
    assert window.current_panel() is image
    handle = window.more_like_this()
    assert handle is not None
    with qtbot.waitSignal(handle.finished, timeout=30000):
        pass
    assert window.current_panel() is panel
    assert panel.selected().title == "chelsea"
    assert panel.recs.count() > 0 and _like("chelsea", panel.recs.item(0).text())


def test_more_like_a_file_the_library_has_not_seen_yet(qtbot, panel, tmp_path):
    from skimage import data

    from studio.image.io import Picture, save_picture

    handle = panel.recommend()  # the recommenders are fitted and kept
    with qtbot.waitSignal(handle.finished, timeout=30000):
        pass
    new = save_picture(Picture(data.astronaut()[::4, ::4].copy()), tmp_path / "astronaut.png")
    handle = panel.more_like_file(new)
    with qtbot.waitSignal(handle.finished, timeout=30000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    qtbot.waitUntil(lambda: panel.recs.count() > 0, timeout=5000)
    assert _like("astronaut", panel.recs.item(0).text())


def test_another_document_shows_its_view_and_selection(qtbot, panel, media):
    from studio.library.document import LibraryDocument

    doc = LibraryDocument(kind_filter="image", search="che", sort="title", view_mode="list",
                          selected=str(media / "chelsea.png"))  # fmt: skip
    panel.set_document(doc)  # what File ▸ Open does for a project with this document
    assert panel.kind_combo.currentData() == "image" and panel.search.text() == "che"
    assert panel.sort_combo.currentData() == "title"
    assert panel.grid.viewMode().name == "ListMode"
    qtbot.waitUntil(lambda: panel.grid.count() == 1, timeout=5000)
    assert panel.selected().title == "chelsea" and panel.grid.currentRow() == 0
    assert panel.like_button.isEnabled()
