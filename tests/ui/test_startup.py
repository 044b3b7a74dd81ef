"""Start-up: the window's first paint shows the real panel in front, before any engine, model
runtime, numpy or pydantic is loaded; the settings and plugins come right after the paint, every
other panel on its first show."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from PySide6.QtGui import QAction

from studio.ui.panels import PANEL_IDS, PANEL_TITLES, panel_class


def _child(*args: str) -> dict:
    """Run ``python ARGS`` offscreen, as a child process; what it printed last, read as JSON."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("STUDIO_PROBE_SPAWNED_AT", None)  # the probe's own clock: the kernel's start time
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


# Run as a child process (other tests' imports would leak into sys.modules here): start the
# window the way `studio` does, note what is imported, built and shown at the first paint and
# once the window has started, then quit.
_CHILD = r"""
import json, sys
from PySide6.QtWidgets import QComboBox, QToolButton
from studio.ui.app import create_app, open_window, setup_logging
app = create_app()
window = open_window(log_handler=setup_logging(file_log=False), restore=False, recovery=False)
seen = {}
HEAVY = ("torch", "onnxruntime", "cv2", "mediapipe", "numpy", "scipy", "pydantic", "psygnal",
         "importlib.metadata")
def shown(name, kind):
    w = window.findChild(kind, name)
    return w is not None and w.isVisible() and not w.visibleRegion().isEmpty()
def painted():
    seen["at_paint"] = [m for m in HEAVY if m in sys.modules]
    seen["built_at_paint"] = sorted(window.panels)
    seen["started_at_paint"] = window.is_started
    seen["shown_at_paint"] = [shown(n, k) for n, k in (
        ("music.editor", object), ("music.generator", QComboBox), ("music.key", QComboBox),
        ("music.style", QComboBox), ("music.play", QToolButton))]
    # (in the controls' scroll area, below the fold of the default window size)
    seen["generate_at_paint"] = window.findChild(QToolButton, "music.generate").isVisible()
    seen["placeholder_at_paint"] = window.panel_docks["music"].widget().objectName()
    seen["generators_at_paint"] = window.findChild(QComboBox, "music.generator").count()
def started():
    seen["built_at_start"] = sorted(window.panels)
    seen["front_has_document"] = window.panels["music"].document is not None
    seen["heavy_at_start"] = [m for m in ("torch", "onnxruntime", "cv2", "mediapipe")
                              if m in sys.modules]
    generator = window.findChild(QComboBox, "music.generator")
    seen["generators_at_start"] = [generator.itemText(i) for i in range(generator.count())]
    seen["models_at_start"] = window.findChild(QComboBox, "music.model").count()
    window.close()
    app.quit()
window.first_painted.connect(painted)
window.started.connect(started)
app.exec()
print(json.dumps(seen))
"""


def test_the_first_paint_shows_the_front_panel_before_engines_numpy_or_pydantic(isolated_dirs):
    seen = _child("-c", _CHILD)
    assert seen["at_paint"] == [], f"imported before the first paint: {seen['at_paint']}"
    # the first paint is the Music panel itself (editor, buttons, filled combos), not a placeholder
    assert seen["built_at_paint"] == ["music"] and seen["started_at_paint"] is False
    assert seen["placeholder_at_paint"] == "music_panel"
    assert seen["shown_at_paint"] == [True] * 5 and seen["generate_at_paint"] is True
    # right after the paint: the settings and plugins are loaded, the plugin generators and the
    # models are listed; still only the front panel is built, and no model runtime is loaded
    assert seen["generators_at_paint"] == 1  # the transformer; plugins come after the paint
    assert "Music transformer" in seen["generators_at_start"]
    assert len(seen["generators_at_start"]) > 1, "the built-in plugins' MIDI generators"
    assert seen["models_at_start"] >= 4  # one line per model family at least
    assert seen["built_at_start"] == ["music"]
    assert seen["front_has_document"] is True
    assert seen["heavy_at_start"] == []


_CHILD_PANEL = r"""
import json, sys
from studio.ui.app import create_app, open_window, setup_logging
app = create_app()
window = open_window(panel=sys.argv[1], log_handler=setup_logging(file_log=False), restore=False,
                     recovery=False)
seen = {}
def painted():
    seen["at_paint"] = [m for m in ("torch", "onnxruntime", "cv2", "numpy", "pydantic")
                        if m in sys.modules]
    seen["built_at_paint"] = sorted(window.panels)
def started():
    seen["built_at_start"] = sorted(window.panels)
    seen["front"] = window.current_panel().panel_id
    window.close()
    app.quit()
window.first_painted.connect(painted)
window.started.connect(started)
app.exec()
print(json.dumps(seen))
"""


def test_a_panel_that_needs_engines_in_front_is_built_right_after_the_paint(isolated_dirs):
    """`studio --panel video`: the Video panel's code loads OpenCV, so the window paints its
    placeholder first and builds the panel right after (only the Music panel paints first)."""
    seen = _child("-c", _CHILD_PANEL, "video")
    assert seen["at_paint"] == [] and seen["built_at_paint"] == []
    assert seen["built_at_start"] == ["video"] and seen["front"] == "video"


def test_the_start_up_probe_times_the_front_panel_from_the_process_start(isolated_dirs):
    """`studio bench core`'s probe: usable_s is when the panel in front painted (here with the
    window), and its clock starts when the process does (psutil's start time was ~0.4 s early)."""
    import time

    spawned = time.time()
    result = _child("-m", "studio.ui._probe", "first-paint")
    assert result["usable_panel"] == "music_panel"
    assert result["first_paint_s"] <= result["usable_s"] <= result["started_s"]
    assert result["imported_at_paint"] == []
    # the age at the paint agrees with this process's clock, to the kernel's 10 ms tick and the
    # fork: a start time off by whole seconds fails here
    assert abs(result["first_paint_s"] - (result["first_paint_at"] - spawned)) < 0.2


def test_the_music_columns_copies_of_engine_names_agree():
    """The Music controls copy the key, meter and style names (the engine modules import numpy,
    and the column is built before the first paint)."""
    from studio.music.keys import PITCH_NAMES
    from studio.music.tokens import METERS, STYLES
    from studio.ui.panels.music import controls

    assert (controls.PITCH_NAMES, controls.METERS, controls.STYLES) == (PITCH_NAMES, METERS, STYLES)


def test_each_panel_is_built_when_first_shown_and_works(qtbot, window):
    assert sorted(window.panels) == ["music"]  # only the panel in front
    placeholder = window.panel_docks["voice"].widget()
    assert placeholder.objectName() == "panel_placeholder"
    for panel_id in PANEL_IDS:
        window.findChild(QAction, f"view.{panel_id}").trigger()  # View ▸ <panel>, Ctrl+N
        qtbot.waitUntil(lambda p=panel_id: p in window.panels, timeout=10000)
        panel = window.panels[panel_id]
        assert window.panel_docks[panel_id].widget() is panel
        assert panel.objectName() == f"{panel_id}_panel" and panel.isVisible()
        assert window.current_panel() is panel
        # it shows the open project's document, and the window follows it (title, undo)
        assert panel.document is window.context.project.document(panel_id)
    assert sorted(window.panels) == sorted(PANEL_IDS)
    # an edit in a panel built late marks the project changed, like one built at start
    window.panels["voice"].document.set("Type", text="la la")
    assert window.isWindowModified()


def test_asking_for_a_panel_builds_it_and_a_project_reaches_panels_built_later(qtbot, window):
    assert "library" not in window.panels
    library = window.panels["library"]  # built on demand, in its dock
    assert window.panel_docks["library"].widget() is library
    project = window.context.project
    project.document("voice").set("Type", text="sung later")  # its panel is not built yet
    window.projects.install(project)
    assert window.isWindowModified()
    assert window.panels["voice"].document.text == "sung later"


def test_dock_titles_match_the_panel_classes():
    assert {p: panel_class(p).title for p in PANEL_IDS} == PANEL_TITLES
