"""The Image document without Qt: layers, mask, history, undo, projects, files."""

import os
import stat

import numpy as np
import pytest

from studio.core.document import DocumentError
from studio.image.document import ImageDocument, composite
from studio.image.io import Picture, load_picture, read_provenance, save_picture
from studio.image.ops import apply_op
from studio.project import Project


@pytest.fixture
def small(photo):
    return np.ascontiguousarray(photo[::4, ::4])  # 128x128 RGB


def _doc(pixels, provenance=None):
    doc = ImageDocument()
    doc.add_layer(pixels, "photo", provenance)
    return doc


def test_every_change_undoes_and_redoes(photo):
    doc = _doc(photo)
    doc.apply(apply_op("blur", photo, {"radius": 3}), "blur radius=3")
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:10] = 1
    doc.set_mask(mask, "mask: brush")
    doc.apply(apply_op("resize", doc.pixels, {"width": 128}), "resize width=128")
    assert doc.size == (128, 128) and doc.mask is None  # the mask no longer fitted
    assert doc.undo_stack.undo_text() == "resize width=128"
    assert doc.undo() == "resize width=128"
    assert doc.size == (512, 512) and doc.mask is not None
    assert doc.undo() == "mask: brush" and doc.mask is None
    assert doc.undo() == "blur radius=3"
    assert np.array_equal(doc.pixels, photo)
    assert doc.undo() == "New layer photo" and not doc.is_open and not doc.undo_stack.can_undo
    doc.redo()
    assert doc.redo() == "blur radius=3" and not np.array_equal(doc.pixels, photo)
    doc.apply(photo, "back")  # a new change clears the redo steps
    assert not doc.undo_stack.can_redo


def test_a_generated_picture_is_a_new_layer_and_undo_removes_it(small):
    doc = _doc(small)
    pattern = np.full((64, 96, 3), 200, np.uint8)  # another size: it covers the canvas
    info = {"engine": "studio/pattern", "params": {"seed": 7}}
    doc.add_layer(pattern, "pattern", info, "Generate pattern seed 7", result=True)
    assert [layer.name for layer in doc.layers] == ["photo", "pattern"]
    assert doc.layers[0].pixels is small  # the open picture is kept as it was
    assert doc.size == (128, 128) and doc.pixels.shape == (128, 128, 3)
    assert (doc.pixels == 200).all() and doc.active_layer == 1
    assert doc.provenance()["params"]["seed"] == 7
    assert [e.label for e in doc.history] == ["Generate pattern seed 7"]
    doc.change_layer(1, "Opacity", opacity=0.5)
    assert (
        0 < np.abs(doc.pixels.astype(int) - small).mean() < np.abs(200 - small.astype(int)).mean()
    )
    assert doc.undo() == "Opacity"
    assert doc.undo() == "Generate pattern seed 7"
    assert len(doc.layers) == 1 and doc.pixels is small and doc.active_layer == 0
    assert len(doc.history) == 1  # results stay listed: the History tab brings them back
    assert doc.restore(0) and (doc.pixels == 200).all() and len(doc.layers) == 2
    doc.apply(apply_op("brightness", doc.pixels, {"amount": 20}), "brightness amount=20")
    assert (doc.pixels > 200).all() and doc.layers[0].pixels is small  # the photo is untouched


def test_tools_work_on_the_composite_and_hidden_layers_stay(small):
    doc = _doc(small)
    doc.add_layer(np.zeros((128, 128, 4), np.uint8), "clear")  # fully transparent on top
    assert np.array_equal(doc.pixels[..., :3], small)
    doc.add_layer(np.full((128, 128, 3), 9, np.uint8), "hidden")
    doc.change_layer(2, "Hide", visible=False)
    doc.apply(apply_op("resize", doc.pixels, {"width": 64, "height": 64}), "resize")
    assert [layer.name for layer in doc.layers] == ["Merged", "hidden"]
    assert doc.layers[1].pixels.shape[:2] == (64, 64) and not doc.layers[1].visible
    assert doc.undo() == "resize" and len(doc.layers) == 3


def test_composite_blends_alpha_and_opacity():
    from studio.image.document import Layer

    base = Layer("a", np.full((2, 2, 3), 100, np.uint8))
    half = Layer("b", np.full((2, 2, 3), 200, np.uint8), opacity=0.5)
    assert composite((base, half))[0, 0].tolist() == [150, 150, 150]
    top = Layer("c", np.full((2, 2, 3), 7, np.uint8))
    assert composite((base, half, top)) is top.pixels  # an opaque layer hides what is under it
    assert composite((base.replace(visible=False),)).shape == (2, 2, 4)  # nothing shows
    glaze = Layer(
        "d", np.dstack([np.full((2, 2, 3), 200, np.uint8), np.full((2, 2), 128, np.uint8)])
    )
    assert composite((base, glaze))[0, 0].tolist() == [150, 150, 150]  # alpha over opaque
    see_through = base.replace(pixels=np.dstack([base.pixels, np.full((2, 2), 255, np.uint8)]))
    assert composite((see_through, glaze)).shape == (2, 2, 3)  # opaque after all: RGB
    assert composite((see_through, glaze))[0, 0].tolist() == [150, 150, 150]
    faint = composite((see_through.replace(opacity=0.5),))
    assert faint.shape == (2, 2, 4) and faint[0, 0].tolist() == [100, 100, 100, 128]
    deep = Layer("e", np.full((2, 2, 3), 65535, np.uint16), opacity=0.5)
    assert composite((base, deep)).dtype == np.uint16  # 16 bits kept


def test_edits_are_recorded_in_the_provenance_and_results_in_the_history(photo):
    doc = _doc(photo, {"engine": "studio/pattern", "params": {"seed": 1}})
    doc.apply(photo, "sharpen amount=0.8 radius=1.5")
    info = doc.provenance()
    assert info["operations"] == ["sharpen amount=0.8 radius=1.5"]
    assert info["history"][0]["engine"] == "studio/pattern"
    doc.apply(photo, "style 3", {"engine": "studio/style", "style": "3"}, result=True)
    assert [e.label for e in doc.history] == ["style 3"]
    assert doc.history[0].thumbnail.shape[2] == 3


def test_reuse_puts_parameters_back_into_the_settings():
    doc = ImageDocument()
    assert doc.reuse({"engine": "studio/pattern", "params": {"seed": 77, "width": 64}}) == "pattern"
    assert doc.engine == "pattern" and doc.gen_params["pattern"]["seed"] == 77
    assert doc.reuse({"engine": "studio/style", "style": "3:0.5,12:0.5", "strength": 0.4})
    assert doc.style == "3:0.5,12:0.5" and doc.style_strength == 0.4
    assert doc.reuse({"engine": "studio/upscale"}) == ""
    assert not doc.undo_stack.can_undo  # settings are not undo steps


def test_old_undo_steps_are_dropped_past_the_memory_budget(photo):
    doc = _doc(photo)
    doc.budget_bytes = photo.nbytes * 3
    for i in range(10):
        doc.apply(photo + i, f"step {i}")
    steps = 0
    while doc.undo():
        steps += 1
    assert 1 <= steps <= 3


def test_a_mask_of_the_wrong_size_is_refused(photo):
    doc = _doc(photo)
    with pytest.raises(ValueError, match="the mask is 10x10"):
        doc.set_mask(np.zeros((10, 10), np.float32), "mask")


def _ten_steps(small):
    doc = _doc(small, {"engine": "camera", "exposure": np.float32(0.5)})  # a plugin's NumPy number
    for i in range(10):
        doc.apply(apply_op("brightness", doc.pixels, {"amount": i + 1}), f"step {i}", result=True)
    doc.add_layer(np.full((32, 32, 4), 80, np.uint8), "glaze")
    doc.change_layer(1, "Opacity", opacity=0.25)
    mask = np.zeros((128, 128), np.float32)
    mask[20:60, 10:90] = 0.75
    doc.set_mask(mask, "mask: brush")
    doc.set_quiet(tool="blur", brush_size=12, tool_params={"blur": {"radius": 4.0}})
    return doc


def test_project_round_trip_keeps_pixels_mask_history_and_settings(small, tmp_path):
    doc = _ten_steps(small)
    project = Project(documents={"image": doc})
    path = project.save(tmp_path / "art")
    info = project.info()["documents"]["image"]
    assert info["summary"] == "128x128, 2 layers, 10 history steps, mask"
    assert info["provenance"]["engine"] == "studio/layers"
    opened = Project.open(path, lock=False)
    assert opened.messages == []
    back = opened.documents["image"]
    assert np.array_equal(back.pixels, doc.pixels)
    assert np.allclose(back.mask, doc.mask, atol=1 / 65535)
    assert [layer.name for layer in back.layers] == ["photo", "glaze"]
    assert back.layers[1].opacity == 0.25 and back.layers[0].provenance == doc.layers[0].provenance
    assert [e.label for e in back.history] == [f"step {i}" for i in range(10)]
    assert back.history[3].thumbnail is not None
    assert np.array_equal(back.history[3].load(), doc.history[3].pixels)
    assert (back.tool, back.brush_size, back.tool_params) == ("blur", 12, {"blur": {"radius": 4.0}})
    assert np.array_equal(back.original, small)
    assert load_picture(path / "image" / "mask.png").depth == 16
    project.close()
    opened.close()


def test_a_second_save_of_an_unchanged_picture_rewrites_no_png(small, tmp_path):
    doc = _ten_steps(small)
    project = Project(documents={"image": doc})
    path = project.save(tmp_path / "art")
    pngs = sorted((path / "image").rglob("*.png"))
    assert len(pngs) >= 12  # layers, results, thumbnails, mask
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in pngs}
    doc.set_quiet(brush_size=99)  # the document changed, its pictures did not
    project.save()
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in pngs} == before
    doc.set_quiet(brush_size=98)
    project.save(tmp_path / "copy")  # Save As writes everything, the results read lazily too
    again = Project.open(tmp_path / "copy.studio", lock=False)
    assert np.array_equal(again.documents["image"].history[0].load(), doc.history[0].pixels)
    doc.remove_layer(1)  # pictures nothing refers to are removed
    project.save()
    assert len(list((tmp_path / "copy.studio" / "image" / "layers").glob("*.png"))) == 11
    project.close()
    again.close()


def test_a_missing_layer_gives_a_message_and_the_rest_opens(small, tmp_path):
    doc = _ten_steps(small)
    project = Project(documents={"image": doc})
    path = project.save(tmp_path / "art")
    project.close()
    glaze = path / "image" / next(
        item["file"] for item in __import__("json").loads(
            (path / "image" / "document.json").read_text())["layers"] if item["name"] == "glaze"
    )  # fmt: skip
    glaze.unlink()
    (path / "image" / "mask.png").write_bytes(b"junk")
    opened = Project.open(path, lock=False)
    back = opened.documents["image"]
    assert any("layer 'glaze'" in m and "missing" in m for m in opened.messages)
    assert any("mask" in m for m in opened.messages)
    assert [layer.name for layer in back.layers] == ["photo"] and back.mask is None
    assert np.array_equal(back.pixels, doc.layers[0].pixels)
    opened.close()


def test_a_newer_document_is_refused(small, tmp_path):
    folder = tmp_path / "image"
    folder.mkdir()
    ImageDocument.write_snapshot(_doc(small).snapshot(), folder)
    text = (folder / "document.json").read_text().replace('"version": 1', '"version": 99')
    (folder / "document.json").write_text(text)
    with pytest.raises(DocumentError, match="newer Studio"):
        ImageDocument.read(folder)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_from_file_and_export_round_trip_with_mode_0644(small, tmp_path, suffix):
    src = save_picture(Picture(small, {"engine": "studio/pattern", "params": {"seed": 3}}),
                       tmp_path / "in.png")  # fmt: skip
    doc = ImageDocument.from_file(src)
    assert doc.size == (128, 128) and doc.layers[0].name == "in"
    doc.apply(apply_op("brightness", doc.pixels, {"amount": 30}), "brightness amount=30")
    old = os.umask(0o022)
    try:
        out = doc.export(tmp_path / f"out{suffix}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert read_provenance(out)["operations"] == ["brightness amount=30"]
    back = load_picture(out).pixels
    if suffix in (".png", ".tif"):
        assert np.array_equal(back, doc.pixels)
    else:
        assert np.abs(back.astype(int) - doc.pixels).mean() < 8
    assert not list(tmp_path.glob(".*"))  # no temporaries left
    with pytest.raises(DocumentError):
        ImageDocument.from_file(tmp_path / "nothing.png")
    with pytest.raises(DocumentError):
        ImageDocument().export(tmp_path / "empty.png")


def test_save_picture_writes_0644_atomically(small, tmp_path):
    old = os.umask(0o022)
    try:
        path = save_picture(Picture(small), tmp_path / "a.png")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
