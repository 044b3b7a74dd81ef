"""Plugins dialog: each plugin's status, where it runs and how it is guarded, a check box to
trust a third-party plugin to run inside Studio, and, for a broken one, its traceback."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.plugins.registry import MAX_ISOLATED_FAILURES, PluginRecord, PluginRegistry

__all__ = ["PluginsDialog"]

COLUMNS = ("Plugin", "Version", "Source", "Status", "Runs in", "Contributions", "Trusted")
TRUSTED_COLUMN = 6


class PluginsDialog(QDialog):
    def __init__(self, registry: PluginRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.setObjectName("plugins_dialog")
        self.resize(940, 480)
        self.registry = registry
        self.records: list[PluginRecord] = registry.records
        self.table = QTableWidget(len(self.records), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        for row, r in enumerate(self.records):
            contribs = ", ".join(
                f"{c.title} ({c.kind})" for c in (r.manifest.contributions if r.manifest else [])
            )
            values = (
                r.name,
                r.version,
                "built-in" if r.builtin else r.distribution,
                r.status,
                self._runs_in(r),
                contribs,
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col == 3 and not r.ok:
                    item.setForeground(QColor("#d9534f"))
                self.table.setItem(row, col, item)
            trust = QTableWidgetItem("built-in" if r.builtin else "")
            if not r.builtin:
                trust.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled
                               | Qt.ItemFlag.ItemIsSelectable)  # fmt: skip
                trusted = r.name in registry.trusted
                trust.setCheckState(Qt.CheckState.Checked if trusted else Qt.CheckState.Unchecked)
                trust.setToolTip("Trusted plugins run inside Studio: faster, but a crash or a "
                                 "hang in one takes Studio with it")  # fmt: skip
            self.table.setItem(row, TRUSTED_COLUMN, trust)
        self.table.itemChanged.connect(self._on_table_item_changed)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setObjectName("plugin_details")
        self.table.currentCellChanged.connect(self._on_table_current_changed)
        note = QLabel(
            "Plugins are found through the 'studio.plugins' entry point. Third-party plugins run "
            "in a process of their own, cut off the network, unless you mark them trusted. A "
            "plugin that fails to import or keeps failing is disabled for the session; the rest "
            "keep working."
            + (" Safe mode: third-party plugins are skipped." if registry.safe_mode else "")
        )
        note.setWordWrap(True)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        broken = next((i for i, r in enumerate(self.records) if not r.ok), 0)
        if self.records:
            self.table.selectRow(broken)

    def _runs_in(self, record: PluginRecord) -> str:
        if record.manifest is None:
            return ""
        return "its own process" if self.registry.isolated(record) else "Studio"

    def _on_table_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != TRUSTED_COLUMN or not 0 <= item.row() < len(self.records):
            return
        record = self.records[item.row()]
        if record.builtin:
            return
        trusted = item.checkState() == Qt.CheckState.Checked
        if trusted == (record.name in self.registry.trusted):
            return
        self.registry.set_trusted(record.name, trusted)
        self._save_trusted()
        self.table.item(item.row(), 4).setText(self._runs_in(record))
        if self.table.currentRow() == item.row():
            self._on_table_current_changed(item.row())

    def _save_trusted(self) -> None:
        """Persist the trusted plugins in the settings (through the app's context when there is
        one, so its copy of the settings stays the one saved)."""
        names = sorted(self.registry.trusted)
        context = getattr(self.parent(), "context", None)
        try:
            if context is not None and hasattr(context, "settings"):
                context.settings.trusted_plugins = names
                context.save_settings()
            else:
                from studio.core.settings import load_settings, save_settings

                settings = load_settings().settings
                settings.trusted_plugins = names
                save_settings(settings)
        except OSError as exc:
            self.details.appendPlainText(f"\nThe choice could not be saved: {exc}")

    def _on_table_current_changed(self, row: int, *_args) -> None:
        if not 0 <= row < len(self.records):
            return
        r = self.records[row]
        lines = [
            f"{r.name} {r.version}",
            f"status: {r.status}",
            f"entry point: {r.entry_point} (distribution {r.distribution})",
            f"manifest: {r.manifest_path or '-'}",
        ]
        if r.manifest:
            caps = r.manifest.capabilities
            lines.append(
                f"capabilities: device {', '.join(caps.device)}; network "
                f"{'yes' if caps.network else 'no'}; file access "
                f"{'yes' if caps.file_access else 'no'}"
            )
            if self.registry.isolated(r):
                from studio.plugins.guard import expected_guards
                from studio.plugins.isolation import DEFAULT_MEMORY_MB

                info = r.manifest.plugin
                expected = expected_guards()
                memory = info.memory_mb if info.memory_mb is not None else DEFAULT_MEMORY_MB
                lines.append(
                    f"runs in its own process (timeout {info.timeout:g} s, memory "
                    f"{f'{memory} MiB' if memory else 'unlimited'}): a crash, a hang or a "
                    "runaway allocation ends the job, not Studio; what it starts ends with the "
                    f"job; disabled after {MAX_ISOLATED_FAILURES} failures"
                )
                lines.append(
                    "network guard: " + ("none, its manifest allows the network"
                                         if caps.network else
                                         (f"{r.network_guard} (active in its last run)"
                                          if r.network_guard else
                                          f"{expected['network']} (expected on this machine)"))
                )  # fmt: skip
                lines.append(
                    "file guard: " + ("none, its manifest allows writing anywhere"
                                      if caps.file_access else
                                      (f"{r.file_guard} (active in its last run)"
                                       if r.file_guard else
                                       f"{expected['files']} (expected on this machine)"))
                    + ("" if caps.file_access else
                       "; it may write only to its scratch folder and its own data folder")
                )  # fmt: skip
            else:
                lines.append(
                    "runs inside Studio" + ("" if r.builtin else " (you trust it)")
                    + ": capabilities are shown, not enforced; a crash in it ends Studio"
                )  # fmt: skip
            lines.append("Isolation contains a buggy plugin; it is not a sandbox against "
                         "malicious code.")  # fmt: skip
        if r.error:
            lines += ["", r.error]
        self.details.setPlainText("\n".join(lines))
