"""The main window: six dockable panels, the Jobs and Log docks, menus and the status bar.

Start-up paints the panel in front and loads the rest after: ``MainWindow(context=None)`` (what
``studio`` runs) makes a starting StudioContext (the job runner and the project, see
:meth:`StudioContext.starting`), the docks and the panel whose dock shows, so the first paint is the
real panel. Right after the paint it reads the settings, finds the plugins (the panel then lists
their generators and the models), and builds the menus. Every other panel is built the first time
its dock is shown or ``window.panels[id]`` is asked for, so no engine, no model runtime, no numpy
and no pydantic is imported before the first paint. ``MainWindow(context)`` (tests, ``studio
shot``) builds the same way but at once, without waiting for a paint.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QWidget,
)

from studio import __version__
from studio.core import paths
from studio.ui._window_jobs import detect_device_job as _detect_device
from studio.ui._window_jobs import run_core_benchmark as _run_core_benchmark
from studio.ui.panels import PAINT_READY, PANEL_IDS, PANEL_TITLES, panel_class
from studio.ui.theme import apply_theme
from studio.ui.widgets.log_view import LogView, QtLogHandler

if TYPE_CHECKING:
    from studio.ui.context import StudioContext
    from studio.ui.jobs import JobHandle

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)
STATE_VERSION = 1


class _Panels(dict):
    """Panel id -> panel, for the panels built so far. Asking for one not built yet
    (``window.panels["video"]``) builds it; iterating sees only the built ones, so closing the
    window or opening a project never builds a panel nobody looked at."""

    def __init__(self, build) -> None:
        super().__init__()
        self._build = build

    def __missing__(self, panel_id: str):
        if panel_id not in PANEL_IDS:
            raise KeyError(panel_id)
        return self._build(panel_id)


def _placeholder(text: str) -> QWidget:
    from PySide6.QtCore import Qt

    label = QLabel(text)
    label.setObjectName("panel_placeholder")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setEnabled(False)
    return label


class MainWindow(QMainWindow):
    first_painted = Signal()
    # The context, the menus and the visible panels exist: the window is ready to use.
    started = Signal()

    def __init__(
        self, context: StudioContext | None = None, log_handler: QtLogHandler | None = None,
        restore: bool = True, recovery: bool = True, safe_mode: bool = False,
    ) -> None:  # fmt: skip
        """``context`` None: paint first, then make the context (``safe_mode``) and build."""
        super().__init__()
        self.context: StudioContext = context  # type: ignore[assignment]  # set by _start
        self._safe_mode = context.safe_mode if context is not None else safe_mode
        self._recovery = recovery
        self._restore = restore
        self.setWindowTitle(f"Studio {__version__}" + (" — safe mode" if self._safe_mode else ""))
        # (the project controller sets the title with the project's name once it exists)
        self.setObjectName("main_window")
        self._painted = False
        self._started = False
        self._closed = False
        self._building: set[str] = set()
        self._front: str | None = None
        self._asked_front: str | None = None
        self._device_job: JobHandle | None = None
        self.bench_job: JobHandle | None = None
        self._own_log_handler = log_handler is None
        self.log_handler = log_handler or QtLogHandler()
        if self._own_log_handler:
            logging.getLogger().addHandler(self.log_handler)
        self.panels: dict[str, QWidget] = _Panels(self._build_panel)
        self.panel_docks: dict[str, QDockWidget] = {}
        self._layout_restored = False
        self._bottom_height = int(self._qsettings().value("bottom_height", 0) or 0)

        # What paints first: the menu bar, the status bar and the window's restored size. The
        # docks come right after (touching any Qt.* enum builds all 96 of the Qt namespace's
        # enum classes in Python, a tenth of a second on a busy machine), then the panel in front.
        self._menus = {}
        for key, title in (("file", "&File"), ("edit", "&Edit"), ("view", "&View"),
                           ("tools", "&Tools"), ("help", "&Help")):  # fmt: skip
            self._menus[key] = self.menuBar().addMenu(title)
        self._menus["file"].setObjectName("menu.file")
        self._menus["edit"].setObjectName("menu.edit")
        self._build_status_bar()
        self.setCentralWidget(QWidget())  # until the docks exist
        geometry = self._qsettings().value("geometry") if restore else None
        if geometry is not None:
            self._layout_restored = self.restoreGeometry(geometry)
        if context is not None:
            self._start(context)
        else:
            from studio.ui.context import StudioContext

            # The panel in front is built when its dock is first shown (in show(), before the
            # first paint) with this context; the settings and plugins come after the paint.
            self.context = StudioContext.starting(safe_mode)
            self._build_docks()
            self.statusBar().showMessage("Starting…")

    def _start_after_paint(self) -> None:
        """The first paint is on screen: make the context and build what is visible."""
        if self._closed or self._started:
            return
        context = self.context
        context.load()  # the settings (pydantic), then the plugins (entry points, manifests)
        app = QApplication.instance()
        if app.property("studio_theme") != context.settings.theme:
            apply_theme(app, context.settings.theme)
        self.statusBar().clearMessage()
        for panel in list(self.panels.values()):  # built before the paint: plugins, models
            panel.on_context_loaded()
        self._start(context)

    def _build_docks(self) -> None:
        """Every panel's dock (a placeholder in each until the panel is built), Jobs and Log,
        then the saved dock layout."""
        from PySide6.QtCore import Qt

        from studio.ui.widgets.jobs_view import JobsView

        self.setDockNestingEnabled(True)
        self.setTabPosition(
            Qt.DockWidgetArea.AllDockWidgetAreas,
            self.tabPosition(Qt.DockWidgetArea.TopDockWidgetArea),
        )
        # No central widget: every panel is a dock, and the dock areas share the window.
        central = self.takeCentralWidget()
        if central is not None:
            central.deleteLater()
        first: QDockWidget | None = None
        for panel_id in PANEL_IDS:
            dock = QDockWidget(PANEL_TITLES[panel_id], self)
            dock.setObjectName(f"dock_{panel_id}")
            dock.setWidget(_placeholder(f"Opening {PANEL_TITLES[panel_id]}…"))
            self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, dock)
            if first is None:
                first = dock
            else:
                self.tabifyDockWidget(first, dock)
            self.panel_docks[panel_id] = dock
            dock.visibilityChanged.connect(self._on_dock_visibility_changed)

        self.jobs_view = JobsView(self.context.runner)
        self.jobs_dock = QDockWidget("Jobs", self)
        self.jobs_dock.setObjectName("dock_jobs")
        self.jobs_dock.setWidget(self.jobs_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.log_view = LogView(self.log_handler)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("dock_log")
        self.log_dock.setWidget(self.log_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.tabifyDockWidget(self.jobs_dock, self.log_dock)
        self.jobs_dock.raise_()
        # Jobs and Log start small and keep their height; the panels take the rest.
        self._keep_bottom_height(self._bottom_height)
        self.raise_panel("music")
        if self._restore:
            state = self._qsettings().value("state")
            if state is not None:
                self._layout_restored = (
                    self.restoreState(state, STATE_VERSION) and self._layout_restored
                )
        if self._asked_front is not None:
            self.raise_panel(self._asked_front)

    def _start(self, context: StudioContext) -> None:
        from studio.ui.project_controller import ProjectController

        self.context = context
        if not self.panel_docks:
            self._build_docks()
        self.projects = ProjectController(self, recovery=self._recovery)
        self._build_menus()
        self.device_label.setText(context.device_text)
        self.context.runner.submitted.connect(self._on_runner_submitted)
        self._started = True
        self._build_visible_panels()
        QApplication.instance().focusChanged.connect(self._on_app_focus_changed)
        self.projects.connect_initial()
        if self._recovery:
            self.projects.offer_recovery()

        for message in context.messages:
            log.warning(message)
            self.statusBar().showMessage(message, 15000)
        broken = [
            r.name
            for r in context.registry.records
            if not r.ok and r.status != "skipped (safe mode)"
        ]
        if broken:
            log.warning("plugins not working: %s (see Help ▸ Plugins)", ", ".join(broken))

        self._memory_timer = QTimer(self)
        self._memory_timer.setInterval(2000)
        self._memory_timer.timeout.connect(self._on_memory_timer_timeout)
        self._memory_timer.start()
        self._on_memory_timer_timeout()
        QTimer.singleShot(0, self.detect_device)
        self.started.emit()

    @property
    def is_started(self) -> bool:
        return self._started

    # -- panels, built on first show ---------------------------------------------------------------
    def _build_panel(self, panel_id: str) -> QWidget:
        """Build panel ``panel_id`` into its dock (the placeholder goes). Raises KeyError before
        the docks exist (``MainWindow(context)`` builds them at once, ``MainWindow(None)`` before
        it shows)."""
        if not self.panel_docks or panel_id in self._building:
            raise KeyError(f"panel {panel_id!r} is not built yet")
        self._building.add(panel_id)
        try:
            panel = panel_class(panel_id)(self.context)
            dict.__setitem__(self.panels, panel_id, panel)
            dock = self.panel_docks[panel_id]
            placeholder = dock.widget()
            dock.setWidget(panel)
            if placeholder is not None:
                placeholder.deleteLater()
            if hasattr(self, "projects"):
                self.projects.attach(panel_id, panel)
        finally:
            self._building.discard(panel_id)
        log.debug("built the %s panel", panel_id)
        return panel

    def _dock_on_screen(self, dock: QDockWidget) -> bool:
        return dock.isVisible() and not dock.widget().visibleRegion().isEmpty()

    def _build_visible_panels(self) -> None:
        """The front panel and every panel whose dock shows (a saved layout may show several)."""
        if self._front is not None:
            self.panels[self._front]  # noqa: B018  (builds it)
        for panel_id, dock in self.panel_docks.items():
            if panel_id not in self.panels and (
                self._dock_on_screen(dock) or (dock.isFloating() and dock.isVisible())
            ):
                self.panels[panel_id]  # noqa: B018

    def build_all_panels(self) -> None:
        """Build every panel now (``studio shot``, tests that walk all controls)."""
        for panel_id in PANEL_IDS:
            self.panels[panel_id]  # noqa: B018

    # -- building ----------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, name: str | None = None,
                tip: str = "") -> QAction:  # fmt: skip
        action = QAction(text, self)
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        if name:
            action.setObjectName(name)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self._menus["file"]
        self.projects.build_file_menu(file_menu)
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q", "file.quit")
        edit_menu = self._menus["edit"]
        self.projects.build_edit_menu(edit_menu)
        self._action(
            edit_menu, "&Preferences…", self.show_preferences, "Ctrl+,", "edit.preferences"
        )
        view_menu = self._menus["view"]
        for index, panel_id in enumerate(PANEL_IDS, start=1):
            self._action(
                view_menu,
                self.panel_docks[panel_id].windowTitle(),
                lambda _=False, p=panel_id: self.raise_panel(p),
                f"Ctrl+{index}",
                f"view.{panel_id}",
            )
        view_menu.addSeparator()
        view_menu.addAction(self.jobs_dock.toggleViewAction())
        view_menu.addAction(self.log_dock.toggleViewAction())
        self._action(view_menu, "Reset layout", self.reset_layout, None, "view.reset_layout")
        tools = self._menus["tools"]
        self.bench_action = self._action(
            tools, "&Benchmark (core)", self.run_benchmark, None, "tools.benchmark"
        )
        self._action(tools, "&Models…", self.show_models, None, "tools.models")
        self._action(
            tools, "Release loaded models", self.release_models, None, "tools.release_models"
        )
        self._action(
            tools, "More like this in the &Library", self.more_like_this, "Ctrl+Shift+M",
            "tools.more_like_this",
        )  # fmt: skip
        self._action(
            tools, "Send to &Arrange", self.send_to_arrange, "Ctrl+Shift+A",
            "tools.send_to_arrange",
            "Put what the panel in front holds on a new lane of the Arrange panel",
        )  # fmt: skip
        from studio.ui.dialogs.image_train import add_image_menu

        add_image_menu(self)  # Image ▸ Train a generator…, Train a tagger…
        help_menu = self._menus["help"]
        self._action(help_menu, "&Plugins…", self.show_plugins, None, "help.plugins")
        self._action(help_menu, "&About Studio", self.show_about, None, "help.about")

    def _build_status_bar(self) -> None:
        self.device_label = QLabel("Device: detecting…")
        self.device_label.setObjectName("device_label")
        self.memory_label = QLabel()
        self.memory_label.setObjectName("memory_label")
        self.jobs_label = QLabel()
        status = self.statusBar()
        status.addPermanentWidget(self.jobs_label)
        status.addPermanentWidget(self.memory_label)
        status.addPermanentWidget(self.device_label)

    # -- layout ------------------------------------------------------------------------------------
    @staticmethod
    def _qsettings() -> QSettings:
        return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)

    def save_layout(self) -> None:
        qs = self._qsettings()
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("state", self.saveState(STATE_VERSION))
        qs.setValue("bottom_height", self.jobs_view.preferred_height)
        qs.sync()

    def restore_layout(self) -> bool:
        """Put back the saved window geometry and dock layout (True when both came back)."""
        qs = self._qsettings()
        geometry, state = qs.value("geometry"), qs.value("state")
        restored = False
        if geometry is not None:
            restored = self.restoreGeometry(geometry)
        if state is not None:
            restored = self.restoreState(state, STATE_VERSION) and restored
        return restored

    def reset_layout(self) -> None:
        from PySide6.QtCore import Qt

        for dock in (*self.panel_docks.values(), self.jobs_dock, self.log_dock):
            dock.setFloating(False)
            dock.show()
        first = self.panel_docks[PANEL_IDS[0]]
        self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, first)
        for panel_id in PANEL_IDS[1:]:
            self.tabifyDockWidget(first, self.panel_docks[panel_id])
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.jobs_dock)
        self.tabifyDockWidget(self.jobs_dock, self.log_dock)
        self.raise_panel(PANEL_IDS[0])

    def current_panel(self):
        """The panel in front: the one the artist last worked in (focus or raised), if its dock
        is still visible; else the first visible one. None before the window has started."""
        if not self._started:
            return None
        if self._front is not None:
            dock = self.panel_docks[self._front]
            if dock.isVisible() and not dock.widget().visibleRegion().isEmpty():
                return self.panels[self._front]
        for panel_id, dock in self.panel_docks.items():
            if dock.isVisible() and not dock.widget().visibleRegion().isEmpty():
                return self.panels[panel_id]
        return None

    def more_like_this(self):
        """Library items like the front panel's current file (its picture, MIDI file or video),
        in the Library panel. Returns the recommendation job, or None with a status message."""
        panel = self.current_panel()
        library = self.panels["library"]
        path = panel.current_file() if panel is not None and panel is not library else None
        if panel is library:
            return library.more_like_this()
        if path is None:
            self.statusBar().showMessage(
                "Open or save a file in this panel first: 'more like this' starts from a file", 6000
            )
            return None
        self.raise_panel("library")
        return library.more_like_file(path)

    def send_to_arrange(self) -> list:
        """Tools ▸ Send to Arrange: the front panel's clip, take, picture, export or selected
        item onto a new Arrange lane. Returns the clips made."""
        panel = self.current_panel()
        if panel is None or panel.panel_id == "arrange":
            return []
        from studio.ui.panels.arrange.send import send_from

        item = (panel.document.selected or None) if panel.panel_id == "library" else None
        return send_from(panel, panel.panel_id, item)

    def raise_panel(self, panel_id: str) -> None:
        if not self.panel_docks:  # before the docks exist: raised once they do
            self._asked_front = panel_id
            return
        dock = self.panel_docks[panel_id]
        dock.show()
        dock.raise_()
        dock.widget().setFocus()
        self._set_front(panel_id)

    def _set_front(self, panel_id: str) -> None:
        if panel_id != self._front:
            self._front = panel_id
            if hasattr(self, "projects") and hasattr(self.projects, "undo_action"):
                self.projects.update_undo_actions()

    def _on_dock_visibility_changed(self, visible: bool) -> None:
        dock = self.sender()
        if visible:
            for panel_id, d in self.panel_docks.items():
                if d is dock:
                    # first show: build it now (before the first paint, only a paint-ready
                    # panel; another one is built right after the paint)
                    ready = self._started or panel_id in PAINT_READY
                    if panel_id not in self.panels and ready:
                        self.panels[panel_id]  # noqa: B018
                    self._set_front(panel_id)

    def _on_app_focus_changed(self, _old, new) -> None:
        widget = new
        while widget is not None:
            for panel_id, panel in self.panels.items():
                if widget is panel:
                    self._set_front(panel_id)
                    return
            widget = widget.parentWidget()

    # -- jobs --------------------------------------------------------------------------------------
    def detect_device(self) -> JobHandle | None:
        if self.context.runner.closed:  # the window closed before this queued call ran
            return None
        from studio.core.jobs import JobSpec

        settings = self.context.settings
        spec = JobSpec(
            "Detect compute device",
            _detect_device,
            {"device": settings.device, "threads": settings.torch_threads},
            key="app.device",
        )
        self._device_job = self.context.runner.submit(spec)
        self._device_job.succeeded.connect(self._on_device_job_succeeded)
        self._device_job.failed.connect(self._on_device_job_failed)
        return self._device_job

    def _on_device_job_succeeded(self, result) -> None:
        device, text, warning = result
        self.context.device, self.context.device_text = device, text
        self.device_label.setText(text)
        log.info("compute device: %s", text)
        if warning:
            log.warning(warning)
            self.statusBar().showMessage(warning, 10000)

    def _on_device_job_failed(self, message: str, _tb: str) -> None:
        self.context.device, self.context.device_text = "cpu", "CPU (torch unavailable)"
        self.device_label.setText(self.context.device_text)
        self.statusBar().showMessage(f"Could not set up torch: {message}", 15000)

    def run_benchmark(self) -> JobHandle:
        from studio.core.jobs import JobSpec

        self.bench_job = self.context.runner.submit(
            JobSpec("Benchmark: core", _run_core_benchmark, None, key="app.bench")
        )
        self.bench_job.succeeded.connect(self._on_bench_job_succeeded)
        self.bench_job.failed.connect(self._on_bench_job_failed)
        self.jobs_dock.raise_()
        return self.bench_job

    def _on_bench_job_succeeded(self, results) -> None:
        from studio.bench import format_results

        text = format_results(results)
        log.info("benchmark results:\n%s", text)
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(
            QMessageBox.Icon.Information,
            "Benchmark: core",
            "Benchmark finished.",
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setDetailedText(text)
        box.setModal(False)
        box.show()

    def _on_bench_job_failed(self, message: str, _tb: str) -> None:
        self.statusBar().showMessage(f"Benchmark failed: {message}", 15000)

    def _on_runner_submitted(self, handle: JobHandle) -> None:
        handle.finished.connect(self._update_jobs_label)
        self._update_jobs_label()

    def _update_jobs_label(self) -> None:
        count = len(self.context.runner.active())
        self.jobs_label.setText(f"{count} job{'s' if count != 1 else ''} running" if count else "")

    def _on_memory_timer_timeout(self) -> None:
        from studio.core.devices import memory_in_use

        self.memory_label.setText(memory_in_use())

    def release_models(self) -> str:
        """Free the models no job is using; a model or plugin in use is skipped and named (never
        pulled from under its run). Never waits on a job."""
        from studio.core.models import release_idle_hosts

        busy_plugins = self.context.registry.unload_all()
        report = release_idle_hosts()
        message = f"Released {len(report.released)} loaded model(s)."
        busy = [*report.skipped, *busy_plugins]
        if busy:
            message += f" Still in use, kept: {', '.join(busy)}."
        self.statusBar().showMessage(message, 6000)
        return message

    # -- dialogs -----------------------------------------------------------------------------------
    def show_preferences(self) -> None:
        from studio.ui.dialogs.preferences import PreferencesDialog

        dialog = PreferencesDialog(self.context.settings, self)
        if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        self.apply_settings(dialog.result_settings())

    def apply_settings(self, settings) -> None:
        old = self.context.settings
        self.context.settings = settings
        self.context.save_settings()
        apply_theme(QApplication.instance(), settings.theme)
        if (old.device, old.torch_threads) != (settings.device, settings.torch_threads):
            self.detect_device()
        self.statusBar().showMessage("Preferences saved.", 4000)

    def show_models(self) -> None:
        from studio.ui.dialogs.models import ModelsDialog

        ModelsDialog(self.context.store, self).exec()

    def show_plugins(self) -> None:
        from studio.ui.dialogs.plugins import PluginsDialog

        PluginsDialog(self.context.registry, self).exec()

    def show_about(self):
        """Studio's version and licence, and the licences of the models and packages inside."""
        from studio.ui.dialogs.about import AboutDialog

        self._about = AboutDialog(self.context.store, self)
        self._about.show()
        return self._about

    def show_error(self, message: str, details: str = "") -> None:
        """A non-fatal error message (used by the exception hook)."""
        if self._closed:
            return  # logged already; a box now would keep a closed Studio from quitting
        self.statusBar().showMessage(f"⚠ {message}", 15000)
        from PySide6.QtWidgets import QMessageBox  # (on first use: QMessageBox delays the paint)

        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Something went wrong",
            message,
            QMessageBox.StandardButton.Ok,
            self,
        )
        if details:
            box.setDetailedText(details)
        box.setModal(False)
        box.show()
        self._last_error_box = box

    # -- Qt overrides ------------------------------------------------------------------------------
    def _bottom_views(self):
        return tuple(v for v in (getattr(self, "jobs_view", None), getattr(self, "log_view", None))
                     if v is not None)  # fmt: skip

    def mousePressEvent(self, event) -> None:
        # Dock separators belong to the window: while one is dragged, Jobs and Log may grow.
        for view in self._bottom_views():
            view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        # The height the artist dragged Jobs and Log to is the one they keep; every other pixel,
        # also when the window grows, goes to the panels.
        super().mouseReleaseEvent(event)
        if not self._started:
            return
        bottom = self.jobs_dock if self.jobs_dock.isVisible() else self.log_dock
        height = bottom.widget().height() if bottom.isVisible() and not bottom.isFloating() else 0
        self._keep_bottom_height(height)

    def _keep_bottom_height(self, height: int) -> None:
        for view in self._bottom_views():
            if height > 0:
                view.preferred_height = height
            view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
            view.updateGeometry()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            self.first_painted.emit()
            if not self._started:  # MainWindow(None): now make the context and build
                QTimer.singleShot(0, self._start_after_paint)

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closed = True
        if not self._started:  # closed before the paint's load: no job ran, no layout to save
            for panel in self.panels.values():
                panel.shutdown()
            if self.context is not None:
                self.context.runner.shutdown()
            if self._own_log_handler:
                logging.getLogger().removeHandler(self.log_handler)
            super().closeEvent(event)
            return
        self.projects.autosave_timer.stop()
        with contextlib.suppress(RuntimeError, TypeError):
            QApplication.instance().focusChanged.disconnect(self._on_app_focus_changed)
        self.save_layout()
        self._memory_timer.stop()
        for panel in self.panels.values():
            panel.shutdown()
        self.context.runner.shutdown()
        self.projects.hot_exit()  # after the project worker stopped: one writer at a time
        self.context.registry.unload_all(wait=True)
        if self._own_log_handler:
            logging.getLogger().removeHandler(self.log_handler)
        super().closeEvent(event)
