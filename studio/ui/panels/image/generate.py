"""The Image panel's Generate and History tabs: engines (patterns, trained generators, diffusers
folders, plugins), generation as a new layer, and the results history with "reuse parameters"."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidgetItem

from studio.ui.dialogs import files
from studio.ui.panels.video.widgets import to_qimage

__all__ = ["GenerateMixin"]

STYLE_TAB, GENERATE_TAB = 1, 2  # the panel's tabs: Adjust, Style, Generate


class GenerateMixin:
    """Mixed into ImagePanel (which provides the widgets, the document and ``_run``)."""

    # -- engines -----------------------------------------------------------------------------------
    def reload_engines(self) -> None:
        from studio.image.diffusion import find_diffusion_models

        combo = self.gen.engine
        combo.blockSignals(True)
        current = combo.currentData()
        combo.clear()
        combo.addItem("Neural patterns (built in)", "pattern")
        self._gan_models = {}
        for model in self._find_generators():
            key = f"gan:{model.path}"
            self._gan_models[key] = model
            combo.addItem(model.title, key)
            combo.setItemData(combo.count() - 1, model.details, Qt.ItemDataRole.ToolTipRole)
        for folder in find_diffusion_models(self.context.settings.models_dir()):
            combo.addItem(f"{folder.name} (diffusion)", str(folder))
        for ref in self.context.registry.contributions("image"):
            if ref.plugin.name != "studio":
                combo.addItem(f"{ref.title} (plugin)", f"plugin:{ref.id}")
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def _find_generators(self):
        from studio.image.gan_models import find_generators

        try:
            return find_generators(self.context.settings.models_dir(),
                                   self.context.store.shipped_dir)  # fmt: skip
        except OSError as exc:  # an unreadable model folder is a message, not a broken panel
            self.status.setText(f"⚠ generators: {exc}")
            return []

    def _gan_model(self, key: str):
        """The generator behind engine ``key`` ("gan:PATH"), read again if it is not listed
        (a project or a result names a file); None when it is not a generator (a message)."""
        from studio.image.gan_models import describe

        models = getattr(self, "_gan_models", {})
        if key in models:
            return models[key]
        try:
            model = describe(key[4:])
        except ValueError as exc:
            self.status.setText(f"⚠ {exc}")
            return None
        models[key] = model
        self._gan_models = models
        combo = self.gen.engine
        combo.blockSignals(True)
        combo.addItem(model.title, key)
        combo.setItemData(combo.count() - 1, model.details, Qt.ItemDataRole.ToolTipRole)
        combo.blockSignals(False)
        return model

    def show_generator(self, path: str | Path) -> bool:
        """List the trained generator file ``path`` (again) and choose it on the Generate tab."""
        self.reload_engines()
        key = f"gan:{Path(path)}"
        if self._gan_model(key) is None:
            return False
        self._on_setting_widget("engine", key)
        self.show_engine(key)
        self.tabs.setCurrentIndex(GENERATE_TAB)
        return True

    def choose_model_folder(self) -> None:
        path = files.ask_folder(self, "model", "A diffusers model folder")
        if path is not None and self.add_model_folder(path):
            self._on_setting_widget("engine", self.gen.engine.currentData())

    def add_model_folder(self, path: str | Path) -> bool:
        """List a diffusers folder among the engines and choose it (False, with a message, for a
        folder that isn't one)."""
        from studio.image.diffusion import DiffusionError, inspect_folder

        try:
            folder = inspect_folder(path)
        except DiffusionError as exc:
            self.status.setText(str(exc))
            return False
        combo = self.gen.engine
        if combo.findData(str(folder.path)) < 0:
            combo.blockSignals(True)
            combo.addItem(f"{folder.name} (diffusion)", str(folder.path))
            combo.blockSignals(False)
        combo.setCurrentIndex(combo.findData(str(folder.path)))
        self.status.setText(f"{folder.name}: {folder.pipeline_class}, ready.")
        return True

    def _engine_params(self, key: str):
        from studio.image.diffusion import DIFFUSION_PARAMS
        from studio.image.pattern import PATTERN_PARAMS

        if key == "pattern":
            return PATTERN_PARAMS
        if key.startswith("plugin:"):
            ref = self.context.registry.get(key[7:])
            return self.context.registry.generator(ref).params
        if key.startswith("gan:"):
            from studio.image.gan_models import gan_params

            model = self._gan_model(key)
            return gan_params(model) if model is not None else ()
        return tuple(p for p in DIFFUSION_PARAMS if p.name not in ("prompt",))

    def show_engine(self, key: str) -> None:
        """Show engine ``key``'s controls with the document's values for it."""
        combo = self.gen.engine
        if combo.findData(key) < 0 and key.startswith("gan:"):
            self._gan_model(key)  # a generator file a project or a result named
        elif combo.findData(key) < 0 and key != "pattern" and not key.startswith("plugin:"):
            combo.blockSignals(True)
            self.add_model_folder(key)  # a model folder a project or a result named
            combo.blockSignals(False)
        index = combo.findData(key)
        combo.setCurrentIndex(max(0, index))
        key = combo.currentData() or "pattern"
        try:
            params = self._engine_params(key)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is shown, not fatal
            self.status.setText(f"⚠ {exc}")
            params = ()
        self.gen.form.blockSignals(True)
        try:
            self.gen.form.set_params(params)
        finally:
            self.gen.form.blockSignals(False)
        self.show_form(self.gen.form, self.document.gen_params.get(key, {}))
        diffusion = key != "pattern" and not key.startswith(("plugin:", "gan:"))
        for w in (self.gen.use_canvas, self.gen.use_mask):
            w.setVisible(diffusion)
        model = self._gan_model(key) if key.startswith("gan:") else None
        self.gen.prompt.setVisible(diffusion or (model is not None and model.text))
        ideas = ", ".join(f"“{e}”" for e in (model.examples[:3] if model else ()))
        self.gen.prompt.setPlaceholderText(
            f"What to draw, for example {ideas or '“a red dragon”, “sword”'}" if model is not None
            else "Prompt (for your diffusion model)"
        )  # fmt: skip
        if self.tabs.currentWidget() is self.gen:
            QTimer.singleShot(0, self.fit_controls)

    def select_generator(self, qualified_id: str) -> bool:
        if qualified_id.endswith(".safetensors"):  # a trained generator's file
            return self.show_generator(qualified_id)
        key = (
            "pattern" if qualified_id in ("studio/pattern", "pattern") else f"plugin:{qualified_id}"
        )
        if self.gen.engine.findData(key) < 0:
            return False
        self._on_setting_widget("engine", key)
        self.tabs.setCurrentIndex(GENERATE_TAB)
        return True

    # -- generating --------------------------------------------------------------------------------
    def generate(self):
        """Generate with the chosen engine (each diffusion step previews on the canvas); the
        picture opens as a new layer."""
        from studio.core.media import Image, Mask
        from studio.image.document import composite
        from studio.image.io import to_uint8

        doc = self.document
        key = self.gen.engine.currentData() or "pattern"
        request = dict(self.gen.form.values())
        device, registry = self.context.device, self.context.registry
        canvas = ()
        if key == "pattern":
            qualified = "studio/pattern"
        elif key.startswith("plugin:"):
            qualified = key[7:]
        elif key.startswith("gan:"):
            from studio.image.gan_models import generate as gan_generate

            model = self._gan_model(key)
            if model is None:
                return None
            request["model"] = str(model.path)
            if model.text:
                request["prompt"] = doc.prompt.strip()
                if not request["prompt"]:
                    self.status.setText("Type what to draw in the prompt box first.")
                    return None
            return self._run(f"Image: generate ({model.name})",
                             lambda _r, ctx: gan_generate(request, ctx, device),
                             self._on_generated, "image-gan")  # fmt: skip
        else:
            qualified = "studio/diffusion"
            request["model"] = key
            request["prompt"] = doc.prompt.strip()
            if doc.use_canvas and doc.is_open:
                if doc.use_mask:
                    if doc.mask is None:
                        self.status.setText("Paint a mask first: inpainting repaints it.")
                        return None
                    request["mask"] = Mask(doc.mask)
                canvas = doc.layers  # blended in the job

        def work(_r, ctx):
            if canvas:
                rgb = to_uint8(composite(canvas)[..., :3])
                request.update(init=Image(rgb), width=rgb.shape[1] // 8 * 8,
                               height=rgb.shape[0] // 8 * 8)  # fmt: skip
            return registry.run(qualified, request, ctx, device=device)

        return self._run(
            f"Image: generate ({qualified})", work, self._on_generated,
            "image-diffusion" if qualified == "studio/diffusion" else "image",
        )  # fmt: skip

    def _on_generated(self, image) -> None:
        info = dict(image.provenance)
        seed = info.get("params", {}).get("seed")
        engine = str(info.get("engine", "generated")).rpartition("/")[2]
        if engine == "image-gan" and info.get("model"):
            engine = Path(str(info["model"])).stem
        name = f"{engine} {seed}" if seed is not None else engine
        self.document.add_layer(image.pixels, name, info, f"Generate {name}", result=True)
        self.status.setText(f"Generated {name}: a new layer (Edit ▸ Undo removes it).")

    # -- history -----------------------------------------------------------------------------------
    def fill_history(self) -> None:
        history = self.history_tab.history
        row = history.currentRow()
        history.blockSignals(True)
        history.clear()
        for entry in self.document.history:
            icon = QIcon()
            if entry.thumbnail is not None:
                icon = QIcon(QPixmap.fromImage(to_qimage(entry.thumbnail)))
            history.addItem(QListWidgetItem(icon, entry.label))
        history.setCurrentRow(min(row, history.count() - 1) if row >= 0 else -1)
        history.blockSignals(False)
        self._on_history_row(history.currentRow())

    def _chosen_entry(self):
        row = self.history_tab.history.currentRow()
        if not 0 <= row < len(self.document.history):
            self.status.setText("Pick a result in the history first.")
            return None
        return row

    def _on_history_row(self, row: int) -> None:
        history = self.document.history
        if not 0 <= row < len(history):
            self.history_tab.info.setPlainText("")
            return
        info = history[row].provenance
        self.history_tab.info.setPlainText(
            json.dumps(info.get("params", info), indent=1, default=str)[:800]
        )

    def restore_result(self) -> bool:
        """The chosen result as a new layer on top (one undo step)."""
        row = self._chosen_entry()
        if row is None:
            return False
        label = self.document.history[row].label
        if not self.document.restore(row):
            self.status.setText("That result's picture is no longer there.")
            return False
        self.status.setText(f"Back to {label}: a new layer (Edit ▸ Undo removes it).")
        return True

    def reuse_parameters(self, provenance: dict | None = None) -> bool:
        """Set the controls to what made a result (the chosen history entry, or
        ``provenance``)."""
        if provenance is None:
            row = self._chosen_entry()
            if row is None:
                return False
            provenance = self.document.history[row].provenance
        if provenance.get("engine") == "studio/image-gan":  # gan_models.GAN_ENGINE
            return self._reuse_generator(provenance)
        kind = self.document.reuse(provenance)
        if kind == "style":
            self.tabs.setCurrentIndex(STYLE_TAB)
            self.status.setText(f"Style {provenance.get('style')} is set up again.")
        elif kind:
            self.tabs.setCurrentIndex(GENERATE_TAB)
            self.status.setText("Parameters reused: press Generate (the same seed gives the "
                                "same picture).")  # fmt: skip
        else:
            self.status.setText("No generation parameters to reuse in this one.")
        return bool(kind)

    def _reuse_generator(self, provenance: dict) -> bool:
        """A trained generator's result: its model, class or prompt, seed, count, truncation."""
        params = dict(provenance.get("params") or {})
        key = f"gan:{params.pop('model', '')}"
        if self._gan_model(key) is None:
            return False
        prompt = str(params.pop("prompt", "") or "")
        doc = self.document
        doc.set_quiet(gen_params={**doc.gen_params, key: {**doc.gen_params.get(key, {}),
                                                            **params}})  # fmt: skip
        if prompt:
            doc.set_quiet(prompt=prompt)
        doc.set_quiet(engine=key)
        self.show_engine(key)
        self.tabs.setCurrentIndex(GENERATE_TAB)
        self.status.setText("Parameters reused: press Generate (the same seed gives the same "
                            "pictures).")  # fmt: skip
        return True

    def reuse_from_file(self) -> bool:
        from studio.image.io import read_provenance

        path = files.ask_open(
            self,
            "picture",
            "A picture Studio made",
            "Pictures (*.png *.jpg *.jpeg *.webp *.tif *.tiff);;All files (*)",
        )
        if path is None:
            return False
        info = read_provenance(path)
        if not info:
            self.status.setText(f"{path.name} has no Studio parameters.")
            return False
        return self.reuse_parameters(info)
