"""The Library panel's widgets and their layout. Every interactive widget and action is named
``library.<action>``; the panel connects them and mirrors its document into them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.library.document import ENGINES, KIND_FILTERS, SORTS, VIEW_MODES
from studio.ui.panels.arrange.send import send_button
from studio.ui.panels.base import named as _named
from studio.ui.panels.base import panel_action as action

if TYPE_CHECKING:
    from studio.ui.panels.library.panel import LibraryPanel

__all__ = ["build", "action"]


def _combo(name: str, tip: str, choices) -> QComboBox:
    combo = _named(QComboBox(), name, tip)
    for key, label in choices:
        combo.addItem(label, key)
    return combo


def build(panel: LibraryPanel) -> None:
    """Make the panel's widgets (as attributes of ``panel``) and lay them out."""
    p = panel
    p.add_button = _named(QPushButton("Add folder…"), "library.add",
                          "Add a folder of music, MIDI, pictures or video (Ctrl+I)")  # fmt: skip
    p.rescan_button = _named(QPushButton("Rescan"), "library.rescan",
                             "Look for new, changed, moved and missing files")  # fmt: skip
    p.import_button = _named(QPushButton("Import history…"), "library.import_history",
                             "A ListenBrainz or Last.fm export, or a ratings CSV")  # fmt: skip
    p.kind_combo = _combo("library.filter", "Which kind of media to show", KIND_FILTERS)
    p.search = _named(QLineEdit(), "library.search",
                      "Show the items whose title, artist, tags or path hold every word "
                      "(Ctrl+F)")  # fmt: skip
    p.search.setPlaceholderText("Search titles, artists, tags… (Ctrl+F)")
    p.search.setClearButtonEnabled(True)
    p.tag_combo = _combo("library.tag_filter",
                         "Show only the items an image tagger gave this tag (with how many)",
                         (("", "Any tag"),))  # fmt: skip
    p.tag_button = _named(QPushButton("Tag pictures"), "library.tag_pictures",
                          "Tag every picture and video again with your newest tagger (Image ▸ "
                          "Train a tagger…)")  # fmt: skip
    p.sort_combo = _combo("library.sort", "The order of the items", SORTS)
    p.view_combo = _combo("library.view", "Thumbnails in a grid, or a list", VIEW_MODES)
    p.engine_combo = _combo("library.engine", "What the suggestions are based on", ENGINES)
    p.narrow_combos(p.kind_combo, p.tag_combo, p.sort_combo, p.view_combo, p.engine_combo)
    p.cancel_button = _named(QPushButton("Cancel"), "library.cancel", "Stop the scan (Esc)")
    p.cancel_button.setEnabled(False)
    p.make_progress("Add a folder of music, MIDI, pictures or video.")

    p.grid = _named(QListWidget(), "library.items", "Your media: click to select")
    p.grid.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
    p.grid.setMinimumWidth(160)
    p.preview = QLabel()
    p.preview.setObjectName("library_preview")
    p.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
    p.preview.setMinimumHeight(140)
    p.details = QLabel()
    p.details.setWordWrap(True)
    p.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    p.play_button = _named(QPushButton("Play"), "library.play",
                           "Play an audio file; open a MIDI file or picture in its panel "
                           "(Space)")  # fmt: skip
    p.like_button = _named(QPushButton("Like"), "library.like", "Like (Ctrl+L)")
    p.dislike_button = _named(QPushButton("Dislike"), "library.dislike",
                              "Dislike: never suggested again (Ctrl+D)")  # fmt: skip
    p.more_button = _named(QPushButton("More like this"), "library.more_like_this",
                           "Items like the selected one (Ctrl+M)")  # fmt: skip
    p.recs = _named(QListWidget(), "library.recommendations",
                    "Suggestions with their reasons: double-click to show one")  # fmt: skip
    p.recs.setIconSize(QSize(40, 40))
    p.recs.setWordWrap(True)
    p.recs_title = QLabel("<b>Recommended for you</b>")
    p.recs_title.setWordWrap(True)
    p.refresh_button = _named(QPushButton("Refresh"), "library.refresh",
                              "Ask for suggestions again")  # fmt: skip

    left = QWidget()
    lv = QVBoxLayout(left)
    heading = QLabel(f"<h3>{p.title}</h3><p>Your media, what you play, like and keep, and what "
                     "to try next, with the reason.</p>")  # fmt: skip
    heading.setWordWrap(True)
    lv.addWidget(heading)
    for w in (p.add_button, p.rescan_button, p.import_button):
        lv.addWidget(w)
    form = QFormLayout()
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    form.addRow(p.search)
    form.addRow("Show", p.kind_combo)
    tag_row = QHBoxLayout()
    tag_row.addWidget(p.tag_combo, 1)
    tag_row.addWidget(p.tag_button)
    form.addRow("Tag", tag_row)
    form.addRow("Sort", p.sort_combo)
    form.addRow("View", p.view_combo)
    form.addRow("Recommend by", p.engine_combo)
    lv.addLayout(form)
    lv.addWidget(p.cancel_button)
    lv.addWidget(p.progress)
    lv.addWidget(p.status)
    lv.addStretch(1)

    side = QWidget()
    sv = QVBoxLayout(side)
    sv.addWidget(p.preview)
    sv.addWidget(p.details)
    row = QHBoxLayout()
    for w in (p.play_button, p.like_button, p.dislike_button):
        row.addWidget(w)
    sv.addLayout(row)
    sv.addWidget(p.more_button)
    sv.addWidget(send_button(p, "library", lambda: p.document.selected or None))
    head = QHBoxLayout()
    head.addWidget(p.recs_title, 1)
    head.addWidget(p.refresh_button)
    sv.addLayout(head)
    sv.addWidget(p.recs, 1)
    right = QSplitter(Qt.Orientation.Horizontal)
    right.setChildrenCollapsible(False)
    right.addWidget(p.grid)
    right.addWidget(side)
    right.setStretchFactor(0, 3)
    right.setStretchFactor(1, 2)
    p.lay_out(left, right)
