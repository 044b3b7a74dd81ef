"""Library panel: the catalog as a grid or a list with thumbnails, filters and search; preview,
play, like and dislike; recommendations with their reasons and "more like this".

The panel is a view of the project's :class:`~studio.library.document.LibraryDocument` (the
filter, search, sort, recommender, selection and the items the project used): gestures are
document changes, and the grid is filled again from the global catalog when they happen.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QWidget

from studio.library.document import LibraryDocument
from studio.ui.context import StudioContext
from studio.ui.panels.base import PanelBase
from studio.ui.panels.library import controls
from studio.ui.panels.library.browse import BrowseMixin
from studio.ui.panels.library.suggest import SuggestMixin
from studio.ui.panels.library.work import WorkMixin

__all__ = ["LibraryPanel"]

log = logging.getLogger(__name__)


class LibraryPanel(BrowseMixin, WorkMixin, SuggestMixin, PanelBase):
    panel_id = "library"
    title = "Library"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job = None
        self._thumbs: dict[int, QIcon] = {}
        self.items: list[Any] = []  # the catalog items shown, in the document's order
        controls.build(self)
        self.setFocusProxy(self.grid)  # raising the panel puts the keys in the list
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self.reload)
        self._connect()
        self.set_document(context.project.document(self.panel_id))

    def _connect(self) -> None:
        self.add_button.clicked.connect(self.add_folder_dialog)
        self.rescan_button.clicked.connect(self._on_rescan_clicked)
        self.import_button.clicked.connect(self.import_dialog)
        self.kind_combo.activated.connect(self._on_kind_combo_activated)
        self.tag_combo.activated.connect(self._on_tag_combo_activated)
        self.tag_button.clicked.connect(self.tag_pictures)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.sort_combo.activated.connect(self._on_sort_combo_activated)
        self.view_combo.activated.connect(self._on_view_combo_activated)
        self.engine_combo.activated.connect(self._on_engine_combo_activated)
        self.grid.currentRowChanged.connect(self._on_grid_current_row_changed)
        self.recs.itemActivated.connect(self._on_recs_item_activated)
        self.play_button.clicked.connect(self.play)
        self.like_button.clicked.connect(self._on_like_triggered)
        self.dislike_button.clicked.connect(self._on_dislike_triggered)
        self.more_button.clicked.connect(self._on_more_like_this_triggered)
        self.refresh_button.clicked.connect(self._on_refresh_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        act = controls.action
        act(self, "library.add", "Add a folder…", "Ctrl+I", self.add_folder_dialog)
        act(self, "library.find", "Search", "Ctrl+F", self._on_find_triggered)
        act(self, "library.like", "Like", "Ctrl+L", self._on_like_triggered)
        act(self, "library.dislike", "Dislike", "Ctrl+D", self._on_dislike_triggered)
        act(self, "library.more_like_this", "More like this", "Ctrl+M",
            self._on_more_like_this_triggered)  # fmt: skip
        act(self, "library.play", "Play", "Space", self.play)
        act(self, "library.cancel", "Cancel", "Escape", self.cancel)

    # -- the document ------------------------------------------------------------------------------
    def bind_document(self, document: LibraryDocument) -> None:
        self.fill_tags()
        for name in ("kind_filter", "tag_filter", "search", "sort", "engine", "view_mode"):
            self._mirror(name)
        self.show_view_mode()
        if document.messages:
            self.status.setText("\n".join(document.messages))
        if self.isVisible():
            self.reload()
            self.recommend()

    def on_document_changed(self, name: str, value) -> None:
        self._mirror(name)
        if name == "search":
            self._search_timer.start()
        elif name in ("kind_filter", "sort", "tag_filter"):
            self._search_timer.stop()
            self.reload()
            if name == "kind_filter":
                self.fill_tags()  # the counts of the kind shown
                self.recommend()
        elif name == "engine":
            self.recommend()
        elif name == "view_mode":
            self.show_view_mode()
        elif name == "selected":
            self.show_selection()

    def _mirror(self, name: str) -> None:
        doc = self.document
        if name == "tag_filter" and doc.tag_filter and self.tag_combo.findData(doc.tag_filter) < 0:
            self.tag_combo.addItem(f"{doc.tag_filter} (0)", doc.tag_filter)  # none here now
        combos = {"kind_filter": self.kind_combo, "tag_filter": self.tag_combo,
                  "sort": self.sort_combo,
                  "engine": self.engine_combo, "view_mode": self.view_combo}  # fmt: skip
        if name in combos:
            combo = combos[name]
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(doc.get(name))))
            combo.blockSignals(False)
        elif name == "search" and self.search.text() != doc.search:
            self.search.blockSignals(True)
            self.search.setText(doc.search)
            self.search.blockSignals(False)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self.items:
            self.reload()
            self.recommend()

    # -- gestures ----------------------------------------------------------------------------------
    def _on_kind_combo_activated(self, index: int) -> None:
        self.document.set_filter(self.kind_combo.itemData(index))

    def _on_tag_combo_activated(self, index: int) -> None:
        tag = self.tag_combo.itemData(index) or ""
        if tag != self.document.tag_filter:
            self.document.set_tag_filter(tag)

    def _on_search_text_changed(self, text: str) -> None:
        if text != self.document.search:
            self.document.set_search(text)

    def _on_sort_combo_activated(self, index: int) -> None:
        self.document.set_sort(self.sort_combo.itemData(index))

    def _on_view_combo_activated(self, index: int) -> None:
        self.document.set_quiet(view_mode=self.view_combo.itemData(index))

    def _on_engine_combo_activated(self, index: int) -> None:
        self.document.set_engine(self.engine_combo.itemData(index))

    def _on_find_triggered(self, *_args) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def shutdown(self) -> None:
        self._search_timer.stop()
