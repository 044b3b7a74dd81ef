"""The Video panel says "no person found" over a picture with none in it (issue 18)."""

import cv2
import numpy as np
import pytest

pytest.importorskip("torch")


def test_the_preview_says_when_no_person_is_found(qtbot, window, tmp_path):
    panel = window.panels["video"]
    window.raise_panel("video")
    y, x = np.mgrid[0:90, 0:160]
    frame = np.dstack([x, y * 2, np.full_like(x, 128)]).astype(np.uint8)  # a plain gradient
    cv2.rectangle(frame, (30, 20), (80, 70), (30, 90, 200), -1)
    cv2.imwrite(str(tmp_path / "empty.png"), frame)
    assert panel.open_file(tmp_path / "empty.png")
    qtbot.waitUntil(lambda: panel.last is not None, timeout=20000)
    qtbot.waitUntil(lambda: "no person found" in panel.view.stats, timeout=10000)
    assert not panel.last.person and panel.last.matte.max() < 128
