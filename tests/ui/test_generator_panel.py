"""The panels that list plugin generators: controls from parameter specs, a job, the result."""

import textwrap

from studio.core.media import AudioClip
from studio.plugins.registry import PluginRegistry
from studio.ui.jobs import JobState
from studio.ui.panels.voice import VoicePanel
from tests.plugins.test_registry import FakeDist, FakeEntryPoint

TONE = """
import numpy as np
from studio.plugins.api import AudioClip, Generator, Param

class Tone(Generator):
    kind = "voice"
    params = (Param("seconds", "float", 0.5, minimum=0.1, maximum=5.0),
              Param("loud", "bool", True))

    def run(self, request, ctx):
        rate = 8000
        t = np.arange(int(rate * request["seconds"])) / rate
        ctx.progress(1.0, "toned")
        return AudioClip((0.5 if request["loud"] else 0.1) * np.sin(2 * np.pi * 440 * t), rate)
"""

MANIFEST = """
[plugin]
name = "tone"
version = "1.0.0"
api_version = "1.0"

[[contributions]]
id = "tone"
kind = "voice"
title = "Test tone"
entry = "tp_tone.gen:Tone"
"""


def test_voice_plugin_builds_controls_runs_and_exports(qtbot, context, tmp_path, monkeypatch):
    pkg = tmp_path / "tp_tone"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "gen.py").write_text(textwrap.dedent(TONE))
    (pkg / "studio-plugin.toml").write_text(MANIFEST)
    monkeypatch.syspath_prepend(str(tmp_path))
    context.registry = PluginRegistry(
        entry_points=[FakeEntryPoint("tone", "tp_tone:studio-plugin.toml", FakeDist("tp-tone"))]
    )
    panel = VoicePanel(context)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.voice_combo.findData("plugin:tone/tone") >= 0, timeout=20000)
    assert panel.select_voice("plugin:tone/tone")
    assert not panel.rate.isEnabled()  # the plugin brings its own controls
    panel.plugin_form.set_value("seconds", 1.5)
    panel.plugin_form.set_value("loud", False)
    panel.editor.setPlainText("anything")
    handle = panel.speak()
    with qtbot.waitSignal(handle.finished, timeout=20000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert "1.5 s" in panel.status.text()
    export = panel.export_to(tmp_path / "tone.wav")
    with qtbot.waitSignal(export.finished, timeout=20000):
        pass
    audio = AudioClip.load_wav(tmp_path / "tone.wav")
    assert audio.duration == 1.5 and abs(audio.samples).max() < 0.15
