"""Voice panel: speak text or SSML with a chosen voice (streamed as it is made), and sing a
melody from the Music panel or a MIDI file with lyrics.

The panel is a view of a :class:`~studio.voice.document.VoiceDocument`: typing, settings,
imports, transcriptions and takes are steps of the document (Edit ▸ Undo undoes them, the
project saves them); the widgets only mirror it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QListWidgetItem, QWidget

from studio.core.document import DocumentError
from studio.core.jobs import JobSpec
from studio.ui.context import StudioContext
from studio.ui.dialogs import files
from studio.ui.panels.base import PanelBase
from studio.ui.panels.voice.controls import MARKUP, SPIN_ATTRS, SPINS, build
from studio.ui.panels.voice.runs import VoiceRuns
from studio.voice.document import (
    MIDI_SUFFIXES,
    VoiceDocument,
    VoiceSettings,
    read_melody,
    read_text_file,
)

__all__ = ["VoicePanel"]

log = logging.getLogger(__name__)

IMPORT_FILTER = (
    "Text, SSML or MIDI (*.txt *.ssml *.xml *.mid *.midi);;Text (*.txt);;SSML (*.ssml *.xml);;"
    "MIDI (*.mid *.midi);;All files (*)"
)


class VoicePanel(VoiceRuns, PanelBase):
    panel_id = "voice"
    title = "Voice"
    cancelled_message = "Stopped."
    document: VoiceDocument

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        from studio.voice.player import StreamPlayer

        self.player = StreamPlayer()
        self._cache = None
        self._voices: dict = {}  # voice id -> VoiceInfo, once listed
        self._combo_engine: str | None = None  # the engine the voice list was filled for
        self._form_plugin: str | None = None  # the plugin whose controls the form shows
        self._mirroring = False  # widgets are being set from the document
        self._transcribing: dict = {}  # job -> (recording, into the lyrics)
        self._exports: dict = {}  # job -> the take's provenance
        build(self)

        self.speak_button.clicked.connect(self.speak)
        self.sing_button.clicked.connect(self.sing)
        self.cancel_button.clicked.connect(self.stop)
        self.play_button.clicked.connect(self.play)
        self.delete_take_button.clicked.connect(self.delete_selected_take)
        self.export_button.clicked.connect(self.export_dialog)
        self.import_button.clicked.connect(self.import_dialog)
        self.transcribe_button.clicked.connect(self.transcribe_dialog)
        self.transcribe_button.setEnabled(bool(self.context.registry.contributions("transcriber")))
        self.from_music_button.clicked.connect(self.take_music_melody)
        self.open_midi_button.clicked.connect(self.open_midi_dialog)
        self.editor.textChanged.connect(self._on_editor_text_changed)
        self.lyrics.textChanged.connect(self._on_lyrics_text_changed)
        self.markup_combo.currentIndexChanged.connect(self._on_markup_combo_changed)
        self.engine_combo.currentIndexChanged.connect(self._on_engine_combo_changed)
        self.voice_combo.currentIndexChanged.connect(self._on_voice_combo_changed)
        self.track_combo.currentIndexChanged.connect(self._on_track_combo_changed)
        self.accompaniment.toggled.connect(self._on_accompaniment_toggled)
        self.plugin_form.changed.connect(self._on_plugin_form_changed)
        self.tabs.currentChanged.connect(self._on_tabs_changed)
        self.takes_list.currentRowChanged.connect(self._on_takes_row_changed)
        self.takes_list.itemChanged.connect(self._on_takes_item_changed)
        for name, *_rest in SPINS:
            self._spin(name).valueChanged.connect(self._on_spin_changed)

        self._action("run", "Speak or sing", ("Ctrl+Return", "Ctrl+Enter"), self.run_current)
        self._action("stop", "Stop", ("Escape",), self.stop)
        self._action("export", "Export the selected take…", ("Ctrl+E",), self.export_dialog)
        self._action("import", "Import text or a melody…", ("Ctrl+I",), self.import_dialog)
        play = self._action("play", "Play the selected take", ("Space",), self.play)
        self.removeAction(play)
        self.takes_list.addAction(play)  # Space types a space in the text: only in the list
        play.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)

        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._voices_job = None
        self.load_voices()
        self.set_document(context.project.document(self.panel_id))

    def _action(self, name: str, text: str, keys, slot) -> QAction:
        action = QAction(text, self)
        action.setObjectName(f"voice.{name}")
        action.setShortcuts([QKeySequence(k) for k in keys])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{text} ({QKeySequence(keys[0]).toString()})")
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _spin(self, name: str):
        return getattr(self, SPIN_ATTRS.get(name, name))

    # -- the document: mirror it -------------------------------------------------------------------
    def bind_document(self, document: VoiceDocument) -> None:
        for name in ("text", "ssml", "lyrics", "melody", "settings", "takes", "mode"):
            self.on_document_changed(name, document.get(name))

    def on_document_changed(self, name: str, value) -> None:
        self._mirroring = True
        try:
            if name == "text":
                self.editor.set_text_keeping_cursor(value)
            elif name == "lyrics":
                self.lyrics.set_text_keeping_cursor(value)
                self._preview_melody()
            elif name == "ssml":
                self.markup_combo.setCurrentIndex([m[0] for m in MARKUP].index(value))
            elif name in ("melody", "melody_name"):
                self._show_melody()
            elif name == "settings":
                self._show_settings(value)
            elif name in ("takes", "selected"):
                self._show_takes()
            elif name == "mode":
                self.tabs.setCurrentIndex(1 if value == "sing" else 0)
        finally:
            self._mirroring = False

    def _show_settings(self, settings: VoiceSettings) -> None:
        self.engine_combo.setCurrentIndex(max(0, self.engine_combo.findData(settings.engine)))
        self._fill_voices(settings)
        for name, *_rest in SPINS:
            self._spin(name).setValue(getattr(settings, name))
        self.accompaniment.setChecked(settings.accompaniment)
        index = self.track_combo.findData(settings.track)
        self.track_combo.setCurrentIndex(max(0, index))
        plugin = settings.plugin
        for name in ("rate", "pitch", "volume", "sentence_pause", "variation"):
            self._spin(name).setEnabled(plugin is None)
        self.plugin_form.setVisible(plugin is not None)
        if plugin is not None:
            self._show_plugin(plugin, settings)
            return
        info = self._voices.get(settings.voice)
        if info is None:
            missing = self._voices and settings.voice
            self.voice_note.setText(f"⚠ {settings.voice} is not installed." if missing else "")
            return
        text = f"{info.language} · {info.quality} · {info.sample_rate} Hz"
        text += f"<br>Licence: {info.licence}"
        if info.restriction:
            text += f"<br><b>⚠ {info.restriction}</b>"
        self.voice_note.setText(text)
        self.variation.setEnabled(info.engine == "piper")

    def _show_plugin(self, ref_id: str, settings: VoiceSettings) -> None:
        if self._form_plugin != ref_id:
            try:
                ref = self.context.registry.get(ref_id)
                generator = self.context.registry.generator(ref)
            except Exception as exc:  # noqa: BLE001 - a broken plugin is shown, not fatal
                self.voice_note.setText(f"⚠ {exc}")
                self.plugin_form.set_params(())
                self._form_plugin = None
                return
            self.plugin_form.set_params(generator.params)  # named param_<name> by their specs
            self.voice_note.setText(ref.contribution.description or generator.description)
            self._form_plugin = ref_id
        self.plugin_form.blockSignals(True)
        for key, value in settings.plugin_params:
            try:
                self.plugin_form.set_value(key, value)
            except KeyError:
                continue
        self.plugin_form.blockSignals(False)

    def _fill_voices(self, settings: VoiceSettings) -> None:
        """The voice list for the engine picked, with the document's voice selected."""
        combo = self.voice_combo
        if self._combo_engine != settings.engine or combo.findData(settings.voice) < 0:
            combo.clear()
            if not self._voices and self._voices_job is not None and not self._voices_job.done:
                combo.addItem("Finding voices…", "")
                return
            for voice_id, label, tip in self._voice_items(settings.engine):
                combo.addItem(label, voice_id)
                combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            if combo.findData(settings.voice) < 0:  # another engine's, or not installed
                known = {v: label for v, label, _tip in self._voice_items("")}
                label = known.get(settings.voice, f"{settings.voice} (not installed)")
                combo.insertItem(0, label, settings.voice)
            self._combo_engine = settings.engine
        combo.setCurrentIndex(combo.findData(settings.voice))

    def _voice_items(self, engine: str):
        for v in self._voices.values():
            if engine in ("", v.engine):
                tip = f"{v.id}\n{v.sample_rate} Hz · licence: {v.licence}"
                yield v.id, v.label, tip + (f"\n⚠ {v.restriction}" if v.restriction else "")
        if engine in ("", "plugin"):
            for ref in self.context.registry.contributions("voice"):
                if ref.id.split("/")[0] != "studio":  # the built-in engines are listed above
                    yield f"plugin:{ref.id}", f"{ref.title} (plugin {ref.id})", ref.id

    def _show_takes(self) -> None:
        doc = self.document
        self.takes_list.blockSignals(True)
        self.takes_list.clear()
        for take in doc.takes:
            item = QListWidgetItem(take.label)
            item.setData(Qt.ItemDataRole.UserRole, take.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            voice = take.provenance.get("voice", "")
            item.setToolTip(f"{take.label}\n{take.duration:.2f} s · {voice} · {take.created}")
            self.takes_list.addItem(item)
        take = doc.take()
        if take is not None:
            self.takes_list.setCurrentRow(doc.takes.index(take))
        self.takes_list.blockSignals(False)
        for widget in (self.play_button, self.delete_take_button, self.export_button):
            widget.setEnabled(take is not None)
        if take is None:
            self.waveform.clear()
        elif self.job is None or self.job.done:
            self.waveform.set_audio(take.samples, take.sample_rate, take.marks)

    def _show_melody(self) -> None:
        doc = self.document
        clip = doc.melody
        self.track_combo.blockSignals(True)
        self.track_combo.clear()
        if clip is not None:
            for channel in sorted({n.channel for n in clip.notes}):
                count = sum(1 for n in clip.notes if n.channel == channel)
                self.track_combo.addItem(f"Track {channel + 1} ({count} notes)", channel)
            index = self.track_combo.findData(doc.settings.track)
            self.track_combo.setCurrentIndex(max(0, index))
        self.track_combo.blockSignals(False)
        self.melody_label.setText(
            f"Melody from {doc.melody_name}: {len(clip.notes)} notes." if clip else "No melody yet."
        )
        self._preview_melody()

    def _preview_melody(self) -> None:
        """The syllables under the notes as typed (the sung split may refine them)."""
        doc = self.document
        if doc is None or doc.melody is None:
            self.melody_view.set_melody([], [])
            return
        from studio.voice.sing import assign, melody_from_clip, split_lyrics

        try:
            notes, _ = melody_from_clip(doc.melody, self.track_combo.currentData())
        except ValueError:
            return
        syllables = split_lyrics(doc.lyrics)
        plan, _ = assign(syllables, notes)
        labels = ["la" if s < 0 else ("_" if k else syllables[s].text) for s, k in plan]
        self.melody_view.set_melody(notes, labels)

    # -- gestures: commands on the document --------------------------------------------------------
    def _on_editor_text_changed(self) -> None:
        if not self._mirroring:
            self.document.set("Edit text", merge_key="text", text=self.editor.toPlainText())

    def _on_lyrics_text_changed(self) -> None:
        if not self._mirroring:
            self.document.set("Edit lyrics", merge_key="lyrics", lyrics=self.lyrics.toPlainText())

    def _on_markup_combo_changed(self, index: int) -> None:
        if not self._mirroring and index >= 0:
            value = MARKUP[index][0]
            what = {None: "SSML when it starts with <speak>", False: "plain text", True: "SSML"}
            self.document.set(f"Read as {what[value]}", ssml=value)

    def _on_spin_changed(self, value) -> None:
        if self._mirroring:
            return
        name = next(n for n, *_ in SPINS if self._spin(n) is self.sender())
        label = next(s[4] for s in SPINS if s[0] == name)
        self.document.change_settings(
            f"{label} {self.sender().textFromValue(value)}", merge_key=f"settings.{name}",
            **{name: value},
        )  # fmt: skip

    def _on_engine_combo_changed(self, index: int) -> None:
        if self._mirroring or index < 0:
            return
        engine = self.engine_combo.itemData(index)
        current = self.document.settings.voice
        ids = [voice_id for voice_id, *_ in self._voice_items(engine)]
        voice = current if current in ids or not ids else self._closest_voice(current, ids)
        label = self.engine_combo.itemText(index)
        self.document.change_settings(f"Engine: {label}", engine=engine, voice=voice)

    def _closest_voice(self, current: str, ids: list[str]) -> str:
        """The first voice in ``ids`` speaking the current voice's language (else the first)."""
        info = self._voices.get(current)
        language = info.language.lower().replace("_", "-") if info else ""
        for stem in (language, language.split("-")[0]):
            for voice_id in ids:
                other = self._voices.get(voice_id)
                if stem and other and other.language.lower().replace("_", "-") == stem:
                    return voice_id
        return ids[0]

    def _on_voice_combo_changed(self, index: int) -> None:
        voice = self.voice_combo.itemData(index) if index >= 0 else ""
        if not self._mirroring and voice:
            label = self.voice_combo.itemText(index).split(" (")[0]
            self.document.change_settings(f"Voice: {label}", voice=voice)

    def select_voice(self, voice_id: str) -> bool:
        """Speak with ``voice_id`` (showing every engine when the list's filter hides it);
        False when no such voice is installed."""
        known = voice_id in self._voices or any(v == voice_id for v, *_ in self._voice_items(""))
        if known:
            engine = self.document.settings.engine
            if voice_id not in [v for v, *_ in self._voice_items(engine)]:
                engine = ""
            self.document.change_settings(f"Voice: {voice_id}", voice=voice_id, engine=engine)
        return known

    def _on_track_combo_changed(self, _index: int) -> None:
        if not self._mirroring:
            track = self.track_combo.currentData()
            self.document.change_settings(f"Sing track {(track or 0) + 1}", track=track)
            self._preview_melody()

    def _on_accompaniment_toggled(self, checked: bool) -> None:
        if not self._mirroring:
            what = "Mix" if checked else "No"
            self.document.change_settings(f"{what} accompaniment", accompaniment=checked)

    def _on_plugin_form_changed(self) -> None:
        if not self._mirroring:
            params = tuple(self.plugin_form.values().items())
            self.document.change_settings(
                "Plugin voice settings", merge_key="settings.plugin", plugin_params=params
            )

    def _on_tabs_changed(self, index: int) -> None:
        if not self._mirroring:
            self.document.set_quiet(mode="sing" if index == 1 else "speak")

    def _on_takes_row_changed(self, row: int) -> None:
        if not self._mirroring and 0 <= row < len(self.document.takes):
            self.document.set_quiet(selected=self.document.takes[row].id)

    def _on_takes_item_changed(self, item: QListWidgetItem) -> None:
        take_id = item.data(Qt.ItemDataRole.UserRole)
        if not self._mirroring and take_id is not None:
            self.document.rename_take(int(take_id), item.text())

    def delete_selected_take(self) -> None:
        take = self.document.take()
        if take is not None:
            self.stop()
            self.document.remove_take(take.id)
            self.status.setText(f"Deleted take {take.id} (Edit ▸ Undo brings it back).")

    # -- voices ------------------------------------------------------------------------------------
    def load_voices(self) -> None:
        """List the voices off the GUI thread (eSpeak's list takes a moment to load)."""
        self.voice_combo.clear()
        self.voice_combo.addItem("Finding voices…", "")
        cache = self.cache
        spec = JobSpec(title="Voice: list voices", fn=lambda _r, _c: cache.voices(refresh=True))
        self._voices_job = self.context.runner.submit(spec)
        self._voices_job.succeeded.connect(self._on_voices_listed)
        self._voices_job.failed.connect(self._on_voices_failed)

    def _on_voices_listed(self, voices) -> None:
        self._voices = {v.id: v for v in voices}
        self._combo_engine = None
        plugins = self.engine_combo.findData("plugin")
        if plugins >= 0 and not any(v.startswith("plugin:") for v, *_ in self._voice_items("")):
            self._mirroring = True
            self.engine_combo.removeItem(plugins)  # no plugin voices: nothing to pick there
            self._mirroring = False
        if not voices:
            self.status.setText("⚠ No voices installed: pip install piper-tts espeakng-loader")
        for problem in self.cache.problems:
            log.warning("voice: %s", problem)
        if self.document is not None:
            self.on_document_changed("settings", self.document.settings)

    def _on_voices_failed(self, message: str, _tb: str) -> None:
        self.status.setText(f"⚠ Could not list the voices: {message}")

    # -- files -------------------------------------------------------------------------------------
    def import_dialog(self) -> None:
        """Ctrl+I: a text or SSML file into the text, or a MIDI file to sing (one undo step)."""
        path = files.ask_open(self, "text", "Import text, SSML or a melody", IMPORT_FILTER)
        if path is not None:
            self.open_file(path)

    def open_midi_dialog(self) -> None:
        path = files.ask_open(self, "midi", "Open MIDI", "MIDI files (*.mid *.midi)")
        if path is not None:
            self.open_file(path)

    def open_file(self, path: Path) -> bool:
        """A .mid becomes the melody on the Sing tab; a text or SSML file the text to speak.
        One undoable step; False (with the reason in the status line) when it can't be read."""
        path = Path(path)
        try:
            if path.suffix.lower() in MIDI_SUFFIXES:
                clip = read_melody(path)
                self.document.set_quiet(mode="sing")
                self.document.set_melody(clip, path.name, label=f"Import {path.name}")
                self.status.setText(f"Melody from {path.name}: {len(clip.notes)} notes.")
            else:
                text, ssml = read_text_file(path)
                self.document.set_quiet(mode="speak")
                self.document.set(f"Import {path.name}", text=text, ssml=ssml)
                self.status.setText(f"Imported {path.name} (Edit ▸ Undo takes it back).")
        except DocumentError as exc:
            self.status.setText(f"⚠ {exc}")
            return False
        return True

    def take_music_melody(self) -> bool:
        """Sing the Music panel's notes (a copy)."""
        clip = self.context.shared.get("music.clip")
        if clip is None or not clip.notes:
            self.status.setText("⚠ The Music panel has no notes yet: compose or open something.")
            return False
        self.document.set_quiet(mode="sing")
        self.document.set_melody(clip, "the Music panel")
        self.status.setText(f"Melody from the Music panel: {len(clip.notes)} notes.")
        return True
