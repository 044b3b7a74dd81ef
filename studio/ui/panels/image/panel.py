"""Image panel: a view of the project's ImageDocument (studio.image.document). A canvas with a
mask layer, classic tools previewed live on a screen-sized proxy, person cut-out, style transfer,
upscaling, generation (patterns, the artist's own diffusion models, plugins) as new layers, layers
with visibility and opacity, and a results history with "reuse parameters".

The panel keeps no state of its own: gestures become document changes (Edit ▸ Undo undoes them),
and widgets are redrawn from the document's events."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.image.document import SETTINGS
from studio.ui.context import StudioContext
from studio.ui.panels.arrange.send import send_button
from studio.ui.panels.base import PanelBase
from studio.ui.panels.image.canvas import CanvasView
from studio.ui.panels.image.files import FilesMixin
from studio.ui.panels.image.generate import GenerateMixin
from studio.ui.panels.image.layers import LayersMixin
from studio.ui.panels.image.sections import (
    AdjustTab,
    GenerateTab,
    HistoryTab,
    LayersTab,
    MaskTools,
    StyleTab,
    named,
)
from studio.ui.panels.image.tools import ToolsMixin

__all__ = ["ImagePanel"]

log = logging.getLogger(__name__)

ADJUST, STYLE, GENERATE = range(3)
PREVIEW_SIDE = 1600  # the screen-sized proxy tools are previewed on
QUICK_SIDE = 400  # heavy tools show this first


class ImagePanel(ToolsMixin, GenerateMixin, LayersMixin, FilesMixin, PanelBase):
    panel_id = "image"
    title = "Image"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job = None
        self.preview_job = None
        self.export_job = None
        self._proxy = None
        self._quick = None
        self._display = None  # (layers, what the canvas shows)
        self._small: dict[int, tuple] = {}  # screen-sized copies of big layers
        self._layer_icons: dict[int, object] = {}
        self._mirroring = False
        self._styles_loaded = False

        self.canvas = CanvasView()
        self.make_progress("Import a picture (Ctrl+I), or generate one on the Generate tab.")
        self.cancel_button = named(QPushButton("Cancel"), "image.cancel",
                                   "Stop the running job (Esc)")  # fmt: skip
        self.cancel_button.setEnabled(False)
        self.import_button = named(QPushButton("Import…"), "image.import",
                                   "Add a picture as a new layer (Ctrl+I)")  # fmt: skip
        self.save_button = named(QPushButton("Export…"), "image.save",
                                 "Save the picture you see (the visible layers) as PNG, TIFF, "
                                 "WebP or JPEG with its parameters (Ctrl+E)")  # fmt: skip
        self.compare_check = named(
            QCheckBox("Before/after"),
            "image.compare",
            "Split the view: the picture as opened on the left (B)",
        )
        self.fit_button = named(QPushButton("Fit"), "image.fit", "Fit the picture (Ctrl+0)")

        self.mask_tools = MaskTools()
        self.adjust = AdjustTab()
        self.style_tab = StyleTab()
        self.gen = GenerateTab()
        self.layers_tab = LayersTab()
        self.history_tab = HistoryTab()
        self.tabs = named(QTabWidget(), "image.tabs")
        for widget, text in ((self.adjust, "Adjust"), (self.style_tab, "Style"),
                             (self.gen, "Generate")):  # fmt: skip
            self.tabs.addTab(widget, text)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.addWidget(QLabel(f"<h3>{self.title}</h3>"))
        lv.addWidget(self.mask_tools)
        lv.addWidget(self.tabs, 1)
        lv.addWidget(self.cancel_button)
        lv.addWidget(self.progress)
        lv.addWidget(self.status)
        bar = QHBoxLayout()
        for w in (self.import_button, self.save_button, self.compare_check, self.fit_button,
                  send_button(self, "image")):  # fmt: skip
            bar.addWidget(w)
        bar.addStretch(1)
        view = QWidget()
        cv = QVBoxLayout(view)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addLayout(bar)
        cv.addWidget(self.canvas, 1)
        # Layers and results beside the picture, always in sight (like a paint program's docks)
        side = QSplitter(Qt.Orientation.Vertical)
        side.setObjectName("image.side")
        for widget, text in ((self.layers_tab, "Layers"), (self.history_tab, "History")):
            box = QWidget()
            bv = QVBoxLayout(box)
            bv.setContentsMargins(0, 0, 0, 0)
            bv.addWidget(QLabel(f"<b>{text}</b>"))
            bv.addWidget(widget, 1)
            side.addWidget(box)
        side.setMinimumWidth(190)
        right = QSplitter(Qt.Orientation.Horizontal)
        right.setObjectName("image.work")
        right.addWidget(view)
        right.addWidget(side)
        right.setStretchFactor(0, 1)
        right.setSizes([700, max(210, side.minimumSizeHint().width())])
        self.lay_out(left, right)
        self.narrow_combos(self.adjust.tool, self.gen.engine, self.style_tab.upscale_model)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(120)
        self._preview_timer.timeout.connect(self.preview)
        self._connect_widgets()
        self._add_actions()
        self.canvas.show_message("Import a picture (Ctrl+I), or make one on the Generate tab.")
        self.reload_engines()
        self.set_document(context.project.document(self.panel_id))
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)

    def fit_controls(self) -> None:
        """Widen the controls column to what the tab in front needs (a generator's form can be
        wide), so nothing is cut at its right edge: the column only scrolls up and down."""
        from PySide6.QtWidgets import QScrollArea, QStyle

        scroll = self.findChild(QScrollArea)
        if scroll is None or scroll.widget() is None:
            return
        scroll.widget().layout().activate()
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        need = scroll.widget().minimumSizeHint().width() + bar + 2 * scroll.frameWidth() + 2
        if need > scroll.minimumWidth():
            scroll.setMinimumWidth(need)

    # -- wiring ------------------------------------------------------------------------------------
    def _checks(self) -> dict[str, QCheckBox]:
        return {"live_preview": self.adjust.live, "in_mask": self.adjust.in_mask,
                "show_mask": self.mask_tools.show_mask, "compare": self.compare_check,
                "keep_colour": self.style_tab.keep_colour, "use_canvas": self.gen.use_canvas,
                "use_mask": self.gen.use_mask}  # fmt: skip

    def _combos(self) -> dict[str, QComboBox]:
        return {"tool": self.adjust.tool, "engine": self.gen.engine,
                "upscale_model": self.style_tab.upscale_model,
                "upscale_scale": self.style_tab.upscale_scale}  # fmt: skip

    def _connect_widgets(self) -> None:
        def click(button, slot) -> None:  # clicked(bool) must not reach the slot
            button.clicked.connect(lambda _checked=False: slot())

        for name, check in self._checks().items():
            check.toggled.connect(partial(self._on_setting_widget, name))
        for name, combo in self._combos().items():
            combo.currentIndexChanged.connect(partial(self._on_combo_changed, name))
        self.mask_tools.brush_size.valueChanged.connect(partial(self._on_setting_widget,
                                                                "brush_size"))  # fmt: skip
        self.style_tab.strength.valueChanged.connect(partial(self._on_setting_widget,
                                                         "style_strength"))  # fmt: skip
        self.gen.prompt.textChanged.connect(self._on_prompt_changed)
        self.adjust.form.changed.connect(self._on_tool_form_changed)
        self.gen.form.changed.connect(self._on_gen_form_changed)
        self.style_tab.styles.itemSelectionChanged.connect(self._on_style_selection_changed)
        for key, button in self.mask_tools.tool_buttons.items():
            click(button, partial(self.set_mask_tool, key))
        self.canvas.mask_edited.connect(self._on_canvas_mask_edited)
        pairs = (
            (self.import_button, self.import_dialog), (self.save_button, self.export_dialog),
            (self.fit_button, self.canvas.fit), (self.cancel_button, self.cancel),
            (self.adjust.apply, self.apply), (self.style_tab.apply, self.apply_style),
            (self.style_tab.picture, self.choose_style_picture),
            (self.style_tab.upscale, self.upscale),
            (self.gen.generate, self.generate), (self.gen.model_folder, self.choose_model_folder),
            (self.mask_tools.clear, self.clear_mask), (self.mask_tools.invert, self.invert_mask),
            (self.mask_tools.person, self.person_mask), (self.mask_tools.video, self.video_matte),
            (self.mask_tools.alpha, self.alpha_mask),
            (self.history_tab.restore, self.restore_result),
            (self.history_tab.reuse, self.reuse_parameters),
            (self.history_tab.reuse_file, self.reuse_from_file),
        )  # fmt: skip
        for button, slot in pairs:
            click(button, slot)
        self.history_tab.history.currentRowChanged.connect(self._on_history_row)
        self.connect_layers()

    def _add_actions(self) -> None:
        """Panel shortcuts (they work while focus is anywhere in the panel)."""
        for name, text, keys, slot in (
            ("image.import", "Import a picture…", "Ctrl+I", self.import_dialog),
            ("image.save", "Export the picture…", "Ctrl+E", self.export_dialog),
            ("image.apply", "Apply", "Ctrl+Return", self.apply_current),
            ("image.cancel", "Cancel", "Escape", self.cancel),
            ("image.compare", "Before/after", "B", self.compare_check.toggle),
            ("image.pan", "Pan", "P", partial(self.set_mask_tool, "pan")),
            ("image.mask_brush", "Mask brush", "M", partial(self.set_mask_tool, "brush")),
            ("image.mask_eraser", "Mask eraser", "E", partial(self.set_mask_tool, "eraser")),
            ("image.mask_lasso", "Mask lasso", "L", partial(self.set_mask_tool, "lasso")),
            ("image.fit", "Fit", "Ctrl+0", self.canvas.fit),
            ("image.zoom_in", "Zoom in", "Ctrl+=", partial(self.canvas.zoom_by, 1.25)),
            ("image.zoom_out", "Zoom out", "Ctrl+-", partial(self.canvas.zoom_by, 0.8)),
        ):
            action = QAction(text, self)
            action.setObjectName(name)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(f"{text} ({keys})")
            action.triggered.connect(lambda _checked=False, f=slot: f())
            self.addAction(action)

    def _on_tabs_current_changed(self, _index: int) -> None:
        QTimer.singleShot(0, self.fit_controls)  # once the page is laid out

    # -- widgets -> document -----------------------------------------------------------------------
    def _on_setting_widget(self, name: str, value) -> None:
        if not self._mirroring and self.document is not None:
            self.document.set_quiet(**{name: value})

    def _on_combo_changed(self, name: str, _index: int) -> None:
        combo = self._combos()[name]
        if combo.currentData() is not None:
            self._on_setting_widget(name, combo.currentData())

    def _on_prompt_changed(self) -> None:
        self._on_setting_widget("prompt", self.gen.prompt.toPlainText())

    def _on_tool_form_changed(self) -> None:
        doc = self.document
        if not self._mirroring and doc is not None:
            doc.set_quiet(tool_params={**doc.tool_params, doc.tool: self.adjust.form.values()})

    def _on_gen_form_changed(self) -> None:
        doc = self.document
        if not self._mirroring and doc is not None:
            doc.set_quiet(gen_params={**doc.gen_params, doc.engine: self.gen.form.values()})

    def set_mask_tool(self, tool: str) -> None:
        self._on_setting_widget("mask_tool", tool)

    # -- document -> widgets -----------------------------------------------------------------------
    def bind_document(self, document) -> None:
        self._mirroring = True
        try:
            for name in SETTINGS:
                self._show_setting(name, document.get(name))
        finally:
            self._mirroring = False
        self.canvas.set_before(document.original)
        self._show_picture(fit=True)
        self.fill_layers()
        self.fill_history()
        self._update_controls()
        if document.is_open:  # a project opened, restored or made from a file
            (w, h), n = document.size, len(document.layers)
            name = Path(document.source).name if document.source else "The picture"
            self.status.setText(f"{name}: {w}x{h}, {n} layer{'s' * (n != 1)}, "
                                f"{len(document.history)} in the history.")  # fmt: skip
        else:
            self.status.setText("Import a picture (Ctrl+I), or generate one on the Generate tab.")

    def on_document_changed(self, name: str, value) -> None:
        if name == "layers":
            self._show_picture()
            self.fill_layers()
        elif name == "mask":
            self.canvas.set_mask(value)
            self.schedule_preview()
        elif name == "active_layer":
            self.fill_layers()
        elif name == "history":
            self.fill_history()
        elif name == "original":
            self.canvas.set_before(value)
        elif name in SETTINGS:
            self._mirroring = True
            try:
                self._show_setting(name, value)
            finally:
                self._mirroring = False
            if name in ("tool", "tool_params", "in_mask", "live_preview"):
                self.schedule_preview()
        self._update_controls()

    def _show_setting(self, name: str, value) -> None:
        """Show one setting in its widget (signals are ignored meanwhile: no loop back)."""
        doc = self.document
        if name in self._checks():
            self._checks()[name].setChecked(bool(value))
            if name == "show_mask":
                self.canvas.mask_item.setVisible(bool(value))
            elif name == "compare":
                self.canvas.set_compare(bool(value))
        elif name == "tool":
            self.show_tool(value)
        elif name == "tool_params":
            self.show_form(self.adjust.form, value.get(doc.tool, {}))
        elif name == "engine":
            self.show_engine(value)
        elif name == "gen_params":
            self.show_form(self.gen.form, value.get(doc.engine, {}))
        elif name in self._combos():
            combo = self._combos()[name]
            combo.setCurrentIndex(max(0, combo.findData(value)))
        elif name == "brush_size":
            self.mask_tools.brush_size.setValue(int(value))
            self.canvas.brush_size = float(value)
        elif name == "style_strength":
            self.style_tab.strength.setValue(float(value))
        elif name == "prompt":
            if self.gen.prompt.toPlainText() != value:
                self.gen.prompt.setPlainText(str(value))
        elif name == "mask_tool":
            for key, button in self.mask_tools.tool_buttons.items():
                button.setChecked(key == value)
            self.canvas.tool = str(value)
            self.canvas.setCursor(Qt.CursorShape.OpenHandCursor if value == "pan"
                                  else Qt.CursorShape.CrossCursor)  # fmt: skip
        elif name == "style":
            self.show_style(str(value))
        elif name == "style_picture":
            self.style_tab.picture.setText(
                f"Style: {Path(value).name} (click to change)" if value
                else "Style from a picture…"
            )  # fmt: skip

    @staticmethod
    def show_form(form, values: dict) -> None:
        form.blockSignals(True)
        try:
            for key, value in values.items():
                try:
                    form.set_value(key, value)
                except (KeyError, ValueError, TypeError):
                    pass  # a parameter the tool no longer has
        finally:
            form.blockSignals(False)

    def display_pixels(self):
        """What the canvas shows: the composite, blended from screen-sized copies of the layers
        when several show (a 24-megapixel blend takes seconds; this takes milliseconds)."""
        from studio.image.document import composite, showing
        from studio.image.ops import make_proxy

        layers = self.document.layers
        if self._display is not None and self._display[0] is layers:
            return self._display[1]
        shown = showing(layers)
        if len(shown) == 1 and shown[0].opacity >= 1.0:
            pixels = shown[0].pixels
        else:
            small = []
            for layer in layers:
                key = id(layer.pixels)
                if key not in self._small or self._small[key][0] is not layer.pixels:
                    self._small[key] = (layer.pixels, make_proxy(layer.pixels, PREVIEW_SIDE)[0])
                small.append(layer.replace(pixels=self._small[key][1]))
            pixels = composite(tuple(small))
        live = {id(layer.pixels) for layer in layers}
        self._small = {k: v for k, v in self._small.items() if k in live}
        self._display = (layers, pixels)
        return pixels

    def _show_picture(self, fit: bool = False) -> None:
        """Show the picture and tell the other panels (the Video panel's background)."""
        from studio.image.ops import make_proxy

        doc = self.document
        if not doc.is_open:
            self._proxy = self._quick = self._display = None
            self.canvas.clear_picture()
            self.canvas.show_message("Import a picture (Ctrl+I), or make one on the Generate tab.")
            self.context.shared.pop("image.current", None)
            return
        w, h = doc.size
        pixels = self.display_pixels()
        self.canvas.set_picture(pixels, fit=fit or (h, w) != self.canvas.size_hw, size_hw=(h, w))
        self.canvas.set_mask(doc.mask)
        shown = pixels.shape[1] / w  # the display's scale
        proxy, scale = make_proxy(pixels, PREVIEW_SIDE)  # tools are previewed on this
        quick, quick_scale = make_proxy(pixels, QUICK_SIDE)  # heavy tools show this first
        self._proxy, self._quick = (proxy, scale * shown), (quick, quick_scale * shown)
        self.context.shared["image.current"] = doc.shared_image()
        self.schedule_preview()

    def _update_controls(self) -> None:
        doc = self.document
        has = doc is not None and doc.is_open
        busy = self.job is not None and not self.job.done
        for w in (self.save_button, self.adjust.apply, self.style_tab.apply, self.style_tab.upscale,
                  self.mask_tools.clear, self.mask_tools.invert, self.mask_tools.person,
                  self.compare_check):  # fmt: skip
            w.setEnabled(has and not busy)
        self.gen.generate.setEnabled(not busy and self.gen.engine.count() > 0)
        self.mask_tools.video.setEnabled(has and "video.matte" in self.context.shared)
        self.mask_tools.alpha.setEnabled(has and doc.has_alpha)
        self.update_layer_controls()
        self.show_upscale_estimate()
        rows = self.history_tab.history.count() > 0
        for w in (self.history_tab.restore, self.history_tab.reuse):
            w.setEnabled(rows and not busy)

    # -- jobs --------------------------------------------------------------------------------------
    def apply_current(self) -> None:
        """Ctrl+Return: what the front tab does (apply the tool, the style, or generate)."""
        tab = self.tabs.currentIndex()
        if tab == STYLE:
            self.apply_style()
        elif tab == GENERATE:
            self.generate()
        else:
            self.apply()

    def _run(self, title: str, fn, done, family: str):
        """One long job at a time, with progress, preview partials and cancel. ``done`` gets the
        result only if the panel still shows the same document."""
        if self.job is not None and not self.job.done:
            self.status.setText("Busy: wait, or cancel (Esc).")
            return None
        self._preview_timer.stop()  # the result will show instead
        if self.preview_job is not None and not self.preview_job.done:
            self.preview_job.cancel()
        handle = self.start_job(JobSpec(title=title, fn=fn, family=family, key="image.run"))
        doc = self.document
        handle.succeeded.connect(lambda value, h=handle: self._finished(h, doc, value, done))
        self._update_controls()
        return handle

    def _finished(self, handle, doc, value, done) -> None:
        if handle is not self.job:
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        if doc is self.document:
            done(value)
        self._update_controls()

    def _on_job_partial(self, value) -> None:
        import numpy as np

        if self._is_current() and isinstance(value, np.ndarray) and self.canvas.size_hw[0]:
            self.canvas.show_preview(value)  # a diffusion step

    def _on_job_failed(self, message: str, _traceback: str) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self.status.setText(f"⚠ {message}")
            self._show_picture()
            self._update_controls()

    def _on_job_cancelled(self) -> None:
        super()._on_job_cancelled()
        self._show_picture()
        self._update_controls()

    def cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()

    def shutdown(self) -> None:
        self._preview_timer.stop()
