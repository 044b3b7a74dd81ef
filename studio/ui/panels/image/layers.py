"""The Image panel's Layers tab: the stack (top first) with visibility, names and opacity; every
change is an undo step of the document."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidgetItem

from studio.ui.panels.video.widgets import to_qimage

__all__ = ["LayersMixin"]

_INDEX = Qt.ItemDataRole.UserRole


class LayersMixin:
    """Mixed into ImagePanel (which provides ``layers_tab`` and the document)."""

    def connect_layers(self) -> None:
        tab = self.layers_tab
        tab.layers.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)  # fmt: skip
        tab.layers.currentRowChanged.connect(self._on_layers_row_changed)
        tab.layers.itemChanged.connect(self._on_layers_item_changed)
        tab.opacity.valueChanged.connect(self._on_opacity_value_changed)
        tab.up.clicked.connect(self._on_up_clicked)
        tab.down.clicked.connect(self._on_down_clicked)
        tab.delete.clicked.connect(self._on_delete_clicked)

    def _icon(self, pixels) -> QIcon:
        """A layer's thumbnail, kept while its pixels live (layers are immutable)."""
        key = id(pixels)
        cached = self._layer_icons.get(key)
        if cached is not None and cached[0] is pixels:
            return cached[1]
        from studio.image.document import thumbnail
        from studio.image.io import to_uint8

        icon = QIcon(QPixmap.fromImage(to_qimage(to_uint8(thumbnail(pixels, 40)))))
        self._layer_icons[key] = (pixels, icon)
        return icon

    def fill_layers(self) -> None:
        doc = self.document
        layers = doc.layers
        live = {id(layer.pixels) for layer in layers}
        self._layer_icons = {k: v for k, v in self._layer_icons.items() if k in live}
        view = self.layers_tab.layers
        view.blockSignals(True)
        try:
            view.clear()
            for index in range(len(layers) - 1, -1, -1):
                layer = layers[index]
                item = QListWidgetItem(self._icon(layer.pixels), layer.name)
                item.setData(_INDEX, index)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable
                              | Qt.ItemFlag.ItemIsUserCheckable)  # fmt: skip
                item.setCheckState(Qt.CheckState.Checked if layer.visible
                                   else Qt.CheckState.Unchecked)  # fmt: skip
                opacity = "" if layer.opacity >= 1 else f" ({layer.opacity:.0%})"
                item.setToolTip(f"{layer.name}{opacity}: tick to show, double-click to rename")
                view.addItem(item)
            if layers:
                view.setCurrentRow(len(layers) - 1 - doc.layer_index())
        finally:
            view.blockSignals(False)
        self.update_layer_controls()

    def update_layer_controls(self) -> None:
        doc = self.document
        tab = self.layers_tab
        n = len(doc.layers) if doc is not None else 0
        index = doc.layer_index() if n else 0
        tab.opacity.blockSignals(True)
        tab.opacity.setValue(round(doc.layers[index].opacity * 100) if n else 100)
        tab.opacity.blockSignals(False)
        tab.opacity.setEnabled(n > 0)
        tab.up.setEnabled(n > 0 and index < n - 1)
        tab.down.setEnabled(n > 0 and index > 0)
        tab.delete.setEnabled(n > 1)

    def _row_index(self, row: int) -> int:
        return len(self.document.layers) - 1 - row

    def _on_layers_row_changed(self, row: int) -> None:
        if row >= 0:
            self.document.set_quiet(active_layer=self._row_index(row))

    def _on_layers_item_changed(self, item: QListWidgetItem) -> None:
        index = item.data(_INDEX)
        doc = self.document
        if index is None or not 0 <= index < len(doc.layers):
            return
        layer = doc.layers[index]
        visible = item.checkState() == Qt.CheckState.Checked
        if visible != layer.visible:
            doc.change_layer(index, f"{'Show' if visible else 'Hide'} layer {layer.name}",
                             visible=visible)  # fmt: skip
        elif item.text().strip() and item.text().strip() != layer.name:
            doc.change_layer(index, f"Rename layer {layer.name}", name=item.text().strip())

    def _on_opacity_value_changed(self, value: int) -> None:
        doc = self.document
        if doc.layers:
            index = doc.layer_index()
            doc.change_layer(index, f"Opacity of {doc.layers[index].name}",
                             merge_key=f"image.opacity.{index}", opacity=value / 100)  # fmt: skip

    def _on_up_clicked(self) -> None:
        self.document.move_layer(self.document.layer_index(), +1)

    def _on_down_clicked(self) -> None:
        self.document.move_layer(self.document.layer_index(), -1)

    def _on_delete_clicked(self) -> None:
        self.document.remove_layer(self.document.layer_index())
