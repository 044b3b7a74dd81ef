import hashlib
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from studio.core.settings import Settings, load_settings
from studio.ui.app import install_exception_hook
from studio.ui.context import StudioContext
from studio.ui.dialogs.models import ModelsDialog
from studio.ui.dialogs.plugins import PluginsDialog
from studio.ui.dialogs.preferences import PreferencesDialog
from studio.ui.jobs import JobState
from studio.ui.main_window import MainWindow
from studio.ui.panels import PANEL_IDS


def test_six_panels_jobs_and_log_docks(window):
    assert list(window.panel_docks) == list(PANEL_IDS)
    titles = [window.panel_docks[p].windowTitle() for p in PANEL_IDS]
    assert titles == ["Music", "Image", "Video", "Voice", "Library", "Arrange"]
    assert window.jobs_dock.windowTitle() == "Jobs" and window.log_dock.windowTitle() == "Log"
    assert all(window.panels[p].panel_id == p for p in PANEL_IDS)


def test_status_bar_shows_device_and_memory(qtbot, window):
    qtbot.waitUntil(lambda: window.device_label.text() != "Device: detecting…", timeout=30000)
    assert window.device_label.text().startswith(("CPU: ", "CUDA: ", "MPS: "))
    assert window.memory_label.text().startswith("RAM ")


def test_panel_shortcuts_raise_panels(qtbot, window):
    window.findChild(type(window.menuBar().actions()[0]), "view.voice")
    action = next(
        a
        for a in window.findChildren(type(window.bench_action))
        if a.objectName() == "view.voice"
    )
    assert action.shortcut().toString() == "Ctrl+4"
    action.trigger()
    qtbot.waitUntil(lambda: not window.panel_docks["voice"].visibleRegion().isEmpty())


def test_layout_comes_back_on_next_start(qtbot, context):
    first = MainWindow(context)
    qtbot.addWidget(first)
    first.resize(700, 520)  # inside the 800x600 offscreen screen, which clamps restores
    first.show()
    qtbot.waitExposed(first)
    first.log_dock.hide()
    first.panel_docks["video"].setFloating(True)
    size = (first.width(), first.height())
    first.close()

    second = MainWindow(StudioContext.create())
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert second.log_dock.isHidden()
    assert second.panel_docks["video"].isFloating()
    assert (second.width(), second.height()) == size
    second.reset_layout()
    assert not second.panel_docks["video"].isFloating() and not second.log_dock.isHidden()
    second.close()
    second.context.runner.shutdown()


def test_failing_generator_is_a_message_not_a_crash(qtbot, window, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("Bars: 999 is above the maximum 64")

    monkeypatch.setattr(window.context.registry, "run", fail)
    panel = window.panels["music"]
    panel.generator_combo.setCurrentIndex(panel.generator_combo.findData("studio/scale-melody"))
    handle = panel.generate()
    with qtbot.waitSignal(handle.finished, timeout=10000):
        pass
    assert handle.state == JobState.FAILED
    qtbot.waitUntil(lambda: "above the maximum" in panel.status.text())
    assert window.isVisible() and panel.generate_button.isEnabled()


def test_a_generic_panel_says_what_is_missing(qtbot, context):
    from studio.ui.panels.base import GeneratorPanel

    class Transcribers(GeneratorPanel):
        panel_id = "transcribers"
        title = "Transcribers"
        kinds = ("transcriber",)

    panel = Transcribers(context)
    qtbot.addWidget(panel)
    assert panel.generator_combo.count() == 0
    assert not panel.generate_button.isEnabled()
    assert "No transcriber generators" in panel.result_label.text()


def test_benchmark_runs_as_a_job_with_progress_and_cancel(qtbot, window):
    handle = window.run_benchmark()
    assert handle.title == "Benchmark: core"
    with qtbot.waitSignal(handle.progressed, timeout=20000):
        pass
    with qtbot.waitSignal(handle.cancelled, timeout=20000):
        handle.cancel()
    assert handle.state == JobState.CANCELLED
    assert window.isVisible()


def test_preferences_apply_theme_and_persist(qtbot, window):
    dialog = PreferencesDialog(window.context.settings, window)
    dialog.theme.setCurrentText("dark")
    dialog.threads.setValue(1)
    new = dialog.result_settings()
    assert window.context.settings.theme == "light"  # not changed until applied
    window.apply_settings(new)
    assert QApplication.instance().property("studio_theme") == "dark"
    window_color = QApplication.instance().palette().window().color()
    assert window_color.lightness() < 100
    assert load_settings().settings.theme == "dark"
    assert load_settings().settings.torch_threads == 1
    window.apply_settings(Settings())


def test_models_dialog_shows_user_models_and_cards(qtbot, window, isolated_dirs):
    folder = isolated_dirs["data"] / "studio" / "models" / "music"
    folder.mkdir(parents=True)
    (folder / "m.safetensors").write_bytes(b"abc")
    (folder / "m.safetensors.card.toml").write_text(
        f'name = "mini"\nkind = "music"\nfile = "m.safetensors"\n'
        f'sha256 = "{hashlib.sha256(b"abc").hexdigest()}"\nlicence = "MIT"\n'
        'source = "test"\ncommand = "make mini"\n'
    )
    dialog = ModelsDialog(window.context.store, window)
    qtbot.addWidget(dialog)
    names = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert "studio-music-small" in names  # shipped
    row = names.index("mini")
    assert dialog.table.item(row, 2).text() == "MIT"
    assert dialog.table.item(row, 4).text() == "user"
    dialog.table.selectRow(row)
    assert "made with: make mini" in dialog.card.toPlainText()


def test_plugins_dialog_shows_a_broken_plugin_traceback(qtbot, window):
    from studio.plugins.registry import PluginRecord, Status

    window.context.registry._records.append(
        PluginRecord(
            "broken-one",
            "broken:studio-plugin.toml",
            "broken",
            False,
            status=Status.IMPORT_FAILED,
            error="Traceback (most recent call last):\nImportError: nope",
        )
    )
    dialog = PluginsDialog(window.context.registry, window)
    qtbot.addWidget(dialog)
    statuses = [dialog.table.item(r, 3).text() for r in range(dialog.table.rowCount())]
    assert "import failed" in statuses and "ok" in statuses
    assert "ImportError: nope" in dialog.details.toPlainText()


def test_uncaught_exception_is_shown_and_window_survives(qtbot, window):
    old_hook = sys.excepthook
    try:
        install_exception_hook(window)
        try:
            raise RuntimeError("kaboom in a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: getattr(window, "_last_error_box", None) is not None)
        box = window._last_error_box
        assert isinstance(box, QMessageBox) and "kaboom" in box.text()
        assert window.isVisible()
        qtbot.waitUntil(lambda: "kaboom" in window.log_view.toPlainText())
    finally:
        sys.excepthook = old_hook


def test_quit_shortcut_closes_cleanly(qtbot, window):
    quit_action = next(
        a for a in window.findChildren(type(window.bench_action)) if a.objectName() == "file.quit"
    )
    assert quit_action.shortcut().toString() == "Ctrl+Q"
    quit_action.trigger()
    assert not window.isVisible()
    assert window.context.runner.active() == []
    assert Qt  # imported for readability of key names above


def test_about_shows_the_licences_of_the_models_and_packages_inside(window):
    from PySide6.QtWidgets import QTextBrowser

    dialog = window.show_about()
    browser = dialog.findChild(QTextBrowser, "about_licences")
    content = browser.toPlainText()
    assert "selfie-landscape" in content and "Apache-2.0" in content  # a model's licence
    assert "PySide6" in content and "LGPL-3.0" in content  # a package's notice
    dialog.close()
