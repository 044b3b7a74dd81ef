"""The Library with a trained tagger: pictures and videos get tags with confidences, the details
show them, and the tag filter narrows the list (an undo step), clicked like an artist does."""

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from studio.ui.jobs import JobState

RED, BLUE = (230, 40, 30), (30, 60, 230)


def _square(colour, rng) -> np.ndarray:
    """A picture of one colour, a little noisy, with a lighter square somewhere."""
    pic = np.clip(np.array(colour) + rng.normal(0, 12, (48, 48, 3)), 0, 255).astype(np.uint8)
    y, x = rng.integers(0, 32, 2)
    pic[y : y + 16, x : x + 16] = np.clip(np.array(colour) + 40, 0, 255)
    return pic


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tagger_file(tmp_path_factory):
    """A from-scratch tagger that tells red squares (fire) from blue ones (water)."""
    from studio.image.tagger import train_tagger

    root = tmp_path_factory.mktemp("labels")
    rng = np.random.default_rng(1)
    for label, colour in (("fire", RED), ("water", BLUE)):
        (root / label).mkdir()
        for i in range(15):
            Image.fromarray(_square(colour, rng)).save(root / label / f"{i}.png")
    out = tmp_path_factory.mktemp("tagger") / "elements.safetensors"
    report = train_tagger(root, out, size=32, epochs=8, models=("scratch",))
    assert report.models["scratch"]["accuracy"] == 1.0, report.table()
    return out


@pytest.fixture
def media(tmp_path):
    import cv2

    root = tmp_path / "media"
    root.mkdir()
    rng = np.random.default_rng(2)
    for i in range(3):
        Image.fromarray(_square(RED, rng)).save(root / f"ember{i}.png")
    for i in range(2):
        Image.fromarray(_square(BLUE, rng)).save(root / f"wave{i}.png")
    (root / "broken.png").write_bytes(b"junk")
    writer = cv2.VideoWriter(str(root / "flame.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10,
                             (48, 48))  # fmt: skip
    for _ in range(10):
        writer.write(cv2.cvtColor(_square(RED, rng), cv2.COLOR_RGB2BGR))
    writer.release()
    return root


def _install(window, tagger_file):
    folder = window.context.settings.models_dir() / "tagger"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / tagger_file.name).write_bytes(tagger_file.read_bytes())


def _wait(qtbot, handle):
    with qtbot.waitSignal(handle.finished, timeout=120_000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error


def test_tag_pictures_then_filter_by_tag(qtbot, window, media, tagger_file):
    panel = window.panels["library"]
    window.raise_panel("library")
    _wait(qtbot, panel.add_folder(media))
    assert panel.grid.count() == 7
    assert not panel.tag_combo.isEnabled()  # no tagger yet: no tags

    QTest.mouseClick(panel.tag_button, Qt.MouseButton.LeftButton)
    assert "No tagger yet" in panel.status.text()

    _install(window, tagger_file)
    QTest.mouseClick(panel.tag_button, Qt.MouseButton.LeftButton)
    _wait(qtbot, panel.job)
    assert "6 with elements.safetensors" in panel.status.text()
    tags = {panel.tag_combo.itemData(i): panel.tag_combo.itemText(i)
            for i in range(panel.tag_combo.count())}  # fmt: skip
    assert tags["fire"] == "fire (4)"  # three pictures and the video's frame
    assert tags["water"] == "water (2)"
    assert panel.tag_combo.isEnabled()

    # choose "water" with the keyboard on the combo box, as an artist may
    panel.tag_combo.setFocus()
    while panel.tag_combo.currentData() != "water":
        QTest.keyClick(panel.tag_combo, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: panel.grid.count() == 2, timeout=5000)
    assert sorted(i.title or i.path for i in panel.items) == sorted(
        i.title or i.path for i in panel.catalog.items() if "wave" in i.path
    )
    assert panel.document.tag_filter == "water"
    assert "2 tagged water" in panel.status.text()
    assert panel.select(panel.items[0].id)
    assert "tagged water" in panel.details.text() and "%" in panel.details.text()

    panel.document.set_filter("video")  # the counts follow the kind shown
    qtbot.waitUntil(lambda: panel.grid.count() == 0, timeout=5000)  # no blue video
    assert panel.tag_combo.itemText(panel.tag_combo.findData("fire")) == "fire (1)"
    panel.document.undo()
    qtbot.waitUntil(lambda: panel.grid.count() == 2, timeout=5000)

    panel.document.undo()  # each choice of the filter is an undo step: fire, then any tag
    qtbot.waitUntil(lambda: panel.grid.count() == 4, timeout=5000)
    assert panel.tag_combo.currentData() == "fire"
    panel.document.undo()
    qtbot.waitUntil(lambda: panel.grid.count() == 7, timeout=5000)
    assert panel.tag_combo.currentData() == ""

    QTest.keyClicks(panel.search, "fir")  # the search reads the tags too (no name has "fir")
    qtbot.waitUntil(lambda: panel.grid.count() == 4, timeout=5000)
    assert any(i.kind == "video" for i in panel.items)


def test_a_scan_tags_new_pictures_and_videos_with_the_newest_tagger(
    qtbot, window, media, tagger_file
):
    _install(window, tagger_file)
    panel = window.panels["library"]
    window.raise_panel("library")
    _wait(qtbot, panel.add_folder(media))
    counts = {panel.tag_combo.itemData(i): panel.tag_combo.itemText(i)
              for i in range(1, panel.tag_combo.count())}  # fmt: skip
    assert counts == {"fire": "fire (4)", "water": "water (2)"}  # the video's frame too


def test_retag_replaces_an_earlier_taggers_labels(tmp_path, media, tagger_file):
    from studio.library.catalog import Catalog
    from studio.library.tags import item_tags, retag, tag_counts

    catalog = Catalog(tmp_path / "library.sqlite")
    catalog.add_folder(media)
    catalog.scan()
    picture = next(i for i in catalog.items(kind="image") if "wave0" in i.path)
    with catalog.transaction():
        catalog.set_labels(picture.id, [("old", 0.9)], "older.safetensors")
    counts = retag(catalog, tagger_file)
    assert counts == {"tagged": 6, "unreadable": 0, "kept": 0}  # 5 pictures + 1 video
    assert [t for t, _ in item_tags(catalog, picture.id)][0] == "water"
    assert dict(tag_counts(catalog)) == {"fire": 4, "water": 2}  # each item's best tag
    assert retag(catalog, tagger_file, only_new=True)["kept"] == 6


def test_the_tag_filter_is_saved_with_the_project(tmp_path):
    from studio.library.document import LibraryDocument

    doc = LibraryDocument()
    doc.set_tag_filter("poster: horror")
    assert doc.summary().endswith("tagged poster: horror")
    LibraryDocument.write_snapshot(doc.snapshot(), tmp_path)
    assert LibraryDocument.read(tmp_path).tag_filter == "poster: horror"
