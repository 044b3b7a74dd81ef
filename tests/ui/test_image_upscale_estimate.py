"""The Image panel shows how long an upscale will take next to the Upscale button, before it
starts, for the open picture and the chosen model."""

import pytest
from PySide6.QtWidgets import QComboBox, QLabel

from studio.image.io import Picture, save_picture

pytest.importorskip("torch")


@pytest.fixture
def panel(qtbot, window, tmp_path):
    from skimage import data

    photo = save_picture(Picture(data.astronaut()[::2, ::2].copy()), tmp_path / "photo.png")
    p = window.panels["image"]
    window.raise_panel("image")
    return p, photo


def test_the_estimate_is_shown_before_upscaling_and_follows_the_model(qtbot, panel):
    p, photo = panel
    label = p.findChild(QLabel, "image.upscale_estimate")
    assert label is not None and label.text() == ""  # no picture: nothing to estimate
    assert p.open_file(photo)
    slow = label.text()
    assert slow.startswith("256x256: about") and "tile" in slow and "px/s" in slow
    models = p.findChild(QComboBox, "image.upscale_model")
    models.setCurrentIndex(models.findData("fast"))
    assert label.text() != slow and label.text().startswith("256x256: about")
