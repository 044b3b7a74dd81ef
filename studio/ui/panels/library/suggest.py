"""Suggestions in the Library panel: recommended for you, more like the selected item, more like
a file another panel shows. Fitted recommenders are kept between requests and dropped when the
history or the catalog changes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QListWidgetItem

from studio.core.jobs import JobSpec

__all__ = ["SuggestMixin"]


class SuggestMixin:
    """Mixed into LibraryPanel."""

    _library: Any = None
    _rec_job: Any = None

    def recommend(self, like: int | None = None):
        """Ask for suggestions in the background; they appear with their reasons. ``like``: the
        id of the item to find more like."""
        if self.context.runner.closed:
            return None
        if isinstance(like, bool):  # a clicked(bool) that reached here is not an item id
            like = None
        engine = self.document.engine
        kind = self.document.kind_filter or None
        library = self._library
        if library is None:  # fitted once, reused until the history or the catalog changes
            from studio.library.catalog import Catalog, CatalogError
            from studio.library.service import Library

            try:
                catalog = Catalog(self.catalog.path)
            except CatalogError as exc:  # an empty or damaged library file: say why, keep it
                self.recs_title.setText(f"<b>Recommendations</b>: {exc}")
                self.status.setText(str(exc))
                return None
            library = self._library = Library(catalog, self.context.registry)

        def work(_r, _ctx):  # always on the "library-recommend" worker: one thread uses it
            return library.recommend(12, kind, like, engine=engine)

        self._rec_job = self.context.runner.submit(
            JobSpec(title="Library: recommend", fn=work, family="library-recommend",
                    key="library.recommend")
        )  # fmt: skip
        self._rec_job.succeeded.connect(self._on_recommended)
        self._rec_job.failed.connect(self._on_recommend_failed)
        item = self.selected() if like is not None else None
        self.recs_title.setText(f"<b>More like {item.label}</b>" if item else
                                "<b>Recommended for you</b>")  # fmt: skip
        return self._rec_job

    def _on_refresh_clicked(self, _checked: bool = False) -> None:
        self.recommend()

    def _on_recommend_failed(self, message: str, _tb: str) -> None:
        if self.sender() is self._rec_job:
            self.recs_title.setText(f"<b>Recommendations</b>: {message}")

    def _on_recommended(self, suggestions) -> None:
        if self.sender() is not self._rec_job:
            return
        self.recs.clear()
        for s in suggestions:
            text = f"{s.item.label}  ·  {s.score:.2f}\n    {s.reason}"
            entry = QListWidgetItem(self._thumbs.get(s.item.id, QIcon()), text)
            entry.setData(Qt.ItemDataRole.UserRole, s.item.id)
            entry.setToolTip(s.reason)
            self.recs.addItem(entry)
        if not suggestions:
            self.recs.addItem("Nothing to suggest yet: add folders, then play, like or keep.")

    def _on_more_like_this_triggered(self, *_args) -> None:
        """The button (``clicked(bool)``) and Ctrl+M: more like the selected item."""
        if self.more_like_this() is None:
            self.status.setText("Select an item first: more like this starts from it.")

    def more_like_this(self, item_id: int | None = None):
        """Suggestions like the selected item (or ``item_id``); returns the job or None."""
        if isinstance(item_id, bool):
            item_id = None
        item = self.selected() if item_id is None else self.catalog.item(item_id)
        if item is None:
            return None
        self.use(item)
        return self.recommend(like=item.id)

    def more_like_file(self, path: str | Path):
        """More like this, from a file another panel shows: it joins the catalog if it is not
        there (without counting as a like), then the suggestions appear here."""
        from studio.library.catalog import CatalogError

        path = Path(path).resolve()
        item = self.catalog.find(path)
        if item is None:
            try:
                item_id = self.catalog.add_file(path)
            except CatalogError as exc:
                self.status.setText(str(exc))
                return None
            from studio.library.service import Library

            Library(self.catalog).compute_features()  # the new item's embedding (quick)
            self._library = None  # a new item: the recommenders see it after a refresh
        else:
            item_id = item.id
        self.show_everything(f"More like {path.name}")
        self.select(item_id)
        return self.more_like_this(item_id)

    def show_everything(self, label: str) -> None:
        """Clear the filter and the search (one undo step) so that any item can be shown."""
        self.document.set(label, kind_filter="", search="")
        self.reload()

    def _on_recs_item_activated(self, entry: QListWidgetItem) -> None:
        item_id = entry.data(Qt.ItemDataRole.UserRole)
        if item_id is not None and not self.select(item_id):
            self.show_everything("Show a suggestion")
            self.select(item_id)

    def wait_ready(self, timeout: float = 20.0) -> bool:
        """Process events until the thumbnails and suggestions are in (for ``studio shot``)."""
        deadline = time.monotonic() + timeout
        jobs = [j for j in (self._thumb_job, self._rec_job) if j is not None]
        while any(not j.done for j in jobs) and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.02)
        QApplication.processEvents()
        if self.items and self.selected() is None:
            self.document.select(self.items[0].path)
        return all(j.done for j in jobs)
