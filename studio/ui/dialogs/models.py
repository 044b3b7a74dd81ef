"""Models dialog: every model found, with kind, licence, size, path, status and its card."""

from __future__ import annotations

from PySide6.QtCore import Qt
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

from studio.core.models import ModelEntry, ModelStore

__all__ = ["ModelsDialog"]

COLUMNS = ("Name", "Kind", "Licence", "Size", "Origin", "Status", "Path")


class ModelsDialog(QDialog):
    def __init__(self, store: ModelStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("models_dialog")
        self.resize(900, 520)
        self.entries: list[ModelEntry] = store.scan()
        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(6, QHeaderView.ResizeMode.Stretch)
        for row, e in enumerate(self.entries):
            values = (
                e.name,
                e.kind,
                e.licence,
                f"{e.size_bytes / 2**20:.1f} MB",
                e.origin,
                e.status,
                str(e.path),
            )
            for col, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, col, item)
        self.card = QPlainTextEdit()
        self.card.setReadOnly(True)
        self.card.setPlaceholderText("Select a model to see its card.")
        self.table.currentCellChanged.connect(self._on_table_current_changed)
        where = QLabel(
            f"Shipped models: {store.shipped_dir}<br>Your models: <b>{store.user_dir}</b> "
            "(put each model in a sub-folder named after its kind, with a .card.toml beside it). "
            "Nothing is ever downloaded."
        )
        where.setWordWrap(True)
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        empty = QLabel("No models found yet." if not self.entries else "")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.card)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(where)
        layout.addWidget(empty)
        layout.addWidget(splitter, 1)
        layout.addWidget(buttons)
        if self.entries:
            self.table.selectRow(0)

    def _on_table_current_changed(self, row: int, *_args) -> None:
        if 0 <= row < len(self.entries):
            e = self.entries[row]
            self.card.setPlainText(e.card.as_text() if e.card else f"No card: {e.problem}")
