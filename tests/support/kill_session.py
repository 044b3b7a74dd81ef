"""A scripted editing session that a test kills with SIGKILL at random moments.

    python -m tests.support.kill_session PROJECT [--window]

It opens PROJECT (making it the first time), restores the recovery copy a killed run left (as the
window's "Restore unsaved work" does), then edits without end: one edit every 10 ms, a bigger
picture every 10th edit, a save every 100 edits. Autosave writes the recovery copy at most every
0.25 s, only when something changed, on a worker thread, exactly as the window does: the snapshot
on the editing thread, the files on the worker.

Without --window it drives studio.project directly (fast: 20 kills take seconds). With --window it
runs the real window offscreen and its ProjectController (autosave timer, project worker, Save).

Each edit prints "edit N T" (T: time.time()) once it is in the document; "ready" comes first.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np

from studio import project as projects

projects.DOCUMENT_CLASSES["journal"] = "tests.support.journal:JournalDocument"
AUTOSAVE_S = 0.25
SAVE_EVERY = 100


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _open(path: Path, recovery_root: Path | None) -> projects.Project:
    entries = projects.pending_recoveries(recovery_root)
    if entries:
        return projects.restore(entries[0]), entries[0]
    if (path / "project.toml").exists():
        return projects.Project.open(path), None
    project = projects.Project()
    project.document("journal")
    project.save(path)
    return project, None


def _edit(doc, n: int) -> None:
    values = {"edits": (*doc.edits, n), "text": f"edit {n}"}
    if n % 10 == 0:
        values["pixels"] = np.full((256, 256, 3), n % 256, np.uint8)
    doc.set(f"edit {n}", **values)


def run_plain(path: Path) -> None:
    project, entry = _open(path, None)
    recovery = projects.Recovery()
    doc = project.document("journal")
    work: queue.Queue = queue.Queue()
    state = {"autosaved": None}

    def writer() -> None:
        while True:
            kind, payload = work.get()
            if kind == "autosave":
                snapshot, revisions = payload
                recovery.autosave(snapshot, project.path)
                state["autosaved"] = revisions
                if entry is not None:
                    entry.discard()
            else:
                snapshot, revisions = payload
                written = projects.Project.write_snapshot(snapshot, project.path)
                state["saved"] = written
            work.task_done()

    threading.Thread(target=writer, daemon=True).start()
    _say("ready")
    n = max(doc.edits, default=0)
    last_autosave = time.monotonic()
    while True:
        n += 1
        _edit(doc, n)
        _say(f"edit {n} {time.time():.4f}")
        now = time.monotonic()
        if now - last_autosave >= AUTOSAVE_S and work.empty():
            revisions = project.revisions()
            if project.dirty and revisions != state["autosaved"]:
                work.put(("autosave", (project.snapshot(), revisions)))
            last_autosave = now
        if n % SAVE_EVERY == 0 and work.empty():
            work.put(("save", (project.snapshot(), project.revisions())))
        time.sleep(0.01)


def run_window(path: Path) -> None:
    os.environ["STUDIO_AUTOSAVE_SECONDS"] = str(AUTOSAVE_S)
    from PySide6.QtCore import QTimer

    from studio.ui.app import create_app
    from studio.ui.context import StudioContext
    from studio.ui.main_window import MainWindow

    app = create_app()
    context = StudioContext.create()
    window = MainWindow(context, restore=False)
    window.resize(1024, 700)
    window.show()
    from PySide6.QtWidgets import QPushButton

    from studio.ui.dialogs import files

    restore_button = window.findChild(QPushButton, "file.restore")
    if restore_button is not None:  # a killed run left unsaved work: take it back
        restore_button.click()
    elif (path / "project.toml").exists():
        window.projects.open_path(path, wait=True)
    else:
        window.context.project.document("journal")
        files.answer_next(path)
        window.projects.save(wait=True)  # untitled: Save As, answered with ``path``
    doc = window.context.project.document("journal")
    counter = {"n": max(doc.edits, default=0)}
    save_action = window.findChild(type(window.projects.undo_action), "file.save")

    def tick() -> None:
        counter["n"] += 1
        n = counter["n"]
        _edit(window.context.project.document("journal"), n)
        _say(f"edit {n} {time.time():.4f}")
        if n % SAVE_EVERY == 0:
            save_action.trigger()

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    _say("ready")
    app.exec()


if __name__ == "__main__":
    target = projects.project_path(sys.argv[1])
    if "--window" in sys.argv:
        run_window(target)
    else:
        run_plain(target)
