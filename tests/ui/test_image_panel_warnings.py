"""What reading a picture found wrong reaches the Image panel's status line (issue 18)."""

import numpy as np

from studio.image.io import Picture, save_picture
from tests.image import bombs


def test_damage_and_unread_metadata_are_said_in_the_status(window, tmp_path):
    panel = window.panels["image"]
    window.raise_panel("image")
    y, x = np.mgrid[0:64, 0:96]
    picture = Picture(np.dstack([x * 2, y * 3, x + y]).astype(np.uint8))
    jpeg = save_picture(picture, tmp_path / "whole.jpg").read_bytes()
    dented = tmp_path / "dented.jpg"
    dented.write_bytes(jpeg[: len(jpeg) // 2] + b"\xff\xd9")  # the rest comes out grey
    assert panel.open_file(dented)
    assert "⚠ dented.jpg may be damaged: Corrupt JPEG data" in panel.status.text()
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bombs.metadata_bomb(64 << 20))
    assert panel.open_file(bomb)
    assert "⚠ the Studio parameters in bomb.png inflate to more than 1 MiB" in panel.status.text()
    huge = tmp_path / "huge.png"
    huge.write_bytes(bombs.huge_png())
    assert not panel.open_file(huge)
    assert "249 megapixels" in panel.status.text()


def test_the_cut_out_of_a_picture_without_a_person_says_so(qtbot, window, tmp_path):
    from studio.ui.jobs import JobState

    panel = window.panels["image"]
    window.raise_panel("image")
    y, x = np.mgrid[0:96, 0:128]
    gradient = np.dstack([x * 2, y * 2, np.full_like(x, 128)]).astype(np.uint8)
    assert panel.open_file(save_picture(Picture(gradient), tmp_path / "gradient.png"))
    panel.adjust.tool.setCurrentIndex(panel.adjust.tool.findData("cutout"))
    handle = panel.apply()
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.FAILED
    assert "no person found" in panel.status.text()
    assert len(panel.document.layers) == 1  # nothing was added
