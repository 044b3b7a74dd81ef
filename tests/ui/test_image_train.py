"""Image ▸ Train a generator… and Train a tagger…, clicked like an artist does: a tiny generator
trained for seconds on coloured squares made here, its live samples and losses, the model file in
the model folder, then listed on the Generate tab, drawn as a new layer and undone."""

import tomllib

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton, QSpinBox

from tests.image.labelled_pictures import sprites
from tests.ui.prompt_icons import draw_prompt
from tests.ui.training_dialogs import choose_folder, click, open_dialog

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """Two classes of 12 pictures: a red or a blue square somewhere on white."""
    return sprites(tmp_path_factory.mktemp("sprites"), 12, broken=True)


def test_train_a_generator_then_draw_with_it_and_undo(window, qtbot, pictures):
    dialog = open_dialog(window, qtbot, "image.train_generator")
    assert dialog.windowTitle() == "Train a generator"
    choose_folder(dialog, "image.train_folder", pictures)
    assert "2 classes: fire (12), water (13)" in dialog.folder_label.text()
    dialog.minutes.setValue(0.05)  # three seconds
    dialog.sample_every_s = 0.5  # live grids while it trains
    samples = []
    click(dialog, "image.train_start")
    assert dialog.findChild(QPushButton, "image.train_stop").isEnabled()
    dialog.job.partial.connect(lambda v: samples.append(v) if "samples" in v else None)
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass
    assert dialog.job.state == "succeeded", dialog.status.text()
    assert samples, "no sample grid came while it trained"
    assert len(dialog.loss_plot.steps) > 3 and dialog.loss_plot.steps == sorted(
        dialog.loss_plot.steps
    )
    assert dialog.samples.source() is not None and not dialog.samples.pixmap().isNull()
    status = dialog.status.text()
    assert "2 classes" in status and "1 unreadable picture skipped" in status
    model = window.context.settings.models_dir() / "image-gan" / f"{pictures.name}-modern-32" \
        ".safetensors"  # fmt: skip
    assert model.is_file()
    card = tomllib.loads((model.parent / (model.name + ".card.toml")).read_text())
    assert card["kind"] == "image-gan" and "--minutes 0.05" in card["command"]

    # Train again with the same settings: it goes on from the checkpoint
    click(dialog, "image.train_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass
    assert "resumed at step" in dialog.status.text(), dialog.status.text()
    assert dialog.loss_plot.steps[0] > 1  # the plot starts again at the resumed step

    # the Generate tab lists it; its controls are the classes it learnt
    panel = window.panels["image"]
    assert panel.gen.engine.findData(f"gan:{model}") >= 0
    click(dialog, "image.train_use")
    assert panel.gen.engine.currentData() == f"gan:{model}"
    assert panel.tabs.currentWidget() is panel.gen
    assert not panel.gen.prompt.isVisible()  # a class-conditional generator takes no prompt
    panel.gen.form.set_value("label", "water")
    panel.gen.form.set_value("seed", 7)
    panel.gen.form.set_value("count", 4)
    panel.gen.form.set_value("scale", 2)
    doc = panel.document
    before = len(doc.layers)
    QTest.mouseClick(panel.gen.generate, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.job.finished, timeout=60_000):
        pass
    assert panel.job.state == "succeeded", panel.status.text()
    assert len(doc.layers) == before + 1
    layer = doc.layers[-1]
    assert layer.pixels.shape[:2] == (2 + 64 + 2, 2 + 4 * 66)  # 4 pictures, 32 px doubled
    assert layer.pixels[2:66, 2:66, :3].std() > 1  # a drawn picture, not a blank tile
    assert layer.provenance["params"]["label"] == "water"
    assert layer.provenance["params"]["seed"] == 7
    panel.setFocus()
    window.findChild(QAction, "edit.undo").trigger()
    assert len(doc.layers) == before


def test_the_same_seed_draws_the_same_grid_and_reuse_sets_it_up(window, qtbot, pictures):
    from studio.image.gan import train_gan

    out = window.context.settings.models_dir() / "image-gan" / "tiny.safetensors"
    train_gan(pictures, out, steps=2, batch=8, arch="dcgan")
    panel = window.panels["image"]
    assert panel.show_generator(out)
    panel.gen.form.set_value("seed", 3)
    panel.gen.form.set_value("count", 2)
    grids = []
    for _ in range(2):
        QTest.mouseClick(panel.gen.generate, Qt.MouseButton.LeftButton)
        with qtbot.waitSignal(panel.job.finished, timeout=60_000):
            pass
        grids.append(panel.document.layers[-1].pixels)
    assert np.array_equal(grids[0], grids[1])
    panel.gen.form.set_value("seed", 99)
    assert panel.reuse_parameters(panel.document.layers[-1].provenance)
    assert panel.gen.form.values()["seed"] == 3


def test_stop_ends_training_and_a_bad_folder_is_a_message(window, qtbot, pictures, tmp_path):
    dialog = open_dialog(window, qtbot, "image.train_generator")
    choose_folder(dialog, "image.train_folder", pictures)
    dialog.minutes.setValue(30)
    click(dialog, "image.train_start")
    with qtbot.waitSignal(dialog.job.progressed, timeout=60_000):
        pass
    click(dialog, "image.train_stop")
    with qtbot.waitSignal(dialog.job.finished, timeout=60_000):
        pass
    assert dialog.job.state == "cancelled"
    assert dialog.status.text().startswith("Stopped.")
    assert dialog.start_button.isEnabled()

    gone = tmp_path / "gone"  # a folder that went away meanwhile
    choose_folder(dialog, "image.train_folder", gone)
    assert dialog.status.text().startswith("⚠") and "cannot be read" in dialog.status.text()
    click(dialog, "image.train_start")
    assert dialog.status.text() == "Choose a folder of pictures first."

    lonely = tmp_path / "one"
    lonely.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(lonely / "a.png")
    choose_folder(dialog, "image.train_folder", lonely)
    click(dialog, "image.train_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=60_000):
        pass
    assert dialog.status.text().startswith("⚠") and "at least 2" in dialog.status.text()
    assert "Traceback" not in dialog.status.text()


def test_train_a_tagger_shows_its_scores_and_confusion_matrix(window, qtbot, pictures):
    dialog = open_dialog(window, qtbot, "image.train_tagger")
    choose_folder(dialog, "image.tagger_folder", pictures)
    dialog.transfer.setChecked(False)  # the from-scratch CNN alone: seconds
    dialog.epochs.setValue(4)
    click(dialog, "image.tagger_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=120_000):
        pass
    assert dialog.job.state == "succeeded", dialog.status.text()
    assert dialog.confusion.labels == ["fire", "water"]
    matrix = np.array(dialog.confusion.matrix)
    assert matrix.shape == (2, 2) and matrix.sum() == dialog.result.n_test
    assert "held-out accuracy" in dialog.report.toPlainText()
    tagger = window.context.settings.models_dir() / "tagger" / f"{pictures.name}.safetensors"
    assert tagger.is_file()


def test_a_captioned_folder_trains_a_prompt_generator_the_generate_tab_draws(
    window, qtbot, pictures, tmp_path
):
    import json
    import shutil

    from studio.image.gan import train_gan

    folder = tmp_path / "captioned"
    folder.mkdir()
    captions = {}
    for sub in ("fire", "water"):
        for i in range(6):
            name = f"{sub}{i}.png"
            shutil.copy(pictures / sub / f"{i}.png", folder / name)
            captions[name] = f"a {'red' if sub == 'fire' else 'blue'} square"
    (folder / "captions.json").write_text(json.dumps(captions))
    dialog = open_dialog(window, qtbot, "image.train_generator")
    choose_folder(dialog, "image.train_folder", folder)
    assert "Captioned (captions.json)" in dialog.folder_label.text()
    dialog.close()

    out = window.context.settings.models_dir() / "image-gan" / "squares.safetensors"
    train_gan(folder, out, steps=2, batch=8, arch="modern")
    panel = window.panels["image"]
    assert panel.show_generator(out)
    assert "prompt" in panel.gen.engine.currentText()
    assert panel.gen.prompt.isVisible()  # a text model draws from the prompt box
    assert "square”" in panel.gen.prompt.placeholderText()  # ideas from its captions
    assert "label" not in panel.gen.form.values() and "to" in panel.gen.form.values()
    QTest.mouseClick(panel.gen.generate, Qt.MouseButton.LeftButton)
    assert "prompt box first" in panel.status.text()  # nothing to draw yet: a message, no job
    layer = draw_prompt(qtbot, panel, "a blue square", count=3, seed=4, transparent=True)
    assert layer.pixels.shape[2] == 4 and layer.pixels[..., 3].min() == 0  # transparent gutters


def test_a_tagger_fine_tuned_in_bfloat16_from_the_dialog(window, qtbot, pictures, monkeypatch):
    import itertools

    import torch
    from safetensors.torch import load_file

    import studio.image.tagger as tagger_module
    from studio.image._lite0 import load_lite0

    # on 24 pictures the head alone is already right: let each validation "beat" the last, so
    # the tagger saved is the last fine-tuned epoch's
    counter = itertools.count(1)
    monkeypatch.setattr(tagger_module, "_accuracy", lambda pred, truth: float(next(counter)))

    dialog = open_dialog(window, qtbot, "image.train_tagger")
    choose_folder(dialog, "image.tagger_folder", pictures)
    scratch = dialog.findChild(QCheckBox, "image.tagger_scratch")
    QTest.mouseClick(scratch, Qt.MouseButton.LeftButton)  # untick: the transfer network alone
    assert not scratch.isChecked()
    size = dialog.findChild(QComboBox, "image.tagger_size")
    assert size.currentData() == 64
    tune = dialog.findChild(QSpinBox, "image.tagger_fine_tune")
    tune.setFocus()
    tune.selectAll()
    QTest.keyClicks(tune, "2")
    precision = dialog.findChild(QComboBox, "image.tagger_precision")
    assert precision.currentData() == "auto"
    fp16 = precision.model().item(precision.findData("fp16"))
    assert not fp16.isEnabled()  # no CUDA here: float16 is not offered
    precision.setFocus()
    QTest.keyClick(precision, Qt.Key.Key_Down)
    QTest.keyClick(precision, Qt.Key.Key_Down)
    assert precision.currentData() == "bf16"
    QTest.keyClick(precision, Qt.Key.Key_Down)  # past bfloat16: the disabled float16 is skipped
    assert precision.currentData() == "bf16"
    click(dialog, "image.tagger_start")
    with qtbot.waitSignal(dialog.job.finished, timeout=240_000):
        pass
    assert dialog.job.state == "succeeded", dialog.status.text()
    report = dialog.report.toPlainText()
    assert "EfficientNet-Lite0 transfer" in report and "trained in bfloat16" in report
    assert "small CNN" not in report
    model = window.context.settings.models_dir() / "tagger" / f"{pictures.name}.safetensors"
    card = tomllib.loads(model.with_name(model.name + ".card.toml").read_text())
    assert card["command"].endswith("--models transfer --fine-tune 2 --precision bf16")
    assert "+ fine-tuning" in report and dialog.result.models["transfer"]["fine_tune_epochs"] == 2
    stem = load_file(model)["backbone.stem.0.weight"]  # all of Lite0 was tuned, its stem too
    assert not torch.equal(stem, load_lite0().stem[0].weight.detach())


def test_the_dialogs_controls_are_named_and_listed_in_docs(window, qtbot):
    from pathlib import Path

    from studio.ui.controls import NAME, interactive_widgets

    for action in ("image.train_generator", "image.train_tagger"):
        open_dialog(window, qtbot, action).hide()
    listed = (Path(__file__).resolve().parents[2] / "docs" / "controls.md").read_text()
    names = [w.objectName() for w in interactive_widgets(window)
             if w.window() is not window]  # fmt: skip
    assert len(names) >= 20
    assert all(NAME.match(n) and n.startswith("image.t") for n in names), names
    assert [n for n in names if f"`{n}`" not in listed] == []
