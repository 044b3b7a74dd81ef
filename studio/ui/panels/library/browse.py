"""Browsing the catalog in the Library panel: the items the document's filter, search and sort
select, their thumbnails (made in the background), the selected item's details."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from studio.core.jobs import JobSpec
from studio.ui.panels.video.widgets import to_qimage

__all__ = ["BrowseMixin"]


class BrowseMixin:
    """Mixed into LibraryPanel. ``items`` and the thumbnails are a cache of the global catalog,
    not state: they are read again from it whenever the document's view changes."""

    _catalog: Any = None
    _thumb_job: Any = None
    _annotate_job: Any = None

    @property
    def catalog(self):
        if self._catalog is None:
            from studio.library.catalog import Catalog

            self._catalog = Catalog()
        return self._catalog

    def reload(self, *_args) -> None:
        """Fill the grid from the catalog with the document's filter, search and sort."""
        doc = self.document
        kind = doc.kind_filter or None
        text = doc.search.strip()
        try:
            items = (
                self.catalog.search(text, kind, limit=2000)
                if text
                else self.catalog.items(kind=kind, limit=2000)
            )
            if text:  # a tagger's labels are searched too
                from studio.library.tags import items_labelled

                labelled = items_labelled(self.catalog, text) - {i.id for i in items}
                if labelled:
                    extra = [i for i in self.catalog.items(kind=kind) if i.id in labelled]
                    items = sorted([*items, *extra], key=lambda i: i.id)
            if doc.tag_filter:
                from studio.library.tags import items_tagged

                tagged = items_tagged(self.catalog, doc.tag_filter)
                items = [i for i in items if i.id in tagged]
        except Exception as exc:  # noqa: BLE001 - a broken library file is a message
            self.status.setText(str(exc))
            return
        self.items = doc.sort_items(items)
        self.grid.blockSignals(True)
        self.grid.clear()
        for item in self.items:
            entry = QListWidgetItem(self._thumbs.get(item.id, QIcon()), item.label)
            entry.setToolTip(item.path)
            entry.setData(Qt.ItemDataRole.UserRole, item.id)
            self.grid.addItem(entry)
        self.grid.blockSignals(False)
        if not self.items:
            self.status.setText("No match." if text or doc.tag_filter
                                else "Nothing here yet: Add folder…")  # fmt: skip
        elif doc.tag_filter:
            self.status.setText(f"{len(self.items)} tagged {doc.tag_filter}.")
        self._load_thumbnails()
        self.show_selection()

    def fill_tags(self) -> None:
        """The tag filter's choices: every tag an image tagger gave, with how many items of the
        kind shown carry it, most common first (read from the catalog)."""
        from studio.library.tags import tag_counts

        kind = (self.document.kind_filter or None) if self.document is not None else None
        try:
            counts = tag_counts(self.catalog, kind)
        except Exception as exc:  # noqa: BLE001 - a broken library file is a message
            self.status.setText(str(exc))
            counts = []
        combo = self.tag_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Any tag", "")
        for label, n in counts:
            combo.addItem(f"{label} ({n})", label)
        tag = self.document.tag_filter if self.document is not None else ""
        if tag and combo.findData(tag) < 0:
            combo.addItem(f"{tag} (0)", tag)
        combo.setCurrentIndex(max(0, combo.findData(tag)))
        combo.blockSignals(False)
        combo.setEnabled(combo.count() > 1)

    def _load_thumbnails(self) -> None:
        missing = [(i.id, i.path, i.kind) for i in self.items[:400] if i.id not in self._thumbs]
        if not missing or self.context.runner.closed:
            return
        from studio.library.thumbs import thumbnail

        def work(_r, ctx):
            out = {}
            for n, (item_id, path, kind) in enumerate(missing):
                ctx.check_cancelled()
                image = thumbnail(path, kind)
                if image is not None:
                    out[item_id] = image
                if n % 20 == 19:
                    ctx.partial(dict(out))
                    out.clear()
            return out

        self._thumb_job = self.context.runner.submit(
            JobSpec(title="Library: thumbnails", fn=work, key="library.thumbs")
        )
        self._thumb_job.partial.connect(self._on_thumbs)
        self._thumb_job.succeeded.connect(self._on_thumbs)

    def _on_thumbs(self, images: dict) -> None:
        for item_id, image in images.items():
            self._thumbs[item_id] = QIcon(QPixmap.fromImage(to_qimage(image)))
        for view in (self.grid, self.recs):
            for row in range(view.count()):
                entry = view.item(row)
                icon = self._thumbs.get(entry.data(Qt.ItemDataRole.UserRole))
                if icon is not None:
                    entry.setIcon(icon)
        item = self.selected()
        if item is not None and item.id in images:
            self.preview.setPixmap(self._thumbs[item.id].pixmap(QSize(128, 128)))

    def show_view_mode(self) -> None:
        grid = self.document.view_mode == "grid"
        self.grid.setViewMode(QListWidget.ViewMode.IconMode if grid
                              else QListWidget.ViewMode.ListMode)  # fmt: skip
        self.grid.setIconSize(QSize(96, 96) if grid else QSize(32, 32))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setWordWrap(grid)
        self.grid.setGridSize(QSize(130, 140) if grid else QSize())

    # -- selection ---------------------------------------------------------------------------------
    def selected(self):
        """The catalog item the document has selected, if it is among those shown."""
        path = self.document.selected
        return next((i for i in self.items if i.path == path), None) if path else None

    def select(self, item_id: int) -> bool:
        """Select the shown item ``item_id`` (view state: no undo step)."""
        item = next((i for i in self.items if i.id == item_id), None)
        if item is not None:
            self.document.select(item.path)
        return item is not None

    def _on_grid_current_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.items):
            self.document.select(self.items[row].path)

    def show_selection(self) -> None:
        """Mirror the document's selection into the grid and the details."""
        item = self.selected()
        row = self.items.index(item) if item is not None else -1
        if self.grid.currentRow() != row:
            self.grid.blockSignals(True)
            self.grid.setCurrentRow(row)
            self.grid.blockSignals(False)
        for w in (self.play_button, self.like_button, self.dislike_button, self.more_button):
            w.setEnabled(item is not None)
        if item is None:
            self.preview.clear()
            self.details.setText("")
            return
        self._show_details(item)
        if item.description and self.context.registry.contributions("annotator"):
            self._annotate(item)

    def _show_details(self, item) -> None:
        icon = self._thumbs.get(item.id)
        self.preview.setPixmap(icon.pixmap(QSize(128, 128)) if icon else QPixmap())
        lines = [f"<b>{item.label}</b>", f"{item.kind} · {Path(item.path).name}"]
        if item.duration:
            lines.append(f"{item.duration:.0f} s")
        if item.width:
            lines.append(f"{item.width}x{item.height}")
        if item.provenance.get("engine"):
            lines.append(f"made with {item.provenance['engine']}")
        tags = self._item_tags(item)
        if tags:
            lines.append("tagged " + ", ".join(f"{label} {conf:.0%}" for label, conf in tags))
        if item.error:
            lines.append(f"⚠ {item.error}")
        if item.description:
            lines.append(f"“{item.description[:200]}”")
        self.details.setText("<br>".join(lines))

    def _item_tags(self, item) -> list[tuple[str, float]]:
        from studio.library.tags import item_tags

        try:
            return item_tags(self.catalog, item.id)
        except Exception:  # noqa: BLE001 - the details show without them
            return []

    def _annotate(self, item) -> Any:
        """Ask the annotator plugins about the item's text in the background (a plugin may be
        slow or process-isolated); their words join the details when they come."""
        if self.context.runner.closed:
            return None
        registry, catalog_path, text = self.context.registry, self.catalog.path, item.description

        def work(_r, _ctx):
            from studio.library.catalog import Catalog
            from studio.library.service import Library

            out = []
            for title, scores in Library(Catalog(catalog_path), registry).annotate_text(text):
                main = next(iter(scores.scores.items()), None)
                value = f" {main[0]} {main[1]:+.2f}" if main else ""
                out.append(f"{title}: {', '.join(scores.tags)}{value}")
            return out

        handle = self.context.runner.submit(
            JobSpec(title="Library: annotate", fn=work, key="library.annotate")
        )
        self._annotating = item.id
        handle.succeeded.connect(self._on_annotated)
        self._annotate_job = handle
        return handle

    def _on_annotated(self, lines: list[str]) -> None:
        current = self.selected()
        if (
            self.sender() is self._annotate_job
            and lines
            and current is not None
            and (current.id == self._annotating)
        ):
            self.details.setText(self.details.text() + "<br>" + "<br>".join(lines))
