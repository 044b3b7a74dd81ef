"""Plugins dialog: each plugin's status and, for a broken one, its traceback."""

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

COLUMNS = ("Plugin", "Version", "Source", "Status", "Runs in", "Contributions")


class PluginsDialog(QDialog):
    def __init__(self, registry: PluginRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.setObjectName("plugins_dialog")
        self.resize(860, 480)
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
            isolated = r.manifest is not None and r.manifest.plugin.isolation == "process"
            values = (
                r.name,
                r.version,
                "built-in" if r.builtin else r.distribution,
                r.status,
                "its own process" if isolated else "the app",
                contribs,
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                if col == 3 and not r.ok:
                    item.setForeground(QColor("#d9534f"))
                self.table.setItem(row, col, item)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setObjectName("plugin_details")
        self.table.currentCellChanged.connect(self._on_table_current_changed)
        note = QLabel(
            "Plugins are found through the 'studio.plugins' entry point. A plugin that fails "
            "to import or raises is disabled for the session; the rest keep working."
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
            if r.manifest.plugin.isolation == "process":
                lines.append(
                    f"runs in its own process (timeout {r.manifest.plugin.timeout:g} s): a crash "
                    "or a hang ends the job, not Studio; disabled after "
                    f"{MAX_ISOLATED_FAILURES} failures"
                )
                lines.append(
                    "network: " + ("allowed by its manifest" if caps.network else
                                   "refused (its own network namespace where the OS allows, "
                                   "else a socket-level refusal)")
                    + (f"; last run: {r.network_guard}" if r.network_guard else "")
                )  # fmt: skip
                lines.append(
                    "writes: " + ("anywhere, as its manifest asks" if caps.file_access else
                                  "only its scratch folder and its own data folder (Landlock "
                                  "where the kernel has it, else a Python audit hook)")
                    + (f"; last run: {r.file_guard}" if r.file_guard else "")
                )  # fmt: skip
            else:
                lines.append("runs inside Studio: capabilities are shown, not enforced")
            lines.append("Isolation contains a buggy plugin; it is not a sandbox against "
                         "malicious code.")  # fmt: skip
        if r.error:
            lines += ["", r.error]
        self.details.setPlainText("\n".join(lines))
