"""The Music panel: a piano roll editor with the music transformer (generate, continue, infill,
harmonize, variations), plugin MIDI generators, playback, and MIDI files in and out."""

from __future__ import annotations

import copy
import logging
import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.core.media import MidiClip
from studio.music.keys import PITCH_NAMES
from studio.music.tokens import METERS, STYLES
from studio.ui.context import StudioContext
from studio.ui.jobs import JobHandle
from studio.ui.panels.base import PanelBase
from studio.ui.panels.music.tracks import TracksTable
from studio.ui.widgets.param_form import ParamForm
from studio.ui.widgets.piano_roll_editor import PianoRollEditor

__all__ = ["MusicPanel", "TRANSFORMER"]

log = logging.getLogger(__name__)
TRANSFORMER = "studio/transformer"
MODES = (
    ("generate", "Generate new"),
    ("continue", "Continue"),
    ("infill", "Infill selected bars"),
    ("harmonize", "Harmonize the selected track"),
)
SNAPS = (("1/4", 1.0), ("1/8", 0.5), ("1/16", 0.25), ("1/32", 0.125), ("off", 0.0))


class _PortsCombo(QComboBox):
    """A combo box that refreshes its items just before its list opens."""

    def __init__(self, refresh) -> None:
        super().__init__()
        self._refresh = refresh

    def showPopup(self) -> None:
        self._refresh()
        super().showPopup()


class _ReplaceClip(QUndoCommand):
    def __init__(self, panel: MusicPanel, text: str, before: MidiClip, after: MidiClip) -> None:
        super().__init__(text)
        self.panel, self.before, self.after = panel, before, after

    def redo(self) -> None:
        self.panel._show_clip(self.after)

    def undo(self) -> None:
        self.panel._show_clip(self.before)


_HOST = None
_HOST_KEY: Path | None = None


def music_host(model=None):
    """The ModelHost of the music transformer (it lives on the 'music' worker). ``model`` is a
    (ModelStore, ModelEntry) pair from the Model list, checked against its card before loading; None
    keeps the current model, or loads the shipped default."""
    global _HOST, _HOST_KEY
    from studio.core.models import ModelHost
    from studio.music.engine import MusicEngine

    key = model[1].path if model else None
    if _HOST is None or (key is not None and key != _HOST_KEY):
        if _HOST is not None:
            _HOST.release()

        def load(device: str, model=model):
            from studio.music.cli import find_model_path

            path = model[0].verify(model[1]) if model else find_model_path(None)
            return MusicEngine.load(path, device)

        _HOST, _HOST_KEY = ModelHost("music", load), key
    return _HOST


def _run_transformer(request, ctx):
    from studio.music.engine import MusicRequest

    host = music_host(request.pop("_model"))
    ctx.progress(0.0, "loading the music model" if not host.loaded else "composing")
    engine = host.get(request.pop("_device"))
    with host.inference():
        return engine.run(MusicRequest(**request), ctx)


def _render_bar(request, ctx):
    """One bar of a clip as audio of exactly one bar's length, at a fixed level (no per-bar
    normalisation, so bars heard one after another keep their loudness)."""
    import numpy as np

    from studio.core.media import AudioClip
    from studio.music.playback import slice_clip
    from studio.music.synth import render

    clip, b = request["clip"], request["bar"]
    bar = clip.bar_length
    part = slice_clip(clip, b * bar, (b + 1) * bar)
    rate = 44100
    frames = int(round(bar * 60.0 / clip.bpm * rate))
    if not part.notes:
        return AudioClip(np.zeros((frames, 2), np.float32), rate)
    audio = render(part, request["soundfont"], rate, ctx, tail=0.0, gain=4.0, normalize=False)
    samples = np.zeros((frames, 2), np.float32)
    take = min(frames, len(audio.samples))
    samples[:take] = np.clip(audio.samples[:take], -1, 1)
    return AudioClip(samples, rate)


def _render_audio(request, ctx):
    from studio.music.synth import render

    return render(request["clip"], request["soundfont"], ctx=ctx, volumes=request["mix"], tail=0.5)


class MusicPanel(PanelBase):
    panel_id = "music"
    title = "Music"

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.clip = MidiClip([], bpm=120.0)
        self.path: Path | None = None
        self.takes: list[MidiClip] = []
        self.job: JobHandle | None = None
        self.play_job: JobHandle | None = None
        self._before_job: MidiClip | None = None
        self.listen_problem = ""
        self.undo_stack = QUndoStack(self)
        from studio.music.playback import AudioPlayer

        self.player = AudioPlayer()
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(40)
        self._play_timer.timeout.connect(self._on_play_timer_timeout)

        self.editor = PianoRollEditor()
        self.editor.setObjectName("piano_roll")
        self.tracks = TracksTable()
        self.tracks.setMaximumHeight(120)
        self._build_toolbar()
        controls = self._build_controls()

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.toolbar)
        rv.addWidget(self.editor, 1)
        rv.addWidget(self.tracks)
        self.lay_out(controls, right)

        self.editor.edited.connect(self._on_editor_edited)
        self.editor.bars_selected.connect(self._on_editor_bars_selected)
        self.editor.selection_changed.connect(self._on_editor_selection_changed)
        self.tracks.program_changed.connect(self._on_tracks_program_changed)
        self.tracks.mix_changed.connect(self._on_tracks_mix_changed)
        self.tracks.itemSelectionChanged.connect(self._on_tracks_selection_changed)
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.add_shortcuts(
            (
                ("Ctrl+Return", self.generate),
                ("Escape", self.cancel),
                ("Space", self.toggle_play),
            )
        )
        self._on_generator_changed()
        self._show_clip(self.clip)

    # -- building ----------------------------------------------------------------------------------
    def _act(self, text: str, slot, shortcut=None, tip: str = "", checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(tip or text)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        self.toolbar.addAction(action)
        return action

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar()
        self.new_action = self._act("New", self.new_clip, QKeySequence.StandardKey.New)
        self.open_action = self._act(
            "Open…", self.open_dialog, QKeySequence.StandardKey.Open, "Import a MIDI file (Ctrl+O)"
        )
        self.save_action = self._act(
            "Save…", self.save_dialog, QKeySequence.StandardKey.Save, "Export a MIDI file (Ctrl+S)"
        )
        self.toolbar.addSeparator()
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.play_action = self._act("Play", self.toggle_play, None, "Play / stop (Space)")
        self.loop_action = self._act(
            "Loop", lambda: None, "L", "Loop the selected bars (L)", checkable=True
        )
        self.listen_action = self._act(
            "Listen", lambda: None, None, "Hear the bars while they are written", checkable=True
        )
        self.render_action = self._act("Render…", self.render_dialog, None, "Render to WAV or FLAC")
        self.record_action = self._act(
            "Record", self.toggle_record, None, "Record a seed from a MIDI keyboard", checkable=True
        )
        # Ports are listed when the list is opened: probing MIDI at start costs time and warnings.
        self.output_combo = _PortsCombo(self.refresh_ports)
        self.output_combo.addItem("Sound card", None)
        self.output_combo.setToolTip("Where playback goes: the sound card or a MIDI port (a DAW)")
        self.toolbar.addWidget(self.output_combo)
        self.midi_inputs: list[str] = []
        self.ports_problem = ""
        self.toolbar.addSeparator()
        self._act("Zoom +", lambda: self.editor.zoom(1.25), QKeySequence.StandardKey.ZoomIn)
        self._act("Zoom −", lambda: self.editor.zoom(0.8), QKeySequence.StandardKey.ZoomOut)
        self.snap_combo = QComboBox()
        for name, value in SNAPS:
            self.snap_combo.addItem(f"Snap {name}", value)
        self.snap_combo.setCurrentIndex(2)
        self.snap_combo.currentIndexChanged.connect(
            lambda: setattr(self.editor, "snap", self.snap_combo.currentData())
        )
        self.toolbar.addWidget(self.snap_combo)
        self.velocity = QSpinBox()
        self.velocity.setRange(1, 127)
        self.velocity.setValue(90)
        self.velocity.setPrefix("vel ")
        self.velocity.setToolTip("Velocity of new and selected notes (+/- keys change it too)")
        self.velocity.editingFinished.connect(self._on_velocity_edited)
        self.toolbar.addWidget(self.velocity)

    def _build_controls(self) -> QWidget:
        box = QWidget()
        lay = QVBoxLayout(box)
        lay.addWidget(QLabel("<h3>Music</h3>"))
        self.generator_combo = QComboBox()
        self.generator_combo.setObjectName("generator_combo")
        self.generator_combo.addItem("Music transformer", TRANSFORMER)
        for ref in self.context.registry.contributions("midi"):
            self.generator_combo.addItem(ref.title, ref.id)
        self.generator_combo.currentIndexChanged.connect(self._on_generator_changed)
        lay.addWidget(QLabel("Generator"))
        lay.addWidget(self.generator_combo)

        self.transformer_box = QWidget()
        form = QFormLayout(self.transformer_box)
        form.setContentsMargins(0, 0, 0, 0)
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Music models: the shipped one and those you trained")
        self.refresh_models()
        form.addRow("Model", self.model_combo)
        self.mode = QComboBox()
        for value, label in MODES:
            self.mode.addItem(label, value)
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
        self.instruments = QLineEdit("choir,choir,choir,choir")
        self.instruments.setToolTip("GM programs or names, one per new track: choir,strings,bass")
        self.style = QComboBox()
        self.style.addItems(list(STYLES))
        self.bars = QSpinBox()
        self.bars.setRange(1, 64)
        self.bars.setValue(8)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.temperature.setValue(1.0)
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_p.setValue(0.95)
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("random")
        self.variations = QSpinBox()
        self.variations.setRange(1, 8)
        self.variations.setValue(1)
        self.strict_key = QCheckBox("Stay in key")
        self.strict_key.setChecked(True)
        self.selection_label = QLabel("Select bars on the ruler to infill them.")
        self.selection_label.setWordWrap(True)
        for label, widget in (
            ("Mode", self.mode),
            ("Key", self.key),
            ("Meter", self.meter),
            ("Tempo", self.tempo),
            ("Instruments", self.instruments),
            ("Style", self.style),
            ("Bars", self.bars),
            ("Temperature", self.temperature),
            ("Top-p", self.top_p),
            ("Seed", self.seed),
            ("Variations", self.variations),
        ):
            form.addRow(label, widget)
        form.addRow("", self.strict_key)
        form.addRow(self.selection_label)
        lay.addWidget(self.transformer_box)
        self.plugin_form = ParamForm()
        lay.addWidget(self.plugin_form)

        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generate_button")
        self.generate_button.setToolTip("Generate (Ctrl+Return)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        self.make_progress()
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(QLabel("Takes (click to audition)"))
        self.takes_list = QListWidget()
        self.takes_list.setMaximumHeight(110)
        self.takes_list.itemClicked.connect(self._on_takes_clicked)
        lay.addWidget(self.takes_list)
        lay.addStretch(1)
        return box

    def refresh_models(self) -> None:
        """List the music models the store finds (shipped first; yours shadow same-named ones)."""
        from studio.music import DEFAULT_MODEL

        self.model_combo.clear()
        entries = [
            e
            for e in self.context.store.scan()
            if e.kind == "music" and e.card is not None and not e.problem
        ]
        for e in entries:
            self.model_combo.addItem(f"{e.name} ({e.origin})", e)
        default = next((i for i, e in enumerate(entries) if e.name == DEFAULT_MODEL), 0)
        self.model_combo.setCurrentIndex(default)
        if not entries:
            self.model_combo.addItem("no music model: train one", None)

    # -- document ----------------------------------------------------------------------------------
    def _show_clip(self, clip: MidiClip) -> None:
        self.clip = clip
        self.context.shared["music.clip"] = clip
        self.editor.set_clip(clip, keep_selection=True)
        self.tracks.set_clip(clip)
        self.editor.muted = self.tracks.silent()
        self._update_title()

    def apply(self, text: str, clip: MidiClip) -> None:
        """Change the clip through the undo stack."""
        self.undo_stack.push(_ReplaceClip(self, text, self.clip, clip))

    def _with_notes(self, notes) -> MidiClip:
        clip = copy.copy(self.clip)
        clip.notes = list(notes)
        clip.programs = dict(self.clip.programs)
        return clip

    def _on_editor_edited(self, text: str, notes) -> None:
        self.apply(text, self._with_notes(notes))

    def _on_editor_bars_selected(self, first: int, last: int) -> None:
        if first:
            self.selection_label.setText(
                f"Selected bars: {first}–{last}" if last > first else f"Selected bar: {first}"
            )
        else:
            self.selection_label.setText("Select bars on the ruler to infill them.")

    def _on_editor_selection_changed(self) -> None:
        if len(self.editor.selected) == 1:
            self.velocity.setValue(next(iter(self.editor.selected)).velocity)

    def _on_velocity_edited(self) -> None:
        self.editor.draw_velocity = self.velocity.value()
        if self.editor.selected:
            self.editor.set_velocity(self.velocity.value())

    def _on_tracks_program_changed(self, channel: int, program: int) -> None:
        clip = self._with_notes(self.clip.notes)
        clip.programs[channel] = program
        self.apply("Change instrument", clip)

    def _on_tracks_mix_changed(self) -> None:
        self.editor.muted = self.tracks.silent()
        self.editor.viewport().update()

    def _on_tracks_selection_changed(self) -> None:
        channel = self.tracks.current_channel()
        if channel is not None:
            self.editor.draw_channel = channel

    def _update_title(self) -> None:
        name = self.path.name if self.path else "untitled"
        dirty = "" if self.undo_stack.isClean() else " •"
        self.status.setToolTip(f"{name}{dirty}")

    def new_clip(self) -> None:
        self.apply("New clip", MidiClip([], bpm=120.0))
        self.path = None
        self.takes_list.clear()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open MIDI", "", "MIDI files (*.mid *.midi)")
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        try:
            clip = MidiClip.load(path)
        except (ValueError, OSError) as exc:
            self.status.setText(f"⚠ {exc}")
            return False
        if not clip.notes:
            self.status.setText(f"⚠ {path.name} has no notes.")
            return False
        self.apply(f"Open {path.name}", clip)
        self.editor.show_notes()
        self.path = path
        self.undo_stack.setClean()
        channels = len({n.channel for n in clip.notes})
        self.status.setText(
            f"Opened {path.name}: {len(clip.notes)} notes, {channels} tracks, "
            f"{clip.bars:.0f} bars at {clip.bpm:g} BPM"
        )
        return True

    def select_generator(self, qualified_id: str) -> bool:
        index = self.generator_combo.findData(qualified_id)
        if index >= 0:
            self.generator_combo.setCurrentIndex(index)
        return index >= 0

    def current_file(self) -> Path | None:
        return self.path

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save MIDI", str(self.path or "untitled.mid"), "MIDI files (*.mid)"
        )
        if path:
            self.save_file(Path(path))

    def save_file(self, path: Path) -> bool:
        try:
            self.clip.save(path)
        except OSError as exc:
            self.status.setText(f"⚠ Could not save {path.name}: {exc.strerror or exc}")
            return False
        self.path = path
        self.undo_stack.setClean()
        self.status.setText(f"Saved {path}")
        self.remember_saved(path, dict(self.clip.provenance))
        return True

    # -- generating --------------------------------------------------------------------------------
    def _on_generator_changed(self, *_args) -> None:
        ref_id = self.generator_combo.currentData()
        is_transformer = ref_id == TRANSFORMER
        self.transformer_box.setVisible(is_transformer)
        self.plugin_form.setVisible(not is_transformer)
        if not is_transformer:
            generator = self.context.registry.generator(self.context.registry.get(ref_id))
            self.plugin_form.set_params(generator.params)

    def transformer_request(self) -> dict[str, Any]:
        from studio.music.engine import parse_instruments

        mode = self.mode.currentData()
        request: dict[str, Any] = {
            "mode": mode,
            "key": self.key.currentData() or None,
            "meter": self.meter.currentData() or None,
            "tempo": self.tempo.value() or None,
            "style": self.style.currentText(),
            "bars": self.bars.value(),
            "temperature": self.temperature.value(),
            "top_p": self.top_p.value(),
            "seed": self.seed.value()
            if self.seed.value() >= 0
            else random.SystemRandom().randrange(2**24),  # shown in the take, so it can be reused
            "variations": self.variations.value(),
            "strict_key": self.strict_key.isChecked(),
            "instruments": parse_instruments(self.instruments.text()),
            "_device": self.context.device,
            "_model": (self.context.store, self.model_combo.currentData())
            if self.model_combo.currentData() is not None
            else None,
        }
        if mode != "generate":
            if not self.clip.notes:
                raise ValueError(
                    f"{self.mode.currentText()} needs notes: open, draw or generate some first"
                )
            request["clip"] = copy.deepcopy(self.clip)
        if mode == "infill":
            if not self.editor.bar_selection:
                raise ValueError("select the bars to infill on the ruler above the notes")
            request["bar_range"] = self.editor.bar_selection
        if mode == "harmonize":
            channel = self.tracks.current_channel()
            request["melody_channel"] = channel
            request["clip"] = MidiClip(
                [n for n in self.clip.notes if n.channel == channel],
                bpm=self.clip.bpm,
                beats_per_bar=self.clip.beats_per_bar,
                beat_unit=self.clip.beat_unit,
                programs=dict(self.clip.programs),
            )
        return request

    def generate(self) -> JobHandle | None:
        ref_id = self.generator_combo.currentData()
        try:
            if ref_id == TRANSFORMER:
                request = self.transformer_request()
                spec = JobSpec(
                    f"Music: {self.mode.currentText().lower()}",
                    _run_transformer,
                    request,
                    family="music",
                    key="music.generate",
                )
            else:
                registry, device = self.context.registry, self.context.device
                values = self.plugin_form.values()

                def work(req, ctx):
                    return [registry.run(ref_id, req, ctx, device=device)]

                spec = JobSpec(
                    f"Music: {self.generator_combo.currentText()}",
                    work,
                    values,
                    family=f"plugin:{ref_id}",
                    key="music.generate",
                )
        except ValueError as exc:
            self.status.setText(f"⚠ {exc}")
            return None
        self._before_job = self.clip
        self._start_listening(spec)
        return self.start_job(spec)

    def _start_listening(self, spec: JobSpec) -> None:
        """Where the new bars begin, so Listen plays them as they are written."""
        self._listen_next = 0
        self.listen_problem = ""
        mode = self.mode.currentData() if self.generator_combo.currentData() == TRANSFORMER else ""
        bar = self.clip.bar_length
        self._listen_until: float | None = None
        if mode == "continue":
            self._listen_from = -(-self.clip.length_beats // bar) * bar
            self._listen_until = self._listen_from + self.bars.value() * bar
        elif mode == "infill" and self.editor.bar_selection:
            self._listen_from = (self.editor.bar_selection[0] - 1) * bar
            self._listen_until = self.editor.bar_selection[1] * bar
        else:
            self._listen_from = 0.0
        if self.listen_action.isChecked():
            self.player.stop()
            self.player.offset_beats = self._listen_from
            tempo = spec.request.get("tempo") if isinstance(spec.request, dict) else None
            self.player.bpm = tempo or self.clip.bpm

    def cancel(self) -> None:
        if self.job is not None and not self.job.done:
            self.job.cancel()
        elif self.player.playing:
            self.stop()

    def _on_job_partial(self, clip: MidiClip) -> None:
        if self._is_current():
            self.editor.set_clip(clip, keep_selection=True)  # a preview: not in the undo stack
            self.tracks.set_clip(clip)
            if self.listen_action.isChecked():
                self._listen(clip, final=False)

    def _listen(self, clip: MidiClip, final: bool) -> None:
        """Queue each newly finished bar of a job's preview for playback, in order (bars written
        track by track are heard as the first track is written)."""
        bar = clip.bar_length
        new = [n for n in clip.notes if n.start >= self._listen_from - 1e-9]
        if final:  # every bar the job wrote, silent ones included
            end = self._listen_until if self._listen_until is not None else clip.length_beats
            done = int(-(-round(end, 6) // bar))
        elif new:  # a bar is finished once a later one has begun
            done = int(max(n.start for n in new) // bar)
        else:
            return
        for b in range(max(int(self._listen_from // bar), self._listen_next), done):
            self._listen_next = b + 1
            request = {"clip": clip, "bar": b, "soundfont": self.soundfont()}
            handle = self.context.runner.submit(
                JobSpec(f"Listen: bar {b + 1}", _render_bar, request, family="music-listen")
            )
            handle.succeeded.connect(self._on_listen_job_succeeded)

    def _on_listen_job_succeeded(self, audio) -> None:
        from studio.music.playback import NoAudioDevice

        try:
            self.player.append(audio)
        except NoAudioDevice as exc:
            self.listen_action.setChecked(False)
            self.listen_problem = f"⚠ Listen: {exc}"
            self.status.setText(self.listen_problem)
            return
        self.play_action.setText("Stop")
        self._play_start = self.player.offset_beats
        self._play_timer.start()

    def _on_job_succeeded(self, clips: list[MidiClip]) -> None:
        if not self._is_current():
            return
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        self.takes = clips
        self.takes_list.clear()
        for i, clip in enumerate(clips, start=1):
            self.takes_list.addItem(
                f"Take {i}: seed {clip.provenance.get('seed', '?')}, {len(clip.notes)} notes"
            )
        self.takes_list.setCurrentRow(0)
        self.clip = self._before_job or self.clip
        if self.listen_action.isChecked():
            self._listen(clips[0], final=True)
        had_notes = bool(self._before_job and self._before_job.notes)
        self.apply(self.job.title, clips[0])
        if not had_notes:
            self.editor.show_notes()
        first = clips[0]
        self.status.setText(
            f"{len(first.notes)} notes, {first.bars:.0f} bars, key "
            f"{first.provenance.get('key', '?')}, seed "
            f"{first.provenance.get('seed', '?')}"
            + (f"\n{self.listen_problem}" if self.listen_problem else "")
        )

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if self._is_current():
            self.cancel_button.setEnabled(False)
            self._show_clip(self.clip)
            self.status.setText(f"⚠ {message}")

    def _on_job_cancelled(self) -> None:
        if self._is_current():
            self._show_clip(self.clip)  # drop the preview
        super()._on_job_cancelled()

    def _on_takes_clicked(self, item) -> None:
        row = self.takes_list.row(item)
        if 0 <= row < len(self.takes) and self.takes[row] is not self.clip:
            self.apply(f"Take {row + 1}", self.takes[row])

    # -- playback ----------------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.player.playing or (self.play_job and not self.play_job.done):
            self.stop()
        else:
            self.play()

    def play(self) -> JobHandle | None:
        from studio.music.playback import slice_clip

        if not self.clip.notes:
            self.status.setText("Nothing to play: draw, open or generate some notes.")
            return None
        start, clip = 0.0, self.clip
        if self.editor.bar_selection:
            a, b = self.editor.bar_selection
            start = (a - 1) * self.clip.bar_length
            clip = slice_clip(self.clip, start, b * self.clip.bar_length)
            if not clip.notes:
                self.status.setText("The selected bars are empty.")
                return None
        self._play_start = start
        port = self.output_combo.currentData()
        if port:
            self.play_job = self._play_to_port(port, clip, 0.0)
            self.play_action.setText("Stop")
            return self.play_job
        self.play_job = self.context.runner.submit(
            JobSpec(
                "Music: render for playback",
                _render_audio,
                {"clip": clip, "mix": self.tracks.mix(), "soundfont": self.soundfont()},
                key="music.play",
            )
        )
        self.play_job.succeeded.connect(self._on_play_job_succeeded)
        self.play_job.failed.connect(self._on_play_job_failed)
        self.play_action.setText("Stop")
        return self.play_job

    def _on_play_job_succeeded(self, audio) -> None:
        from studio.music.playback import NoAudioDevice

        try:
            self.player.play(
                audio,
                loop=self.loop_action.isChecked(),
                offset_beats=self._play_start,
                bpm=self.clip.bpm,
            )
        except NoAudioDevice as exc:
            self.play_action.setText("Play")
            self.status.setText(f"⚠ {exc}")
            return
        self._play_timer.start()

    def _on_play_job_failed(self, message: str, _tb: str) -> None:
        self.play_action.setText("Play")
        self.status.setText(f"⚠ Playback: {message}")

    def _on_play_timer_timeout(self) -> None:
        if not self.player.playing:
            self.stop()
            return
        pos = self.player.position
        if self.loop_action.isChecked() and self.editor.bar_selection:
            a, b = self.editor.bar_selection
            span = (b - a + 1) * self.clip.bar_length
            pos = self._play_start + (pos - self._play_start) % span
        self.editor.set_playhead(pos)

    def stop(self) -> None:
        port_player = getattr(self, "_port_player", None)
        if port_player is not None:
            port_player.stop()
            self._port_player = None
        if self.play_job is not None and not self.play_job.done:
            self.play_job.cancel()
        self.player.stop()
        self._play_timer.stop()
        self.editor.set_playhead(None)
        self.play_action.setText("Play")

    def soundfont(self) -> Path | None:
        """The SoundFont chosen in Preferences, or None for the shipped General MIDI one."""
        chosen = self.context.settings.soundfont
        return Path(chosen).expanduser() if chosen else None

    # -- MIDI ports --------------------------------------------------------------------------------
    def refresh_ports(self) -> None:
        from studio.music.playback import midi_ports

        outputs, self.midi_inputs, problem = midi_ports()
        current = self.output_combo.currentData()
        self.output_combo.clear()
        self.output_combo.addItem("Sound card", None)
        for name in outputs:
            self.output_combo.addItem(f"MIDI: {name}", name)
        if not problem:  # rtmidi can open a port other programs connect to (ALSA, JACK, CoreMIDI)
            self.output_combo.addItem("Virtual MIDI port “Studio”", "virtual:Studio")
        self.output_combo.setCurrentIndex(max(0, self.output_combo.findData(current)))
        self.ports_problem = problem or ("" if self.midi_inputs else "no MIDI input ports")
        self.record_action.setToolTip(
            "Record a seed from a MIDI keyboard"
            if self.midi_inputs
            else f"Record from a MIDI keyboard: {self.ports_problem}"
        )

    def _play_to_port(self, name: str, clip: MidiClip, start: float) -> JobHandle:
        from studio.music.playback import MidiPortPlayer

        def work(request, ctx):
            import mido

            virtual = name.startswith("virtual:")
            with mido.open_output(name.removeprefix("virtual:"), virtual=virtual) as port:
                player = MidiPortPlayer(port)
                self._port_player = player
                player.play(clip, start)

        handle = self.context.runner.submit(
            JobSpec(f"Play to {name}", work, None, family="midi-out", key="music.play")
        )
        handle.finished.connect(self.stop)
        handle.failed.connect(self._on_play_job_failed)
        return handle

    def toggle_record(self) -> None:
        from studio.music.playback import MidiRecorder

        if getattr(self, "_record_port", None) is not None:
            port, self._record_port = self._record_port, None
            port.close()
            self.record_action.setChecked(False)
            clip = self._recorder.clip()
            if clip.notes:
                self.apply("Record", clip)
                self.status.setText(f"Recorded {len(clip.notes)} notes.")
            else:
                self.status.setText("Nothing was played.")
            return
        self.refresh_ports()
        if not self.midi_inputs:
            self.record_action.setChecked(False)
            self.status.setText(f"⚠ Cannot record: {self.ports_problem}.")
            return
        import mido

        self._recorder = MidiRecorder(bpm=self.clip.bpm)
        try:
            self._record_port = mido.open_input(self.midi_inputs[0], callback=self._recorder.feed)
        except Exception as exc:  # noqa: BLE001 - rtmidi raises several types
            self.record_action.setChecked(False)
            self.status.setText(f"⚠ Cannot open {self.midi_inputs[0]}: {exc}")
            return
        self.record_action.setChecked(True)
        self.status.setText(f"Recording from {self.midi_inputs[0]}… press Record again to stop.")

    def shutdown(self) -> None:
        self.stop()
        if getattr(self, "_record_port", None) is not None:
            self._record_port.close()
            self._record_port = None

    def render_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Render audio", "untitled.wav", "WAV audio (*.wav);;FLAC audio (*.flac)"
        )
        if path:
            self.render_to(Path(path))

    def render_to(self, path: Path) -> JobHandle | None:
        from studio.music.synth import render, save_audio

        if not self.clip.notes:
            self.status.setText("Nothing to render.")
            return None
        clip, mix, soundfont = copy.deepcopy(self.clip), self.tracks.mix(), self.soundfont()

        def work(request, ctx):
            return save_audio(render(clip, soundfont, ctx=ctx, volumes=mix), path)

        handle = self.context.runner.submit(
            JobSpec(f"Render {path.name}", work, None, key="music.render")
        )
        handle.succeeded.connect(self._on_render_succeeded)
        handle.failed.connect(self._on_play_job_failed)
        return handle

    def _on_render_succeeded(self, path) -> None:
        self.status.setText(f"Rendered {path}")
