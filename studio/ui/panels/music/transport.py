"""The Music panel's toolbar and what it drives: playback (sound card or a MIDI port), recording
from a MIDI keyboard, rendering audio, MIDI files in and out, zoom, snap and velocity."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QSpinBox, QToolBar

from studio.core.document import DocumentError
from studio.core.jobs import JobSpec
from studio.core.media import MidiClip
from studio.music.document import MusicDocument
from studio.ui.jobs import JobHandle
from studio.ui.panels.arrange.send import send_button

__all__ = ["TransportMixin", "SNAPS"]

# Listen's live player waits for the wall clock in its callback: only for an output with no clock
# of its own (ALSA's null device, in tests); a sound card paces it.
LIVE_PACED = False
SNAPS = (("1/4", 1.0), ("1/8", 0.5), ("1/16", 0.25), ("1/32", 0.125), ("off", 0.0))
MIDI_FILTER = "MIDI files (*.mid *.midi)"


def _render_audio(request, ctx):
    from studio.music.synth import render

    return render(request["clip"], request["soundfont"], ctx=ctx, volumes=request["mix"], tail=0.5)


class _PortsCombo(QComboBox):
    """A combo box that refreshes its items just before its list opens."""

    def __init__(self, refresh) -> None:
        super().__init__()
        self._refresh = refresh

    def showPopup(self) -> None:
        self._refresh()
        super().showPopup()


class TransportMixin:
    """The toolbar half of MusicPanel."""

    def setup_transport(self) -> None:
        self._player = None
        self._live = None
        self._play_start = 0.0
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(40)
        self._play_timer.timeout.connect(self._on_play_timer_timeout)
        self.midi_inputs: list[str] = []
        self.ports_problem = ""

    @property
    def player(self):
        """The audio player, made on first use (studio.music.playback imports numpy, and the
        panel is built before the window's first paint)."""
        if self._player is None:
            from studio.music.playback import AudioPlayer

            self._player = AudioPlayer()
        return self._player

    @player.setter
    def player(self, value) -> None:
        self._player = value

    @property
    def live(self):
        """The live player of Listen (notes sound as the transformer writes them), made on first
        use; its synth and output are opened on a worker (:meth:`warm_sound`)."""
        soundfont = self.soundfont()
        if self._live is not None and getattr(self._live, "soundfont", soundfont) != soundfont:
            self._live.close()  # another SoundFont was chosen in Preferences
            self._live = None
        if self._live is None:
            from studio.music.playback import LivePlayer

            self._live = LivePlayer(soundfont, paced=LIVE_PACED)
        return self._live

    @live.setter
    def live(self, value) -> None:
        self._live = value

    def warm_sound(self) -> JobHandle | None:
        """Load Listen's synth and open the output on a worker, so the first note of the next
        generation sounds at once (None when it is ready)."""
        live = self.live
        if getattr(live, "prepared", False) or live.problem:
            return None
        prepare = live.prepare

        def work(_request, _ctx):
            return prepare()

        return self.context.runner.submit(
            JobSpec("Music: getting Listen's sound ready", work, None, key="music.warm-sound")
        )

    def _live_sounding(self) -> bool:
        return self._live is not None and self._live.playing

    def build_toolbar(self) -> QToolBar:
        bar = QToolBar()
        bar.setObjectName("music.toolbar")
        specs = (
            ("play", "Play", self._on_play_triggered, "Space",
             "Play the clip, or the selected bars (Space: play / stop)", False),
            ("stop", "Stop", self.stop, None, "Stop playback (Esc)", False),
            ("loop", "Loop", self._on_loop_toggled, "L", "Loop the selected bars (L)", True),
            ("listen", "Listen", self._on_listen_toggled, None,
             "Hear the notes while they are written (the transformer: each as soon as it is "
             "chosen)", True),
            ("record", "Record", self.toggle_record, None,
             "Record a seed from a MIDI keyboard", True),
            ("render", "Render…", self.render_dialog, None,
             "Render the clip to WAV or FLAC audio, with the mix", False),
            ("zoom_in", "Zoom +", self._on_zoom_in_triggered, QKeySequence.StandardKey.ZoomIn,
             "Zoom in (Ctrl++)", False),
            ("zoom_out", "Zoom −", self._on_zoom_out_triggered, QKeySequence.StandardKey.ZoomOut,
             "Zoom out (Ctrl+-)", False),
        )  # fmt: skip
        for name, text, slot, keys, tip, checkable in specs:
            self._action(name, text, slot, keys, tip, checkable)
        self.play_action, self.stop_action = (
            self.actions_by_name["play"],
            self.actions_by_name["stop"],
        )
        self.loop_action = self.actions_by_name["loop"]
        self.listen_action = self.actions_by_name["listen"]
        self.record_action = self.actions_by_name["record"]
        self.render_action = self.actions_by_name["render"]
        names = self.actions_by_name
        for action in (names["import"], names["export"], None, self.play_action,
                       self.stop_action, self.loop_action, self.listen_action, self.record_action,
                       self.render_action):  # fmt: skip
            self._tool(bar, action)
        # Ports are listed when the list is opened: probing MIDI at start costs time and warnings.
        self.output_combo = _PortsCombo(self.refresh_ports)
        self.output_combo.setObjectName("music.output")
        self.output_combo.addItem("Sound card", None)
        self.output_combo.setToolTip("Where playback goes: the sound card or a MIDI port (a DAW)")
        bar.addWidget(self.output_combo)
        bar.addWidget(send_button(self, "music"))
        return bar

    def build_edit_bar(self) -> QToolBar:
        """Under the piano roll: how it draws (snap, velocity) and zoom."""
        bar = QToolBar()
        bar.setObjectName("music.edit_bar")
        self.snap_combo = QComboBox()
        self.snap_combo.setObjectName("music.snap")
        self.snap_combo.setToolTip("Snap new, moved and resized notes to this grid")
        for name, value in SNAPS:
            self.snap_combo.addItem(f"Snap {name}", value)
        self.snap_combo.currentIndexChanged.connect(self._on_snap_combo_changed)
        bar.addWidget(self.snap_combo)
        self.velocity = QSpinBox()
        self.velocity.setObjectName("music.velocity")
        self.velocity.setRange(1, 127)
        self.velocity.setPrefix("vel ")
        self.velocity.setToolTip("Velocity of new and selected notes (+/- keys change it too)")
        self.velocity.editingFinished.connect(self._on_velocity_edited)
        bar.addWidget(self.velocity)
        bar.addSeparator()
        for name in ("zoom_out", "zoom_in"):
            self._tool(bar, self.actions_by_name[name])
        return bar

    @staticmethod
    def _tool(bar: QToolBar, action) -> None:
        if action is None:
            bar.addSeparator()
            return
        bar.addAction(action)
        bar.widgetForAction(action).setObjectName(action.objectName())

    def mirror_transport(self, name: str, value) -> None:
        """Show document field ``name`` (snap, velocity, loop, listen) in the toolbar."""
        if name == "snap":
            self.editor.snap = value
            widget, index = self.snap_combo, self.snap_combo.findData(value)
            old = widget.blockSignals(True)
            widget.setCurrentIndex(index if index >= 0 else 2)
            widget.blockSignals(old)
        elif name == "velocity":
            self.editor.draw_velocity = value
            old = self.velocity.blockSignals(True)
            self.velocity.setValue(value)
            self.velocity.blockSignals(old)
        else:
            action = self.loop_action if name == "loop" else self.listen_action
            old = action.blockSignals(True)
            action.setChecked(bool(value))
            action.blockSignals(old)

    def _on_loop_toggled(self, on: bool) -> None:
        self.document.set_quiet(loop=bool(on))

    def _on_listen_toggled(self, on: bool) -> None:
        self.document.set_quiet(listen=bool(on))
        if on:
            self.warm_sound()

    def _on_zoom_in_triggered(self, _checked: bool = False) -> None:
        self.editor.zoom(1.25)

    def _on_zoom_out_triggered(self, _checked: bool = False) -> None:
        self.editor.zoom(0.8)

    def _on_snap_combo_changed(self, _index: int) -> None:
        self.document.set_quiet(snap=self.snap_combo.currentData())

    def _on_velocity_edited(self) -> None:
        self.document.set_quiet(velocity=self.velocity.value())
        if self.editor.selected:
            self.editor.set_velocity(self.velocity.value())  # an edit: through the document

    # -- files -------------------------------------------------------------------------------------
    def import_dialog(self, _checked: bool = False) -> None:
        from studio.ui.dialogs import files  # (QFileDialog: on first use, not at paint)

        path = files.ask_open(self, "midi", "Import MIDI", MIDI_FILTER)
        if path is not None:
            self.open_file(path)

    def open_file(self, path: Path) -> bool:
        """Put the notes of MIDI file ``path`` in the editor as one undo step."""
        path = Path(path)
        try:
            clip = MusicDocument.from_file(path).clip
        except DocumentError as exc:
            self.status.setText(f"⚠ {exc}")
            return False
        self.document.replace_clip(f"Import {path.name}", clip, source=str(path))
        self.editor.show_notes()
        self.status.setText(f"Imported {path.name}: {clip.summary()} at {clip.bpm:g} BPM")
        return True

    def export_dialog(self, _checked: bool = False) -> None:
        source = self.document.source
        name = (Path(source).stem if source else "untitled") + ".mid"
        from studio.ui.dialogs import files  # (QFileDialog: on first use, not at paint)

        path = files.ask_save(self, "midi", "Export MIDI", name, "MIDI files (*.mid)", ".mid")
        if path is not None:
            self.export_to(path)

    def export_to(self, path: Path) -> bool:
        """Write the clip as a standard MIDI file (the same notes the editor shows)."""
        path = Path(path)
        try:
            self.document.export(path)
        except (DocumentError, OSError) as exc:
            detail = getattr(exc, "strerror", None) or exc
            self.status.setText(f"⚠ Could not export {path.name}: {detail}")
            return False
        self.document.set_quiet(source=str(path))
        self.status.setText(f"Exported {path}")
        self.remember_saved(path, self.document.clip.provenance_dict())
        return True

    def render_dialog(self, _checked: bool = False) -> None:
        from studio.ui.dialogs import files  # (QFileDialog: on first use, not at paint)

        path = files.ask_save(self, "audio", "Render audio", "untitled.wav",
                              "WAV audio (*.wav);;FLAC audio (*.flac)", ".wav")  # fmt: skip
        if path is not None:
            self.render_to(path)

    def render_to(self, path: Path) -> JobHandle | None:
        """Render the clip with the mix to WAV or FLAC in the background."""
        if not self.document.clip.notes:
            self.status.setText("Nothing to render: draw, import or generate some notes.")
            return None
        doc = self.document
        # The document's values never change in place: a copy holding them renders off-thread.
        copy = MusicDocument(clip=doc.clip, volumes=doc.volumes, muted=doc.muted,
                             soloed=doc.soloed)  # fmt: skip
        soundfont = self.soundfont()

        def work(request, ctx):
            return copy.export(path, soundfont)

        handle = self.context.runner.submit(
            JobSpec(f"Render {Path(path).name}", work, None, key="music.render")
        )
        handle.succeeded.connect(self._on_render_succeeded)
        handle.failed.connect(self._on_play_job_failed)
        return handle

    def _on_render_succeeded(self, path) -> None:
        self.status.setText(f"Rendered {path}")

    # -- playback ----------------------------------------------------------------------------------
    def _on_play_triggered(self, _checked: bool = False) -> None:
        self.toggle_play()

    def toggle_play(self) -> None:
        if self.player.playing or self._play_pending() or self._live_sounding():
            self.stop()
        else:
            self.play()

    def play(self) -> JobHandle | None:
        from studio.music.playback import slice_clip

        doc = self.document
        if not doc.clip.notes:
            self.status.setText("Nothing to play: draw, import or generate some notes.")
            return None
        start, clip = 0.0, doc.midi_clip()
        if doc.bar_range:
            a, b = doc.bar_range
            start = (a - 1) * clip.bar_length
            clip = slice_clip(clip, start, b * clip.bar_length)
            if not clip.notes:
                self.status.setText("The selected bars are empty.")
                return None
        self._play_start = start
        port = self.output_combo.currentData()
        if port:
            self.play_job = self._play_to_port(port, clip, 0.0)
        else:
            self.play_job = self.context.runner.submit(
                JobSpec(
                    "Music: render for playback",
                    _render_audio,
                    {"clip": clip, "mix": doc.mix(), "soundfont": self.soundfont()},
                    key="music.play",
                )  # fmt: skip
            )
            self.play_job.succeeded.connect(self._on_play_job_succeeded)
            self.play_job.failed.connect(self._on_play_job_failed)
        self.update_cancel()
        return self.play_job

    def _on_play_job_succeeded(self, audio) -> None:
        from studio.music.playback import NoAudioDevice

        try:
            self.player.play(
                audio,
                loop=self.document.loop,
                offset_beats=self._play_start,
                bpm=self.document.clip.bpm,
            )
        except NoAudioDevice as exc:
            self.status.setText(f"⚠ {exc}")
            self.update_cancel()
            return
        self._play_timer.start()
        self.update_cancel()

    def _on_play_job_failed(self, message: str, _tb: str) -> None:
        self.status.setText(f"⚠ {message}")
        self.update_cancel()

    def _on_play_timer_timeout(self) -> None:
        if self._live_listening():
            if self._live_sounding():
                self.editor.set_playhead(self.live.position)
            elif self.job is None or self.job.done:
                self.stop()  # the generation ended and its last note has rung out
            return
        if not self.player.playing:
            self.stop()
            return
        pos = self.player.position
        doc = self.document
        if doc.loop and doc.bar_range:
            a, b = doc.bar_range
            span = (b - a + 1) * doc.clip.bar_length
            pos = self._play_start + (pos - self._play_start) % span
        self.editor.set_playhead(pos)

    def stop(self, _checked: bool = False) -> None:
        port_player = getattr(self, "_port_player", None)
        if port_player is not None:
            port_player.stop()
            self._port_player = None
        if self._play_pending():
            self.play_job.cancel()
        self.player.stop()
        if self._live is not None:
            self._live.stop()
        self._live_job = None
        self._play_timer.stop()
        self.editor.set_playhead(None)
        self.update_cancel()

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

    def toggle_record(self, _checked: bool = False) -> None:
        from studio.music.playback import MidiRecorder

        if getattr(self, "_record_port", None) is not None:
            port, self._record_port = self._record_port, None
            port.close()
            self.record_action.setChecked(False)
            clip = self._recorder.clip()
            if clip.notes:
                self.document.replace_clip("Record", clip)
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

        self._recorder = MidiRecorder(bpm=self.document.clip.bpm)
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
        if self._live is not None:
            self._live.close()
        if getattr(self, "_record_port", None) is not None:
            self._record_port.close()
            self._record_port = None
