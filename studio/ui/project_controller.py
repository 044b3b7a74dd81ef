"""The window's side of projects: File ▸ New/Open/Open Recent/Save/Save As/Close, the title,
Edit ▸ Undo/Redo on the front panel's document, autosave to a recovery copy and "Restore unsaved
work" after a crash.

Saving and autosave run on one job worker (family ``project``), so they never overlap and the
window never waits on a disk: the window thread only takes a snapshot (references to the
documents' immutable values). Opening reads the files on the same worker.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSettings, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QToolBar

from studio.core import paths
from studio.core.jobs import JobSpec
from studio.project import (
    Project,
    ProjectError,
    Recovery,
    RecoveryEntry,
    project_path,
    restore,
)
from studio.ui.dialogs import files

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

__all__ = ["ProjectController", "AUTOSAVE_SECONDS"]

log = logging.getLogger(__name__)
# At most this often, and only when something changed. STUDIO_AUTOSAVE_SECONDS overrides it
# (the kill test autosaves every fraction of a second).
AUTOSAVE_SECONDS = float(os.environ.get("STUDIO_AUTOSAVE_SECONDS", "30"))
RECENT_MAX = 10
FILTER = "Studio projects (*.studio project.toml)"


def _write_project(request, ctx):
    snapshot, path, skip = request
    ctx.progress(0.1, f"saving {path.name}")
    return Project.write_snapshot(snapshot, path, skip)


def _write_recovery(request, ctx):
    recovery, snapshot, original = request
    started = time.perf_counter()
    written = recovery.autosave(snapshot, original)
    return written, time.perf_counter() - started


def _read_project(request, ctx):
    ctx.progress(0.1, f"opening {Path(request).name}")
    return Project.open(request)


class ProjectController(QObject):
    """Owns ``context.project`` for the window and the actions that act on it."""

    def __init__(self, window: MainWindow, recovery: bool = True) -> None:
        """``recovery`` False (``studio shot``, probes): no autosave, no recovery copy kept."""
        super().__init__(window)
        self.keeps_work = recovery
        self.window = window
        self.context = window.context
        self.recovery = Recovery()
        self._autosaved: dict[str, int] = {}
        self._autosave_job = None
        self._save_job = None
        self._open_job = None
        self._restored_entry: RecoveryEntry | None = None
        self.last_autosave_s = 0.0
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setObjectName("project.autosave_timer")
        self.autosave_timer.setInterval(int(AUTOSAVE_SECONDS * 1000))
        self.autosave_timer.timeout.connect(self.autosave)
        if recovery:
            self.autosave_timer.start()
        self.banner: QToolBar | None = None

    # -- menus -------------------------------------------------------------------------------------
    def build_file_menu(self, menu: QMenu) -> None:
        act = self.window._action
        act(
            menu,
            "&New Project",
            self.new_project,
            QKeySequence.StandardKey.New,
            "file.new",
            "Start an empty project (asks about unsaved changes first)",
        )
        act(
            menu,
            "&Open Project…",
            self.open_dialog,
            QKeySequence.StandardKey.Open,
            "file.open",
            "Open a project folder (NAME.studio)",
        )
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.setObjectName("file.open_recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addSeparator()
        act(
            menu,
            "&Save Project",
            self.save,
            QKeySequence.StandardKey.Save,
            "file.save",
            "Save every panel's document into the project folder",
        )
        act(
            menu,
            "Save Project &As…",
            self.save_as_dialog,
            "Ctrl+Shift+S",
            "file.save_as",
            "Save the project under a new name or folder",
        )
        act(
            menu,
            "&Close Project",
            self.close_project,
            "Ctrl+W",
            "file.close",
            "Close the project and start an empty one",
        )
        menu.addSeparator()

    def build_edit_menu(self, menu: QMenu) -> None:
        act = self.window._action
        self.undo_action = act(menu, "&Undo", self.undo, "Ctrl+Z", "edit.undo",
                               "Undo the last step of the panel in front")  # fmt: skip
        self.redo_action = act(menu, "&Redo", self.redo, "Ctrl+Shift+Z", "edit.redo",
                               "Redo the step just undone in the panel in front")  # fmt: skip
        menu.addSeparator()
        menu.aboutToShow.connect(self.update_undo_actions)

    # -- the project in the panels -----------------------------------------------------------------
    def install(self, project: Project) -> None:
        """Make ``project`` the open one: every panel shows its document."""
        old = self.context.project
        for doc in old.documents.values():
            doc.undo_stack.changed.disconnect(self.update_undo_actions, missing_ok=True)
            doc.changed.disconnect(self._on_document_changed, missing_ok=True)
        if old is not project:
            old.close()
        self.context.project = project
        for doc in project.documents.values():  # also those of panels not built yet
            self._follow(doc)
        for panel_id, panel in list(self.window.panels.items()):  # the panels built so far
            self.attach(panel_id, panel)
        self._autosaved = {}
        self.update_title()
        self.update_undo_actions()
        for message in project.messages:
            log.warning(message)
        if project.messages:
            self.window.statusBar().showMessage("⚠ " + project.messages[0], 15000)

    def attach(self, panel_id: str, panel) -> None:
        """Show the open project's document in ``panel`` (just built, or after an install) and
        follow its changes (title, Undo/Redo)."""
        set_document = getattr(panel, "set_document", None)
        if set_document is None:
            return
        try:
            doc = self.context.project.document(panel_id)
        except (ProjectError, ImportError, AttributeError):  # a panel without a document
            return
        self._follow(doc)
        if panel.document is not doc:
            set_document(doc)
        self.update_undo_actions()

    def _follow(self, doc) -> None:
        for signal, slot in (
            (doc.undo_stack.changed, self.update_undo_actions),
            (doc.changed, self._on_document_changed),
        ):
            signal.disconnect(slot, missing_ok=True)  # once, however often it is attached
            signal.connect(slot)

    def connect_initial(self) -> None:
        """Called once the panels exist: follow the documents they were built with."""
        self.install(self.context.project)

    def _on_document_changed(self, *_args) -> None:
        self.update_title()

    def update_title(self) -> None:
        from studio import __version__

        project = self.context.project
        safe = " — safe mode" if self.context.safe_mode else ""
        ro = " (read-only)" if project.read_only else ""
        self.window.setWindowTitle(f"{project.name}[*]{ro} — Studio {__version__}{safe}")
        self.window.setWindowModified(project.dirty)

    # -- undo --------------------------------------------------------------------------------------
    def front_document(self):
        panel = self.window.current_panel()
        return getattr(panel, "document", None) if panel is not None else None

    def update_undo_actions(self, *_args) -> None:
        doc = self.front_document()
        stack = doc.undo_stack if doc is not None else None
        for action, can, text, verb in (
            (self.undo_action, stack and stack.can_undo, stack and stack.undo_text(), "Undo"),
            (self.redo_action, stack and stack.can_redo, stack and stack.redo_text(), "Redo"),
        ):
            action.setEnabled(bool(can))
            action.setText(f"&{verb} {text}" if can and text else f"&{verb}")

    def undo(self) -> str:
        doc = self.front_document()
        label = doc.undo() if doc is not None else ""
        self._report("Undid", label)
        return label

    def redo(self) -> str:
        doc = self.front_document()
        label = doc.redo() if doc is not None else ""
        self._report("Redid", label)
        return label

    def _report(self, verb: str, label: str) -> None:
        self.update_undo_actions()
        if label:
            self.window.statusBar().showMessage(f"{verb}: {label}", 3000)

    # -- new / open / close ------------------------------------------------------------------------
    def _confirm_discard(self, doing: str) -> bool:
        """True when there is nothing unsaved, or the artist saved or chose to discard it."""
        project = self.context.project
        if not project.dirty:
            return True
        choice = files.ask_question(
            self.window,
            "Unsaved changes",
            f"Save the changes to {project.name} before {doing}?",
        )
        if choice == "cancel":
            return False
        if choice == "save":
            return self.save(wait=True)
        return True

    def new_project(self) -> None:
        if not self._confirm_discard("starting a new project"):
            return
        self.install(Project())
        self.window.statusBar().showMessage("New project.", 3000)

    def close_project(self) -> None:
        if not self._confirm_discard("closing it"):
            return
        self.install(Project())
        self.discard_recovery()
        self.window.statusBar().showMessage("Project closed.", 3000)

    def open_dialog(self) -> None:
        path = files.ask_open(self.window, "project", "Open project", FILTER)
        if path is not None:
            self.open_path(path)

    def open_path(self, path: str | Path, wait: bool = False):
        """Open a project folder on the project worker; the panels switch when it is read.
        Returns the job (or None when the artist kept the open project)."""
        if not self._confirm_discard("opening another project"):
            return None
        target = project_path(path)
        self._open_job = self.context.runner.submit(
            JobSpec(f"Open {target.name}", _read_project, target, family="project",
                    key="project.open")
        )  # fmt: skip
        self._open_job.succeeded.connect(self._on_open_job_succeeded)
        self._open_job.failed.connect(self._on_open_job_failed)
        if wait:
            self._wait(self._open_job)
        return self._open_job

    def _on_open_job_succeeded(self, project: Project) -> None:
        self.install(project)
        self.add_recent(project.path)
        log.info("opened project %s (%s)", project.path, ", ".join(sorted(project.documents)))
        if not project.messages:
            self.window.statusBar().showMessage(f"Opened {project.path}", 5000)

    def _on_open_job_failed(self, message: str, _tb: str) -> None:
        log.warning("could not open the project: %s", message)
        self.window.show_error(f"Could not open the project: {message}")

    # -- save --------------------------------------------------------------------------------------
    def save(self, wait: bool = False) -> bool:
        project = self.context.project
        if project.path is None or project.read_only:
            return self.save_as_dialog(wait=wait)
        return self._save_to(project.path, wait)

    def save_as_dialog(self, wait: bool = False) -> bool:
        project = self.context.project
        path = files.ask_save(self.window, "project", "Save project as",
                              f"{project.name}.studio", FILTER, ".studio")  # fmt: skip
        if path is None:
            return False
        return self._save_to(project_path(path), wait)

    def _save_to(self, path: Path, wait: bool) -> bool:
        project = self.context.project
        same = project.path is not None and path.resolve() == project.path.resolve()
        if not same:
            if path.exists() and any(path.iterdir()) and not (path / "project.toml").exists():
                self.window.show_error(f"{path} is a folder that is not a Studio project")
                return False
        skip = frozenset(
            k for k, d in project.documents.items()
            if same and d.revision == project._saved.get(k)
        )  # fmt: skip
        snapshot = project.snapshot()
        job = self.context.runner.submit(
            JobSpec(f"Save {path.name}", _write_project, (snapshot, path, skip),
                    family="project", key="project.save")
        )  # fmt: skip
        self._save_job = job
        self._saving = (project, path)
        job.succeeded.connect(self._on_save_job_succeeded)
        job.failed.connect(self._on_save_job_failed)
        if wait:
            self._wait(job)
            return job.state == "succeeded"
        return True

    def _on_save_job_succeeded(self, written: dict[str, int]) -> None:
        project, path = self._saving
        if project is not self.context.project:
            return
        project.mark_saved(written, path)
        self.add_recent(path)
        self.update_title()
        # What the recovery copy held is now older than the project: start it again (the next
        # autosave writes what changes from here on).
        self.discard_recovery()
        self._discard_restored()
        self.window.statusBar().showMessage(f"Saved {path}", 4000)
        log.info("saved project %s", path)

    def _on_save_job_failed(self, message: str, _tb: str) -> None:
        self.window.show_error(f"Could not save the project: {message}")

    def _wait(self, job) -> None:
        from PySide6.QtCore import QEventLoop

        if job.done:
            return
        loop = QEventLoop()
        job.finished.connect(loop.quit)
        if not job.done:
            loop.exec()

    # -- autosave and recovery ---------------------------------------------------------------------
    def discard_recovery(self) -> None:
        """Remove the recovery copy, on the project worker (after any autosave in progress)."""
        self._autosaved = {}
        if self.context.runner.closed:
            self.recovery.discard()
            return
        recovery = self.recovery
        self.context.runner.submit(
            JobSpec("Autosave: remove the recovery copy", lambda _r, _c: recovery.discard(),
                    family="project", key="project.discard")
        )  # fmt: skip

    def needs_autosave(self) -> bool:
        project = self.context.project
        return project.dirty and project.revisions() != self._autosaved

    def autosave(self):
        """Write the changed documents to the recovery copy on the project worker. Returns the
        job, or None when nothing changed since the last autosave (or one is still running)."""
        if self.context.runner.closed or not self.needs_autosave():
            return None
        if self._autosave_job is not None and not self._autosave_job.done:
            return None
        project = self.context.project
        started = time.perf_counter()
        snapshot = project.snapshot()
        self.last_snapshot_s = time.perf_counter() - started
        self._autosave_revisions = project.revisions()
        job = self.context.runner.submit(
            JobSpec("Autosave", _write_recovery, (self.recovery, snapshot, project.path),
                    family="project", key="project.autosave")
        )  # fmt: skip
        job.succeeded.connect(self._on_autosave_job_succeeded)
        job.failed.connect(self._on_autosave_job_failed)
        self._autosave_job = job
        return job

    def _on_autosave_job_succeeded(self, result) -> None:
        _written, seconds = result
        self._autosaved = self._autosave_revisions
        self.last_autosave_s = seconds
        self._discard_restored()

    def _on_autosave_job_failed(self, message: str, _tb: str) -> None:
        log.warning("autosave failed: %s", message)
        self.window.statusBar().showMessage(f"⚠ Autosave failed: {message}", 10000)

    def _discard_restored(self) -> None:
        # The restored work is safe again (autosaved or saved): the old copy can go.
        if self._restored_entry is not None:
            self._restored_entry.discard()
            self._restored_entry = None

    def hot_exit(self) -> None:
        """The window is closing: unsaved work goes to the recovery copy (offered back at the
        next start); with nothing unsaved the copy is removed."""
        project = self.context.project
        if project.dirty and self.keeps_work:
            try:
                self.recovery.autosave(project.snapshot(), project.path)
            except (OSError, ProjectError) as exc:
                log.error("could not keep the unsaved work: %s", exc)
        else:
            self.recovery.discard()
        project.close()

    def offer_recovery(self) -> list[RecoveryEntry]:
        """Show a bar offering to restore work a crashed Studio left, if there is any."""
        entries = self.recovery.pending()
        if not entries:
            return []
        entry = entries[0]
        bar = QToolBar("Unsaved work", self.window)
        bar.setObjectName("file.recovery_bar")
        bar.setMovable(False)
        label = QLabel(f"  Unsaved work was found: {entry.describe()}.  ")
        label.setObjectName("file.recovery_label")
        bar.addWidget(label)
        restore_button = QPushButton("Restore unsaved work")
        restore_button.setObjectName("file.restore")
        restore_button.setToolTip("Open the work that was not saved when Studio last stopped")
        restore_button.clicked.connect(self._on_restore_clicked)
        discard = QPushButton("Discard")
        discard.setObjectName("file.discard_recovery")
        discard.setToolTip("Delete the unsaved work for good")
        discard.clicked.connect(self._on_discard_clicked)
        bar.addWidget(restore_button)
        bar.addWidget(discard)
        self.window.addToolBar(bar)
        self.banner = bar
        self._entries = entries
        return entries

    def _close_banner(self) -> None:
        if self.banner is not None:
            self.window.removeToolBar(self.banner)
            self.banner.deleteLater()
            self.banner = None

    def _on_restore_clicked(self, _checked: bool = False) -> None:
        entry = self._entries.pop(0)
        try:
            project = restore(entry)
        except ProjectError as exc:
            self.window.show_error(f"Could not restore the unsaved work: {exc}")
            return
        self._close_banner()
        self.install(project)
        self._restored_entry = entry
        self.window.statusBar().showMessage(f"Restored {entry.describe()}; save to keep it", 8000)

    def _on_discard_clicked(self, _checked: bool = False) -> None:
        for entry in self._entries:
            entry.discard()
        self._entries = []
        self._close_banner()

    # -- recent ------------------------------------------------------------------------------------
    @staticmethod
    def _qsettings() -> QSettings:
        return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def recent(self) -> list[str]:
        value = self._qsettings().value("recent/projects") or []
        items = [value] if isinstance(value, str) else list(value)
        return [p for p in items if p]

    def add_recent(self, path: Path | None) -> None:
        if path is None:
            return
        items = [str(path)] + [p for p in self.recent() if p != str(path)]
        qs = self._qsettings()
        qs.setValue("recent/projects", items[:RECENT_MAX])
        qs.sync()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        items = self.recent()
        for index, item in enumerate(items):
            text = f"&{index + 1} {Path(item).name}  —  {Path(item).parent}"
            action = QAction(text, self.recent_menu)
            action.setObjectName(f"file.recent_{index + 1}")
            action.setData(item)
            action.setEnabled(Path(item).is_dir())
            action.triggered.connect(self._on_recent_triggered)
            self.recent_menu.addAction(action)
        if not items:
            empty = self.recent_menu.addAction("No recent projects")
            empty.setEnabled(False)

    def _on_recent_triggered(self, _checked: bool = False) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.open_path(action.data())
