"""The Jobs dock: every running, queued and recent job with progress, message, elapsed time and
cancel.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtWidgets import (
    QHeaderView,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from studio.ui.jobs import JobHandle, JobRunner, JobState

__all__ = ["JobsView"]

COL_TITLE, COL_PROGRESS, COL_MESSAGE, COL_ELAPSED, COL_CANCEL = range(5)
KEEP_DONE = 30


class JobsView(QTreeWidget):
    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(5)
        self.setHeaderLabels(["Job", "Progress", "Message", "Elapsed", ""])
        self.setObjectName("jobs.list")
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        header = self.header()
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.setColumnWidth(COL_TITLE, 220)
        self.setColumnWidth(COL_PROGRESS, 140)
        self.setColumnWidth(COL_ELAPSED, 70)
        self.setColumnWidth(COL_CANCEL, 80)
        self._rows: dict[int, tuple[JobHandle, QTreeWidgetItem, QProgressBar, QPushButton]] = {}
        runner.submitted.connect(self._on_runner_submitted)
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._refresh)
        self._timer.start()

    def _on_runner_submitted(self, handle: JobHandle) -> None:
        item = QTreeWidgetItem([handle.title, "", "queued", "", ""])
        item.setToolTip(COL_TITLE, handle.title)
        self.insertTopLevelItem(0, item)
        bar = QProgressBar()
        bar.setRange(0, 1000)
        bar.setValue(0)
        bar.setTextVisible(True)
        bar.setFormat("%p%")
        cancel = QPushButton("Cancel")
        cancel.setObjectName("jobs.cancel")
        cancel.setProperty("job_id", handle.id)
        cancel.setToolTip(f"Cancel “{handle.title}”")
        cancel.clicked.connect(handle.cancel)
        self.setItemWidget(item, COL_PROGRESS, bar)
        self.setItemWidget(item, COL_CANCEL, cancel)
        self._rows[handle.id] = (handle, item, bar, cancel)
        handle.progressed.connect(self._refresh)
        handle.finished.connect(self._refresh)
        self._prune()

    def _prune(self) -> None:
        done = [hid for hid, (h, *_rest) in self._rows.items() if h.done]
        for hid in done[:-KEEP_DONE] if len(done) > KEEP_DONE else []:
            _, item, _, _ = self._rows.pop(hid)
            self.takeTopLevelItem(self.indexOfTopLevelItem(item))

    def _refresh(self, *_args) -> None:
        for handle, item, bar, cancel in self._rows.values():
            state = handle.state
            if state == JobState.SUCCEEDED:
                bar.setValue(1000)
            elif state == JobState.RUNNING or handle.fraction > 0:
                bar.setValue(int(handle.fraction * 1000))
            item.setText(COL_MESSAGE, handle.message if state != JobState.QUEUED else "queued")
            if state == JobState.FAILED:
                item.setForeground(COL_MESSAGE, Qt.GlobalColor.red)
                item.setToolTip(COL_MESSAGE, handle.error)
            if handle.started_at is not None:
                item.setText(COL_ELAPSED, f"{handle.elapsed:.1f} s")
            if handle.done and cancel.isEnabled():
                cancel.setEnabled(False)
                cancel.setText(state.capitalize())

    preferred_height = 120  # a strip under the panels; the window sets what the artist dragged

    def sizeHint(self) -> QSize:
        return QSize(640, self.preferred_height)  # a strip under the panels, not half the window

    def handle_rows(self) -> list[JobHandle]:
        return [h for h, *_ in self._rows.values()]
