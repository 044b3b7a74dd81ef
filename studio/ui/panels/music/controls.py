"""The Music panel's controls column: the generator and its settings, the generation buttons,
progress, the takes.

A view of the Music document's control fields: :meth:`MusicControls.show` mirrors a field into its
widget (signals blocked), and every change the artist makes is emitted as ``edited(field, value)``
for the panel to store (``set_quiet``: settings are saved, not undone).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.music.document import FAMILY_NAMES, TRANSFORMER
from studio.ui.widgets.param_form import ParamForm

__all__ = ["MusicControls", "tool_button", "FAMILY_TITLES", "MODE_ACTIONS"]

# Copies of studio.music.keys.PITCH_NAMES and studio.music.tokens' METERS and STYLES: those
# modules import numpy, and this column is built before the window's first paint
# (tests/ui/test_startup.py checks that the copies agree).
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
METERS = ((2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (7, 4), (2, 2), (3, 2), (4, 2), (3, 8), (6, 8),
          (9, 8), (12, 8), (1, 4), (5, 8), (7, 8))  # fmt: skip
STYLES = ("chorale", "essen", "oneills", "ryans", "user", "other", "pop", "groove", "game", "folk")

#: From / To values beyond the clip (-1) and the takes (0, 1, ...): the chosen MIDI file, and
#: the item that asks for one.
FILE_END, ASK_FILE = -2, -3

#: How the model list names each family.
FAMILY_TITLES = {"transformer": "Transformer", "lstm": "LSTM", "vae": "VAE", "gan": "GAN"}
#: The panel's buttons (action name -> the family mode it runs; those a family lacks are hidden).
MODE_ACTIONS = {"generate": "generate", "continue": "continue", "infill": "infill",
                "harmonize": "harmonize", "interpolate": "interpolate", "vary": "variations",
                "attribute": "attributes", "groove": "groove"}  # fmt: skip


def tool_button(action: QAction) -> QToolButton:
    """A button showing ``action`` (its text, tooltip, enabled state): one control, one name."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setObjectName(action.objectName())
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return button


class MusicControls(QWidget):
    """The controls column. ``edited(field, value)``: the artist changed a control."""

    edited = Signal(str, object)

    def __init__(self, context, actions: dict[str, QAction], progress, status) -> None:
        super().__init__()
        self.context = context
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<h3>Music</h3>"))
        self.generator = QComboBox()
        self.generator.addItem("Music transformer", TRANSFORMER)
        self._default_model = 0
        if context.loaded:  # else the window calls refresh_generators once the plugins are found
            self.refresh_generators()
        lay.addWidget(QLabel("Generator"))
        lay.addWidget(self.generator)

        self.transformer_box = QWidget()
        self.form = form = QFormLayout(self.transformer_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.model = QComboBox()
        self.model.setToolTip(
            "The music model and its family: the transformer (generate, continue, infill, "
            "harmonize), LSTM (generate, continue), VAE (generate, interpolate, variations) or "
            "GAN (generate, drum groove); the shipped ones and those you trained"
        )
        self._families: dict[str, str] = {}  # model file -> family (read once)
        self.key = QComboBox()
        self.key.addItem("from the clip", "")
        for mode in ("major", "minor"):
            for pc in range(12):
                self.key.addItem(f"{PITCH_NAMES[pc]} {mode}", f"{PITCH_NAMES[pc]} {mode}")
        self.meter = QComboBox()
        self.meter.addItem("from the clip", "")
        for n, d in METERS:
            self.meter.addItem(f"{n}/{d}", f"{n}/{d}")
        self.tempo = QSpinBox()
        self.tempo.setRange(0, 300)
        self.tempo.setSpecialValueText("from the clip")
        self.instruments = QLineEdit()
        self.instruments.setToolTip("GM programs or names, one per new track: choir,strings,bass")
        self.style = QComboBox()
        for style in STYLES:
            self.style.addItem(style, style)
        self.bars = QSpinBox()
        self.bars.setRange(1, 64)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        self.variations = QSpinBox()
        self.variations.setRange(1, 8)
        self.strict_key = QCheckBox("Stay in key")
        tips = {
            "model": self.model.toolTip(),
            "key": "The key to write in (from the clip: guessed from its notes)",
            "meter": "The meter of new music (from the clip: the clip's meter)",
            "tempo": "Beats per minute of new music (from the clip: the clip's tempo)",
            "instruments": self.instruments.toolTip(),
            "style": "The style the model writes in",
            "bars": "How many bars to generate or continue",
            "temperature": "Higher is more adventurous, lower more predictable",
            "top_p": "Sample only from the most likely notes making up this share",
            "seed": "The same seed and settings make the same music (random: a new one each time)",
            "variations": "How many takes to make; click a take to hear it",
            "strict_key": "Keep every note in the key",
        }
        self.fields: dict[str, QWidget] = {
            "model": self.model,
            "key": self.key,
            "meter": self.meter,
            "tempo": self.tempo,
            "instruments": self.instruments,
            "style": self.style,
            "bars": self.bars,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed,
            "variations": self.variations,
            "strict_key": self.strict_key,
            "generator": self.generator,
        }
        for name, widget in self.fields.items():
            widget.setObjectName(f"music.{name}")
            if name in tips:
                widget.setToolTip(tips[name])
            if name not in ("strict_key", "generator"):
                label = {"top_p": "Top-p"}.get(name, name.capitalize())
                form.addRow(label, widget)
        form.addRow("", self.strict_key)
        self._family_widgets()
        self.generator.setToolTip("What writes the music: the transformer or a plugin generator")
        lay.addWidget(self.transformer_box)
        lay.addWidget(self.vae_box)
        lay.addWidget(self.gan_box)
        self.plugin_form = ParamForm()
        lay.addWidget(self.plugin_form)
        if context.loaded:  # else with refresh_generators: the store needs the settings
            self.refresh_models()

        grid = QGridLayout()
        self.mode_buttons: dict[str, QToolButton] = {}
        for i, name in enumerate(MODE_ACTIONS):
            self.mode_buttons[name] = tool_button(actions[name])
            grid.addWidget(self.mode_buttons[name], i // 2, i % 2)
        grid.addWidget(tool_button(actions["cancel"]), 5, 0, 1, 2)
        grid.addWidget(tool_button(actions["train"]), 6, 0, 1, 2)
        lay.addLayout(grid)
        lay.addWidget(progress)
        lay.addWidget(status)
        self.selection_label = QLabel()
        self.selection_label.setWordWrap(True)
        lay.addWidget(self.selection_label)
        lay.addWidget(QLabel("Takes (click one to hear it)"))
        self.takes = QListWidget()
        self.takes.setObjectName("music.takes")
        self.takes.setToolTip("The takes of the last generation: click one to put it in the editor")
        self.takes.setMinimumHeight(60)
        self.takes.setMaximumHeight(120)
        lay.addWidget(self.takes)
        lay.addStretch(1)
        self.narrow(self.generator, self.model, self.key, self.meter, self.style, self.interp_a,
                    self.interp_b, self.groove_style)  # fmt: skip
        self._connect()

    @staticmethod
    def narrow(*combos: QComboBox) -> None:
        for combo in combos:
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(10)

    def _connect(self) -> None:
        emit = self.edited.emit
        for name in ("key", "meter", "generator", "style"):
            combo = self.fields[name]
            combo.currentIndexChanged.connect(
                lambda _i, name=name, combo=combo: emit(name, combo.currentData())
            )
        self.model.currentIndexChanged.connect(
            lambda _i: emit("model_choice", (self.model_text(), self.current_family()))
        )
        for name in ("interp_a", "interp_b", "groove_style"):
            combo = self.fields[name]
            combo.currentIndexChanged.connect(
                lambda _i, name=name, combo=combo: emit(name, combo.currentData())
            )
        self.interp_steps.valueChanged.connect(lambda value: emit("interp_steps", value))
        self.amount.valueChanged.connect(lambda value: emit("amount", value / 100.0))
        self.density.valueChanged.connect(lambda value: emit("density", value / 10.0))
        self.groove_under.toggled.connect(lambda on: emit("groove_under", on))
        for name in ("tempo", "bars", "seed", "variations", "temperature", "top_p"):
            box = self.fields[name]
            box.valueChanged.connect(lambda value, name=name: emit(name, value))
        self.instruments.textEdited.connect(lambda text: emit("instruments", text))
        self.strict_key.toggled.connect(lambda on: emit("strict_key", on))
        self.plugin_form.changed.connect(lambda: emit("plugin_form", self.plugin_form.values()))

    # -- the view ----------------------------------------------------------------------------------
    def mirror(self, name: str, value) -> None:
        """Show the value of document field ``name`` (no signal goes back)."""
        widget = self.fields.get(name)
        if widget is None:
            return
        old = widget.blockSignals(True)
        try:
            if name == "model":
                self.model.setCurrentIndex(self._model_index(value, ""))
            elif name == "amount":
                self.amount.setValue(round(float(value) * 100))
            elif name == "density":
                self.density.setValue(round(float(value) * 10))
            elif isinstance(widget, QComboBox):
                index = widget.findData(value)
                widget.setCurrentIndex(max(0, index))
            elif isinstance(widget, QSpinBox | QDoubleSpinBox):
                widget.setValue(value)
            elif isinstance(widget, QLineEdit):
                if widget.text() != value:
                    widget.setText(value)
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
        finally:
            widget.blockSignals(old)
        if name == "amount":
            self.amount_label.setText(f"{float(value):.2f}")
        if name == "density":
            self.density_label.setText(f"{float(value):+.1f}")
        if name == "generator":
            self.transformer_box.setVisible(value == TRANSFORMER)
            self.plugin_form.setVisible(value != TRANSFORMER)

    def refresh_generators(self) -> None:
        """List the plugins' MIDI generators after the transformer (selection kept)."""
        old = self.generator.blockSignals(True)
        chosen = self.generator.currentData()
        while self.generator.count() > 1:
            self.generator.removeItem(1)
        for ref in self.context.registry.contributions("midi"):
            self.generator.addItem(ref.title, ref.id)
        self.generator.setCurrentIndex(max(0, self.generator.findData(chosen)))
        self.generator.blockSignals(old)

    def show_plugin(self, ref_id: str, values: dict) -> str:
        """Build the form of plugin generator ``ref_id`` with ``values``; "" or what went wrong."""
        old = self.plugin_form.blockSignals(True)
        try:
            registry = self.context.registry
            self.plugin_form.set_params(registry.generator(registry.get(ref_id)).params)
            for param, value in values.items():
                try:
                    self.plugin_form.set_value(param, value)
                except (KeyError, TypeError, ValueError):
                    pass  # a parameter the plugin no longer has
            return ""
        except Exception as exc:  # noqa: BLE001 - a broken plugin is shown, not fatal
            self.plugin_form.set_params(())
            return str(exc)
        finally:
            self.plugin_form.blockSignals(old)

    def _family_widgets(self) -> None:
        """Interpolate and Variations (the VAE), the drum groove (the GAN)."""
        self.vae_box = QWidget()
        vf = QFormLayout(self.vae_box)
        vf.setContentsMargins(0, 0, 0, 0)
        vf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.interp_a = QComboBox()
        self.interp_b = QComboBox()
        self.interp_steps = QSpinBox()
        self.interp_steps.setRange(2, 16)
        self.amount = QSlider(Qt.Orientation.Horizontal)
        self.amount.setRange(0, 100)
        self.amount.setSingleStep(5)
        self.amount.setPageStep(10)
        self.amount_label = QLabel("0.50")
        amount_row = _slider_row(self.amount, self.amount_label)
        vf.addRow("From", self.interp_a)
        vf.addRow("To", self.interp_b)
        vf.addRow("Steps", self.interp_steps)
        vf.addRow("How far", amount_row)
        self.density = QSlider(Qt.Orientation.Horizontal)
        self.density.setRange(-20, 20)
        self.density.setPageStep(5)
        self.density_label = QLabel("+1.0")
        density_row = _slider_row(self.density, self.density_label)
        vf.addRow("Density", density_row)
        self.gan_box = QWidget()
        gf = QFormLayout(self.gan_box)
        gf.setContentsMargins(0, 0, 0, 0)
        gf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.groove_style = QComboBox()
        for style in ("groove", "game"):
            self.groove_style.addItem(style, style)
        self.groove_under = QCheckBox("Under the current music")
        gf.addRow("Groove", self.groove_style)
        gf.addRow("", self.groove_under)
        tips = {
            "interp_a": "Interpolate from this: the clip in the editor, a take or a MIDI file",
            "interp_b": "Interpolate to this: the clip in the editor, a take or a MIDI file",
            "interp_steps": "How many clips from one to the other, both ends included",
            "amount": "Variations: how far from the clip, 0 (close) to 1 (far); Variations makes "
            "as many as the Variations count",
            "density": "Density: fewer notes (left, -2) or more (right, +2), moved along the "
            "VAE's note-density direction",
            "groove_style": "The drum groove's style: groove (drum kit) or game (game music)",
            "groove_under": "Write drums under the clip's notes; off: drums, bass and chords "
            "of their own, added as new tracks",
        }
        for name, widget in (("interp_a", self.interp_a), ("interp_b", self.interp_b),
                             ("interp_steps", self.interp_steps), ("amount", self.amount),
                             ("density", self.density),
                             ("groove_style", self.groove_style),
                             ("groove_under", self.groove_under)):  # fmt: skip
            widget.setObjectName(f"music.{name}")
            widget.setToolTip(tips[name])
            self.fields[name] = widget
        self.show_takes(0)

    def show_takes(self, count: int, files: tuple[str, str] = ("", "")) -> None:
        """The From / To lists: the clip, each of ``count`` takes, the MIDI file chosen for
        each end (``files``) and "a MIDI file…" to choose one (selection kept)."""
        from pathlib import Path

        for combo, file in zip((self.interp_a, self.interp_b), files, strict=True):
            old = combo.blockSignals(True)
            chosen = combo.currentData()
            combo.clear()
            combo.addItem("the clip", -1)
            for i in range(count):
                combo.addItem(f"take {i + 1}", i)
            if file:
                combo.addItem(f"file: {Path(file).name}", FILE_END)
                combo.setItemData(combo.count() - 1, file, Qt.ItemDataRole.ToolTipRole)
            combo.addItem("a MIDI file…", ASK_FILE)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
            combo.blockSignals(old)

    def show_family(self, family: str) -> None:
        """Show the boxes and buttons of ``family``'s modes only."""
        from studio.music.families import FAMILY_MODES

        modes = FAMILY_MODES.get(family, frozenset({"generate"}))  # a plugin: generate only
        for name, button in self.mode_buttons.items():
            button.setVisible(MODE_ACTIONS[name] in modes)
        # what only the transformer reads (and the style, which the GAN takes from Groove)
        only = {"key", "instruments", "temperature", "top_p", "strict_key"}
        for name in (*only, "style"):
            shown = family in ("transformer", "plugin") or (name == "style" and family == "lstm")
            self.form.setRowVisible(self.fields[name], shown)
        self.vae_box.setVisible("interpolate" in modes)
        self.gan_box.setVisible("groove" in modes)

    def mirror_model(self, text: str, family: str) -> None:
        """Show the model called ``text`` (the document's); when it is not here, the first model
        of ``family``, else the default."""
        old = self.model.blockSignals(True)
        self.model.setCurrentIndex(self._model_index(text, family))
        self.model.blockSignals(old)

    def _model_index(self, text: str, family: str) -> int:
        index = self.model.findText(text) if text else -1
        if index < 0 and text:  # a project saved before the list named families
            index = self.model.findText(f"{FAMILY_TITLES['transformer']}: {text}")
        if index >= 0 and self._enabled(index) and self.model.itemData(index) is not None:
            return index
        if family and family != "transformer":
            for i in range(self.model.count()):
                same = self.model.itemData(i, Qt.ItemDataRole.UserRole + 1) == family
                if same and self._enabled(i) and self.model.itemData(i) is not None:
                    return i
        return self._default_model

    def model_text(self) -> str:
        return self.model.currentText() if self.model.currentData() else ""

    def current_family(self) -> str:
        family = self.model.currentData(Qt.ItemDataRole.UserRole + 1)
        return family if family in FAMILY_NAMES else "transformer"

    def _enabled(self, index: int) -> bool:
        item = self.model.model().item(index)  # type: ignore[attr-defined]
        return item is not None and item.isEnabled()

    def family_of(self, entry) -> str | None:
        """The family of a music model in the store (its file's metadata, read once)."""
        from studio.music.families import family_of

        key = str(entry.path)
        if key not in self._families:
            try:
                self._families[key] = family_of(entry.path)
            except (ValueError, OSError):
                self._families[key] = ""
        return self._families[key] or None

    def refresh_models(self) -> None:
        """List the music models the store finds by family (shipped first; yours shadow
        same-named ones); a family without a model is listed disabled, saying how to train it."""
        from studio.music import default_model_for

        default_name = default_model_for(self.style.currentData())  # small for music21's styles

        old = self.model.blockSignals(True)
        self.model.clear()
        entries = [
            e
            for e in self.context.store.scan()
            if e.kind == "music" and e.card is not None and not e.problem
        ]
        self._default_model = -1
        for family in FAMILY_NAMES:
            mine = [e for e in entries if self.family_of(e) == family]
            title = FAMILY_TITLES[family]
            for e in mine:
                if e.name == default_name and self._default_model < 0:
                    self._default_model = self.model.count()
                self.model.addItem(f"{title}: {e.name} ({e.origin})", e)
                self.model.setItemData(self.model.count() - 1, family, Qt.ItemDataRole.UserRole + 1)
                self.model.setItemData(
                    self.model.count() - 1,
                    f"{title} model {e.name} ({e.origin}): {e.card.description}",
                    Qt.ItemDataRole.ToolTipRole,
                )
            if not mine:
                self.model.addItem(f"{title}: no model yet", None)
                index = self.model.count() - 1
                self.model.setItemData(index, family, Qt.ItemDataRole.UserRole + 1)
                how = "the Train on my MIDI folder… button below"
                self.model.setItemData(
                    index,
                    f"No {title} model is installed: train one with {how}, or "
                    f"`studio music train --arch {family}`",
                    Qt.ItemDataRole.ToolTipRole,
                )
                if family != "transformer":
                    self.model.model().item(index).setEnabled(False)  # type: ignore[attr-defined]
        if self._default_model < 0:
            self._default_model = 0
        self.model.setCurrentIndex(self._default_model)
        self.model.blockSignals(old)

    def select_model(self, path) -> bool:
        """Choose the model whose file is ``path`` (a model just trained); False when unlisted."""
        for i in range(self.model.count()):
            entry = self.model.itemData(i)
            if entry is not None and str(entry.path) == str(path):
                self.model.setCurrentIndex(i)
                return True
        return False


def _slider_row(slider: QSlider, value: QLabel) -> QWidget:
    """A slider with its value shown to its right, as one form field."""
    row_widget = QWidget()
    row = QGridLayout(row_widget)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(slider, 0, 0)
    row.addWidget(value, 0, 1)
    return row_widget
