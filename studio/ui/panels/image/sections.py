"""The Image panel's control sections: mask tools and the Adjust, Style, Generate, Layers and
History tabs. Widgets only (named ``image.<action>``, with tooltips); the panel wires them to the
document."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.panels.base import named
from studio.ui.widgets.param_form import ParamForm

__all__ = [
    "named",
    "MaskTools",
    "AdjustTab",
    "StyleTab",
    "GenerateTab",
    "LayersTab",
    "HistoryTab",
    "MASK_TOOLS",
]


#: (document value, button text, object name, tooltip)
MASK_TOOLS = (
    ("pan", "Pan", "image.pan", "Drag to move the view, wheel to zoom (P)"),
    ("brush", "Brush", "image.mask_brush", "Paint the mask (M)"),
    ("eraser", "Eraser", "image.mask_eraser", "Erase the mask (E)"),
    ("lasso", "Lasso", "image.mask_lasso", "Draw a shape to add to the mask (L)"),
)


def _button(text: str, name: str, tip: str) -> QPushButton:
    return named(QPushButton(text), name, tip)


class MaskTools(QWidget):
    """Pan / brush / eraser / lasso, the brush size, and where a mask comes from."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[str, QToolButton] = {}
        for column, (key, text, name, tip) in enumerate(MASK_TOOLS):
            button = named(QToolButton(), name, tip)
            button.setText(text)
            button.setCheckable(True)
            button.setProperty("mask_tool", key)
            self.tool_group.addButton(button)
            self.tool_buttons[key] = button
            grid.addWidget(button, 0, column)
        self.brush_size = named(QSpinBox(), "image.brush_size", "Brush size in picture pixels")
        self.brush_size.setRange(1, 2000)
        self.brush_size.setSuffix(" px")
        self.show_mask = named(QCheckBox("Show mask"), "image.mask_show",
                               "Show the mask over the picture")  # fmt: skip
        grid.addWidget(QLabel("Brush"), 1, 0)
        grid.addWidget(self.brush_size, 1, 1, 1, 2)
        grid.addWidget(self.show_mask, 1, 3)
        row = QHBoxLayout()
        row.addWidget(QLabel("Mask"))
        self.clear = self._small(row, "Clear", "image.mask_clear", "Remove the mask")
        self.invert = self._small(row, "Invert", "image.mask_invert", "Swap masked and unmasked")
        row.addStretch(1)
        grid.addLayout(row, 2, 0, 1, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("Mask from"))
        self.person = self._small(row, "Person", "image.mask_person",
                                  "Mask the person (the Video panel's segmenter)")  # fmt: skip
        self.video = self._small(row, "Video", "image.mask_video",
                                 "The matte the Video panel sent (Ctrl+M there)")  # fmt: skip
        self.alpha = self._small(row, "Alpha", "image.mask_alpha",
                                 "The picture's transparency as the mask")  # fmt: skip
        row.addStretch(1)
        grid.addLayout(row, 3, 0, 1, 4)

    @staticmethod
    def _small(row: QHBoxLayout, text: str, name: str, tip: str) -> QToolButton:
        button = named(QToolButton(), name, tip)
        button.setText(text)
        row.addWidget(button)
        return button


class AdjustTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from studio.image.ops import OPS

        layout = QVBoxLayout(self)
        self.tool = named(QComboBox(), "image.tool", "The tool to preview and apply")
        for spec in OPS.values():
            self.tool.addItem(spec.title, spec.name)
        self.form = ParamForm()
        self.form.setObjectName("image.tool_params")
        self.live = named(
            QCheckBox("Live preview"),
            "image.live_preview",
            "Show the tool's effect as you change it (on a screen-sized copy)",
        )
        self.in_mask = named(QCheckBox("Only inside the mask"), "image.in_mask",
                             "Limit the tool to the masked area")  # fmt: skip
        self.apply = _button(
            "Apply", "image.apply", "Apply the tool to the picture at full size (Ctrl+Return)"
        )
        for widget in (self.tool, self.form, self.live, self.in_mask, self.apply):
            layout.addWidget(widget)
        layout.addStretch(1)


class StyleTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.styles = named(QListWidget(), "image.style_list",
                            "Pick a style; Ctrl+click several to blend them")  # fmt: skip
        self.styles.setViewMode(QListWidget.ViewMode.IconMode)
        self.styles.setIconSize(QSize(64, 48))
        self.styles.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.styles.setMinimumHeight(170)
        self.picture = _button("Style from a picture…", "image.style_picture",
                               "Take the style from a picture of yours (click again to change; "
                               "cancel to go back to the list)")  # fmt: skip
        self.strength = named(
            QDoubleSpinBox(),
            "image.style_strength",
            "How much of the style: 0 keeps the picture, 1 is the full style",
        )
        self.strength.setRange(0, 1)
        self.strength.setSingleStep(0.05)
        self.keep_colour = named(QCheckBox("Keep the picture's colours"), "image.keep_colour",
                                 "Take the style's strokes but not its colours")  # fmt: skip
        self.apply = _button("Apply style", "image.style",
                             "Restyle the picture (Ctrl+Return on this tab)")  # fmt: skip
        layout.addWidget(self.styles, 1)  # the room a large window gives goes to the styles
        layout.addWidget(self.picture)
        row = QHBoxLayout()
        row.addWidget(QLabel("Strength"))
        row.addWidget(self.strength, 1)
        layout.addLayout(row)
        layout.addWidget(self.keep_colour)
        layout.addWidget(self.apply)
        layout.addWidget(QLabel("Upscale (Real-ESRGAN)"))
        self.upscale_model = named(QComboBox(), "image.upscale_model", "The upscaling network")
        self.upscale_model.addItem("Photographs (x4plus, slow on CPU)", "x4plus")
        self.upscale_model.addItem("Drawings (anime)", "anime")
        self.upscale_model.addItem("Fast (small model)", "fast")
        self.upscale_scale = named(QComboBox(), "image.upscale_scale", "How many times larger")
        self.upscale_scale.addItem("x4", 4)
        self.upscale_scale.addItem("x2", 2)
        self.upscale = _button("Upscale", "image.upscale", "Make the picture larger, adding detail")
        # how long it will take, shown before it starts (x4plus takes minutes on a CPU)
        self.upscale_estimate = named(
            QLabel(""), "image.upscale_estimate", "How long upscaling will take on this machine"
        )
        self.upscale_estimate.setWordWrap(True)
        layout.addWidget(self.upscale_model)
        row = QHBoxLayout()
        row.addWidget(self.upscale_scale)
        row.addWidget(self.upscale, 1)
        layout.addLayout(row)
        layout.addWidget(self.upscale_estimate)


class GenerateTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.engine = named(
            QComboBox(),
            "image.engine",
            "What makes the picture: patterns, your diffusion models, plugins",
        )
        self.model_folder = _button("Model folder…", "image.model_folder",
                                    "Add a diffusers folder (Stable Diffusion 1.x/2.x, SDXL "
                                    "class, safetensors)")  # fmt: skip
        self.prompt = named(QPlainTextEdit(), "image.prompt", "What to paint (diffusion models)")
        self.prompt.setPlaceholderText("Prompt (for your diffusion model)")
        self.prompt.setMaximumHeight(70)
        self.form = ParamForm()
        self.form.setObjectName("image.gen_params")
        self.use_canvas = named(QCheckBox("Start from the canvas"), "image.use_canvas",
                                "Image-to-image: the picture is the starting point")  # fmt: skip
        self.use_mask = named(QCheckBox("Repaint the mask only"), "image.use_mask",
                              "Inpainting: only the masked area is repainted")  # fmt: skip
        self.generate = _button("Generate", "image.generate",
                                "Make a picture; it opens as a new layer (Ctrl+Return on this "
                                "tab)")  # fmt: skip
        layout.addWidget(self.engine)
        layout.addWidget(self.model_folder)
        for widget in (self.prompt, self.form, self.use_canvas, self.use_mask, self.generate):
            layout.addWidget(widget)
        layout.addStretch(1)


class LayersTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.layers = named(
            QListWidget(),
            "image.layers",
            "The layers, top first: tick to show, double-click to rename",
        )
        self.layers.setIconSize(QSize(40, 40))
        self.layers.setMinimumHeight(120)
        self.opacity = named(QSpinBox(), "image.layer_opacity", "The chosen layer's opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setSuffix(" %")
        row = QHBoxLayout()
        row.addWidget(QLabel("Opacity"))
        row.addWidget(self.opacity, 1)
        buttons = QHBoxLayout()
        self.up = self._tool("Up", "image.layer_up", "Move the chosen layer up")
        self.down = self._tool("Down", "image.layer_down", "Move the chosen layer down")
        self.delete = self._tool("Delete", "image.layer_delete", "Delete the chosen layer")
        for button in (self.up, self.down, self.delete):
            buttons.addWidget(button, 1)
        layout.addWidget(self.layers, 1)
        layout.addLayout(row)
        layout.addLayout(buttons)

    @staticmethod
    def _tool(text: str, name: str, tip: str) -> QToolButton:
        button = named(QToolButton(), name, tip)
        button.setText(text)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return button


class HistoryTab(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.history = named(QListWidget(), "image.history",
                             "Results with the parameters that made them")  # fmt: skip
        self.history.setIconSize(QSize(48, 48))
        self.info = named(QPlainTextEdit(), "image.history_info",
                          "The parameters of the chosen result (select to copy)")  # fmt: skip
        self.info.setReadOnly(True)
        self.info.setMaximumHeight(90)
        self.restore = _button(
            "Back to this result",
            "image.restore",
            "The chosen result as a new layer on top (Edit ▸ Undo removes it)",
        )
        self.reuse = _button("Reuse parameters", "image.reuse",
                             "Set the controls to what made the chosen result")  # fmt: skip
        self.reuse_file = _button("Reuse from a file…", "image.reuse_file",
                                  "Set the controls from a picture Studio saved")  # fmt: skip
        layout.addWidget(self.history, 1)
        for widget in (self.info, self.restore, self.reuse, self.reuse_file):
            layout.addWidget(widget)
