"""Listen, live: with Listen on, Generate's notes start sounding while the transformer is still
composing (each note handed to the player as soon as it is chosen), what is heard is what lands in
the editor, a machine with no sound card says so, and the model is loaded when the panel shows."""

import sys
import threading
import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from studio.core.media import MidiClip, Note
from studio.ui.jobs import JobState
from studio.ui.panels.music import panel as music_panel


@pytest.fixture
def panel(qtbot, window):
    window.raise_panel("music")
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window.panels["music"]


@pytest.fixture
def tiny_host(tiny_run, monkeypatch):
    from studio.core.models import ModelHost
    from studio.music.engine import MusicEngine

    host = ModelHost("music", lambda device: MusicEngine.load(tiny_run[1], device))
    monkeypatch.setattr(music_panel, "music_host", lambda model=None: host)
    return host


class RecordingLive:
    """Stands in for the live player (this machine has no sound card): records what is
    scheduled, from which thread, and when."""

    problem = ""
    prepared = True
    playing = False
    position = 0.0

    def __init__(self) -> None:
        self.offsets: list[float] = []
        self.started: list[tuple[Note, float, str]] = []
        self.final: dict[tuple, Note] = {}
        self.finished = self.stopped = False

    def prepare(self) -> bool:
        return True

    def reset(self, offset_beats: float = 0.0) -> None:
        self.offsets.append(offset_beats)

    def listener(self):
        return self

    def begin(self, bpm, programs) -> None:
        pass

    def note_started(self, note) -> None:
        self.started.append((note, time.monotonic(), threading.current_thread().name))

    def bar_written(self, channel, start, end, notes) -> None:
        for key in [k for k in self.final if k[0] == channel and start <= k[2] < end]:
            del self.final[key]
        self.final.update({(n.channel, n.pitch, round(n.start, 6)): n for n in notes})

    def finish(self) -> None:
        self.finished = True

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        pass


def _click_generate(qtbot, panel):
    """Click Generate; its job, once it has finished (it must succeed)."""
    with qtbot.waitSignal(panel.context.runner.submitted, timeout=5000) as submitted:
        qtbot.mouseClick(panel.generate_button, Qt.MouseButton.LeftButton)
    handle = submitted.args[0]
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    return handle


def sig(notes):
    return sorted((n.start, n.pitch, n.duration, n.channel, n.velocity) for n in notes)


def test_generate_starts_sounding_while_it_is_still_composing(qtbot, panel, tiny_host):
    doc = panel.document
    live = panel.live = RecordingLive()
    panel.listen_action.trigger()  # the Listen button
    assert doc.listen
    doc.set_quiet(bars=4, instruments="piano,bass", seed=5)
    handle = _click_generate(qtbot, panel)
    assert live.started, "no note was scheduled for playback"
    first_note, first_at, thread = live.started[0]
    # the first note went to the player from the composing job, before the job ended
    assert thread == "studio-model-music"
    assert first_at < handle.ended_at
    assert len(live.started) > 1 and live.started[-1][1] <= handle.ended_at
    # what was heard is what landed in the editor, one undo step
    assert sig(live.final.values()) == sig(doc.clip.notes)
    assert (first_note.start, first_note.pitch) in {(n.start, n.pitch) for n in doc.clip.notes}
    assert live.finished and doc.undo_stack.undo_text() == "Generate 4 bars"
    # still sounding after the job: Space (play/stop) silences it instead of playing over it
    live.playing = True
    panel.editor.setFocus()
    qtbot.keyClick(panel.editor, Qt.Key.Key_Space)
    assert live.stopped and not panel.player.playing and panel.play_job is None


def test_continue_listens_from_where_the_new_bars_begin(qtbot, panel, tiny_host):
    doc = panel.document
    live = panel.live = RecordingLive()
    doc.set_quiet(listen=True, bars=2)
    doc.replace_clip("Import", MidiClip([Note(i * 1.0, 60 + i % 5, 1.0) for i in range(8)]))
    handle = panel.generate("continue")
    with qtbot.waitSignal(handle.finished, timeout=60000):
        pass
    assert handle.state == JobState.SUCCEEDED, handle.error
    assert live.offsets == [8.0]
    assert live.started and all(n.start >= 8.0 for n, _, _ in live.started)
    assert sig(live.final.values()) == sig(n for n in doc.clip.notes if n.start >= 8.0)


def test_listen_with_no_sound_card_says_so_and_generates_anyway(qtbot, panel, tiny_host,
                                                                monkeypatch):  # fmt: skip
    from studio.music.playback import AudioPlayer

    monkeypatch.setattr(
        AudioPlayer, "output_available", staticmethod(lambda: (False, "no audio output device"))
    )
    doc = panel.document
    doc.set_quiet(listen=True, bars=2, instruments="piano")
    _click_generate(qtbot, panel)
    assert doc.clip.notes  # the music is written all the same
    assert not doc.listen and not panel.listen_action.isChecked()
    assert "no audio output device" in panel.status.text()
    assert "Render" in panel.status.text()
    assert not panel.actions_by_name["cancel"].isEnabled()  # nothing left playing


@pytest.fixture
def unfrozen():
    import gc

    yield gc
    gc.unfreeze()  # the rest of the test session collects as before


def test_showing_the_panel_loads_and_warms_the_model(qtbot, window, tiny_host, monkeypatch,
                                                     unfrozen):  # fmt: skip
    monkeypatch.setenv("STUDIO_PRELOAD", "1")
    assert not tiny_host.loaded
    window.raise_panel("music")
    panel = window.panels["music"]
    if panel._warmed_once:  # shown before the environment was set: show it again
        panel._warmed_once = False
        panel.hide()
        panel.show()
    qtbot.waitUntil(lambda: tiny_host.loaded, timeout=30000)
    engine = tiny_host.get("cpu")
    qtbot.waitUntil(lambda: bool(engine.sampler._memo), timeout=30000)
    # once warm, what lives as long as the app is out of the full collection's walk
    qtbot.waitUntil(lambda: unfrozen.get_freeze_count() > 0, timeout=30000)
    assert panel.generate_button.objectName() == "music.generate"
    assert isinstance(panel.generate_button, QToolButton)


def test_closing_before_the_warm_up_starts_quits_without_an_error(qtbot, window, tiny_host,
                                                                  monkeypatch):  # fmt: skip
    # Quit right after the start: the panel's warm-up timer fires after the window closed and
    # its runner shut down. Once it raised, and its error box kept the closed Studio running.
    monkeypatch.setenv("STUDIO_PRELOAD", "1")
    window.raise_panel("music")
    panel = window.panels["music"]
    panel._warmed_once = False
    panel.hide()
    panel.show()  # the warm-up is now due in half a second
    window.close()
    assert window.context.runner.closed
    errors = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: errors.append(exc))
    qtbot.wait(900)
    assert panel.warm() is None
    assert not errors and not tiny_host.loaded
    assert getattr(window, "_last_error_box", None) is None
