"""Issue 19's start-up cuts keep what a user sees: the piano roll's viewport is set up as Qt's own,
a new project's times read as before, and what was moved after the first paint stays there."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from studio import project
from studio.ui.widgets.piano_roll_editor import PianoRollEditor


def test_piano_roll_viewport_is_set_up_like_qts_own(qtbot):
    from PySide6.QtGui import QPalette

    editor = PianoRollEditor()
    qtbot.addWidget(editor)
    viewport = editor.viewport()
    assert viewport.parent() is editor
    assert viewport.objectName() == "qt_scrollarea_viewport"
    assert viewport.autoFillBackground()
    assert viewport.backgroundRole() == QPalette.ColorRole.Base
    assert viewport.hasMouseTracking()


def test_project_time_stamps_read_as_datetime_wrote_them():
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamp = project._now()
    after = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assert stamp in {before.isoformat(), after.isoformat()}
    assert dt.datetime.fromisoformat(stamp).tzinfo == dt.UTC


def test_the_start_path_leaves_dialogs_and_datetime_for_later():
    code = (
        "import sys; import studio.project, studio.core.media, studio.ui.main_window, "
        "studio.ui.panels.music.panel; "
        "print(sorted(m for m in ('datetime', 'wave', 'studio.ui.dialogs.files') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
