"""Playback in the Arrange panel, in a child process (PortAudio reads its devices once per
process): with ALSA's null device Play streams the loop region, the playhead and the meter
follow it, and Space stops it; with no device at all the panel says so and export still works."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.support.null_sound import null_sound_env

CODE = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    import numpy as np
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from studio.arrange.document import Source, new_id
    from studio.ui.context import StudioContext
    from studio.ui.panels.arrange import ArrangePanel

    app = QApplication([])
    context = StudioContext.create()
    panel = ArrangePanel(context)
    panel.resize(1000, 600)
    panel.show()
    panel.activateWindow()
    QTest.qWaitForWindowActive(panel, 5000)  # the panel's keys work in the active window
    t = np.arange(44100 * 3) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    panel.document.add_source(Source(new_id(), "audio", "tone", samples=tone, sample_rate=44100,
                                     seconds=3.0), at=0)
    # loop the clip: ALSA's null device has no clock and would finish a short mix at once
    QTest.mouseClick(panel.loop_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    deadline = __import__("time").time() + 60
    while __import__("time").time() < deadline:
        app.processEvents()
        if panel.timeline.play_beat is not None and panel.meter.levels[0] > -60:
            break
        if "No sound card" in panel.status.text():
            break
        QTest.qWait(20)
    print("status:", panel.status.text().replace(chr(10), " "))
    print("beat:", panel.timeline.play_beat, "meter:", panel.meter.levels[0])
    panel.timeline.setFocus()
    QTest.keyClick(panel.timeline, Qt.Key.Key_Space)
    print("stopped:", not panel.play_timer.isActive())
    panel.shutdown()
    context.runner.shutdown()
""")


def _run(env) -> str:
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                         timeout=180)  # fmt: skip
    return out.stdout + out.stderr


def test_play_streams_moves_the_playhead_and_space_stops(tmp_path):
    out = _run(null_sound_env(tmp_path))
    beat_line = next(line for line in out.splitlines() if line.startswith("beat:")).split()
    assert beat_line[1] != "None" and 0.0 <= float(beat_line[1]) <= 6.0, out
    assert float(beat_line[3]) > -20, out  # the meter shows the tone's level
    assert "stopped: True" in out, out


def test_without_a_sound_card_play_says_so():
    out = _run({k: v for k, v in os.environ.items() if k != "ALSA_CONFIG_PATH"})
    status = next(line for line in out.splitlines() if line.startswith("status:"))
    beat = next(line for line in out.splitlines() if line.startswith("beat:")).split()[1]
    # either this machine has a real device (it played) or the panel says why not
    assert "No sound card" in status or beat != "None", out
