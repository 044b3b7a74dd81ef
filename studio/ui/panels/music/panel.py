"""The Music panel: a piano roll editor with the music transformer (generate, continue, infill,
harmonize, variations), plugin MIDI generators, playback, and MIDI files in and out.

The panel is a view of :class:`studio.music.document.MusicDocument`: gestures in the editor, the
tracks table and the controls become document commands, and every widget is redrawn from the
document's change events (so Edit ▸ Undo, File ▸ Open and a restored project show up here the same
way). Generation lives in :mod:`.generation`, playback and files in :mod:`.transport`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QToolButton, QVBoxLayout, QWidget

from studio.core.media import MidiClip
from studio.music.document import TRANSFORMER, MusicDocument, grid_note
from studio.ui.context import StudioContext
from studio.ui.jobs import JobHandle
from studio.ui.panels.base import PanelBase
from studio.ui.panels.music.controls import ASK_FILE, FILE_END, MusicControls
from studio.ui.panels.music.generation import GenerationMixin
from studio.ui.panels.music.tracks import TracksTable
from studio.ui.panels.music.transport import TransportMixin
from studio.ui.widgets.piano_roll_editor import PianoRollEditor

__all__ = ["MusicPanel", "TRANSFORMER", "music_host"]

log = logging.getLogger(__name__)

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


_FAMILY_MODELS: dict[tuple[str, str], Any] = {}


def family_model(name_or_path: str, device: str):
    """A loaded LSTM, VAE or GAN model (kept for the next job; on the 'music' worker)."""
    from studio.music.families import load_family

    key = (name_or_path, device)
    if key not in _FAMILY_MODELS:
        _FAMILY_MODELS.clear()  # one family model in memory at a time
        _FAMILY_MODELS[key] = load_family(name_or_path, device)
    return _FAMILY_MODELS[key]


def _run_family(request, ctx):
    """A job of the LSTM, VAE or GAN (on the 'music' worker): a list of clips, the first one
    what the document shows. ``family_model`` is looked up here, so tests can put a tiny model
    in its place."""
    from studio.ui.panels.music import generation, panel

    ctx.progress(0.0, "loading the music model")
    model = panel.family_model(request.pop("_model"), request.pop("_device"))
    ctx.progress(0.05, "composing")
    return generation.run_family_request(model, request, ctx)


def _run_transformer(request, ctx):
    """The transformer job (on the 'music' worker). ``music_host`` is looked up here, at run
    time, so tests can put a tiny model in its place."""
    from studio.music.engine import MusicRequest

    host = music_host(request.pop("_model"))
    ctx.progress(0.0, "loading the music model" if not host.loaded else "composing")
    engine = host.get(request.pop("_device"))
    with host.inference():
        return engine.run(MusicRequest(**request), ctx)


class MusicPanel(GenerationMixin, TransportMixin, PanelBase):
    panel_id = "music"
    title = "Music"
    document: MusicDocument

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.job: JobHandle | None = None
        self.play_job: JobHandle | None = None
        self.listen_problem = ""
        self._preview: MidiClip | None = None  # a job's bars so far, shown but not in the document
        self.setup_transport()
        if context.loaded:  # else right after the first paint (studio.music.playback: numpy)
            self.player  # noqa: B018  (made now, on the window's thread, as before any job)

        self.editor = PianoRollEditor()
        self.editor.setObjectName("music.editor")
        self.editor.setToolTip(
            "Click to draw a note, drag to move or resize, Shift+drag to select; Delete removes, "
            "arrows move and transpose, +/- change velocity. Drag on the ruler to select bars."
        )
        self.tracks = TracksTable()
        self.tracks.setMinimumHeight(80)
        self.tracks.setMaximumHeight(130)
        self.actions_by_name: dict[str, QAction] = {}
        self._make_actions()
        self.make_progress()
        self.controls = MusicControls(context, self.actions_by_name, self.progress, self.status)
        self.toolbar = self.build_toolbar()
        self.edit_bar = self.build_edit_bar()
        # the names every panel shares (the window's tests and `studio shot` use them)
        self.generator_combo = self.controls.generator
        self.generate_button = self.controls.findChild(QToolButton, "music.generate")

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.toolbar)
        rv.addWidget(self.editor, 1)
        rv.addWidget(self.edit_bar)
        rv.addWidget(self.tracks)
        self.lay_out(self.controls, right)
        self.setFocusProxy(self.editor)

        self.editor.edited.connect(self._on_editor_edited)
        self.editor.bars_selected.connect(self._on_editor_bars_selected)
        self.editor.selection_changed.connect(self._on_editor_selection_changed)
        self.tracks.program_changed.connect(self._on_tracks_program_changed)
        self.tracks.mute_toggled.connect(self._on_tracks_mute_toggled)
        self.tracks.solo_toggled.connect(self._on_tracks_solo_toggled)
        self.tracks.volume_changed.connect(self._on_tracks_volume_changed)
        self.tracks.track_chosen.connect(self._on_tracks_track_chosen)
        self.controls.edited.connect(self._on_controls_edited)
        self.controls.takes.itemClicked.connect(self._on_takes_clicked)
        self.controls.takes.itemActivated.connect(self._on_takes_clicked)
        document = context.project.document(self.panel_id)
        self._unfollowed = not context.loaded
        if self._unfollowed:  # before the first paint: shown now, followed right after the paint
            self.document = document
            self.bind_document(document)
        else:
            self.set_document(document)

    # -- actions -----------------------------------------------------------------------------------
    def _make_actions(self) -> None:
        specs: tuple[tuple[str, str, Any, Any, str], ...] = (
            ("generate", "Generate", self._on_generate_triggered, ("Ctrl+Return", "Ctrl+Enter"),
             "Generate new music (Ctrl+Return); Edit ▸ Undo takes it back"),
            ("continue", "Continue", self._on_continue_triggered, None,
             "Add the chosen number of bars after the clip"),
            ("infill", "Infill bars", self._on_infill_triggered, None,
             "Rewrite the bars selected on the ruler, keeping the others"),
            ("harmonize", "Harmonize", self._on_harmonize_triggered, None,
             "Write parts around the chosen track (the tracks table)"),
            ("interpolate", "Interpolate", self._on_interpolate_triggered, None,
             "Morph From into To in the chosen number of steps (a VAE model); Edit ▸ Undo "
             "takes it back"),
            ("vary", "Variations", self._on_variations_triggered, None,
             "Takes near the clip, as far as How far says (a VAE model)"),
            ("attribute", "Density", self._on_attribute_triggered, None,
             "The clip with fewer or more notes, as the Density slider says (a VAE model)"),
            ("groove", "Drum groove", self._on_groove_triggered, None,
             "Drums (with bass and chords when not under the music) for the chosen bars "
             "(a GAN model)"),
            ("train", "Train on my MIDI folder…", self._on_train_triggered, None,
             "Train a transformer, LSTM, VAE or GAN on a folder of your MIDI files; it "
             "appears in the Model list"),
            ("cancel", "Cancel", self.cancel, "Escape",
             "Stop the generation or the playback (Esc)"),
            ("import", "Import…", self.import_dialog, "Ctrl+I",
             "Import a MIDI file into the editor (Ctrl+I); Edit ▸ Undo takes it back"),
            ("export", "Export…", self.export_dialog, "Ctrl+E",
             "Export the clip as a standard MIDI file (Ctrl+E)"),
        )  # fmt: skip
        for name, text, slot, keys, tip in specs:
            self._action(name, text, slot, keys, tip)
        self.actions_by_name["cancel"].setEnabled(False)

    def _action(self, name, text, slot, keys=None, tip="", checkable=False) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"music.{name}")
        if keys:
            keys = (keys,) if isinstance(keys, str | QKeySequence.StandardKey) else keys
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(tip or text)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        self.actions_by_name[name] = action
        return action

    @property
    def cancel_button(self) -> QAction:  # PanelBase.start_job enables it
        return self.actions_by_name["cancel"]

    def _on_generate_triggered(self, _checked: bool = False) -> None:
        self.generate("generate")

    def _on_continue_triggered(self, _checked: bool = False) -> None:
        self.generate("continue")

    def _on_infill_triggered(self, _checked: bool = False) -> None:
        self.generate("infill")

    def _on_harmonize_triggered(self, _checked: bool = False) -> None:
        self.generate("harmonize")

    def _on_interpolate_triggered(self, _checked: bool = False) -> None:
        self.generate("interpolate")

    def _on_variations_triggered(self, _checked: bool = False) -> None:
        self.generate("variations")

    def _on_attribute_triggered(self, _checked: bool = False) -> None:
        self.generate("attributes")

    def _on_groove_triggered(self, _checked: bool = False) -> None:
        self.generate("groove")

    def _on_train_triggered(self, _checked: bool = False):
        """Open Train on my MIDI folder… (one dialog per window)."""
        from studio.ui.dialogs.image_train import open_dialog
        from studio.ui.dialogs.music_train import TrainMusicDialog

        return open_dialog(self.window(), TrainMusicDialog)

    # -- the document ------------------------------------------------------------------------------
    @property
    def clip(self) -> MidiClip:
        """The document's clip as a MidiClip (a copy; change it through the document)."""
        return self.document.midi_clip()

    def set_document(self, document: MusicDocument) -> None:
        if document is not self.document and self.job is not None and not self.job.done:
            self.job.cancel()  # its result was for the document that is going away
        super().set_document(document)

    def bind_document(self, document: MusicDocument) -> None:
        self._preview = None
        for name in ("generator", "family", *self.controls.fields, "snap", "velocity", "loop",
                     "listen"):  # fmt: skip
            self.on_document_changed(name, document.get(name))
        self.on_document_changed("clip", document.clip)
        self.on_document_changed("bar_range", document.bar_range)
        self.on_document_changed("takes", document.takes)
        self.editor.show_notes()

    def on_document_changed(self, name: str, value) -> None:
        doc = self.document
        if name == "clip":
            self._show_clip()
        elif name in ("volumes", "muted", "soloed", "track"):
            self._show_tracks()
        elif name == "selected_notes":
            if set(value) != self.editor.selected:
                self.editor.selected = set(value) & set(doc.clip.notes)
                self.editor.viewport().update()
            self._show_velocity()
        elif name == "bar_range":
            self.editor.bar_selection = value
            self.editor.viewport().update()
            self._show_selection_label()
        elif name in ("takes", "take", "interp_a_file", "interp_b_file"):
            self._show_takes()
        elif name in ("model", "family"):
            self.controls.mirror_model(doc.model, doc.family)
            self._show_generator()
        elif name == "generator":
            self.controls.mirror(name, value)
            self._show_generator()
        elif name == "plugin_values":
            pass  # the form holds what was typed; it is rebuilt when the generator changes
        elif name in ("snap", "velocity", "loop", "listen"):
            self.mirror_transport(name, value)
        else:
            self.controls.mirror(name, value)

    def _show_clip(self) -> None:
        doc = self.document
        midi = doc.midi_clip()
        self.context.shared["music.clip"] = midi
        if self._preview is None:
            old = self.editor.blockSignals(True)
            self.editor.selected = {grid_note(n) for n in self.editor.selected}
            self.editor.set_clip(midi, keep_selection=True)
            self.editor.blockSignals(old)
            selected = tuple(sorted(self.editor.selected))
            if selected != doc.selected_notes:
                doc.set_quiet(selected_notes=selected)
        self._show_tracks()
        self._show_selection_label()

    def _show_tracks(self) -> None:
        doc = self.document
        track = doc.current_track()
        self.tracks.show_clip(doc.clip, dict(doc.volumes), doc.muted, doc.soloed, track)
        self.editor.muted = doc.silent()
        self.editor.draw_channel = track if track is not None else 0
        self.editor.viewport().update()

    def _show_takes(self) -> None:
        doc = self.document
        takes = self.controls.takes
        self.controls.show_takes(len(doc.takes), (doc.interp_a_file, doc.interp_b_file))
        for name in ("interp_a", "interp_b"):
            self.controls.mirror(name, doc.get(name))
        takes.clear()
        for i, take in enumerate(doc.takes, start=1):
            seed = dict(take.provenance).get("seed", "?")
            takes.addItem(f"Take {i}: seed {seed}, {len(take.notes)} notes")
        if 0 <= doc.take < takes.count():
            takes.setCurrentRow(doc.take)

    def _show_selection_label(self) -> None:
        bars = self.document.bar_range
        if bars:
            first, last = bars
            text = f"Selected bars: {first}–{last}" if last > first else f"Selected bar: {first}"
        else:
            text = "Drag on the ruler above the notes to select bars to infill."
        self.controls.selection_label.setText(text)

    def _show_velocity(self) -> None:
        selected = self.document.selected_notes
        if len(selected) == 1:
            old = self.velocity.blockSignals(True)
            self.velocity.setValue(selected[0].velocity)
            self.velocity.blockSignals(old)

    def family(self) -> str:
        """The family of the chosen model (what the Model list shows)."""
        return self.controls.current_family()

    def _show_generator(self) -> None:
        from studio.music.families import FAMILY_MODES
        from studio.ui.panels.music.controls import MODE_ACTIONS

        doc = self.document
        is_transformer = doc.generator == TRANSFORMER
        family = self.family() if is_transformer else ""
        modes = FAMILY_MODES.get(family, frozenset({"generate"}))
        self.controls.show_family(family if is_transformer else "plugin")
        if not is_transformer:
            self.controls.vae_box.setVisible(False)
            self.controls.gan_box.setVisible(False)
        for name, mode in MODE_ACTIONS.items():
            self.actions_by_name[name].setEnabled(mode in modes)
        if not is_transformer:
            problem = self.controls.show_plugin(
                doc.generator, doc.plugin_values.get(doc.generator, {})
            )
            if problem:
                self.status.setText(f"⚠ {problem}")

    # -- gestures -> commands ----------------------------------------------------------------------
    def _on_editor_edited(self, text: str, notes) -> None:
        if self._preview is not None:  # the editor shows a job's preview, not the document
            self.editor.set_clip(self._preview, keep_selection=True)
            self.status.setText("Wait for the generation to finish, or cancel it (Esc).")
            return
        self.document.edit_notes(text, notes)

    def _on_editor_bars_selected(self, first: int, last: int) -> None:
        self.document.set_quiet(bar_range=(first, last) if first >= 1 else None)

    def _on_editor_selection_changed(self) -> None:
        if self._preview is None:
            self.document.set_quiet(selected_notes=tuple(sorted(self.editor.selected)))

    def _on_tracks_program_changed(self, channel: int, program: int) -> None:
        self.document.set_program(channel, program)

    def _on_tracks_mute_toggled(self, channel: int, on: bool) -> None:
        self.document.set_muted(channel, on)

    def _on_tracks_solo_toggled(self, channel: int, on: bool) -> None:
        self.document.set_solo(channel, on)

    def _on_tracks_volume_changed(self, channel: int, volume: float) -> None:
        self.document.set_volume(channel, volume)

    def _on_tracks_track_chosen(self, channel: int) -> None:
        self.document.set_quiet(track=channel)

    def _on_controls_edited(self, name: str, value) -> None:
        doc = self.document
        if name == "plugin_form":
            doc.set_quiet(plugin_values=doc.plugin_values | {doc.generator: dict(value)})
        elif name == "model_choice":
            text, family = value
            doc.set_quiet(model=text, family=family)
        elif name in ("interp_a", "interp_b") and value == ASK_FILE:
            self.ask_interp_file(name)
        else:
            doc.set_quiet(**{name: value})

    def ask_interp_file(self, name: str) -> Path | None:
        """Interpolate from / to (``name``) a MIDI file the artist picks; None if cancelled."""
        from studio.ui.dialogs import files

        end = "from" if name == "interp_a" else "to"
        path = files.ask_open(self, "midi", f"A MIDI file to interpolate {end}",
                              "MIDI files (*.mid *.midi)")  # fmt: skip
        doc = self.document
        if path is None:
            self.controls.mirror(name, doc.get(name))  # back to what was chosen
            return None
        doc.set_quiet(**{f"{name}_file": str(path), name: FILE_END})
        return path

    def _on_takes_clicked(self, item) -> None:
        row = self.controls.takes.row(item)
        if 0 <= row < len(self.document.takes):
            self.document.choose_take(row)

    # -- for the window and `studio shot` ----------------------------------------------------------
    def select_generator(self, qualified_id: str) -> bool:
        index = self.controls.generator.findData(qualified_id)
        if index >= 0:
            self.document.set_quiet(generator=qualified_id)
        return index >= 0

    def current_file(self) -> Path | None:
        source = self.document.source
        return Path(source) if source and Path(source).exists() else None

    def on_context_loaded(self) -> None:
        """The settings are read and the plugins found (built before the first paint, the panel
        showed the transformer only): list the plugin generators and the models."""
        self.player  # noqa: B018  (the audio player, on the window's thread before any job runs)
        if self._unfollowed:  # follow its events now (and redraw)
            self._unfollowed = False
            document, self.document = self.document, None
            self.set_document(document)
        self.controls.refresh_generators()
        self.controls.mirror("generator", self.document.generator)
        self.refresh_models()

    def refresh_models(self) -> None:
        self.controls.refresh_models()
        self.controls.mirror_model(self.document.model, self.document.family)
        self._show_generator()
