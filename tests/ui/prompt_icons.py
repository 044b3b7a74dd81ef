"""Typing a prompt on the Image panel's Generate tab and clicking Generate, as an artist does."""

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest


def draw_prompt(qtbot, panel, prompt: str, **settings):
    """Type ``prompt`` in the prompt box, set the form's ``settings`` (count, seed, ...), click
    Generate and wait; the job must succeed and add one layer, which is returned."""
    panel.gen.prompt.setFocus()
    QTest.keyClicks(panel.gen.prompt, prompt)
    for name, value in settings.items():
        panel.gen.form.set_value(name, value)
    before = len(panel.document.layers)
    QTest.mouseClick(panel.gen.generate, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.job.finished, timeout=60_000):
        pass
    assert panel.job.state == "succeeded", panel.status.text()
    assert len(panel.document.layers) == before + 1
    layer = panel.document.layers[-1]
    assert layer.provenance["params"]["prompt"] == prompt
    return layer
