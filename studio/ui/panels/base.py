"""The base of every panel, and a generic panel that runs the generators of its kinds.

A GeneratorPanel lists every contribution (built-in or plugin) of its kinds, builds the parameter
form from the generator's specs, runs it through the JobRunner with progress and cancel, and shows
the result. Later issues grow each panel into its full editor on top of this.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.document import Document
from studio.core.jobs import JobSpec
from studio.core.media import AudioClip, Image, Mask, Scores
from studio.ui.context import StudioContext
from studio.ui.jobs import JobHandle
from studio.ui.widgets.param_form import ParamForm

__all__ = ["PanelBase", "GeneratorPanel", "panel_action", "named"]

log = logging.getLogger(__name__)


W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str, tip: str = "") -> W:
    """``widget`` with its stable objectName (``<panel>.<action>``) and tooltip."""
    widget.setObjectName(name)
    if tip:
        widget.setToolTip(tip)
    return widget


def panel_action(panel: QWidget, name: str, text: str, keys, slot) -> QAction:
    """A panel shortcut: a named QAction that works while focus is anywhere inside the panel,
    nowhere else. ``keys``: one key sequence or a list of them."""
    act = QAction(text, panel)
    act.setObjectName(name)
    sequences = keys if isinstance(keys, list | tuple) else [keys]
    act.setShortcuts([QKeySequence(k) for k in sequences])
    act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    act.triggered.connect(slot)
    panel.addAction(act)
    return act


class ThinProgressBar(QProgressBar):
    """A progress bar drawn 8 px high under a panel's controls (no text inside it)."""

    def minimumSizeHint(self) -> QSize:
        return QSize(40, 6)

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), 8)


class PanelBase(QWidget):
    panel_id: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.document: Document | None = None
        self.setObjectName(f"{self.panel_id}_panel")

    # -- the document this panel is a view of ------------------------------------------------------
    def set_document(self, document: Document) -> None:
        """Show ``document`` (at start, and when a project is opened, made or restored). The
        panel mirrors the document: it disconnects from the old one, connects to the new one and
        redraws. Subclasses implement ``bind_document`` and read nothing else from the old one."""
        old = self.document
        if old is not None:
            for signal in (old.changed, old.replaced):
                signal.disconnect(self._on_document_event_any, missing_ok=True)
        self.document = document
        document.changed.connect(self._on_document_event_any)
        document.replaced.connect(self._on_document_event_any)
        self.bind_document(document)

    def _on_document_event_any(self, *args) -> None:
        if not args:  # replaced: redraw everything
            self.bind_document(self.document)
        else:
            self.on_document_changed(*args)

    def bind_document(self, document: Document) -> None:
        """Redraw everything from ``document`` (override)."""

    def on_document_changed(self, name: str, value) -> None:
        """One field of the document changed (an edit, an undo, a redo): redraw what shows it
        (override)."""

    def on_context_loaded(self) -> None:
        """The context's settings, plugins and model store are ready: a panel built before the
        window's first paint (the one in front) lists its plugin and model choices now (override).
        """

    def shutdown(self) -> None:
        """The window is closing: stop sound, ports and timers (the runner cancels the jobs)."""

    # A panel runs one job at a time in ``self.job``, shown in ``self.progress`` and ``status``;
    # signals from a job it has since replaced are ignored.
    job: JobHandle | None = None

    def start_job(self, spec: JobSpec) -> JobHandle:
        """Run ``spec`` as the panel's job: its signals go to the panel's ``_on_job_*`` slots (those
        it has), the Cancel button is enabled and the progress bar starts again."""
        self.job = self.context.runner.submit(spec)
        for signal in ("progressed", "partial", "succeeded", "failed", "cancelled"):
            slot = getattr(self, f"_on_job_{signal}", None)
            if slot is not None:
                getattr(self.job, signal).connect(slot)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Working…")
        return self.job

    def _is_current(self) -> bool:
        return self.sender() is self.job

    def make_progress(self, text: str = "") -> None:
        """Create the panel's ``progress`` bar (thin, 0..1000) and its ``status`` line (wraps, can
        be selected and copied)."""
        self.progress = ThinProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel(text)
        self.status.setObjectName("panel_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def add_shortcuts(self, pairs) -> None:
        """Keyboard shortcuts that work while focus is anywhere inside the panel: (keys, slot)."""
        for keys, slot in pairs:
            # (PySide6 ignores ``context=`` when a callable is passed to the constructor: every
            # such shortcut was window-wide, so Ctrl+Return in two panels was ambiguous and dead.)
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    def select_generator(self, qualified_id: str) -> bool:
        """Show generator ``qualified_id``'s controls (``studio shot --generator``). False when
        this panel does not list it."""
        return False

    def current_file(self) -> Path | None:
        """The file this panel is showing (a picture, a MIDI file, a video), if any: where
        Tools ▸ More like this in the Library starts."""
        return None

    def remember_saved(self, path, provenance: dict | None = None) -> None:
        """Add a file this panel saved to the Library with its provenance and a "keep", in the
        background (the window never waits on the database)."""
        from studio.library.catalog import record_saved

        if self.context.runner.closed:
            return
        info = dict(provenance or {})
        self.context.runner.submit(
            JobSpec(title=f"Library: add {Path(path).name}",
                    fn=lambda _r, _c: record_saved(path, info), family="library")
        )  # fmt: skip

    @staticmethod
    def narrow_combos(*combos: QComboBox) -> None:
        """Keep long item texts from widening the controls column past the window (a combo
        box's own minimum width is its longest item)."""
        for combo in combos:
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(12)
            combo.setMinimumWidth(100)

    cancelled_message: ClassVar[str] = "Cancelled."

    def _on_job_cancelled(self) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self.status.setText(self.cancelled_message)

    def _on_job_progressed(self, fraction: float, message: str) -> None:
        if self._is_current():
            self.progress.setValue(int(fraction * 1000))
            self.status.setText(message)

    def lay_out(self, controls: QWidget, work: QWidget) -> None:
        """Controls on the left (they scroll, so the window can shrink), work on the right."""
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(work)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([300, 800])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(splitter)


class GeneratorPanel(PanelBase):
    kinds: ClassVar[tuple[str, ...]] = ()
    blurb: ClassVar[str] = ""

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job: JobHandle | None = None
        self.result: Any = None

        self.generator_combo = QComboBox()
        self.generator_combo.setObjectName("generator_combo")
        self.form = ParamForm()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate_button")
        self.generate_button.setToolTip("Generate (Ctrl+Return)")
        self.generate_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the result (Ctrl+S)")
        self.save_button.setEnabled(False)
        self.make_progress()
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.result_label = QLabel()
        self.result_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result_label.setWordWrap(True)

        left = QWidget()
        lv = QVBoxLayout(left)
        heading = QLabel(f"<h3>{self.title}</h3><p>{self.blurb}</p>")
        heading.setWordWrap(True)
        lv.addWidget(heading)
        self.generator_label = QLabel("Generator")
        lv.addWidget(self.generator_label)
        lv.addWidget(self.generator_combo)
        lv.addWidget(self.description)
        lv.addWidget(self.form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.save_button)
        lv.addLayout(buttons)
        lv.addWidget(self.progress)
        lv.addWidget(self.status)
        lv.addStretch(1)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.addWidget(self.result_label, 1)

        self.lay_out(left, right)

        self.generator_combo.currentIndexChanged.connect(self._on_generator_combo_changed)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(self.save_result)
        self.add_shortcuts(
            (
                ("Ctrl+Return", self.generate),
                (QKeySequence.StandardKey.Save, self.save_result),
                ("Escape", self.cancel),
            )
        )
        self.reload_generators()

    # -- generators --------------------------------------------------------------------------------
    def select_generator(self, qualified_id: str) -> bool:
        index = self.generator_combo.findData(qualified_id)
        if index >= 0:
            self.generator_combo.setCurrentIndex(index)
        return index >= 0

    def reload_generators(self) -> None:
        self.generator_combo.blockSignals(True)
        self.generator_combo.clear()
        for kind in self.kinds:
            for ref in self.context.registry.contributions(kind):
                self.generator_combo.addItem(ref.title, ref.id)
        self.generator_combo.blockSignals(False)
        has = self.generator_combo.count() > 0
        self.generate_button.setEnabled(has)
        for widget in (
            self.generator_label,
            self.generator_combo,
            self.generate_button,
            self.cancel_button,
            self.save_button,
            self.progress,
        ):
            widget.setVisible(has)
        self.result_label.setText(
            ""
            if has
            else f"No {' or '.join(self.kinds)} generators are installed yet.\n"
            "Install a plugin, or see Help ▸ Plugins for what failed to load."
        )
        self._on_generator_combo_changed()

    def _on_generator_combo_changed(self, *_args) -> None:
        ref_id = self.generator_combo.currentData()
        if not ref_id:
            self.form.set_params(())
            self.description.setText("")
            return
        try:
            ref = self.context.registry.get(ref_id)
            generator = self.context.registry.generator(ref)
        except Exception as exc:  # noqa: BLE001 - a broken plugin is shown, not fatal
            self.status.setText(f"⚠ {exc}")
            self.form.set_params(())
            return
        self.description.setText(ref.contribution.description or generator.description)
        self.form.set_params(generator.params)

    # -- running -----------------------------------------------------------------------------------
    def generate(self) -> JobHandle | None:
        ref_id = self.generator_combo.currentData()
        if not ref_id:
            return None
        request = self.form.values()
        registry, device = self.context.registry, self.context.device

        def work(req, ctx):
            return registry.run(ref_id, req, ctx, device=device)

        spec = JobSpec(
            title=f"{self.title}: {self.generator_combo.currentText()}",
            fn=work,
            request=request,
            family=f"plugin:{ref_id}",
            key=f"{self.panel_id}.generate",
        )
        return self.start_job(spec)

    def cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()

    def _on_job_succeeded(self, result: Any) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        self.show_result(result)

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.status.setText(f"⚠ {message}")
        ref_id = self.generator_combo.currentData()
        record = next(
            (
                r
                for r in self.context.registry.records
                if ref_id and ref_id.startswith(r.name + "/")
            ),
            None,
        )
        if record is not None and not record.ok:
            # The guard disabled the plugin: take it out of the list, keep the message.
            self.reload_generators()
            self.status.setText(f"⚠ {message}")

    def show_result(self, result: Any) -> None:
        self.result = result
        self.save_button.setEnabled(isinstance(result, AudioClip))
        if isinstance(result, AudioClip):
            self.status.setText(f"{result.duration:.2f} s of audio at {result.sample_rate} Hz")
        elif isinstance(result, Image | Mask):
            w, h = result.size
            self.status.setText(f"{w}×{h} {type(result).__name__.lower()}")
        elif isinstance(result, Scores):
            top = ", ".join(f"{k} {v:.2f}" for k, v in result.top(5))
            self.status.setText(top or "no scores")
        else:
            self.status.setText(str(result)[:500])

    def save_result(self) -> Path | None:
        if not isinstance(self.result, AudioClip):
            return None
        from PySide6.QtWidgets import QFileDialog  # (not at import: a dialog class costs paint)

        path, _ = QFileDialog.getSaveFileName(
            self, "Save result", "untitled.wav", "WAV audio (*.wav)"
        )
        if not path:
            return None
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> Path:
        try:
            self.result.save_wav(path)
        except OSError as exc:
            self.status.setText(f"⚠ Could not save {path.name}: {exc.strerror or exc}")
            raise
        self.status.setText(f"Saved {path}")
        log.info("saved %s", path)
        return path
