"""The Image panel's tools: live previews and full-size application of the classic tools, the mask
(brush strokes, person, the Video panel's matte, alpha), style transfer and upscaling. Each result
is one change of the document."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidgetItem

from studio.core.jobs import JobSpec
from studio.image.document import composite
from studio.ui.dialogs import files
from studio.ui.panels.video.widgets import to_qimage

__all__ = ["ToolsMixin"]


class ToolsMixin:
    """Mixed into ImagePanel (which provides the widgets, the document and ``_run``)."""

    # -- the tool on the Adjust tab ----------------------------------------------------------------
    def show_tool(self, name: str) -> None:
        from studio.image.ops import OPS

        spec = OPS.get(name) or next(iter(OPS.values()))
        combo = self.adjust.tool
        combo.setCurrentIndex(max(0, combo.findData(spec.name)))
        self.adjust.form.blockSignals(True)
        try:
            self.adjust.form.set_params(spec.params)
        finally:
            self.adjust.form.blockSignals(False)
        self.show_form(self.adjust.form, self.document.tool_params.get(spec.name, {}))
        self.adjust.in_mask.setEnabled(not spec.geometry)

    def _op_request(self) -> tuple[str, dict[str, Any]]:
        from studio.image.ops import OPS

        name = self.document.tool if self.document.tool in OPS else next(iter(OPS))
        return name, self.adjust.form.values()

    def _tool_mask(self, name: str) -> np.ndarray | None:
        if name in ("inpaint", "grabcut") or self.document.in_mask:
            return self.document.mask
        return None

    def schedule_preview(self, *_args) -> None:
        doc = self.document
        if doc is None or not doc.is_open:
            return
        if doc.live_preview:
            self._preview_timer.start()
        else:
            self._preview_timer.stop()
            w, h = doc.size
            self.canvas.set_picture(self.display_pixels(), size_hw=(h, w))

    def preview(self):
        """Run the tool on the screen-sized proxy (heavy ones on a smaller one first) in a worker;
        the canvas shows each as it comes. Nothing in the document changes."""
        from studio.image.ops import OPS, apply_op

        self._preview_timer.stop()  # this is the preview it was waiting for
        if self._proxy is None or self._quick is None or self.context.runner.closed:
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
            # the same worker as applying: a model (the segmenter) is never used by two threads
            JobSpec(
                title=f"Image: preview {spec.title}", fn=work, key="image.preview", family="image"
            )
        )
        job.partial.connect(self._on_preview_result)
        job.succeeded.connect(self._on_preview_result)
        job.failed.connect(self._on_preview_failed)
        self.preview_job = job
        return job

    def _on_preview_result(self, pixels) -> None:
        from studio.image.ops import OPS

        if self.sender() is not self.preview_job or not self.document.is_open:
            return
        if OPS[self._op_request()[0]].geometry:  # crop, rotate, resize: the preview's own shape
            self.canvas.set_mask(None)
            self.canvas.set_picture(pixels, fit=True)
        else:
            self.canvas.show_preview(pixels)

    def _on_preview_failed(self, message: str, _tb: str) -> None:
        if self.sender() is self.preview_job:
            self.status.setText(message)

    def apply(self):
        """Apply the tool to the picture at full resolution (a job); one undo step."""
        from studio.image.ops import OPS, apply_op, describe_op

        doc = self.document
        if not doc.is_open:
            self.status.setText("Import a picture first (Ctrl+I).")
            return None
        name, params = self._op_request()
        mask = self._tool_mask(name)
        layers = doc.layers  # blended in the job: a big picture's blend takes seconds
        label = describe_op(name, params)
        others = {}
        if OPS[name].geometry:  # the layers that don't show follow the crop or rotation
            from studio.image.document import showing

            shown = {id(layer) for layer in showing(doc.layers)}
            others = {i: layer.pixels for i, layer in enumerate(doc.layers)
                      if id(layer) not in shown}  # fmt: skip

        def work(_r, _c):
            out = apply_op(name, composite(layers), params, mask)
            return out, {i: apply_op(name, p, params) for i, p in others.items()}

        return self._run(
            f"Image: {OPS[name].title}",
            work,
            lambda res: self._applied(res[0], label, hidden=res[1]),
            "image",
        )

    def _applied(self, pixels, label: str, provenance=None, result: bool = False,
                 hidden=None) -> None:  # fmt: skip
        self.document.apply(pixels, label, provenance, result=result, hidden=hidden)
        self.status.setText(f"{label} (Edit ▸ Undo undoes it).")

    # -- mask --------------------------------------------------------------------------------------
    def set_mask(self, mask: np.ndarray | None, label: str) -> None:
        if not self.document.is_open:
            return
        try:
            self.document.set_mask(mask, label)
        except ValueError as exc:
            self.status.setText(str(exc))

    def _on_canvas_mask_edited(self, mask, label: str) -> None:
        self.set_mask(mask, label)

    def clear_mask(self) -> None:
        self.set_mask(None, "mask: clear")

    def invert_mask(self) -> None:
        if self.document.is_open:
            self.document.invert_mask()

    def video_matte(self) -> None:
        """The matte the Video panel sent, fitted to this picture, as the mask."""
        import cv2

        mask = self.context.shared.get("video.matte")
        if not self.document.is_open or mask is None:
            self.status.setText("The Video panel has not sent a matte (Ctrl+M there).")
            return
        alpha = mask.alpha.astype(np.float32)
        if alpha.max() > 1.0:
            alpha = alpha / 255.0
        w, h = self.document.size
        if alpha.shape != (h, w):
            alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR)
        self.set_mask(alpha, "mask: video matte")

    def alpha_mask(self) -> None:
        """The picture's own transparency (a cut-out's, a PNG's) as the mask."""
        pixels = self.document.composite()
        if pixels is None or pixels.shape[2] != 4:
            self.status.setText("This picture has no transparency to use as a mask.")
            return
        alpha = pixels[..., 3].astype(np.float32)
        self.set_mask(alpha / (65535.0 if pixels.dtype == np.uint16 else 255.0), "mask: alpha")

    def person_mask(self):
        if not self.document.is_open:
            return None
        from studio.image.cutout import person_matte
        from studio.image.io import to_uint8

        layers = self.document.layers
        return self._run(
            "Image: person mask",
            lambda _r, _c: person_matte(to_uint8(composite(layers)[..., :3])),
            self._on_person_mask,
            "image",
        )

    def _on_person_mask(self, matte) -> None:
        self.set_mask(matte, "mask: person")
        self.status.setText("The person is masked.")

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
        styles = self.style_tab.styles
        styles.blockSignals(True)
        styles.clear()
        for i, thumb in enumerate(thumbs):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(thumb))), str(i))
            item.setData(Qt.ItemDataRole.UserRole, i)
            item.setToolTip(f"Style {i}")
            styles.addItem(item)
        styles.blockSignals(False)
        self.show_style(self.document.style)

    def show_style(self, spec: str) -> None:
        """Select the styles of ``spec`` ("3" or a blend "3:0.5,12:0.5") in the list."""
        chosen = set()
        for part in str(spec).split(","):
            index = part.split(":")[0].strip()
            if index.isdigit():
                chosen.add(int(index))
        styles = self.style_tab.styles
        styles.blockSignals(True)
        try:
            for row in range(styles.count()):
                item = styles.item(row)
                item.setSelected(item.data(Qt.ItemDataRole.UserRole) in chosen)
        finally:
            styles.blockSignals(False)

    def _on_style_selection_changed(self) -> None:
        chosen = sorted(item.data(Qt.ItemDataRole.UserRole)
                        for item in self.style_tab.styles.selectedItems())  # fmt: skip
        if not chosen:
            return
        if len(chosen) == 1:
            spec = str(chosen[0])
        else:
            spec = ",".join(f"{i}:{1 / len(chosen):.3f}" for i in chosen)
        self._on_setting_widget("style", spec)
        self._on_setting_widget("style_picture", "")

    def style_spec(self) -> str:
        return self.document.style_picture or self.document.style or "0"

    def choose_style_picture(self) -> None:
        path = files.ask_open(
            self,
            "picture",
            "A picture to take the style from",
            "Pictures (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp)",
        )
        self._on_setting_widget("style_picture", str(path) if path is not None else "")

    def apply_style(self):
        from studio.image.style import stylize

        doc = self.document
        if not doc.is_open:
            self.status.setText("Import a picture first (Ctrl+I).")
            return None
        spec, strength, keep = self.style_spec(), doc.style_strength, doc.keep_colour
        layers = doc.layers
        info = {"engine": "studio/style", "style": spec, "strength": strength,
                "keep_colour": keep}  # fmt: skip
        return self._run(
            "Image: style", lambda _r, _c: stylize(composite(layers), spec, strength, keep),
            lambda out: self._applied(out, f"style {spec}", info, result=True), "image",
        )  # fmt: skip

    def show_upscale_estimate(self) -> None:
        """Next to Upscale: how long it will take for the open picture and the chosen model
        (from the speed the last upscale measured here, else a default per CPU core)."""
        from studio.image.upscale import UpscaleError, estimate

        doc = self.document
        label = self.style_tab.upscale_estimate
        if doc is None or not doc.is_open:
            label.setText("")
            return
        w, h = doc.size
        try:
            guess = estimate(w, h, doc.upscale_model)
        except UpscaleError:
            label.setText("")
            return
        label.setText(f"{w}x{h}: {guess.text()}")

    def upscale(self):
        from studio.image.upscale import upscale

        doc = self.document
        if not doc.is_open:
            return None
        model, scale = doc.upscale_model, int(doc.upscale_scale)
        layers = doc.layers
        info = {"engine": "studio/upscale", "model": model, "scale": scale}
        return self._run(
            "Image: upscale", lambda _r, ctx: upscale(composite(layers), scale, model, ctx=ctx),
            lambda out: self._applied(out, f"upscale x{scale} {model}", info, result=True),
            "image",
        )  # fmt: skip
