"""Start-up: the window paints before any engine, model runtime or panel is loaded; the panel in
front is built right after, every other one on its first show."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from PySide6.QtGui import QAction

from studio.ui.panels import PANEL_IDS, PANEL_TITLES, panel_class

# Run as a child process (other tests' imports would leak into sys.modules here): start the
# window the way `studio` does, note what is imported and built at the first paint and once the
# window has started, then quit.
_CHILD = r"""
import json, sys
from studio.ui.app import create_app, open_window, setup_logging
app = create_app()
window = open_window(log_handler=setup_logging(file_log=False), restore=False, recovery=False)
seen = {}
HEAVY = ("torch", "onnxruntime", "cv2", "mediapipe", "numpy", "scipy", "pydantic")
def painted():
    seen["at_paint"] = [m for m in HEAVY if m in sys.modules]
    seen["built_at_paint"] = sorted(window.panels)
    seen["started_at_paint"] = window.is_started
def started():
    seen["built_at_start"] = sorted(window.panels)
    seen["front_has_document"] = window.panels["music"].document is not None
    seen["heavy_at_start"] = [m for m in ("torch", "onnxruntime", "cv2", "mediapipe")
                              if m in sys.modules]
    window.close()
    app.quit()
window.first_painted.connect(painted)
window.started.connect(started)
app.exec()
print(json.dumps(seen))
"""


def test_the_window_paints_before_engines_numpy_or_any_panel_load(isolated_dirs):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["at_paint"] == [], f"imported before the first paint: {seen['at_paint']}"
    assert seen["built_at_paint"] == [] and seen["started_at_paint"] is False
    # right after the paint: the panel in front only, with its document; no model runtime yet
    assert seen["built_at_start"] == ["music"]
    assert seen["front_has_document"] is True
    assert seen["heavy_at_start"] == []


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
