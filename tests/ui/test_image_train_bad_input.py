"""Image ▸ Train a generator… / Train a tagger… on bad folders (issue 16), clicked like an artist:
broken and odd pictures skipped and counted with their reasons, a label with no readable picture
left out and said, a huge or over-full folder announced, one label refused in words."""

import pytest
from PIL import Image

from studio.image import folder as folder_mod
from tests.image.odd_pictures import make_odd_pictures
from tests.ui.training_dialogs import choose_folder, click, open_dialog

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _labelled(root, counts):
    for label, n in counts:
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (12, 12), (40 * i % 255, 90, 200)).save(root / label / f"{i}.png")
    return root


def _train(dialog, qtbot, prefix: str) -> None:
    click(dialog, f"image.{prefix}_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass


def test_tagger_dialog_lists_skipped_files_and_refuses_one_label(window, qtbot, tmp_path):
    root = _labelled(tmp_path / "set", [("plain", 4)])
    make_odd_pictures(root / "odd")
    dialog = open_dialog(window, qtbot, "image.train_tagger")
    choose_folder(dialog, "image.tagger_folder", root)
    assert "2 classes: odd (13), plain (4)" in dialog.folder_label.text()
    dialog.transfer.setChecked(False)
    dialog.epochs.setValue(2)
    _train(dialog, qtbot, "tagger")
    assert dialog.job.state == "succeeded", dialog.status.text()
    report = dialog.report.toPlainText()
    assert "4 unreadable pictures skipped:" in report
    assert "huge.png is 15780x15780 (249 megapixels)" in report
    assert "cannot read empty.png" in report

    one = _labelled(tmp_path / "one", [("cats", 3)])
    choose_folder(dialog, "image.tagger_folder", one)
    _train(dialog, qtbot, "tagger")
    status = dialog.status.text()
    assert status.startswith("⚠") and "at least two labels; found one (cats)" in status
    assert "Traceback" not in status


def test_generator_dialog_says_what_it_left_out_and_announces_a_huge_folder(
    window, qtbot, tmp_path, monkeypatch
):
    root = _labelled(tmp_path / "set", [("cat", 3), ("dog", 3)])
    (root / "junk").mkdir()
    (root / "junk" / "a.png").write_bytes(b"")
    (root / "junk" / "b.jpg").write_text("notes")
    dialog = open_dialog(window, qtbot, "image.train_generator")
    choose_folder(dialog, "image.train_folder", root)
    dialog.minutes.setValue(0.02)
    _train(dialog, qtbot, "train")
    assert dialog.job.state == "succeeded", dialog.status.text()
    status = dialog.status.text()
    assert "2 classes; 2 unreadable pictures skipped" in status
    assert "left out junk: no readable picture" in status

    monkeypatch.setattr(folder_mod, "MAX_PICTURES", 4)
    choose_folder(dialog, "image.train_folder", root)
    assert "8 pictures: a random 4 of them will be read" in dialog.folder_label.text()
    monkeypatch.setattr(folder_mod, "MAX_FILES", 5)
    choose_folder(dialog, "image.train_folder", root)
    assert dialog.status.text().startswith("⚠") and "more than 5 pictures" in dialog.status.text()
    assert dialog.folder is None
