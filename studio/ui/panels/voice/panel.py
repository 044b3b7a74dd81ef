"""Voice panel: speak text or SSML with a chosen voice (streamed as it is made), and sing a
melody from the Music panel or a MIDI file with lyrics."""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobSpec
from studio.core.media import AudioClip, MidiClip
from studio.ui.context import StudioContext
from studio.ui.panels.base import PanelBase
from studio.ui.panels.voice.widgets import MelodyView, SsmlHighlighter, WaveformView
from studio.ui.widgets.param_form import ParamForm
from studio.voice.sing import SING_PARAMS
from studio.voice.speech import SPEECH_PARAMS

__all__ = ["VoicePanel"]

log = logging.getLogger(__name__)

SAMPLE_TEXT = (
    "<speak>Welcome to Studio. This voice runs on your own computer, with no cloud service.\n"
    '<p>You can use <emphasis>SSML</emphasis> too: <break time="400ms"/>'
    '<prosody rate="slow" pitch="-2st">slower and lower,</prosody> or read a date: '
    '<say-as interpret-as="date" format="ymd">2026-11-27</say-as>.</p></speak>'
)
SAMPLE_LYRICS = "Hap-py birth-day to you"
EXPORT_FILTER = "WAV audio (*.wav);;FLAC audio (*.flac);;Ogg Vorbis (*.ogg)"


def _spin(params, name: str, decimals: int = 2, suffix: str = "") -> QDoubleSpinBox:
    """A spin box with the range, step and default of the parameter ``name`` in ``params``."""
    param = next(p for p in params if p.name == name)
    box = QDoubleSpinBox()
    box.setRange(param.minimum, param.maximum)
    box.setSingleStep(param.step or 0.1)
    box.setDecimals(decimals)
    box.setValue(param.default)
    box.setToolTip(param.help)
    if suffix:
        box.setSuffix(suffix)
    return box


class VoicePanel(PanelBase):
    panel_id = "voice"
    title = "Voice"
    cancelled_message = "Stopped."

    def __init__(self, context: StudioContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        from studio.voice.player import StreamPlayer

        self.player = StreamPlayer()
        self._cache = None
        self.result: Any = None  # SpeechResult or SongResult
        self.melody: MidiClip | None = None
        self.melody_name = ""

        # -- shared controls --
        self.make_progress("Pick a voice, type, and press Speak (Ctrl+Return).")
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.setObjectName("stop_button")
        self.cancel_button.setToolTip("Stop speaking or singing (Esc)")
        self.cancel_button.setEnabled(False)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("export_button")
        self.export_button.setToolTip(
            "Write WAV, FLAC or OGG with the text in its metadata (Ctrl+S)"
        )
        self.export_button.setEnabled(False)
        self.transcribe_button = QPushButton("Transcribe…")
        self.transcribe_button.setObjectName("transcribe_button")
        self.transcribe_button.setToolTip(
            "Speech from a recording, by a transcriber plugin: into the text to speak, or into "
            "the lyrics on the Sing tab"
        )

        # -- speak tab --
        self.voice_combo = QComboBox()
        self.voice_combo.setObjectName("voice_combo")
        self.voice_combo.setMaxVisibleItems(20)
        self.voice_note = QLabel()
        self.voice_note.setObjectName("voice_note")
        self.voice_note.setWordWrap(True)
        self.rate = _spin(SPEECH_PARAMS, "rate", suffix=" ×")
        self.pitch = _spin(SPEECH_PARAMS, "pitch", 1, " st")
        self.volume = _spin(SPEECH_PARAMS, "volume")
        self.pause = _spin(SPEECH_PARAMS, "sentence_pause", suffix=" s")
        self.variation = _spin(SPEECH_PARAMS, "variation", 1)
        self.variation.setToolTip("Piper only: 0 flat and even, 1 the voice's default, 2 lively")
        # a voice generator from a third-party plugin brings its own parameters
        self.plugin_form = ParamForm()
        self.plugin_form.setObjectName("plugin_form")
        self.plugin_form.setVisible(False)
        self.speak_button = QPushButton("Speak")
        self.speak_button.setObjectName("speak_button")
        self.speak_button.setToolTip("Speak the text, or the selection (Ctrl+Return)")
        self.speak_button.setDefault(True)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("voice_text")
        self.editor.setPlaceholderText("Type text or SSML (<speak>…</speak>) here.")
        self.editor.setPlainText(SAMPLE_TEXT)
        self.highlighter = SsmlHighlighter(self.editor.document())
        self.waveform = WaveformView()

        speak_left = QWidget()
        form = QFormLayout(speak_left)
        form.addRow("Voice", self.voice_combo)
        form.addRow(self.voice_note)
        form.addRow("Rate", self.rate)
        form.addRow("Pitch", self.pitch)
        form.addRow("Volume", self.volume)
        form.addRow("Sentence pause", self.pause)
        form.addRow("Variation", self.variation)
        form.addRow(self.plugin_form)
        form.addRow(self.speak_button)
        speak_right = QWidget()
        sv = QVBoxLayout(speak_right)
        sv.setContentsMargins(0, 0, 0, 0)
        sv.addWidget(self.editor, 3)
        sv.addWidget(self.waveform, 1)

        # -- sing tab --
        self.from_music_button = QPushButton("Use the Music panel's melody")
        self.from_music_button.setObjectName("from_music_button")
        self.open_midi_button = QPushButton("Open MIDI…")
        self.track_combo = QComboBox()
        self.track_combo.setObjectName("track_combo")
        self.lyrics = QPlainTextEdit()
        self.lyrics.setObjectName("lyrics")
        self.lyrics.setPlainText(SAMPLE_LYRICS)
        self.lyrics.setMaximumHeight(90)
        self.lyrics.setToolTip(
            "Spaces separate words; a hyphen splits syllables (hap-py); _ holds the last "
            "syllable over one more note. Extra syllables are left out; notes without one "
            "are sung on 'la'."
        )
        self.vibrato = _spin(SING_PARAMS, "vibrato_depth", 0, " cents")
        self.vibrato_rate = _spin(SING_PARAMS, "vibrato_rate", 1, " Hz")
        self.glide = _spin(SING_PARAMS, "glide", 2, " s")
        self.transpose = QSpinBox()
        transpose = next(p for p in SING_PARAMS if p.name == "transpose")
        self.transpose.setRange(int(transpose.minimum or 0), int(transpose.maximum or 0))
        self.transpose.setSuffix(" st")
        self.accompaniment = QCheckBox("Mix the other tracks under the voice")
        self.sing_button = QPushButton("Sing")
        self.sing_button.setObjectName("sing_button")
        self.sing_button.setToolTip("Sing the melody with the lyrics (Ctrl+Return)")
        self.melody_view = MelodyView()

        sing_left = QWidget()
        sf = QFormLayout(sing_left)
        sf.addRow(self.from_music_button)
        sf.addRow(self.open_midi_button)
        sf.addRow("Track", self.track_combo)
        sung_by = QLabel("Sung by the voice picked on the Speak tab (a Piper voice sings best).")
        sung_by.setWordWrap(True)
        sf.addRow(sung_by)
        sf.addRow("Vibrato", self.vibrato)
        sf.addRow("Vibrato rate", self.vibrato_rate)
        sf.addRow("Glide", self.glide)
        sf.addRow("Transpose", self.transpose)
        sf.addRow(self.accompaniment)
        sf.addRow(self.sing_button)
        sing_right = QWidget()
        gv = QVBoxLayout(sing_right)
        gv.setContentsMargins(0, 0, 0, 0)
        gv.addWidget(QLabel("Lyrics"))
        gv.addWidget(self.lyrics)
        gv.addWidget(self.melody_view, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("voice_tabs")
        speak_tab, sing_tab = QWidget(), QWidget()
        for tab, left, right in (
            (speak_tab, speak_left, speak_right),
            (sing_tab, sing_left, sing_right),
        ):
            h = QHBoxLayout(tab)
            left.setMaximumWidth(330)
            h.addWidget(left)
            h.addWidget(right, 1)
        self.tabs.addTab(speak_tab, "Speak")
        self.tabs.addTab(sing_tab, "Sing")

        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(self.tabs, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.transcribe_button)
        bottom.addWidget(self.progress, 1)
        outer.addLayout(bottom)
        outer.addWidget(self.status)

        self.speak_button.clicked.connect(self.speak)
        self.sing_button.clicked.connect(self.sing)
        self.cancel_button.clicked.connect(self.stop)
        self.export_button.clicked.connect(self.export_dialog)
        self.transcribe_button.clicked.connect(self.transcribe_dialog)
        self.transcribe_button.setEnabled(bool(self.context.registry.contributions("transcriber")))
        self.from_music_button.clicked.connect(self.take_music_melody)
        self.open_midi_button.clicked.connect(self.open_midi_dialog)
        self.voice_combo.currentIndexChanged.connect(self._on_voice_combo_changed)
        self.lyrics.textChanged.connect(self._preview_melody)
        self.track_combo.currentIndexChanged.connect(self._preview_melody)
        self.add_shortcuts(
            (
                ("Ctrl+Return", self.run_current),
                (QKeySequence.StandardKey.Save, self.export_dialog),
                ("Escape", self.stop),
            )
        )
        self._timer = QTimer(self)
        self._timer.setInterval(40)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._voices_job = None
        self.load_voices()

    # -- voices ------------------------------------------------------------------------------------
    @property
    def cache(self):
        if self._cache is None:
            from studio.voice.speech import SpeakerCache

            self._cache = SpeakerCache(self.context.store, self.context.device)
        return self._cache

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
        self.voice_combo.blockSignals(True)
        self.voice_combo.clear()
        for v in voices:
            self.voice_combo.addItem(v.label, v.id)
            tip = f"{v.id}\n{v.sample_rate} Hz · licence: {v.licence}"
            if v.restriction:
                tip += f"\n⚠ {v.restriction}"
            self.voice_combo.setItemData(
                self.voice_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
            )
        for ref in self.context.registry.contributions("voice"):
            if ref.id.split("/")[0] == "studio":
                continue  # the built-in engines are listed voice by voice above
            self.voice_combo.addItem(f"{ref.title} (plugin {ref.id})", f"plugin:{ref.id}")
        self.voice_combo.blockSignals(False)
        self._voices = {v.id: v for v in voices}
        if not voices:
            self.status.setText("⚠ No voices installed: pip install piper-tts espeakng-loader")
        for problem in self.cache.problems:
            log.warning("voice: %s", problem)
        self._on_voice_combo_changed()

    def _on_voices_failed(self, message: str, _tb: str) -> None:
        self.status.setText(f"⚠ Could not list the voices: {message}")

    def _on_voice_combo_changed(self, *_args) -> None:
        data = self.voice_combo.currentData() or ""
        plugin = data.startswith("plugin:")
        for box in (self.rate, self.pitch, self.volume, self.pause, self.variation):
            box.setEnabled(not plugin)
        self.plugin_form.setVisible(plugin)
        if plugin:
            try:
                ref = self.context.registry.get(data.split(":", 1)[1])
                generator = self.context.registry.generator(ref)
            except Exception as exc:  # noqa: BLE001 - a broken plugin is shown, not fatal
                self.voice_note.setText(f"⚠ {exc}")
                self.plugin_form.set_params(())
                return
            self.plugin_form.set_params(generator.params)
            self.voice_note.setText(ref.contribution.description or generator.description)
            return
        info = getattr(self, "_voices", {}).get(data)
        if info is None:
            self.voice_note.setText("")
            return
        text = (
            f"{info.language} · {info.quality} · {info.sample_rate} Hz<br>Licence: {info.licence}"
        )
        if info.restriction:
            text += f"<br><b>⚠ {info.restriction}</b>"
        self.voice_note.setText(text)
        self.variation.setEnabled(info.engine == "piper")

    def select_voice(self, voice_id: str) -> bool:
        index = self.voice_combo.findData(voice_id)
        if index >= 0:
            self.voice_combo.setCurrentIndex(index)
        return index >= 0

    # -- speaking ----------------------------------------------------------------------------------
    def settings(self):
        from studio.voice.speech import SpeechSettings

        return SpeechSettings(
            voice=self.voice_combo.currentData() or "",
            rate=self.rate.value(),
            pitch=self.pitch.value(),
            volume=self.volume.value(),
            sentence_pause=self.pause.value(),
            variation=self.variation.value(),
        )

    def run_current(self) -> None:
        if self.tabs.currentIndex() == 0:
            self.speak()
        else:
            self.sing()

    def speak(self):
        from studio.voice.player import NoAudioDevice
        from studio.voice.speech import speak

        cursor = self.editor.textCursor()
        text = cursor.selectedText().replace("\u2029", "\n") or self.editor.toPlainText()
        if not text.strip():
            self.status.setText("⚠ Nothing to say: type some text first.")
            return None
        self.stop()
        settings = self.settings()
        if settings.voice.startswith("plugin:"):
            return self._speak_with_plugin(settings.voice.split(":", 1)[1], text)
        info = getattr(self, "_voices", {}).get(settings.voice)
        rate = info.sample_rate if info else 22050
        self.waveform.clear()
        self._playing = True
        try:
            self.player.start(rate)
        except NoAudioDevice as exc:
            self._playing = False
            self._no_sound = str(exc)
        else:
            self._no_sound = ""
        player, cache, playing = self.player, self.cache, self._playing

        def sink(chunk) -> None:
            if playing:
                player.feed(chunk.samples)

        def work(_request, ctx):
            try:
                return speak(text, settings, ctx, cache=cache, sink=sink)
            finally:
                player.finish()

        self.result = None
        self.export_button.setEnabled(False)
        handle = self.start_job(
            JobSpec(title="Voice: speak", fn=work, family="voice", key="voice.run")
        )
        self._timer.start()
        return handle

    def _speak_with_plugin(self, ref_id: str, text: str):
        """A plugin's voice: its parameters, its AudioClip (streamed only if it uses the sink)."""
        from studio.voice.speech import SpeechResult

        registry, device = self.context.registry, self.context.device
        request = {**self.plugin_form.values(), "text": text}

        def work(req, ctx):
            clip = registry.run(ref_id, req, ctx, device=device)
            if not isinstance(clip, AudioClip):
                raise TypeError(f"{ref_id} returned {type(clip).__name__}, not audio")
            mono = clip.samples if clip.samples.ndim == 1 else clip.samples.mean(axis=1)
            hop = max(1, int(0.01 * clip.sample_rate))
            env = abs(mono[: len(mono) // hop * hop]).reshape(-1, hop).max(axis=1)
            return SpeechResult(
                clip.duration, clip.sample_rate, [], env, [], dict(req), text, audio=clip
            )

        self._no_sound, self._playing = "", False
        self.result = None
        self.export_button.setEnabled(False)
        spec = JobSpec(
            title=f"Voice: {ref_id}", fn=work, request=request, family=f"plugin:{ref_id}",
            key="voice.run",
        )  # fmt: skip
        return self.start_job(spec)

    def _on_job_partial(self, chunk) -> None:
        if not self._is_current() or not hasattr(chunk, "segment"):
            return
        if chunk.mark is not None:
            self.waveform.add_mark(chunk.mark.time, chunk.mark.text)
        self.waveform.add(chunk.samples, chunk.sample_rate)

    _playing = False
    _no_sound = ""

    def _on_job_succeeded(self, result) -> None:
        if not self._is_current():
            return
        self.progress.setValue(1000)
        if isinstance(result, Path):
            self.status.setText(f"Exported {result}")
            log.info("exported %s", result)
            self.remember_saved(result, {"engine": "studio/voice"})
            return
        self.cancel_button.setEnabled(self.player.playing)
        self.result = result
        self.export_button.setEnabled(True)
        if hasattr(result, "marks"):  # speech
            if (self.job.spec.family or "").startswith("plugin:"):
                self._play_clip(result.audio)  # a plugin's voice plays when it is done
            self.waveform.set_envelope(result.envelope)
            self.waveform.marks = [(m.time, m.text) for m in result.marks]
            parts = [f"{result.duration:.1f} s, {len(result.marks)} sentences"]
            if result.first_audio_after is not None:
                parts.append(f"first sound after {result.first_audio_after * 1000:.0f} ms")
            message = " · ".join(parts)
        else:  # song
            self.melody_view.set_melody(
                [n.note for n in result.notes], [n.syllable for n in result.notes]
            )
            message = f"{result.audio.duration:.1f} s sung"
            if self._playing:
                self.player.feed(result.audio.samples)
                self.player.finish()
        notes = list(getattr(result, "warnings", [])) + list(getattr(result, "messages", []))
        if self._no_sound:
            notes.insert(0, f"no sound: {self._no_sound}")
        self.status.setText(message + "".join(f"\n⚠ {n}" for n in notes[:4]))

    def _play_clip(self, clip: AudioClip) -> None:
        from studio.voice.player import NoAudioDevice

        try:
            self.player.start(clip.sample_rate, clip.channels)
        except NoAudioDevice as exc:
            self._no_sound = str(exc)
            return
        self.player.feed(clip.samples)
        self.player.finish()
        self._timer.start()

    def _on_job_failed(self, message: str, _tb: str) -> None:
        if not self._is_current():
            return
        self.player.cancel()
        self.cancel_button.setEnabled(False)
        self.status.setText(f"⚠ {message}")
        m = re.search(r"line (\d+), column (\d+)", message)
        if m and self.tabs.currentIndex() == 0:
            # put the cursor where the SSML is wrong
            block = self.editor.document().findBlockByNumber(int(m[1]) - 1)
            cursor = self.editor.textCursor()
            cursor.setPosition(block.position() + max(0, int(m[2]) - 1))
            self.editor.setTextCursor(cursor)
            self.editor.setFocus()

    def stop(self) -> None:
        """Silence at once and stop making more."""
        self.player.cancel()
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self.cancel_button.setEnabled(False)
        self.waveform.set_playhead(None)
        self.melody_view.playhead = None
        self.melody_view.update()
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        if self.player.playing:
            seconds = self.player.position
            if self.tabs.currentIndex() == 0:
                self.waveform.set_playhead(seconds)
            elif self.melody is not None:
                self.melody_view.playhead = seconds * self.melody.bpm / 60.0
                self.melody_view.update()
            self.cancel_button.setEnabled(True)
        elif self.job is None or self.job.done:
            self._timer.stop()
            self.waveform.set_playhead(None)
            self.melody_view.playhead = None
            self.melody_view.update()
            self.cancel_button.setEnabled(False)

    # -- singing -----------------------------------------------------------------------------------
    def take_music_melody(self) -> bool:
        clip = self.context.shared.get("music.clip")
        if clip is None or not clip.notes:
            self.status.setText("⚠ The Music panel has no notes yet: compose or open something.")
            return False
        self.set_melody(copy.deepcopy(clip), "the Music panel")
        return True

    def open_midi_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open MIDI", "", "MIDI files (*.mid *.midi)")
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        """A .mid opens in the Sing tab; a text or SSML file in the Speak tab."""
        if path.suffix.lower() in (".mid", ".midi"):
            try:
                clip = MidiClip.load(path)
            except (ValueError, OSError, EOFError) as exc:
                self.status.setText(f"⚠ {path.name} is not a readable MIDI file: {exc}")
                return False
            if not clip.notes:
                self.status.setText(f"⚠ {path.name} has no notes to sing.")
                return False
            self.set_melody(clip, path.name)
            return True
        try:
            self.editor.setPlainText(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            self.status.setText(f"⚠ Could not read {path.name}: {exc}")
            return False
        self.tabs.setCurrentIndex(0)
        return True

    def set_melody(self, clip: MidiClip, name: str) -> None:
        self.melody, self.melody_name = clip, name
        self.track_combo.blockSignals(True)
        self.track_combo.clear()
        for channel in sorted({n.channel for n in clip.notes}):
            count = sum(1 for n in clip.notes if n.channel == channel)
            self.track_combo.addItem(f"Track {channel + 1} ({count} notes)", channel)
        self.track_combo.blockSignals(False)
        self.tabs.setCurrentIndex(1)
        self._preview_melody()
        self.status.setText(f"Melody from {name}: {len(clip.notes)} notes. Type lyrics, then Sing.")

    def _preview_melody(self, *_args) -> None:
        """Show the syllables under the notes as typed (hyphens; the sung split may refine it)."""
        if self.melody is None:
            return
        from studio.voice.sing import assign, melody_from_clip, split_lyrics

        try:
            notes, _ = melody_from_clip(self.melody, self.track_combo.currentData())
        except ValueError:
            return
        syllables = split_lyrics(self.lyrics.toPlainText())
        plan, _ = assign(syllables, notes)
        labels = ["la" if s < 0 else ("_" if k else syllables[s].text) for s, k in plan]
        self.melody_view.set_melody(notes, labels)

    def sing(self):
        from studio.voice.player import NoAudioDevice
        from studio.voice.sing import SingSettings, sing_clip

        if self.melody is None and not self.take_music_melody():
            return None
        assert self.melody is not None
        voice = self.voice_combo.currentData() or ""
        settings = SingSettings(
            voice=voice,
            vibrato_depth=self.vibrato.value(),
            vibrato_rate=self.vibrato_rate.value(),
            glide=self.glide.value(),
            transpose=self.transpose.value(),
        )
        self.stop()
        clip, lyrics, cache = self.melody, self.lyrics.toPlainText(), self.cache
        track, backing = self.track_combo.currentData(), self.accompaniment.isChecked()
        soundfont = self.context.settings.soundfont or None

        def work(_request, ctx):
            return sing_clip(
                clip, lyrics, settings, ctx, track=track, accompaniment=backing,
                soundfont=Path(soundfont) if soundfont else None, cache=cache,
            )  # fmt: skip

        self.result = None
        self.export_button.setEnabled(False)
        rate = 44100 if backing else 22050
        self._playing = True
        try:
            self.player.start(rate, 2 if backing else 1)
        except NoAudioDevice as exc:
            self._playing, self._no_sound = False, str(exc)
        else:
            self._no_sound = ""
        handle = self.start_job(
            JobSpec(title="Voice: sing", fn=work, family="voice", key="voice.run")
        )
        self._timer.start()
        return handle

    # -- export ------------------------------------------------------------------------------------
    def export_dialog(self) -> Path | None:
        if self.result is None:
            self.status.setText("Speak or sing first, then export.")
            return None
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export audio", "voice.flac", EXPORT_FILTER
        )
        if not path:
            return None
        target = Path(path)
        if not target.suffix:
            target = target.with_suffix("." + chosen.split("*.")[1].rstrip(")"))
        self.export_to(target)
        return target

    def transcribe_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "A recording of speech", "", "Sound (*.wav *.flac *.ogg);;All files (*)"
        )
        if path:
            self.transcribe(Path(path))

    def transcribe(self, path: Path, transcriber: str | None = None):
        """Run a transcriber plugin on a recording; its text goes into the Speak tab's editor,
        or into the lyrics when the Sing tab is in front. Returns the job (None without one)."""
        refs = self.context.registry.contributions("transcriber")
        if not refs:
            self.status.setText(
                "No transcriber is installed (the dictation example plugin is one)."
            )
            return None
        qualified = transcriber or refs[0].id
        registry = self.context.registry
        into_lyrics = self.tabs.currentIndex() == 1

        def work(_request, ctx):
            import soundfile

            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
            return registry.run(qualified, {"audio": AudioClip(samples, int(rate))}, ctx)

        def done(text) -> None:
            target = self.lyrics if into_lyrics else self.editor
            target.setPlainText(str(text))
            where = "the lyrics" if into_lyrics else "the text to speak"
            self.status.setText(f"Transcribed {path.name} into {where}.")

        handle = self.context.runner.submit(
            JobSpec(title=f"Voice: transcribe {path.name}", fn=work, family=f"plugin:{qualified}")
        )
        handle.succeeded.connect(done)
        handle.failed.connect(lambda message, _tb: self.status.setText(message))
        return handle

    def export_to(self, path: Path):
        """Write the last result in a job (the disk never blocks the window)."""
        from studio.voice.speech import AudioWriter, SpeechSettings, speak

        result = self.result
        if result is None:
            return None
        audio: AudioClip | None = getattr(result, "audio", None)
        text = getattr(result, "text", "") or self.lyrics.toPlainText()
        meta = getattr(result, "settings", None) or (audio.provenance if audio else {})
        cache = self.cache

        def work(_request, ctx):
            channels = audio.channels if audio is not None else 1
            rate = audio.sample_rate if audio is not None else result.sample_rate
            with AudioWriter(path, rate, channels, text=text, settings=meta) as writer:
                if audio is not None:
                    writer.write(audio.samples)
                else:  # too long to keep in memory: speak it again straight into the file
                    speak(
                        text, SpeechSettings(**meta), ctx, cache=cache, sink=writer, keep_seconds=0
                    )
            return path

        self._export_path = path
        return self.start_job(
            JobSpec(title=f"Voice: export {path.name}", fn=work, key="voice.export")
        )

    def shutdown(self) -> None:
        self.stop()
        self.player.stop()
