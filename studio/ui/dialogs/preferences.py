"""Preferences: device, torch threads, user model folder, library folders, theme."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core import paths
from studio.core.devices import DEVICE_CHOICES
from studio.core.settings import Settings

__all__ = ["PreferencesDialog"]


class PreferencesDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setObjectName("preferences_dialog")
        self.device = QComboBox()
        self.device.addItems(list(DEVICE_CHOICES))
        self.device.setCurrentText(settings.device)
        self.device.setToolTip("auto picks CUDA, then Apple MPS, then the CPU")
        self.threads = QSpinBox()
        self.threads.setRange(0, 512)
        self.threads.setSpecialValueText(f"automatic ({os.cpu_count()} cores)")
        self.threads.setValue(settings.torch_threads)
        self.model_dir = QLineEdit(settings.user_model_dir)
        self.model_dir.setPlaceholderText(str(paths.user_models_dir()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_dir, 1)
        model_row.addWidget(browse)
        self.library = QListWidget()
        self.library.addItems(settings.library_folders)
        add = QPushButton("Add folder…")
        add.clicked.connect(self._on_add_clicked)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._on_remove_clicked)
        lib_buttons = QHBoxLayout()
        lib_buttons.addWidget(add)
        lib_buttons.addWidget(remove)
        lib_buttons.addStretch(1)
        self.soundfont = QLineEdit(settings.soundfont)
        self.soundfont.setPlaceholderText("General MIDI (TimGM6mb, shipped)")
        sf_browse = QPushButton("Browse…")
        sf_browse.clicked.connect(self._on_soundfont_browse_clicked)
        self.soundfont_row = QHBoxLayout()
        self.soundfont_row.addWidget(self.soundfont, 1)
        self.soundfont_row.addWidget(sf_browse)
        self.theme = QComboBox()
        self.theme.addItems(["light", "dark"])
        self.theme.setCurrentText(settings.theme)
        env = os.environ.get("STUDIO_DEVICE")
        note = QLabel(f"STUDIO_DEVICE={env} overrides the device here." if env else "")
        note.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Compute device", self.device)
        form.addRow("", note)
        form.addRow("Torch threads", self.threads)
        form.addRow("User model folder", model_row)
        form.addRow("Library folders", self.library)
        form.addRow("", lib_buttons)
        form.addRow("SoundFont", self.soundfont_row)
        form.addRow("Theme", self.theme)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self._settings = settings

    def _on_browse_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "User model folder", self.model_dir.text() or str(paths.data_dir())
        )
        if folder:
            self.model_dir.setText(folder)

    def _on_soundfont_browse_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "SoundFont", "", "SoundFonts (*.sf2)")
        if path:
            self.soundfont.setText(path)

    def _on_add_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a library folder")
        if folder and not self.library.findItems(folder, Qt.MatchFlag.MatchExactly):
            self.library.addItem(folder)

    def _on_remove_clicked(self) -> None:
        for item in self.library.selectedItems():
            self.library.takeItem(self.library.row(item))

    def result_settings(self) -> Settings:
        """The settings as edited (validated); the original object is not changed."""
        return self._settings.model_copy(
            update={
                "device": self.device.currentText(),
                "torch_threads": self.threads.value(),
                "user_model_dir": self.model_dir.text().strip(),
                "library_folders": [
                    self.library.item(i).text() for i in range(self.library.count())
                ],
                "theme": self.theme.currentText(),
                "soundfont": self.soundfont.text().strip(),
            }
        )
