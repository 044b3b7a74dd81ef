"""Help ▸ About Studio: the version and licence, and every model's and package's licence."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from studio import __version__

__all__ = ["AboutDialog", "about_licences"]


def about_licences(store) -> str:
    """Markdown: every model found with its licence and source, then the third-party notices
    (resources/NOTICES.md) for the packages inside."""
    from studio.core.resources import ResourceNotFound, resource_path

    lines = ["## Models", "", "| Model | Licence | Source |", "|---|---|---|"]
    for entry in store.scan():
        card = entry.card
        licence = card.licence if card else "no card"
        source = (card.source[:120] + "…") if card and len(card.source) > 120 else (
            card.source if card else str(entry.path))  # fmt: skip
        lines.append(f"| {entry.name} | {licence} | {source} |")
    try:
        notices = resource_path("NOTICES.md").read_text(encoding="utf-8")
    except (ResourceNotFound, OSError):
        notices = "The notices file is missing from this installation."
    return "\n".join(lines) + "\n\n" + notices
class AboutDialog(QDialog):
    def __init__(self, store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Studio")
        self.setObjectName("about_dialog")
        self.resize(760, 560)
        head = QLabel(
            f"<h3>Studio {__version__}</h3><p>An offline AI creative studio. GPL-3.0-or-later. "
            "Nothing is downloaded at run time.</p>"
        )
        browser = QTextBrowser()
        browser.setObjectName("about_licences")
        browser.setMarkdown(about_licences(store))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(head)
        layout.addWidget(browser, 1)
        layout.addWidget(buttons)
        self.setModal(False)
