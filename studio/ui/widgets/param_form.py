"""Builds controls from a generator's parameter specs (plugins hold no Qt)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from studio.plugins.api import Param

__all__ = ["ParamForm"]

_INT_LIMIT = 2**31 - 1


class ParamForm(QWidget):
    """A form with one control per :class:`Param`; :meth:`values` returns the request dict.
    ``changed`` is emitted whenever the artist changes a value (live previews)."""

    changed = Signal()

    def __init__(self, params: Sequence[Param] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._controls: dict[str, tuple[Param, QWidget]] = {}
        self.set_params(params)

    def set_params(self, params: Sequence[Param]) -> None:
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._controls.clear()
        for param in params:
            control = self._make(param)
            control.setToolTip(param.help or param.title)
            control.setObjectName(f"param_{param.name}")
            control.setProperty("generated_param", True)  # named by the generator's spec
            self._controls[param.name] = (param, control)
            self._layout.addRow(param.title, control)
            self._watch(control)

    def _watch(self, control: QWidget) -> None:
        target = getattr(control, "spin", control)
        for signal in ("valueChanged", "toggled", "currentIndexChanged", "editingFinished"):
            if hasattr(target, signal):
                getattr(target, signal).connect(lambda *_: self.changed.emit())
                break

    def _make(self, p: Param) -> QWidget:
        if p.type in ("int", "seed"):
            box = QSpinBox()
            box.setRange(
                int(p.minimum)
                if p.minimum is not None
                else (-1 if p.type == "seed" else -_INT_LIMIT),
                int(p.maximum) if p.maximum is not None else _INT_LIMIT,
            )
            box.setValue(int(p.default))
            if p.step:
                box.setSingleStep(int(p.step))
            if p.type == "seed":
                box.setSpecialValueText("random")
                wrap = QWidget()
                row = QHBoxLayout(wrap)
                row.setContentsMargins(0, 0, 0, 0)
                row.addWidget(box, 1)
                dice = QToolButton()
                dice.setText("Random")
                dice.setToolTip("Use a new random seed each time")
                dice.clicked.connect(lambda: box.setValue(-1))
                row.addWidget(dice)
                wrap.spin = box  # type: ignore[attr-defined]
                return wrap
            return box
        if p.type == "float":
            box = QDoubleSpinBox()
            box.setDecimals(3)
            box.setRange(
                p.minimum if p.minimum is not None else -1e9,
                p.maximum if p.maximum is not None else 1e9,
            )
            box.setSingleStep(p.step or 0.1)
            box.setValue(float(p.default))
            return box
        if p.type == "bool":
            check = QCheckBox()
            check.setChecked(bool(p.default))
            return check
        if p.type == "choice":
            combo = QComboBox()
            combo.addItems([str(c) for c in p.choices])
            combo.setCurrentText(str(p.default))
            return combo
        edit = QLineEdit(str(p.default))
        return edit

    @staticmethod
    def _read(p: Param, control: QWidget) -> Any:
        if p.type == "seed":
            return control.spin.value()  # type: ignore[attr-defined]
        if isinstance(control, QSpinBox | QDoubleSpinBox):
            return control.value()
        if isinstance(control, QCheckBox):
            return control.isChecked()
        if isinstance(control, QComboBox):
            return control.currentText()
        return control.text()  # type: ignore[attr-defined]

    def values(self) -> dict[str, Any]:
        return {name: self._read(p, c) for name, (p, c) in self._controls.items()}

    def set_value(self, name: str, value: Any) -> None:
        p, control = self._controls[name]
        if p.type == "seed":
            control.spin.setValue(int(value))  # type: ignore[attr-defined]
        elif isinstance(control, QSpinBox):
            control.setValue(int(value))
        elif isinstance(control, QDoubleSpinBox):
            control.setValue(float(value))
        elif isinstance(control, QCheckBox):
            control.setChecked(bool(value))
        elif isinstance(control, QComboBox):
            control.setCurrentText(str(value))
        else:
            control.setText(str(value))  # type: ignore[attr-defined]

    def reset(self) -> None:
        for name, (p, _) in self._controls.items():
            self.set_value(name, p.default)
