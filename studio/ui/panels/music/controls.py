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
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.music.document import TRANSFORMER
from studio.music.keys import PITCH_NAMES
from studio.music.tokens import METERS, STYLES
from studio.ui.widgets.param_form import ParamForm

__all__ = ["MusicControls", "tool_button"]


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
        for ref in context.registry.contributions("midi"):
            self.generator.addItem(ref.title, ref.id)
        lay.addWidget(QLabel("Generator"))
        lay.addWidget(self.generator)

        self.transformer_box = QWidget()
        form = QFormLayout(self.transformer_box)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.model = QComboBox()
        self.model.setToolTip("Music models: the shipped one and those you trained")
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
        self.generator.setToolTip("What writes the music: the transformer or a plugin generator")
        lay.addWidget(self.transformer_box)
        self.plugin_form = ParamForm()
        lay.addWidget(self.plugin_form)
        self.refresh_models()

        grid = QGridLayout()
        for i, name in enumerate(("generate", "continue", "infill", "harmonize")):
            grid.addWidget(tool_button(actions[name]), i // 2, i % 2)
        grid.addWidget(tool_button(actions["cancel"]), 2, 0, 1, 2)
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
        self.narrow(self.generator, self.model, self.key, self.meter, self.style)
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
            lambda _i: emit("model", self.model.currentText() if self.model.currentData() else "")
        )
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
                index = self.model.findText(value) if value else -1
                self.model.setCurrentIndex(index if index >= 0 else self._default_model)
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
        if name == "generator":
            self.transformer_box.setVisible(value == TRANSFORMER)
            self.plugin_form.setVisible(value != TRANSFORMER)

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

    def refresh_models(self) -> None:
        """List the music models the store finds (shipped first; yours shadow same-named ones)."""
        from studio.music import DEFAULT_MODEL

        old = self.model.blockSignals(True)
        self.model.clear()
        entries = [
            e
            for e in self.context.store.scan()
            if e.kind == "music" and e.card is not None and not e.problem
        ]
        for e in entries:
            self.model.addItem(f"{e.name} ({e.origin})", e)
        self._default_model = next((i for i, e in enumerate(entries) if e.name == DEFAULT_MODEL), 0)
        if not entries:
            self.model.addItem("no music model: train one", None)
        self.model.setCurrentIndex(self._default_model)
        self.model.blockSignals(old)
