"""The Image panel as a view of its document: open, preview and apply tools, masks, style,
generate (as new layers), layers, history and reuse, export."""

import stat

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from studio.image.io import Picture, load_picture, read_provenance, save_picture
from studio.ui.jobs import JobState

# Jobs import torch on worker threads; the window's memory label looks at a half-imported torch
# meanwhile (studio.core.devices.memory_in_use). Imported whole here first.
pytest.importorskip("torch")


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
    panel.adjust.tool.setCurrentIndex(panel.adjust.tool.findData(name))


def test_open_shows_the_picture_and_tells_the_video_panel(panel):
    assert panel.canvas.size_hw == (256, 256)
    assert "256x256, 8-bit" in panel.status.text()
    assert panel.context.shared["image.current"].pixels.shape == (256, 256, 3)
    assert panel.document is panel.context.project.document("image")
    assert panel.layers_tab.layers.count() == 1
    assert panel.document.undo_stack.undo_text() == "Import photo.png"


def test_settings_live_in_the_document_and_the_widgets_follow_it(panel):
    _pick(panel, "blur")
    assert panel.document.tool == "blur"
    panel.adjust.form.set_value("radius", 7)
    assert panel.document.tool_params["blur"]["radius"] == 7
    panel.document.set_quiet(tool="brightness", brush_size=77, compare=True)
    assert panel.adjust.tool.currentData() == "brightness"
    assert panel.mask_tools.brush_size.value() == 77 and panel.canvas.brush_size == 77
    assert panel.compare_check.isChecked() and panel.canvas.compare
    panel.document.set_quiet(tool="blur")
    assert panel.adjust.form.values()["radius"] == 7  # each tool keeps its parameters
    assert not panel.document.undo_stack.undo_text().startswith("blur")  # settings: no steps


def test_a_tool_previews_then_applies_and_undoes(qtbot, panel):
    _pick(panel, "brightness")
    panel.adjust.form.set_value("amount", 40)
    preview = panel.preview()
    _finish(qtbot, preview)
    before = panel.document.pixels.copy()
    assert np.array_equal(panel.document.pixels, before)  # a preview changes nothing
    _finish(qtbot, panel.apply())
    assert panel.document.pixels.mean() > before.mean() + 30
    assert panel.document.undo_stack.undo_text() == "brightness amount=40"
    panel.document.undo()
    assert np.array_equal(panel.document.pixels, before)
    panel.document.redo()
    assert panel.document.pixels.mean() > before.mean() + 30


def test_brush_and_lasso_masks_limit_a_tool(qtbot, panel):
    panel.set_mask_tool("brush")
    assert panel.canvas.tool == "brush" and panel.mask_tools.tool_buttons["brush"].isChecked()
    panel.canvas.brush_size = 20
    panel.canvas.paint_stroke([(20, 20), (120, 20)])
    assert panel.document.mask[20, 60] > 0.9 and panel.document.mask[200, 200] == 0
    panel.canvas.fill_polygon([(150, 150), (250, 150), (250, 250), (150, 250)])
    assert panel.document.mask[200, 200] > 0.9
    _pick(panel, "brightness")
    panel.adjust.form.set_value("amount", 50)
    panel.adjust.in_mask.setChecked(True)
    before = panel.document.pixels.copy()
    _finish(qtbot, panel.apply())
    after = panel.document.pixels
    assert after[200, 200].mean() > before[200, 200].mean() + 40
    assert np.array_equal(after[90:110, 60:100], before[90:110, 60:100])  # outside the mask
    panel.document.undo()
    panel.document.undo()  # the lasso
    assert panel.document.mask[200, 200] == 0 and panel.canvas.mask[200, 200] == 0


def test_person_mask_and_the_video_matte(qtbot, panel):
    _finish(qtbot, panel.person_mask())
    assert panel.document.mask[60:70, 100:130].mean() > 0.8  # the face
    from studio.core.media import Mask

    panel.context.shared["video.matte"] = Mask(np.ones((90, 160), np.float32) * 0.5)
    panel._update_controls()
    assert panel.mask_tools.video.isEnabled()
    panel.video_matte()
    assert panel.document.mask.shape == (256, 256) and panel.document.mask.mean() == 0.5


def test_style_and_upscale_become_results_in_the_history(qtbot, panel):
    panel._on_thumbnails([np.zeros((48, 64, 3), np.uint8)] * 26)
    styles = panel.style_tab.styles
    styles.item(0).setSelected(False)
    styles.item(3).setSelected(True)
    styles.item(12).setSelected(True)
    assert panel.document.style == "3:0.500,12:0.500" == panel.style_spec()
    _finish(qtbot, panel.apply_style())
    panel.style_tab.upscale_model.setCurrentIndex(panel.style_tab.upscale_model.findData("fast"))
    panel.style_tab.upscale_scale.setCurrentIndex(panel.style_tab.upscale_scale.findData(2))
    assert panel.document.upscale_scale == 2
    _finish(qtbot, panel.upscale())
    assert panel.document.size == (512, 512)
    assert panel.history_tab.history.count() == 2
    assert panel.document.provenance()["engine"] == "studio/upscale"


def test_a_generated_pattern_is_a_new_layer_and_its_parameters_come_back(qtbot, panel, tmp_path):
    photo = panel.document.layers[0].pixels
    panel.gen.engine.setCurrentIndex(panel.gen.engine.findData("pattern"))
    panel.gen.form.set_value("width", 128)
    panel.gen.form.set_value("height", 96)
    panel.gen.form.set_value("seed", 77)
    assert panel.document.gen_params["pattern"]["seed"] == 77
    _finish(qtbot, panel.generate())
    doc = panel.document
    assert [layer.name for layer in doc.layers] == ["photo", "pattern 77"]
    assert doc.layers[0].pixels is photo and doc.pixels.shape == (256, 256, 3)
    assert panel.layers_tab.layers.count() == 2
    first = doc.pixels.copy()
    assert doc.undo_stack.undo_text() == "Generate pattern 77"
    panel.gen.form.set_value("seed", 5)
    panel.history_tab.history.setCurrentRow(0)
    assert panel.reuse_parameters()
    assert panel.gen.form.values()["seed"] == 77 and panel.tabs.currentIndex() == 2
    _finish(qtbot, panel.generate())
    assert np.array_equal(doc.pixels, first) and len(doc.layers) == 3
    _finish(qtbot, panel.export_to(tmp_path / "pattern.png"))
    assert read_provenance(tmp_path / "pattern.png")["params"]["seed"] == 77
    assert stat.S_IMODE((tmp_path / "pattern.png").stat().st_mode) == 0o644


def test_layers_show_hide_fade_move_and_delete_as_undo_steps(qtbot, panel):
    doc = panel.document
    doc.add_layer(np.full((256, 256, 3), 10, np.uint8), "dark")
    view = panel.layers_tab.layers
    assert view.item(0).text() == "dark" and view.currentRow() == 0
    view.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not doc.layers[1].visible and doc.pixels is doc.layers[0].pixels
    assert doc.undo_stack.undo_text() == "Hide layer dark"
    view.item(0).setCheckState(Qt.CheckState.Checked)
    panel.layers_tab.opacity.setValue(50)
    panel.layers_tab.opacity.setValue(40)
    assert doc.layers[1].opacity == 0.4 and doc.undo_stack.undo_text() == "Opacity of dark"
    doc.undo()  # one step for the whole drag
    assert doc.layers[1].opacity == 1.0
    panel.layers_tab.down.click()
    assert [layer.name for layer in doc.layers] == ["dark", "photo"]
    panel.layers_tab.delete.click()  # the chosen one: dark
    assert [layer.name for layer in doc.layers] == ["photo"]
    doc.undo()
    doc.undo()
    assert [layer.name for layer in doc.layers] == ["photo", "dark"]
    view.item(0).setText("shadow")
    assert doc.layers[1].name == "shadow"


def test_generate_with_a_diffusion_folder_previews_steps(qtbot, panel, tmp_path):
    from studio.image.tiny_diffusion import make_tiny_pipeline

    folder = make_tiny_pipeline(tmp_path / "tiny")
    assert panel.add_model_folder(folder)
    assert panel.document.engine == str(folder)
    panel.gen.prompt.setPlainText("a small house")
    assert panel.document.prompt == "a small house"
    panel.gen.form.set_value("steps", 3)
    panel.gen.form.set_value("width", 64)
    panel.gen.form.set_value("height", 64)
    previews = []
    handle = panel.generate()
    handle.partial.connect(previews.append)
    _finish(qtbot, handle)
    assert len(previews) == 3
    assert panel.document.provenance()["model"] == "tiny"
    assert len(panel.document.layers) == 2
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "model_index.json").write_text('{"unet": ["diffusers", "UNet"]}')
    (tmp_path / "bin" / "unet").mkdir()
    (tmp_path / "bin" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"x")
    assert not panel.add_model_folder(tmp_path / "bin")
    assert "pickled .bin" in panel.status.text()


def test_export_keeps_16_bits_and_bad_files_get_a_message(qtbot, window, tmp_path):
    panel = window.panels["image"]
    deep = np.arange(64 * 64 * 3, dtype=np.uint32).reshape(64, 64, 3) * 7 % 65535
    path = save_picture(Picture(deep.astype(np.uint16)), tmp_path / "deep.png")
    assert panel.open_file(path)
    _finish(qtbot, panel.export_to(tmp_path / "out.tif"))
    assert load_picture(tmp_path / "out.tif").depth == 16
    (tmp_path / "bad.png").write_bytes(b"junk")
    assert not panel.open_file(tmp_path / "bad.png")
    assert "bad.png" in panel.status.text()
    assert panel.document.size == (64, 64) and len(panel.document.layers) == 1


def test_the_panel_leaves_undo_save_and_open_keys_to_the_window(panel):
    keys = [k.toString() for a in panel.findChildren(QAction) for k in a.shortcuts()]
    assert len(keys) == len(set(keys))
    for reserved in ("Ctrl+Z", "Ctrl+Shift+Z", "Ctrl+Y", "Ctrl+S", "Ctrl+O"):
        assert QKeySequence(reserved).toString() not in keys
    assert {"Ctrl+I", "Ctrl+E", "Ctrl+Return", "Esc"} <= set(keys)


def test_results_go_back_as_layers_and_alpha_is_a_mask(qtbot, panel):
    _pick(panel, "cutout")
    _finish(qtbot, panel.apply())
    assert panel.document.pixels.shape[2] == 4 and panel.mask_tools.alpha.isEnabled()
    panel.alpha_mask()
    assert panel.document.mask[60:70, 100:130].mean() > 0.8  # the person's face
    panel.mask_tools.show_mask.setChecked(False)
    assert not panel.canvas.mask_item.isVisible() and not panel.document.show_mask
    panel._on_thumbnails([np.zeros((48, 64, 3), np.uint8)] * 26)
    panel.style_tab.styles.setCurrentRow(5)
    _finish(qtbot, panel.apply_style())
    styled = panel.document.pixels.copy()
    panel.gen.engine.setCurrentIndex(panel.gen.engine.findData("pattern"))
    panel.gen.form.set_value("width", 256)
    panel.gen.form.set_value("height", 256)
    _finish(qtbot, panel.generate())
    assert panel.history_tab.history.count() == 2
    panel.history_tab.history.setCurrentRow(0)
    assert panel.history_tab.restore.isEnabled() and panel.restore_result()
    assert np.array_equal(panel.document.layers[-1].pixels, styled)  # on top, as a new layer
    assert len(panel.document.layers) == 3
    panel.document.undo()
    assert len(panel.document.layers) == 2


def test_a_big_picture_with_layers_is_shown_from_screen_sized_copies(qtbot, panel):
    doc = panel.document
    big = np.zeros((1000, 2400, 3), np.uint8)
    big[:, 1200:] = 200
    doc.reset(layers=())
    doc.add_layer(big, "big")
    doc.add_layer(np.full((1000, 2400, 3), 100, np.uint8), "grey")
    doc.change_layer(1, "Opacity", opacity=0.5)
    shown = panel.display_pixels()
    assert shown.shape == (667, 1600, 3) and panel.canvas.size_hw == (1000, 2400)
    assert doc._composite is None or doc._composite[0] is not doc.layers  # not blended in full
    assert abs(int(shown[300, 1500, 0]) - 150) <= 1 and abs(int(shown[300, 100, 0]) - 50) <= 1
    _pick(panel, "brightness")
    panel.adjust.form.set_value("amount", 0)
    _finish(qtbot, panel.apply())  # the job blends at full size
    assert [layer.name for layer in doc.layers] == ["Merged"]
    assert doc.pixels.shape == (1000, 2400, 3) and doc.pixels[500, 2000, 0] == 150
