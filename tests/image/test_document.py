import numpy as np
import pytest

from studio.image.document import Document
from studio.image.io import Picture
from studio.image.ops import apply_op


def test_every_change_undoes_and_redoes(photo):
    doc = Document(Picture(photo))
    doc.change_pixels(apply_op("blur", photo, {"radius": 3}), "blur radius=3")
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:10] = 1
    doc.change_mask(mask, "mask: brush")
    doc.change_pixels(apply_op("resize", doc.pixels, {"width": 128}), "resize width=128")
    assert doc.size == (128, 128) and doc.mask is None  # the mask no longer fitted
    assert doc.undo() == "resize width=128"
    assert doc.size == (512, 512) and doc.mask is not None
    assert doc.undo() == "mask: brush" and doc.mask is None
    assert doc.undo() == "blur radius=3"
    assert np.array_equal(doc.pixels, photo) and not doc.can_undo
    assert doc.redo() == "blur radius=3" and not np.array_equal(doc.pixels, photo)
    doc.change_pixels(photo, "back")  # a new change clears the redo steps
    assert not doc.can_redo


def test_edits_are_recorded_in_the_provenance_and_results_in_the_history(photo):
    doc = Document(Picture(photo, {"engine": "studio/pattern", "params": {"seed": 1}}))
    doc.change_pixels(photo, "sharpen amount=0.8 radius=1.5")
    info = doc.picture.provenance
    assert info["operations"] == ["sharpen amount=0.8 radius=1.5"]
    assert info["history"][0]["engine"] == "studio/pattern"
    doc.change_pixels(photo, "style 3", {"engine": "studio/style", "style": "3"}, result=True)
    assert [e.label for e in doc.history] == ["style 3"]
    assert doc.history[0].thumbnail.shape[2] == 3


def test_old_undo_steps_are_dropped_past_the_memory_budget(photo):
    doc = Document(Picture(photo), budget_bytes=photo.nbytes * 3)
    for i in range(10):
        doc.change_pixels(photo + i, f"step {i}")
    steps = 0
    while doc.undo():
        steps += 1
    assert 1 <= steps <= 3


def test_a_mask_of_the_wrong_size_is_refused(photo):
    doc = Document(Picture(photo))
    with pytest.raises(ValueError, match="the mask is 10x10"):
        doc.change_mask(np.zeros((10, 10), np.float32), "mask")
