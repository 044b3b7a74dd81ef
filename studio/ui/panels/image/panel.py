"""Image panel: a canvas with a mask layer, classic tools previewed live on a screen-sized proxy,
person cut-out, style transfer, upscaling, generation (patterns or the artist's own diffusion
models), a results history with "reuse parameters", and undo/redo of every change."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.ui.context import StudioContext
from studio.ui.panels.base import PanelBase
from studio.ui.panels.image.canvas import CanvasView
from studio.ui.panels.video.widgets import to_qimage
from studio.ui.widgets.param_form import ParamForm

__all__ = ["ImagePanel"]

log = logging.getLogger(__name__)

OPEN_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
SAVE_FILTER = (
    "PNG, 16-bit and alpha kept (*.png);;TIFF, 16-bit and alpha kept (*.tif *.tiff);;"
    "WebP (*.webp);;JPEG (*.jpg *.jpeg)"
)
PREVIEW_SIDE = 1600  # the screen-sized proxy tools are previewed on
QUICK_SIDE = 400  # heavy tools show this first


class ImagePanel(PanelBase):
    panel_id = "image"
    title = "Image"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        from studio.image.ops import OPS

        self.document: Any = None
        self.job = None
        self.preview_job: Any = None
        self._proxy: tuple[np.ndarray, float] | None = None
        self._quick: tuple[np.ndarray, float] | None = None
        self.style_picture = ""

        self.canvas = CanvasView()
        self.canvas.mask_edited.connect(self._on_canvas_mask_edited)
        self.make_progress("Open a picture, or generate one.")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)

        # -- top bar -------------------------------------------------------------------------------
        self.open_button = QPushButton("Open…")
        self.save_button = QPushButton("Save…")
        self.undo_button = QPushButton("Undo")
        self.redo_button = QPushButton("Redo")
        self.compare_check = QCheckBox("Before/after")
        self.compare_check.setToolTip("Split the view: the picture as opened on the left (B)")
        self.fit_button = QPushButton("Fit")
        bar = QHBoxLayout()
        for w in (self.open_button, self.save_button, self.undo_button, self.redo_button,
                  self.compare_check, self.fit_button):  # fmt: skip
            bar.addWidget(w)
        bar.addStretch(1)

        # -- mask tools ----------------------------------------------------------------------------
        self.tool_group = QButtonGroup(self)
        tools = QHBoxLayout()
        for key, label, tip in (
            ("pan", "Pan", "Drag to move (P); wheel zooms"),
            ("brush", "Brush", "Paint the mask (M)"),
            ("eraser", "Eraser", "Erase the mask (E)"),
            ("lasso", "Lasso", "Draw a shape to add to the mask (L)"),
        ):
            button = QToolButton()
            button.setText(label)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setObjectName(f"tool_{key}")
            button.setChecked(key == "pan")
            self.tool_group.addButton(button)
            button.clicked.connect(lambda _=False, k=key: self.set_tool(k))
            tools.addWidget(button)
        self.brush_size = QSpinBox()
        self.brush_size.setRange(1, 2000)
        self.brush_size.setValue(40)
        self.brush_size.setSuffix(" px")
        self.brush_size.setToolTip("Brush size")
        self.brush_size.valueChanged.connect(lambda v: setattr(self.canvas, "brush_size", v))
        tools.addStretch(1)
        mask_row = QHBoxLayout()
        mask_row.addWidget(QLabel("Mask"))

        def small(text: str, tip: str) -> QToolButton:
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            mask_row.addWidget(button)
            return button

        self.clear_mask_button = small("Clear", "Remove the mask")
        self.invert_mask_button = small("Invert", "Swap masked and unmasked")
        mask_row.addStretch(1)
        mask_from = mask_row
        mask_row = QHBoxLayout()
        mask_row.addWidget(QLabel("Mask from"))
        self.person_mask_button = small("Person", "Mask the person (the Video panel's segmenter)")
        self.video_mask_button = small("Video", "The matte the Video panel sent (Ctrl+M there)")
        self.alpha_mask_button = small("Alpha", "The picture's transparency as the mask")
        self.show_mask_check = QCheckBox("Show")
        self.show_mask_check.setChecked(True)
        self.show_mask_check.setToolTip("Show the mask layer over the picture")
        mask_row.addStretch(1)
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("Brush"))
        size_row.addWidget(self.brush_size, 1)
        size_row.addWidget(self.show_mask_check)

        # -- tabs ----------------------------------------------------------------------------------
        self.tabs = QTabWidget()
        self.tabs.setObjectName("image_tabs")
        # adjust
        adjust = QWidget()
        av = QVBoxLayout(adjust)
        self.op_combo = QComboBox()
        self.op_combo.setObjectName("op_combo")
        for spec in OPS.values():
            self.op_combo.addItem(f"{spec.title}", spec.name)
        self.op_form = ParamForm()
        self.op_form.changed.connect(self.schedule_preview)
        self.live_check = QCheckBox("Live preview")
        self.live_check.setChecked(True)
        self.in_mask_check = QCheckBox("Only inside the mask")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("apply_button")
        self.apply_button.setToolTip("Apply at full resolution (Ctrl+Return)")
        av.addWidget(self.op_combo)
        av.addWidget(self.op_form)
        av.addWidget(self.live_check)
        av.addWidget(self.in_mask_check)
        av.addWidget(self.apply_button)
        av.addStretch(1)
        self.tabs.addTab(adjust, "Adjust")
        # style
        style = QWidget()
        sv = QVBoxLayout(style)
        self.style_list = QListWidget()
        self.style_list.setObjectName("style_list")
        self.style_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.style_list.setIconSize(QSize(64, 48))
        self.style_list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.style_list.setToolTip("Pick a style; Ctrl+click several to blend them")
        self.style_list.setMinimumHeight(170)
        self.style_picture_button = QPushButton("Use a picture as the style…")
        self.style_strength = QDoubleSpinBox()
        self.style_strength.setRange(0, 1)
        self.style_strength.setSingleStep(0.05)
        self.style_strength.setValue(1.0)
        self.keep_colour = QCheckBox("Keep the picture's colours")
        self.style_button = QPushButton("Apply style")
        sv.addWidget(self.style_list)
        sv.addWidget(self.style_picture_button)
        row = QHBoxLayout()
        row.addWidget(QLabel("Strength"))
        row.addWidget(self.style_strength)
        sv.addLayout(row)
        sv.addWidget(self.keep_colour)
        sv.addWidget(self.style_button)
        sv.addWidget(QLabel("Upscale (Real-ESRGAN)"))
        up = QHBoxLayout()
        self.upscale_model = QComboBox()
        self.upscale_model.addItem("Photographs (x4plus, slow on CPU)", "x4plus")
        self.upscale_model.addItem("Drawings (anime)", "anime")
        self.upscale_model.addItem("Fast (small model)", "fast")
        self.upscale_scale = QComboBox()
        self.upscale_scale.addItems(["x4", "x2"])
        self.upscale_button = QPushButton("Upscale")
        sv.addWidget(self.upscale_model)
        up.addWidget(self.upscale_scale)
        up.addWidget(self.upscale_button, 1)
        sv.addLayout(up)
        sv.addStretch(1)
        self.tabs.addTab(style, "Style")
        # generate
        gen = QWidget()
        gv = QVBoxLayout(gen)
        self.engine_combo = QComboBox()
        self.engine_combo.setObjectName("gen_engine_combo")
        self.model_folder_button = QPushButton("Model folder…")
        self.model_folder_button.setToolTip(
            "Pick a diffusers folder (Stable Diffusion 1.x/2.x, SDXL class, safetensors)"
        )
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("Prompt (for your diffusion model)")
        self.prompt.setMaximumHeight(70)
        self.gen_form = ParamForm()
        self.use_canvas_check = QCheckBox("Start from the canvas")
        self.use_canvas_check.setToolTip("Image-to-image: the canvas is the starting picture")
        self.use_mask_check = QCheckBox("Repaint the mask only")
        self.use_mask_check.setToolTip("Inpainting: only the masked area is repainted")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate_button")
        row = QHBoxLayout()
        row.addWidget(self.engine_combo, 1)
        row.addWidget(self.model_folder_button)
        gv.addLayout(row)
        gv.addWidget(self.prompt)
        gv.addWidget(self.gen_form)
        gv.addWidget(self.use_canvas_check)
        gv.addWidget(self.use_mask_check)
        gv.addWidget(self.generate_button)
        gv.addStretch(1)
        self.tabs.addTab(gen, "Generate")
        # history
        hist = QWidget()
        hv = QVBoxLayout(hist)
        self.history_list = QListWidget()
        self.history_list.setObjectName("history_list")
        self.history_list.setIconSize(QSize(48, 48))
        self.history_info = QLabel()
        self.history_info.setWordWrap(True)
        self.history_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.restore_button = QPushButton("Back to this result")
        self.restore_button.setToolTip("Make the chosen result the picture again (one undo step)")
        self.reuse_button = QPushButton("Reuse parameters")
        self.reuse_file_button = QPushButton("Reuse from a file…")
        hv.addWidget(self.history_list, 1)
        hv.addWidget(self.history_info)
        hv.addWidget(self.restore_button)
        hv.addWidget(self.reuse_button)
        hv.addWidget(self.reuse_file_button)
        self.tabs.addTab(hist, "History")

        left = QWidget()
        lv = QVBoxLayout(left)
        heading = QLabel(f"<h3>{self.title}</h3>")
        lv.addWidget(heading)
        lv.addLayout(tools)
        lv.addLayout(size_row)
        lv.addLayout(mask_from)
        lv.addLayout(mask_row)
        lv.addWidget(self.tabs, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.cancel_button)
        lv.addLayout(buttons)
        lv.addWidget(self.progress)
        lv.addWidget(self.status)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addLayout(bar)
        rv.addWidget(self.canvas, 1)
        self.lay_out(left, right)
        self.narrow_combos(self.op_combo, self.engine_combo, self.upscale_model)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(120)
        self._preview_timer.timeout.connect(self.preview)

        self.open_button.clicked.connect(self.open_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.undo_button.clicked.connect(self.undo)
        self.redo_button.clicked.connect(self.redo)
        self.compare_check.toggled.connect(self.canvas.set_compare)
        self.fit_button.clicked.connect(self.canvas.fit)
        self.clear_mask_button.clicked.connect(lambda: self.set_mask(None, "mask: clear"))
        self.invert_mask_button.clicked.connect(self.invert_mask)
        self.person_mask_button.clicked.connect(self.person_mask)
        self.video_mask_button.clicked.connect(self.video_matte)
        self.alpha_mask_button.clicked.connect(self.alpha_mask)
        self.show_mask_check.toggled.connect(self.canvas.mask_item.setVisible)
        self.restore_button.clicked.connect(self.restore_result)
        self.op_combo.currentIndexChanged.connect(self._on_op_combo_changed)
        self.live_check.toggled.connect(self.schedule_preview)
        self.in_mask_check.toggled.connect(self.schedule_preview)
        self.apply_button.clicked.connect(self.apply)
        self.style_picture_button.clicked.connect(self.choose_style_picture)
        self.style_button.clicked.connect(self.apply_style)
        self.upscale_button.clicked.connect(self.upscale)
        self.engine_combo.currentIndexChanged.connect(self._on_engine_combo_changed)
        self.model_folder_button.clicked.connect(self.choose_model_folder)
        self.generate_button.clicked.connect(self.generate)
        self.history_list.currentRowChanged.connect(self._on_history_row)
        self.reuse_button.clicked.connect(self.reuse_parameters)
        self.reuse_file_button.clicked.connect(self.reuse_from_file)
        self.cancel_button.clicked.connect(self.cancel)
        self.add_shortcuts(
            (
                (QKeySequence.StandardKey.Open, self.open_dialog),
                (QKeySequence.StandardKey.Save, self.save_dialog),
                ("Ctrl+Z", self.undo),
                ("Ctrl+Shift+Z", self.redo),  # one shortcut per key: a second would be ambiguous
                ("Ctrl+Y", self.redo),
                ("Ctrl+Return", self.apply),
                ("Escape", self.cancel),
                ("B", self.compare_check.toggle),
                ("P", lambda: self.set_tool("pan")),
                ("M", lambda: self.set_tool("brush")),
                ("E", lambda: self.set_tool("eraser")),
                ("L", lambda: self.set_tool("lasso")),
                ("Ctrl+0", self.canvas.fit),
                ("Ctrl+=", lambda: self.canvas.zoom_by(1.25)),
                ("Ctrl+-", lambda: self.canvas.zoom_by(0.8)),
            )
        )
        self.canvas.show_message("Open a picture (Ctrl+O), or make one on the Generate tab.")
        self._on_op_combo_changed()
        self.reload_engines()
        self._styles_loaded = False
        self._update_controls()

    # -- document ----------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a picture", "", OPEN_FILTER)
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        """Open a picture (``studio shot image --open``); a message instead on a bad file."""
        from studio.image.document import Document
        from studio.image.io import ImageError

        try:
            document = Document.open(path)
        except ImageError as exc:
            self.status.setText(str(exc))
            return False
        self.set_document(document)
        w, h = document.size
        self.status.setText(
            f"{Path(path).name}: {w}x{h}, {document.picture.depth}-bit"
            + (", alpha" if document.picture.has_alpha else "")
            + (", with saved parameters (History ▸ Reuse)" if document.picture.provenance else "")
        )
        return True

    def set_document(self, document) -> None:
        self.document = document
        self.canvas.set_before(document.original)
        self._refresh(fit=True)

    def new_from_pixels(self, pixels: np.ndarray, provenance: dict, label: str) -> None:
        """A result (generated, styled...) onto the canvas: the document's next state, or a new
        document when there is none or the size differs."""
        from studio.image.document import Document
        from studio.image.io import Picture

        if self.document is None or self.document.pixels.shape[:2] != pixels.shape[:2]:
            self.set_document(Document(Picture(pixels, provenance)))
            self.document.history.append(self._entry(label, provenance, pixels))
        else:
            self.document.change_pixels(pixels, label, provenance, result=True)
        self._refresh()

    def _refresh(self, fit: bool = False) -> None:
        """Show the document as it is now and tell the other panels."""
        from studio.image.ops import make_proxy

        doc = self.document
        if doc is None:
            return
        self.canvas.set_picture(doc.pixels, fit=fit)
        self.canvas.set_mask(doc.mask)
        self._proxy = make_proxy(doc.pixels, PREVIEW_SIDE)
        self._quick = make_proxy(doc.pixels, QUICK_SIDE)
        self.context.shared["image.current"] = doc.picture.to_image()
        self._fill_history()
        self._update_controls()

    def _update_controls(self) -> None:
        has = self.document is not None
        busy = self.job is not None and not self.job.done
        for w in (self.save_button, self.apply_button, self.style_button, self.upscale_button,
                  self.clear_mask_button, self.invert_mask_button, self.person_mask_button,
                  self.compare_check):  # fmt: skip
            w.setEnabled(has and not busy)
        self.generate_button.setEnabled(not busy and self.engine_combo.count() > 0)
        self.video_mask_button.setEnabled(has and "video.matte" in self.context.shared)
        self.alpha_mask_button.setEnabled(has and self.document.picture.has_alpha)
        self.undo_button.setEnabled(has and self.document.can_undo)
        self.redo_button.setEnabled(has and self.document.can_redo)
        if has:
            self.undo_button.setToolTip(f"Undo {self.document.undo_label()} (Ctrl+Z)")
            self.redo_button.setToolTip(f"Redo {self.document.redo_label()} (Ctrl+Shift+Z)")

    def select_generator(self, qualified_id: str) -> bool:
        index = self.engine_combo.findData(f"plugin:{qualified_id}")
        if qualified_id in ("studio/pattern", "pattern"):
            index = self.engine_combo.findData("pattern")
        if index >= 0:
            self.engine_combo.setCurrentIndex(index)
            self.tabs.setCurrentIndex(2)  # Generate
        return index >= 0

    def current_file(self) -> Path | None:
        if self.document is None or self.document.picture.path is None:
            return None
        return Path(self.document.picture.path)

    def save_dialog(self) -> None:
        if self.document is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the picture", "", SAVE_FILTER)
        if path:
            self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        from studio.image.io import ImageError, save_picture

        if not Path(path).suffix:
            path = f"{path}.png"
        try:
            saved = save_picture(self.document.picture, path)
        except ImageError as exc:
            self.status.setText(str(exc))
            return False
        self.status.setText(f"Saved {saved.name} with its parameters.")
        self.document.picture.path = saved
        self.remember_saved(saved, dict(self.document.picture.provenance))
        return True

    def undo(self) -> None:
        if self.document is not None and self.document.can_undo:
            label = self.document.undo()
            self._refresh()
            self.status.setText(f"Undid {label}.")

    def redo(self) -> None:
        if self.document is not None and self.document.can_redo:
            label = self.document.redo()
            self._refresh()
            self.status.setText(f"Redid {label}.")

    # -- mask --------------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.canvas.tool = tool
        for button in self.tool_group.buttons():
            button.setChecked(button.objectName() == f"tool_{tool}")
        self.canvas.setCursor(
            Qt.CursorShape.OpenHandCursor if tool == "pan" else Qt.CursorShape.CrossCursor
        )

    def set_mask(self, mask: np.ndarray | None, label: str) -> None:
        if self.document is None:
            return
        self.document.change_mask(mask, label)
        self.canvas.set_mask(self.document.mask)
        self._update_controls()
        self.schedule_preview()

    def _on_canvas_mask_edited(self, mask, label: str) -> None:
        self.set_mask(mask, label)

    def invert_mask(self) -> None:
        if self.document is None:
            return
        current = self.document.mask
        h, w = self.document.pixels.shape[:2]
        inverted = np.ones((h, w), np.float32) if current is None else 1.0 - current
        self.set_mask(inverted, "mask: invert")

    def video_matte(self) -> None:
        """The matte the Video panel sent, fitted to this picture, as the mask."""
        import cv2

        mask = self.context.shared.get("video.matte")
        if self.document is None or mask is None:
            self.status.setText("The Video panel has not sent a matte (Ctrl+M there).")
            return
        alpha = mask.alpha.astype(np.float32)
        if alpha.max() > 1.0:
            alpha = alpha / 255.0
        h, w = self.document.pixels.shape[:2]
        if alpha.shape != (h, w):
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        self.set_mask(alpha, "mask: video matte")

    def alpha_mask(self) -> None:
        """The picture's own transparency (a cut-out's, a PNG's) as the mask."""
        if self.document is None or not self.document.picture.has_alpha:
            self.status.setText("This picture has no transparency to use as a mask.")
            return
        alpha = self.document.pixels[..., 3].astype(np.float32)
        self.set_mask(alpha / (65535.0 if alpha.max() > 255 else 255.0), "mask: alpha")

    def person_mask(self):
        if self.document is None:
            return
        from studio.image.cutout import person_matte

        rgb = self.document.picture.rgb8()
        return self._run(
            "Image: person mask", lambda _r, _c: person_matte(rgb), self._on_person_mask, "image"
        )

    def _on_person_mask(self, matte) -> None:
        self.set_mask(matte, "mask: person")
        self.status.setText("The person is masked.")

    # -- tools -------------------------------------------------------------------------------------
    def _on_op_combo_changed(self, *_args) -> None:
        from studio.image.ops import OPS

        spec = OPS[self.op_combo.currentData()]
        self.op_form.set_params(spec.params)
        self.in_mask_check.setEnabled(not spec.geometry)
        self.schedule_preview()

    def _op_request(self) -> tuple[str, dict[str, Any]]:
        return self.op_combo.currentData(), self.op_form.values()

    def _tool_mask(self, name: str) -> np.ndarray | None:
        if self.document is None:
            return None
        if name in ("inpaint", "grabcut") or self.in_mask_check.isChecked():
            return self.document.mask
        return None

    def schedule_preview(self, *_args) -> None:
        if self.live_check.isChecked() and self.document is not None:
            self._preview_timer.start()
        elif self.document is not None:
            self.canvas.set_picture(self.document.pixels)

    def preview(self):
        """Run the chosen tool on the screen-sized proxy (heavy ones on a smaller one first) in a
        worker; the canvas shows each as it comes."""
        from studio.image.ops import OPS, apply_op

        if self.document is None or self._proxy is None or self._quick is None:
            return None
        if self.context.runner.closed:  # the window is closing
            return None
        name, params = self._op_request()
        spec = OPS[name]
        mask = self._tool_mask(name)
        proxy, scale = self._proxy
        quick, quick_scale = self._quick

        def small_mask(shape):
            import cv2

            if mask is None:
                return None
            return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)

        def work(_request, ctx):
            if spec.heavy:
                ctx.partial(apply_op(name, quick, params, small_mask(quick.shape), quick_scale))
                ctx.check_cancelled()
            return apply_op(name, proxy, params, small_mask(proxy.shape), scale)

        job = self.context.runner.submit(
            JobSpec(title=f"Image: preview {spec.title}", fn=work, key="image.preview")
        )
        job.partial.connect(self._on_preview_result)
        job.succeeded.connect(self._on_preview_result)
        job.failed.connect(self._on_preview_failed)
        self.preview_job = job
        return job

    def _on_preview_result(self, pixels) -> None:
        if self.sender() is self.preview_job and self.document is not None:
            if self._tool_changes_size():  # crop, rotate, resize: the preview's own shape
                self.canvas.set_mask(None)
                self.canvas.set_picture(pixels, fit=True)
            else:
                self.canvas.show_preview(pixels)

    def _tool_changes_size(self) -> bool:
        from studio.image.ops import OPS

        return OPS[self.op_combo.currentData()].geometry

    def _on_preview_failed(self, message: str, _tb: str) -> None:
        if self.sender() is self.preview_job:
            self.status.setText(message)

    def apply(self):
        """Apply the tool at full resolution (a job); one undo step."""
        from studio.image.ops import OPS, apply_op, describe_op

        if self.document is None:
            return None
        name, params = self._op_request()
        mask = self._tool_mask(name)
        pixels = self.document.pixels
        label = describe_op(name, params)
        return self._run(
            f"Image: {OPS[name].title}",
            lambda _r, _c: apply_op(name, pixels, params, mask),
            lambda out: self._applied(out, label),
            "image",
        )

    def _applied(self, pixels, label: str, provenance=None, result: bool = False) -> None:
        self.document.change_pixels(pixels, label, provenance, result=result)
        self._refresh(fit=pixels.shape[:2] != self.canvas.size_hw)
        self.status.setText(f"{label} (Ctrl+Z undoes it).")

    # -- style and upscale -------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._styles_loaded and not self.context.runner.closed:
            self._styles_loaded = True
            from studio.image.style import style_thumbnails

            job = self.context.runner.submit(
                JobSpec(title="Image: style thumbnails", fn=lambda _r, _c: style_thumbnails(64))
            )
            job.succeeded.connect(self._on_thumbnails)

    def _on_thumbnails(self, thumbs) -> None:
        self.style_list.clear()
        for i, thumb in enumerate(thumbs):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(thumb))), str(i))
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.style_list.addItem(item)
        if self.style_list.count():
            self.style_list.setCurrentRow(0)

    def style_spec(self) -> str:
        if self.style_picture:
            return self.style_picture
        chosen = [item.data(Qt.ItemDataRole.UserRole) for item in self.style_list.selectedItems()]
        if not chosen:
            return "0"
        if len(chosen) == 1:
            return str(chosen[0])
        return ",".join(f"{i}:{1 / len(chosen):.3f}" for i in chosen)

    def choose_style_picture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "A picture to take the style from", "",
                                              OPEN_FILTER)  # fmt: skip
        self.style_picture = path or ""
        self.style_picture_button.setText(
            f"Style: {Path(path).name} (click to change)" if path
            else "Use a picture as the style…"
        )  # fmt: skip

    def apply_style(self):
        from studio.image.style import stylize

        if self.document is None:
            return None
        spec, strength = self.style_spec(), self.style_strength.value()
        keep = self.keep_colour.isChecked()
        pixels = self.document.pixels
        info = {"engine": "studio/style", "style": spec, "strength": strength,
                "keep_colour": keep}  # fmt: skip
        return self._run(
            "Image: style", lambda _r, _c: stylize(pixels, spec, strength, keep),
            lambda out: self._applied(out, f"style {spec}", {**info}, result=True), "image",
        )  # fmt: skip

    def upscale(self):
        from studio.image.upscale import upscale

        if self.document is None:
            return None
        model = self.upscale_model.currentData()
        scale = 4 if self.upscale_scale.currentText() == "x4" else 2
        pixels = self.document.pixels
        info = {"engine": "studio/upscale", "model": model, "scale": scale}
        return self._run(
            "Image: upscale", lambda _r, ctx: upscale(pixels, scale, model, ctx=ctx),
            lambda out: self._applied(out, f"upscale x{scale} {model}", info, result=True),
            "image",
        )  # fmt: skip

    # -- generation --------------------------------------------------------------------------------
    def reload_engines(self) -> None:
        from studio.image.diffusion import find_diffusion_models

        self.engine_combo.blockSignals(True)
        current = self.engine_combo.currentData()
        self.engine_combo.clear()
        self.engine_combo.addItem("Neural patterns (built in)", "pattern")
        for folder in find_diffusion_models(self.context.settings.models_dir()):
            self.engine_combo.addItem(f"{folder.name} (diffusion)", str(folder))
        for ref in self.context.registry.contributions("image"):
            if ref.plugin.name != "studio":
                self.engine_combo.addItem(f"{ref.title} (plugin)", f"plugin:{ref.id}")
        index = self.engine_combo.findData(current)
        self.engine_combo.setCurrentIndex(max(0, index))
        self.engine_combo.blockSignals(False)
        self._on_engine_combo_changed()

    def choose_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A diffusers model folder")
        if path:
            self.add_model_folder(path)

    def add_model_folder(self, path: str | Path) -> bool:
        from studio.image.diffusion import DiffusionError, inspect_folder

        try:
            folder = inspect_folder(path)
        except DiffusionError as exc:
            self.status.setText(str(exc))
            return False
        if self.engine_combo.findData(str(folder.path)) < 0:
            self.engine_combo.addItem(f"{folder.name} (diffusion)", str(folder.path))
        self.engine_combo.setCurrentIndex(self.engine_combo.findData(str(folder.path)))
        self.status.setText(f"{folder.name}: {folder.pipeline_class}, ready.")
        return True

    def _engine_params(self):
        from studio.image.diffusion import DIFFUSION_PARAMS
        from studio.image.pattern import PATTERN_PARAMS

        key = self.engine_combo.currentData() or "pattern"
        if key == "pattern":
            return PATTERN_PARAMS
        if key.startswith("plugin:"):
            ref = self.context.registry.get(key[7:])
            return self.context.registry.generator(ref).params
        return tuple(p for p in DIFFUSION_PARAMS if p.name not in ("prompt",))

    def _on_engine_combo_changed(self, *_args) -> None:
        key = self.engine_combo.currentData() or "pattern"
        self.gen_form.set_params(self._engine_params())
        diffusion = key not in ("pattern",) and not key.startswith("plugin:")
        for w in (self.prompt, self.use_canvas_check, self.use_mask_check):
            w.setVisible(diffusion)
        self._update_controls()

    def generate(self):
        """Generate with the chosen engine; each diffusion step previews on the canvas."""
        from studio.core.media import Image, Mask

        key = self.engine_combo.currentData() or "pattern"
        request = dict(self.gen_form.values())
        device = self.context.device
        registry = self.context.registry
        if key == "pattern":
            qualified = "studio/pattern"
        elif key.startswith("plugin:"):
            qualified = key[7:]
        else:
            qualified = "studio/diffusion"
            request["model"] = key
            request["prompt"] = self.prompt.toPlainText().strip()
            if self.use_canvas_check.isChecked() and self.document is not None:
                rgb = self.document.picture.rgb8()
                request["init"] = Image(rgb)
                request["width"] = rgb.shape[1] // 8 * 8
                request["height"] = rgb.shape[0] // 8 * 8
                if self.use_mask_check.isChecked():
                    if self.document.mask is None:
                        self.status.setText("Paint a mask first: inpainting repaints it.")
                        return None
                    request["mask"] = Mask(self.document.mask)

        def work(_r, ctx):
            return registry.run(qualified, request, ctx, device=device)

        return self._run(
            f"Image: generate ({qualified})", work, self._on_generated,
            "image-diffusion" if qualified == "studio/diffusion" else "image",
        )  # fmt: skip

    def _on_generated(self, image) -> None:
        info = dict(image.provenance)
        seed = info.get("params", {}).get("seed")
        label = f"{info.get('engine', 'generated')} seed {seed}"
        self.new_from_pixels(image.pixels, info, label)
        self.status.setText(f"Generated: {label}.")

    @staticmethod
    def _entry(label, info, pixels):
        from studio.image.document import HistoryEntry, _thumbnail

        return HistoryEntry(label, info, _thumbnail(pixels), pixels=pixels)

    # -- history -----------------------------------------------------------------------------------
    def _fill_history(self) -> None:
        self.history_list.blockSignals(True)
        self.history_list.clear()
        for entry in self.document.history if self.document else []:
            item = QListWidgetItem(
                QIcon(QPixmap.fromImage(to_qimage(entry.thumbnail))), entry.label
            )
            self.history_list.addItem(item)
        self.history_list.blockSignals(False)

    def _on_history_row(self, row: int) -> None:
        if self.document is None or not 0 <= row < len(self.document.history):
            self.history_info.setText("")
            return
        import json

        info = self.document.history[row].provenance
        self.history_info.setText(json.dumps(info.get("params", info), indent=1, default=str)[:800])

    def restore_result(self) -> bool:
        """Make the chosen history entry's result the picture again (one undo step)."""
        row = self.history_list.currentRow()
        if self.document is None or not 0 <= row < len(self.document.history):
            self.status.setText("Pick a result in the history first.")
            return False
        entry = self.document.history[row]
        if entry.pixels is None:
            self.status.setText("That result is no longer kept in memory.")
            return False
        self.document.change_pixels(entry.pixels, f"back to {entry.label}", entry.provenance)
        self._refresh(fit=True)
        self.status.setText(f"Back to {entry.label} (Ctrl+Z undoes it).")
        return True

    def reuse_parameters(self, provenance: dict | None = None) -> bool:
        """Put a result's parameters back into the controls (the selected history entry, or
        ``provenance``)."""
        if provenance is None:
            row = self.history_list.currentRow()
            if self.document is None or not 0 <= row < len(self.document.history):
                self.status.setText("Pick a result in the history first.")
                return False
            provenance = self.document.history[row].provenance
        engine = provenance.get("engine")
        params = dict(provenance.get("params") or {})
        if engine == "studio/style":
            self.tabs.setCurrentIndex(1)
            self.style_strength.setValue(float(provenance.get("strength", 1.0)))
            self.keep_colour.setChecked(bool(provenance.get("keep_colour")))
            self.status.setText(f"Style {provenance.get('style')} is set up again.")
            return True
        if engine == "studio/pattern":
            self.engine_combo.setCurrentIndex(self.engine_combo.findData("pattern"))
        elif engine == "studio/diffusion":
            model = params.get("model", "")
            if self.engine_combo.findData(model) < 0 and not self.add_model_folder(model):
                return False
            self.engine_combo.setCurrentIndex(self.engine_combo.findData(model))
            self.prompt.setPlainText(str(params.get("prompt", "")))
        else:
            self.status.setText("No generation parameters to reuse in this one.")
            return False
        for name, value in params.items():
            try:
                self.gen_form.set_value(name, value)
            except KeyError:
                pass
        self.tabs.setCurrentIndex(2)
        self.status.setText("Parameters reused: press Generate (the same seed gives the same).")
        return True

    def reuse_from_file(self) -> None:
        from studio.image.io import read_provenance

        path, _ = QFileDialog.getOpenFileName(self, "A picture Studio made", "", OPEN_FILTER)
        if path:
            info = read_provenance(path)
            if not info:
                self.status.setText(f"{Path(path).name} has no Studio parameters.")
                return
            self.reuse_parameters(info)

    # -- jobs --------------------------------------------------------------------------------------
    def _run(self, title: str, fn, done, family: str):
        """One long job at a time, with progress, preview partials and cancel."""
        if self.job is not None and not self.job.done:
            self.status.setText("Busy: wait, or cancel (Esc).")
            return None
        handle = self.start_job(JobSpec(title=title, fn=fn, family=family, key="image.run"))
        handle.succeeded.connect(lambda value, h=handle: self._finished(h, value, done))
        self._update_controls()
        return handle

    def _finished(self, handle, value, done) -> None:
        if handle is not self.job:
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        done(value)
        self._update_controls()

    def _on_job_partial(self, value) -> None:
        if self._is_current() and isinstance(value, np.ndarray) and self.canvas.size_hw[0]:
            self.canvas.show_preview(value)  # a diffusion step

    def _on_job_failed(self, message: str, _traceback: str) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self.status.setText(message)
            if self.document is not None:
                self.canvas.set_picture(self.document.pixels)
            self._update_controls()

    def _on_job_cancelled(self) -> None:
        super()._on_job_cancelled()
        if self.document is not None:
            self.canvas.set_picture(self.document.pixels)
        self._update_controls()

    def cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()

    def shutdown(self) -> None:
        self._preview_timer.stop()
