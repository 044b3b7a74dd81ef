"""Library panel: the catalog as a grid or a list with thumbnails, filters and search; preview,
play, like and dislike; recommendations with their reasons and "more like this"."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.ui.context import StudioContext
from studio.ui.panels.base import PanelBase
from studio.ui.panels.video.widgets import to_qimage

__all__ = ["LibraryPanel"]

log = logging.getLogger(__name__)

KIND_FILTERS = (("", "Everything"), ("audio", "Audio"), ("midi", "MIDI"), ("image", "Pictures"),
                ("video", "Video"))  # fmt: skip
ENGINES = (("hybrid", "All of them (hybrid)"), ("als", "Listening together (ALS)"),
           ("item-knn", "Chosen together (item kNN)"), ("content", "Similar content"),
           ("popularity", "Popular lately"))  # fmt: skip


class LibraryPanel(PanelBase):
    panel_id = "library"
    title = "Library"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job = None
        self._catalog: Any = None
        self._library: Any = None
        self._thumb_job: Any = None
        self._rec_job: Any = None
        self._thumbs: dict[int, QIcon] = {}
        self.items: list[Any] = []

        self.add_button = QPushButton("Add folder…")
        self.add_button.setObjectName("add_folder_button")
        self.rescan_button = QPushButton("Rescan")
        self.import_button = QPushButton("Import history…")
        self.import_button.setToolTip("A ListenBrainz or Last.fm export, or a ratings CSV")
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("kind_combo")
        for key, label in KIND_FILTERS:
            self.kind_combo.addItem(label, key)
        self.search = QLineEdit()
        self.search.setObjectName("library_search")
        self.search.setPlaceholderText("Search titles, artists, tags… (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.view_combo = QComboBox()
        self.view_combo.addItem("Grid", "grid")
        self.view_combo.addItem("List", "list")
        self.engine_combo = QComboBox()
        self.engine_combo.setObjectName("engine_combo")
        for key, label in ENGINES:
            self.engine_combo.addItem(label, key)
        self.narrow_combos(self.engine_combo)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.make_progress("Add a folder of music, MIDI, pictures or video.")

        self.grid = QListWidget()
        self.grid.setObjectName("library_items")
        self.grid.setIconSize(QSize(96, 96))
        self.grid.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.preview = QLabel()
        self.preview.setObjectName("library_preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(140)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.play_button = QPushButton("Play")
        self.play_button.setToolTip("Play an audio file; open a MIDI file or picture in its panel")
        self.like_button = QPushButton("Like")
        self.like_button.setToolTip("Like (Ctrl+L)")
        self.dislike_button = QPushButton("Dislike")
        self.dislike_button.setToolTip("Dislike: never suggested again (Ctrl+D)")
        self.more_button = QPushButton("More like this")
        self.more_button.setObjectName("more_like_this")
        self.more_button.setToolTip("Items like the selected one (Ctrl+M)")
        self.recs = QListWidget()
        self.recs.setObjectName("recommendations")
        self.recs.setIconSize(QSize(40, 40))
        self.recs_title = QLabel("<b>Recommended for you</b>")
        self.refresh_button = QPushButton("Refresh")

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(QLabel(f"<h3>{self.title}</h3><p>Your media, what you play, like and keep, "
                            "and what to try next, with the reason.</p>"))  # fmt: skip
        lv.itemAt(0).widget().setWordWrap(True)
        for w in (self.add_button, self.rescan_button, self.import_button):
            lv.addWidget(w)
        lv.addWidget(QLabel("Show"))
        lv.addWidget(self.kind_combo)
        lv.addWidget(self.search)
        lv.addWidget(self.view_combo)
        lv.addWidget(QLabel("Recommend by"))
        lv.addWidget(self.engine_combo)
        lv.addWidget(self.cancel_button)
        lv.addWidget(self.progress)
        lv.addWidget(self.status)
        lv.addStretch(1)

        side = QWidget()
        sv = QVBoxLayout(side)
        sv.addWidget(self.preview)
        sv.addWidget(self.details)
        row = QHBoxLayout()
        for w in (self.play_button, self.like_button, self.dislike_button):
            row.addWidget(w)
        sv.addLayout(row)
        sv.addWidget(self.more_button)
        head = QHBoxLayout()
        head.addWidget(self.recs_title, 1)
        head.addWidget(self.refresh_button)
        sv.addLayout(head)
        sv.addWidget(self.recs, 1)
        right = QSplitter(Qt.Orientation.Horizontal)
        right.addWidget(self.grid)
        right.addWidget(side)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        self.lay_out(left, right)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self.reload)
        self.add_button.clicked.connect(self.add_folder_dialog)
        self.rescan_button.clicked.connect(lambda: self.scan(None))
        self.import_button.clicked.connect(self.import_dialog)
        self.kind_combo.currentIndexChanged.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.view_combo.currentIndexChanged.connect(self._on_view_combo_changed)
        self.engine_combo.currentIndexChanged.connect(lambda _i: self.recommend())
        self.grid.currentRowChanged.connect(self._on_grid_row)
        self.recs.itemActivated.connect(self._on_recs_activated)
        self.play_button.clicked.connect(self.play)
        self.like_button.clicked.connect(lambda: self.feedback("like"))
        self.dislike_button.clicked.connect(lambda: self.feedback("dislike"))
        self.more_button.clicked.connect(self.more_like_this)
        self.refresh_button.clicked.connect(lambda: self.recommend())
        self.cancel_button.clicked.connect(self.cancel)
        self.add_shortcuts(
            (
                ("Ctrl+F", self.search.setFocus),
                ("Ctrl+L", lambda: self.feedback("like")),
                ("Ctrl+D", lambda: self.feedback("dislike")),
                ("Ctrl+M", self.more_like_this),
                ("Escape", self.cancel),
            )
        )
        self._on_view_combo_changed()
        self._selection_changed()

    # -- data --------------------------------------------------------------------------------------
    @property
    def catalog(self):
        if self._catalog is None:
            from studio.library.catalog import Catalog

            self._catalog = Catalog()
        return self._catalog

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self.items:
            self.reload()
            self.recommend()

    def reload(self, *_args) -> None:
        """Fill the grid from the catalog (the current filter and search)."""
        kind = self.kind_combo.currentData() or None
        text = self.search.text().strip()
        try:
            items = (
                self.catalog.search(text, kind, limit=2000)
                if text
                else self.catalog.items(kind=kind, limit=2000)
            )
        except Exception as exc:  # noqa: BLE001 - a broken library file is a message
            self.status.setText(str(exc))
            return
        self.items = items
        self.grid.clear()
        for item in items:
            entry = QListWidgetItem(self._thumbs.get(item.id, QIcon()), item.label)
            entry.setToolTip(item.path)
            entry.setData(Qt.ItemDataRole.UserRole, item.id)
            self.grid.addItem(entry)
        if not items:
            self.status.setText("Nothing here yet: Add folder…" if not text else "No match.")
        self._load_thumbnails()
        self._selection_changed()

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

    def _on_view_combo_changed(self, *_args) -> None:
        grid = self.view_combo.currentData() == "grid"
        self.grid.setViewMode(QListWidget.ViewMode.IconMode if grid
                              else QListWidget.ViewMode.ListMode)  # fmt: skip
        self.grid.setIconSize(QSize(96, 96) if grid else QSize(32, 32))
        self.grid.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.grid.setWordWrap(grid)
        if grid:
            self.grid.setGridSize(QSize(130, 140))
        else:
            self.grid.setGridSize(QSize())

    # -- selection ---------------------------------------------------------------------------------
    def selected(self):
        row = self.grid.currentRow()
        return self.items[row] if 0 <= row < len(self.items) else None

    def select(self, item_id: int) -> bool:
        for row, item in enumerate(self.items):
            if item.id == item_id:
                self.grid.setCurrentRow(row)
                return True
        return False

    def _on_grid_row(self, _row: int) -> None:
        self._selection_changed()

    def _selection_changed(self) -> None:
        item = self.selected()
        for w in (self.play_button, self.like_button, self.dislike_button, self.more_button):
            w.setEnabled(item is not None)
        if item is None:
            self.preview.clear()
            self.details.setText("")
            return
        icon = self._thumbs.get(item.id)
        self.preview.setPixmap(icon.pixmap(QSize(128, 128)) if icon else QPixmap())
        lines = [f"<b>{item.label}</b>", f"{item.kind} · {Path(item.path).name}"]
        if item.duration:
            lines.append(f"{item.duration:.0f} s")
        if item.width:
            lines.append(f"{item.width}x{item.height}")
        if item.provenance.get("engine"):
            lines.append(f"made with {item.provenance['engine']}")
        if item.error:
            lines.append(f"⚠ {item.error}")
        if item.description:
            lines.append(f"“{item.description[:200]}”")
        self.details.setText("<br>".join(lines))
        if item.description and self.context.registry.contributions("annotator"):
            self._annotate(item)

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

        def show(lines: list[str], item_id=item.id) -> None:
            current = self.selected()
            if lines and current is not None and current.id == item_id:
                self.details.setText(self.details.text() + "<br>" + "<br>".join(lines))

        handle.succeeded.connect(show)
        self._annotate_job = handle
        return handle

    # -- actions -----------------------------------------------------------------------------------
    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to the library")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str | Path):
        from studio.library.catalog import CatalogError

        try:
            path = self.catalog.add_folder(folder)
        except CatalogError as exc:
            self.status.setText(str(exc))
            return None
        return self.scan([path])

    def scan(self, folders: list[str] | None):
        """Scan (the given folders or all), then compute features, in the background."""
        if self.job is not None and not self.job.done:
            self.status.setText("Busy: wait, or cancel (Esc).")
            return None
        catalog_path = self.catalog.path
        registry = self.context.registry

        def work(_r, ctx):
            from studio.library.catalog import Catalog
            from studio.library.service import Library

            catalog = Catalog(catalog_path)  # this thread's own connection
            report = catalog.scan(folders, ctx)
            ctx.progress(0.5, "features (embeddings, sound, colour)…")
            Library(catalog, registry).compute_features(ctx)
            return report

        return self.start_job(JobSpec(title="Library: scan", fn=work, family="library",
                                      key="library.scan"))  # fmt: skip

    def import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "A listening history or ratings file", "",
            "Histories (*.json *.jsonl *.csv);;All files (*)",
        )  # fmt: skip
        if path:
            self.import_history(path)

    def import_history(self, path: str | Path):
        catalog_path = self.catalog.path

        def work(_r, ctx):
            from studio.library.catalog import Catalog
            from studio.library.history import import_history

            return import_history(Catalog(catalog_path), path, ctx)

        return self.start_job(JobSpec(title="Library: import history", fn=work,
                                      family="library", key="library.scan"))  # fmt: skip

    def _on_job_succeeded(self, result) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        summary = result.summary() if hasattr(result, "summary") else ", ".join(
            f"{k}: {v}" for k, v in result.items())  # fmt: skip
        self.status.setText(summary)
        self._library = None
        self.reload()
        self.recommend()

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self.status.setText(message)

    def cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()

    def feedback(self, what: str) -> None:
        item = self.selected()
        if item is None:
            return
        self.catalog.add_event(item.id, what)
        self._library = None
        self.status.setText(f"{item.label}: {what}d." if what.endswith("e") else
                            f"{item.label}: {what}.")  # fmt: skip
        self.recommend()

    def play(self) -> None:
        """Audio plays here; a MIDI file goes to the Music panel, a picture to the Image panel."""
        item = self.selected()
        if item is None:
            return
        self.catalog.add_event(item.id, "play")
        self._library = None
        if item.kind == "audio":
            self._play_audio(item.path)
        elif item.kind == "midi":
            from studio.core.media import MidiClip

            try:
                self.context.shared["music.clip"] = MidiClip.load(item.path)
                self.status.setText(f"{item.label} is ready in the Music panel.")
            except (OSError, ValueError, EOFError) as exc:
                self.status.setText(f"Cannot read {item.label}: {exc}")
        elif item.kind == "image":
            from studio.image.io import ImageError, load_picture

            try:
                self.context.shared["image.current"] = load_picture(item.path).to_image()
                self.status.setText(f"{item.label} is the Image panel's picture.")
            except ImageError as exc:
                self.status.setText(str(exc))
        else:
            self.status.setText(f"Open {item.label} in the Video panel (File source).")

    def _play_audio(self, path: str):
        def work(_r, ctx):
            import warnings

            import librosa

            from studio.voice.player import StreamPlayer

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                samples, rate = librosa.load(path, sr=None, mono=True, duration=300)
            player = StreamPlayer()
            ctx.on_cancel(player.cancel)
            player.start(int(rate))  # raises a readable error with no sound card
            try:
                player.feed(samples)
                player.finish()
                while player.playing:
                    ctx.sleep(0.1)
            finally:
                player.stop()

        handle = self.context.runner.submit(
            JobSpec(title=f"Library: play {Path(path).name}", fn=work, key="library.play")
        )
        handle.failed.connect(lambda message, _tb: self.status.setText(message))
        self.status.setText(f"Playing {Path(path).name}…")
        return handle

    # -- recommendations ---------------------------------------------------------------------------
    def recommend(self, like: int | None = None):
        """Ask for suggestions in the background; they appear with their reasons."""
        if self.context.runner.closed:
            return None
        engine = self.engine_combo.currentData()
        kind = self.kind_combo.currentData() or None
        library = self._library
        if library is None:  # fitted once, reused until the history or the catalog changes
            from studio.library.catalog import Catalog
            from studio.library.service import Library

            library = self._library = Library(Catalog(self.catalog.path), self.context.registry)

        def work(_r, _ctx):  # always on the "library-recommend" worker: one thread uses it
            return library.recommend(12, kind, like, engine=engine)

        self._rec_job = self.context.runner.submit(
            JobSpec(title="Library: recommend", fn=work, family="library-recommend",
                    key="library.recommend")
        )  # fmt: skip
        self._rec_job.succeeded.connect(self._on_recommended)
        self._rec_job.failed.connect(lambda message, _tb: self.recs_title.setText(
            f"<b>Recommendations</b>: {message}"))  # fmt: skip
        item = self.selected() if like is not None else None
        self.recs_title.setText(f"<b>More like {item.label}</b>" if item else
                                "<b>Recommended for you</b>")  # fmt: skip
        return self._rec_job

    def _on_recommended(self, suggestions) -> None:
        if self.sender() is not self._rec_job:
            return
        self.recs.clear()
        for s in suggestions:
            entry = QListWidgetItem(self._thumbs.get(s.item.id, QIcon()),
                                    f"{s.item.label}\n    {s.reason}")  # fmt: skip
            entry.setData(Qt.ItemDataRole.UserRole, s.item.id)
            entry.setToolTip(s.reason)
            self.recs.addItem(entry)
        if not suggestions:
            self.recs.addItem("Nothing to suggest yet: add folders, then play, like or keep.")

    def more_like_this(self, item_id: int | None = None):
        item = self.selected() if item_id is None else self.catalog.item(item_id)
        if item is None:
            return None
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
        self.search.clear()
        self.kind_combo.setCurrentIndex(0)
        self.reload()
        self.select(item_id)
        return self.recommend(like=item_id)

    def _on_recs_activated(self, entry: QListWidgetItem) -> None:
        item_id = entry.data(Qt.ItemDataRole.UserRole)
        if item_id is not None and not self.select(item_id):
            self.search.clear()
            self.kind_combo.setCurrentIndex(0)
            self.reload()
            self.select(item_id)

    def wait_ready(self, timeout: float = 20.0) -> bool:
        """Process events until the thumbnails and suggestions are in (for ``studio shot``)."""
        import time

        from PySide6.QtWidgets import QApplication

        deadline = time.monotonic() + timeout
        jobs = [j for j in (self._thumb_job, self._rec_job) if j is not None]
        while any(not j.done for j in jobs) and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.02)
        QApplication.processEvents()
        if self.items and self.grid.currentRow() < 0:
            self.grid.setCurrentRow(0)
        return all(j.done for j in jobs)

    def shutdown(self) -> None:
        self._search_timer.stop()
