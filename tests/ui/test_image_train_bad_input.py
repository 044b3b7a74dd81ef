"""Image ▸ Train a generator… / Train a tagger… on bad folders (issue 16), clicked like an artist:
broken and odd pictures skipped and counted with their reasons, a label with no readable picture
left out and said, a huge or over-full folder announced, one label refused in words."""

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QPushButton

from studio.image import folder as folder_mod
from studio.ui.dialogs import files
from tests.image.odd_pictures import make_odd_pictures


@pytest.fixture(autouse=True)
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _labelled(root, counts):
    for label, n in counts:
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (12, 12), (40 * i % 255, 90, 200)).save(root / label / f"{i}.png")
    return root


def _open(window, qtbot, name: str) -> QDialog:
    window.findChild(QAction, name).trigger()
    dialog = next(d for d in window.findChildren(QDialog) if d.isVisible())
    qtbot.waitExposed(dialog)
    return dialog


def _click(dialog, name: str) -> None:
    button = dialog.findChild(QPushButton, name)
    assert button is not None and button.isEnabled(), name
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _train(dialog, qtbot, prefix: str) -> None:
    _click(dialog, f"image.{prefix}_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass


def test_tagger_dialog_lists_skipped_files_and_refuses_one_label(window, qtbot, tmp_path):
    root = _labelled(tmp_path / "set", [("plain", 4)])
    make_odd_pictures(root / "odd")
    dialog = _open(window, qtbot, "image.train_tagger")
    files.answer_next(root)
    _click(dialog, "image.tagger_folder")
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
    files.answer_next(one)
    _click(dialog, "image.tagger_folder")
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
    dialog = _open(window, qtbot, "image.train_generator")
    files.answer_next(root)
    _click(dialog, "image.train_folder")
    dialog.minutes.setValue(0.02)
    _train(dialog, qtbot, "train")
    assert dialog.job.state == "succeeded", dialog.status.text()
    status = dialog.status.text()
    assert "2 classes; 2 unreadable pictures skipped" in status
    assert "left out junk: no readable picture" in status

    monkeypatch.setattr(folder_mod, "MAX_PICTURES", 4)
    files.answer_next(root)
    _click(dialog, "image.train_folder")
    assert "8 pictures: a random 4 of them will be read" in dialog.folder_label.text()
    monkeypatch.setattr(folder_mod, "MAX_FILES", 5)
    files.answer_next(root)
    _click(dialog, "image.train_folder")
    assert dialog.status.text().startswith("⚠") and "more than 5 pictures" in dialog.status.text()
    assert dialog.folder is None
