"""The Image panel: open, preview and apply tools, masks, undo, style, generate, reuse, save."""

import numpy as np
import pytest

from studio.image.io import Picture, load_picture, read_provenance, save_picture
from studio.ui.jobs import JobState


@pytest.fixture
def photo_file(tmp_path):
    from skimage import data

    return save_picture(Picture(data.astronaut()[::2, ::2].copy()), tmp_path / "photo.png")


@pytest.fixture
def panel(qtbot, window, photo_file):
    p = window.panels["image"]
    window.raise_panel("image")
    assert p.open_file(photo_file)
    return p


def _finish(qtbot, handle):
    assert handle is not None
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    return handle


def _pick(panel, name):
    panel.op_combo.setCurrentIndex(panel.op_combo.findData(name))


def test_open_shows_the_picture_and_tells_the_video_panel(panel):
    assert panel.canvas.size_hw == (256, 256)
    assert "256x256, 8-bit" in panel.status.text()
    assert panel.context.shared["image.current"].pixels.shape == (256, 256, 3)


def test_a_tool_previews_then_applies_and_undoes(qtbot, panel):
    _pick(panel, "brightness")
    panel.op_form.set_value("amount", 40)
    preview = panel.preview()
    _finish(qtbot, preview)
    before = panel.document.pixels.copy()
    assert np.array_equal(panel.document.pixels, before)  # a preview changes nothing
    _finish(qtbot, panel.apply())
    assert panel.document.pixels.mean() > before.mean() + 30
    assert panel.undo_button.isEnabled()
    panel.undo()
    assert np.array_equal(panel.document.pixels, before)
    panel.redo()
    assert panel.document.pixels.mean() > before.mean() + 30


def test_brush_and_lasso_masks_limit_a_tool(qtbot, panel):
    panel.set_tool("brush")
    panel.canvas.brush_size = 20
    panel.canvas.paint_stroke([(20, 20), (120, 20)])
    assert panel.document.mask[20, 60] > 0.9 and panel.document.mask[200, 200] == 0
    panel.canvas.fill_polygon([(150, 150), (250, 150), (250, 250), (150, 250)])
    assert panel.document.mask[200, 200] > 0.9
    _pick(panel, "brightness")
    panel.op_form.set_value("amount", 50)
    panel.in_mask_check.setChecked(True)
    before = panel.document.pixels.copy()
    _finish(qtbot, panel.apply())
    after = panel.document.pixels
    assert after[200, 200].mean() > before[200, 200].mean() + 40
    assert np.array_equal(after[90:110, 60:100], before[90:110, 60:100])  # outside the mask
    panel.undo()
    panel.undo()  # the lasso
    assert panel.document.mask[200, 200] == 0


def test_person_mask_and_the_video_matte(qtbot, panel):
    _finish(qtbot, panel.person_mask())
    assert panel.document.mask[60:70, 100:130].mean() > 0.8  # the face
    from studio.core.media import Mask

    panel.context.shared["video.matte"] = Mask(np.ones((90, 160), np.float32) * 0.5)
    panel._update_controls()
    panel.video_matte()
    assert panel.document.mask.shape == (256, 256) and panel.document.mask.mean() == 0.5


def test_style_and_upscale_become_results_in_the_history(qtbot, panel):
    panel._on_thumbnails([np.zeros((48, 64, 3), np.uint8)] * 26)
    panel.style_list.item(3).setSelected(True)
    panel.style_list.item(12).setSelected(True)
    panel.style_list.item(0).setSelected(False)
    assert panel.style_spec() == "3:0.500,12:0.500"
    _finish(qtbot, panel.apply_style())
    panel.upscale_model.setCurrentIndex(panel.upscale_model.findData("fast"))
    panel.upscale_scale.setCurrentText("x2")
    _finish(qtbot, panel.upscale())
    assert panel.document.size == (512, 512)
    assert panel.history_list.count() == 2
    assert panel.document.picture.provenance["engine"] == "studio/upscale"


def test_generate_patterns_then_reuse_their_parameters(qtbot, panel, tmp_path):
    panel.engine_combo.setCurrentIndex(panel.engine_combo.findData("pattern"))
    panel.gen_form.set_value("width", 128)
    panel.gen_form.set_value("height", 96)
    panel.gen_form.set_value("seed", 77)
    _finish(qtbot, panel.generate())
    first = panel.document.pixels.copy()
    assert first.shape == (96, 128, 3)
    panel.gen_form.set_value("seed", 5)
    panel.history_list.setCurrentRow(0)
    assert panel.reuse_parameters()
    assert panel.gen_form.values()["seed"] == 77
    _finish(qtbot, panel.generate())
    assert np.array_equal(panel.document.pixels, first)
    assert panel.save_to(tmp_path / "pattern.png")
    assert read_provenance(tmp_path / "pattern.png")["params"]["seed"] == 77


def test_generate_with_a_diffusion_folder_previews_steps(qtbot, panel, tmp_path):
    from studio.image.tiny_diffusion import make_tiny_pipeline

    folder = make_tiny_pipeline(tmp_path / "tiny")
    assert panel.add_model_folder(folder)
    panel.prompt.setPlainText("a small house")
    panel.gen_form.set_value("steps", 3)
    panel.gen_form.set_value("width", 64)
    panel.gen_form.set_value("height", 64)
    previews = []
    handle = panel.generate()
    handle.partial.connect(previews.append)
    _finish(qtbot, handle)
    assert len(previews) == 3
    assert panel.document.picture.provenance["model"] == "tiny"
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "model_index.json").write_text('{"unet": ["diffusers", "UNet"]}')
    (tmp_path / "bin" / "unet").mkdir()
    (tmp_path / "bin" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    assert not panel.add_model_folder(tmp_path / "bin")
    assert "pickled .bin" in panel.status.text()


def test_save_keeps_16_bits_and_bad_files_get_a_message(panel, tmp_path):
    deep = np.arange(64 * 64 * 3, dtype=np.uint32).reshape(64, 64, 3) * 7 % 65535
    path = save_picture(Picture(deep.astype(np.uint16)), tmp_path / "deep.png")
    assert panel.open_file(path)
    assert panel.save_to(tmp_path / "out.tif")
    assert load_picture(tmp_path / "out.tif").depth == 16
    (tmp_path / "bad.png").write_bytes(b"junk")
    assert not panel.open_file(tmp_path / "bad.png")
    assert "bad.png" in panel.status.text()
    assert panel.document.size == (64, 64)  # the open picture is kept


def test_keyboard_undo_and_redo(qtbot, panel):
    from PySide6.QtCore import Qt

    panel.set_mask(np.ones((256, 256), np.float32), "mask: all")
    panel.canvas.setFocus()
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert panel.document.mask is None
    qtbot.keyClick(
        panel.canvas, Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )  # fmt: skip
    assert panel.document.mask is not None
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert panel.document.mask is not None


def test_results_are_layers_to_go_back_to_and_alpha_is_a_mask(qtbot, panel):
    _pick(panel, "cutout")
    _finish(qtbot, panel.apply())
    assert panel.document.picture.has_alpha and panel.alpha_mask_button.isEnabled()
    panel.alpha_mask()
    assert panel.document.mask[60:70, 100:130].mean() > 0.8  # the person's face
    panel.show_mask_check.setChecked(False)
    assert not panel.canvas.mask_item.isVisible()
    panel._on_thumbnails([np.zeros((48, 64, 3), np.uint8)] * 26)
    panel.style_list.setCurrentRow(5)
    _finish(qtbot, panel.apply_style())
    styled = panel.document.pixels.copy()
    panel.engine_combo.setCurrentIndex(panel.engine_combo.findData("pattern"))
    panel.gen_form.set_value("width", 256)
    panel.gen_form.set_value("height", 256)
    _finish(qtbot, panel.generate())
    assert panel.history_list.count() == 2
    panel.history_list.setCurrentRow(0)
    assert panel.restore_button.isEnabled() and panel.restore_result()
    assert np.array_equal(panel.document.pixels, styled)
    panel.undo()
    assert not np.array_equal(panel.document.pixels, styled)
