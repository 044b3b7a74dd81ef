"""A new user's first icons: the shipped icon generator is on the Generate tab, chosen from the
engine list, and "red heart" typed in the prompt box draws red icons on a transparent layer."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox

from studio.image.gan import shipped_icons_model
from tests.ui.prompt_icons import draw_prompt

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_shipped_icon_generator_draws_a_prompt_from_the_generate_tab(window, qtbot):
    try:
        shipped = shipped_icons_model()
    except ValueError:
        pytest.skip("no icon generator shipped in this checkout")
    window.raise_panel("image")
    panel = window.panels["image"]
    bar = panel.tabs.tabBar()
    tab = next(i for i in range(bar.count()) if bar.tabText(i) == "Generate")
    QTest.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(tab).center())
    combo = panel.findChild(QComboBox, "image.engine")
    at = combo.findText("icons-64 (prompt)")
    assert at >= 0, [combo.itemText(i) for i in range(combo.count())]
    combo.setFocus()
    for _ in range(abs(at - combo.currentIndex())):  # arrow down to it, as a keyboard user does
        QTest.keyClick(combo, Qt.Key.Key_Down if at > combo.currentIndex() else Qt.Key.Key_Up)
    assert combo.currentIndex() == at and panel.gen.prompt.isVisible()
    layer = draw_prompt(qtbot, panel, "red heart", count=4, seed=1, scale=1, transparent=True)
    assert layer.provenance["model"] == shipped.name
    pixels = layer.pixels.astype(np.float32)
    ink = pixels[..., 3] > 200  # the icons, not the transparent background around them
    assert 0.1 < ink.mean() < 0.9
    red, green, blue = (pixels[..., c][ink].mean() for c in range(3))
    assert red > green + 40 and red > blue + 40  # hearts, red
