"""The training dialogs (issue 16), clicked like an artist: a folder chosen is listed on a worker,
so a folder on a slow disk never freezes the window ("reading the folder…" meanwhile, Train
waiting), and a folder chosen before the current one is ignored when its listing comes back; a
tagger training stopped part-way goes on from its checkpoint when trained again, and says so."""

import re
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtWidgets import QCheckBox, QPushButton

from studio.image import folder as folder_mod
from studio.ui.dialogs import files
from studio.ui.dialogs import music_train as music_dialog
from studio.ui.dialogs.music_train import TrainMusicDialog
from tests.ui.training_dialogs import choose_folder, click, open_dialog, wait_listed

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _labelled(root: Path, counts) -> Path:
    for label, n in counts:
        (root / label).mkdir(parents=True)
        for i in range(n):
            colour = (220, 40 + 30 * i, 30) if label in ("fire", "cats") else (30, 40 + 30 * i, 220)
            Image.new("RGB", (12, 12), colour).save(root / label / f"{i}.png")
    return root


class SlowDisk:
    """Wraps a folder-listing function: listing a folder named ``slow`` waits until
    :meth:`release` (a disk that takes its time); every call's thread is kept."""

    def __init__(self, real) -> None:
        self.real, self.threads, self.gate = real, [], threading.Event()

    def __call__(self, path, *args, **kwargs):
        self.threads.append(threading.current_thread())
        if Path(path).name == "slow":
            assert self.gate.wait(60)
        return self.real(path, *args, **kwargs)

    def release(self) -> None:
        self.gate.set()


def test_a_slow_picture_folder_is_listed_off_the_window_and_a_stale_listing_ignored(
    window, qtbot, tmp_path, monkeypatch
):
    slow = _labelled(tmp_path / "slow", [("cats", 2), ("dogs", 2)])
    quick = _labelled(tmp_path / "quick", [("fire", 3), ("water", 2)])
    disk = SlowDisk(folder_mod.list_pictures)
    monkeypatch.setattr(folder_mod, "list_pictures", disk)
    dialog = open_dialog(window, qtbot, "image.train_tagger")
    start = dialog.findChild(QPushButton, "image.tagger_start")
    files.answer_next(slow)
    click(dialog, "image.tagger_folder")
    # the click came back while the folder is still being listed: the window goes on
    qtbot.waitUntil(lambda: len(disk.threads) == 1)
    assert disk.threads[0] is not threading.main_thread()
    assert dialog.folder_label.text() == f"{slow}\nreading the folder…"
    assert not start.isEnabled() and dialog.folder is None
    assert dialog.findChild(QPushButton, "image.tagger_folder").isEnabled()  # another may be
    stale = dialog.listing

    choose_folder(dialog, "image.tagger_folder", quick)  # chosen while the first is listed
    assert dialog.folder_label.text() == f"{quick}\n2 classes: fire (3), water (2)"
    assert dialog.folder == quick and start.isEnabled()
    with qtbot.waitSignal(stale.finished, timeout=60_000):
        disk.release()  # the first folder's listing ends now: too late
    assert stale.state == "cancelled"
    assert dialog.folder_label.text() == f"{quick}\n2 classes: fire (3), water (2)"
    assert dialog.folder == quick and dialog.status.text() == "Ready: press Train."


def test_the_midi_dialog_counts_its_folder_off_the_window(qtbot, context, tmp_path, monkeypatch):
    slow = tmp_path / "slow"
    slow.mkdir()
    for i in range(3):
        (slow / f"t{i}.mid").write_bytes(b"MThd")  # counted by name: never opened here
    disk = SlowDisk(music_dialog.count_midi)
    monkeypatch.setattr(music_dialog, "count_midi", disk)
    dialog = TrainMusicDialog(context)
    qtbot.addWidget(dialog)
    dialog.show()
    files.answer_next(slow)
    click(dialog, "music.train_folder")
    qtbot.waitUntil(lambda: len(disk.threads) == 1)
    assert disk.threads[0] is not threading.main_thread()
    assert dialog.folder_label.text() == f"{slow}\nreading the folder…"
    assert not dialog.findChild(QPushButton, "music.train_start").isEnabled()
    disk.release()
    wait_listed(dialog)
    assert dialog.folder_label.text() == f"{slow}\n3 MIDI files" and dialog.folder == slow
    assert dialog.findChild(QPushButton, "music.train_start").isEnabled()


def test_a_stopped_tagger_training_goes_on_from_its_checkpoint_and_says_so(
    window, qtbot, tmp_path, monkeypatch
):
    import studio.image.tagger as tagger

    real = tagger._epoch

    def slow_epoch(*args, **kwargs):  # epochs as slow as a big folder's, so Stop lands mid-run
        threading.Event().wait(0.15)
        return real(*args, **kwargs)

    monkeypatch.setattr(tagger, "_epoch", slow_epoch)
    root = _labelled(tmp_path / "set", [("fire", 6), ("water", 6)])
    dialog = open_dialog(window, qtbot, "image.train_tagger")
    choose_folder(dialog, "image.tagger_folder", root)
    dialog.transfer.setChecked(False)
    dialog.size_combo.setCurrentIndex(0)  # 64 px
    dialog.epochs.setValue(30)
    click(dialog, "image.tagger_start")
    epoch = re.compile(r"from scratch: epoch ([3-9]|\d\d)/30")
    qtbot.waitUntil(lambda: epoch.search(dialog.status.text()) is not None, timeout=60_000)
    click(dialog, "image.tagger_stop")
    with qtbot.waitSignal(dialog.job.finished, timeout=60_000):
        pass
    assert dialog.job.state == "cancelled"
    assert dialog.status.text().startswith("Stopped. Train again with the same settings to go on")
    output = window.context.settings.models_dir() / "tagger" / "set.safetensors"
    assert output.with_name("set.safetensors.ckpt").is_file() and not output.exists()

    monkeypatch.setattr(tagger, "_epoch", real)
    click(dialog, "image.tagger_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass
    assert dialog.job.state == "succeeded", dialog.status.text()
    said = re.search(
        r"Went on from where a stopped training had got to \(from-scratch CNN after epoch "
        r"(\d+) of 30\)",
        dialog.status.text(),
    )
    assert said is not None and int(said[1]) >= 2, dialog.status.text()
    assert output.is_file() and not output.with_name("set.safetensors.ckpt").exists()

    dialog.findChild(QCheckBox, "image.tagger_fresh").setChecked(True)  # Start over
    click(dialog, "image.tagger_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass
    assert dialog.job.state == "succeeded" and "Went on" not in dialog.status.text()
