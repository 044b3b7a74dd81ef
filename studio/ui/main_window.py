"""The main window: five dockable panels, the Jobs and Log docks, menus and the status bar."""

from __future__ import annotations

import contextlib
import logging

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSizePolicy,
    QWidget,
)

from studio import __version__
from studio.core import paths
from studio.core.jobs import JobSpec
from studio.ui._window_jobs import detect_device_job as _detect_device
from studio.ui._window_jobs import run_core_benchmark as _run_core_benchmark
from studio.ui.context import StudioContext
from studio.ui.jobs import JobHandle
from studio.ui.panels import PANEL_IDS, panel_classes
from studio.ui.theme import apply_theme
from studio.ui.widgets.jobs_view import JobsView
from studio.ui.widgets.log_view import LogView, QtLogHandler

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)
STATE_VERSION = 1


class MainWindow(QMainWindow):
    first_painted = Signal()

    def __init__(
        self, context: StudioContext, log_handler: QtLogHandler | None = None, restore: bool = True,
        recovery: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.context = context
        self.setWindowTitle(f"Studio {__version__}" + (" — safe mode" if context.safe_mode else ""))
        # (the project controller sets the title with the project's name once the panels exist)
        self.setObjectName("main_window")
        self.setDockNestingEnabled(True)
        self.setTabPosition(
            Qt.DockWidgetArea.AllDockWidgetAreas,
            self.tabPosition(Qt.DockWidgetArea.TopDockWidgetArea),
        )
        self._painted = False
        self._device_job: JobHandle | None = None
        self.bench_job: JobHandle | None = None
        self._own_log_handler = log_handler is None
        self.log_handler = log_handler or QtLogHandler()
        if self._own_log_handler:
            logging.getLogger().addHandler(self.log_handler)

        # No central widget: every panel is a dock, and the dock areas share the window.

        self.panels: dict[str, QWidget] = {}
        self.panel_docks: dict[str, QDockWidget] = {}
        first: QDockWidget | None = None
        for panel_id, cls in panel_classes().items():
            panel = cls(context)
            dock = QDockWidget(cls.title, self)
            dock.setObjectName(f"dock_{panel_id}")
            dock.setWidget(panel)
            self.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, dock)
            if first is None:
                first = dock
            else:
                self.tabifyDockWidget(first, dock)
            self.panels[panel_id] = panel
            self.panel_docks[panel_id] = dock

        self.jobs_view = JobsView(context.runner)
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
        self._layout_restored = False
        # Jobs and Log start small and keep their height; the panels take the rest.
        self._keep_bottom_height(int(QSettings(str(paths.config_dir() / "window.ini"),
                                      QSettings.Format.IniFormat).value("bottom_height", 0) or 0))

        from studio.ui.project_controller import ProjectController

        self.projects = ProjectController(self, recovery=recovery)
        self._front: str | None = None
        self._build_menus()
        self._build_status_bar()
        self.raise_panel("music")
        if restore:
            self._layout_restored = self.restore_layout()
        for dock in self.panel_docks.values():
            dock.visibilityChanged.connect(self._on_dock_visibility_changed)
        QApplication.instance().focusChanged.connect(self._on_app_focus_changed)
        self.projects.connect_initial()
        if recovery:
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
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.setObjectName("menu.file")
        self.projects.build_file_menu(file_menu)
        self._action(file_menu, "&Quit", self.close, "Ctrl+Q", "file.quit")
        edit_menu = bar.addMenu("&Edit")
        edit_menu.setObjectName("menu.edit")
        self.projects.build_edit_menu(edit_menu)
        self._action(
            edit_menu, "&Preferences…", self.show_preferences, "Ctrl+,", "edit.preferences"
        )
        view_menu = bar.addMenu("&View")
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
        tools = bar.addMenu("&Tools")
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
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&Plugins…", self.show_plugins, None, "help.plugins")
        self._action(help_menu, "&About Studio", self.show_about, None, "help.about")

    def _build_status_bar(self) -> None:
        self.device_label = QLabel(self.context.device_text)
        self.device_label.setObjectName("device_label")
        self.memory_label = QLabel()
        self.memory_label.setObjectName("memory_label")
        self.jobs_label = QLabel()
        status = self.statusBar()
        status.addPermanentWidget(self.jobs_label)
        status.addPermanentWidget(self.memory_label)
        status.addPermanentWidget(self.device_label)
        self.context.runner.submitted.connect(self._on_runner_submitted)

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
        qs = self._qsettings()
        geometry, state = qs.value("geometry"), qs.value("state")
        restored = False
        if geometry is not None:
            restored = self.restoreGeometry(geometry)
        if state is not None:
            restored = self.restoreState(state, STATE_VERSION) and restored
        return restored

    def reset_layout(self) -> None:
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
        is still visible; else the first visible one."""
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
        self.statusBar().showMessage(f"⚠ {message}", 15000)
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
        return (self.jobs_view, self.log_view)

    def mousePressEvent(self, event) -> None:
        # Dock separators belong to the window: while one is dragged, Jobs and Log may grow.
        for view in self._bottom_views():
            view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        # The height the artist dragged Jobs and Log to is the one they keep; every other pixel,
        # also when the window grows, goes to the panels.
        super().mouseReleaseEvent(event)
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

    def closeEvent(self, event: QCloseEvent) -> None:
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
