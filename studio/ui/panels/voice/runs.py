"""The Voice panel's jobs: speak (streamed to the speakers as it is made), sing, play a take,
transcribe a recording and export a take. Each reads its request from the document when it
starts and puts its result back as one undoable step (a new take, a transcribed text)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from studio.core.jobs import JobSpec
from studio.core.media import AudioClip
from studio.ui.dialogs import files
from studio.voice.document import Take, write_take

__all__ = ["VoiceRuns", "EXPORT_FILTER"]

log = logging.getLogger(__name__)

EXPORT_FILTER = "WAV audio (*.wav);;FLAC audio (*.flac);;Ogg Vorbis (*.ogg)"
SOUND_FILTER = "Sound (*.wav *.flac *.ogg);;All files (*)"


class VoiceRuns:
    """Mixed into :class:`VoicePanel` (a PanelBase): the panel's jobs and their results."""

    _playing = False
    _no_sound = ""

    @property
    def cache(self):
        if self._cache is None:
            from studio.voice.speech import SpeakerCache

            self._cache = SpeakerCache(self.context.store, self.context.device)
        return self._cache

    def run_current(self) -> None:
        """Ctrl+Return: speak on the Speak tab, sing on the Sing tab."""
        if self.tabs.currentIndex() == 0:
            self.speak()
        else:
            self.sing()

    def _start_sound(self, rate: int, channels: int = 1) -> None:
        from studio.voice.player import NoAudioDevice

        self._playing, self._no_sound = True, ""
        try:
            self.player.start(rate, channels)
        except NoAudioDevice as exc:
            self._playing, self._no_sound = False, str(exc)

    # -- speaking ----------------------------------------------------------------------------------
    def speak(self):
        """Speak the text (or the selected part of it) with the document's settings; the
        result becomes a new take. Returns the job (None when there is nothing to say)."""
        from studio.voice.speech import speak

        doc = self.document
        cursor = self.editor.textCursor()
        text = cursor.selectedText().replace("\u2029", "\n") or doc.text
        if not text.strip():
            self.status.setText("⚠ Nothing to say: type some text first.")
            return None
        self.stop()
        settings = doc.settings
        if settings.plugin is not None:
            return self._speak_with_plugin(settings.plugin, text)
        speech = settings.speech(doc.ssml)
        info = self._voices.get(settings.voice)
        self.waveform.clear()
        self._start_sound(info.sample_rate if info else 22050)
        player, cache, playing = self.player, self.cache, self._playing

        def sink(chunk) -> None:
            if playing:
                player.feed(chunk.samples)

        def work(_request, ctx):
            try:
                return speak(text, speech, ctx, cache=cache, sink=sink)
            finally:
                player.finish()

        handle = self.start_job(
            JobSpec(title="Voice: speak", fn=work, family="voice", key="voice.run")
        )
        self._timer.start()
        return handle

    def _speak_with_plugin(self, ref_id: str, text: str):
        """A plugin's voice: its parameters, its AudioClip (played when it is done)."""
        from studio.voice.speech import SpeechResult

        registry, device = self.context.registry, self.context.device
        params = {**self.plugin_form.values(), **dict(self.document.settings.plugin_params)}
        request = {**params, "text": text}

        def work(req, ctx):
            clip = registry.run(ref_id, req, ctx, device=device)
            if not isinstance(clip, AudioClip):
                raise TypeError(f"{ref_id} returned {type(clip).__name__}, not audio")
            return SpeechResult(clip.duration, clip.sample_rate, [], None, [], dict(req), text,
                                audio=clip)  # fmt: skip

        self._no_sound, self._playing = "", False
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

    def _on_job_succeeded(self, result) -> None:
        if not self._is_current():
            return
        self.progress.setValue(1000)
        self.cancel_button.setEnabled(self.player.playing)
        speech = hasattr(result, "marks")
        if speech and result.audio is None:
            self.status.setText(
                f"⚠ {result.duration / 60:.0f} minutes is too long to keep as a take: "
                "write it to a file with `studio voice say`."
            )
            return
        audio: AudioClip = result.audio
        provenance = {**audio.provenance}
        if speech:
            provenance.setdefault("voice", result.settings.get("voice", ""))
            if getattr(result, "voices_used", None):
                provenance["voices_used"] = list(result.voices_used)
            if (self.job.spec.family or "").startswith("plugin:"):
                provenance["engine"] = self.job.spec.family
                self._play_clip(audio)  # a plugin's voice plays when it is done
        take = Take(
            id=0, kind="speech" if speech else "song", samples=audio.samples,
            sample_rate=audio.sample_rate,
            text=result.text if speech else self.document.lyrics, provenance=provenance,
            marks=tuple((m.time, m.text) for m in result.marks) if speech else (),
        )  # fmt: skip
        take = self.document.add_take(take)
        if speech:
            parts = [f"Take {take.id}: {take.duration:.1f} s, {len(take.marks)} sentences"]
            if result.first_audio_after is not None:
                parts.append(f"first sound after {result.first_audio_after * 1000:.0f} ms")
            message = " · ".join(parts)
        else:
            self.melody_view.set_melody(
                [n.note for n in result.notes], [n.syllable for n in result.notes]
            )
            message = f"Take {take.id}: {take.duration:.1f} s sung"
            if self._playing:
                self.player.feed(audio.samples)
                self.player.finish()
        notes = list(getattr(result, "warnings", [])) + list(getattr(result, "messages", []))
        if self._no_sound:
            notes.insert(0, f"no sound: {self._no_sound}")
        self.status.setText(message + "".join(f"\n⚠ {n}" for n in notes[:4]))

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

    # -- singing -----------------------------------------------------------------------------------
    def sing(self):
        """Sing the document's melody (the Music panel's when it has none) with its lyrics; the
        result becomes a new take. Returns the job, or None without a melody."""
        from studio.voice.sing import sing_clip

        doc = self.document
        if doc.melody is None and not self.take_music_melody():
            return None
        settings = doc.settings
        clip, lyrics, cache = doc.melody, doc.lyrics, self.cache
        sing_settings, track, backing = settings.sing(), settings.track, settings.accompaniment
        soundfont = self.context.settings.soundfont or None
        self.stop()

        def work(_request, ctx):
            return sing_clip(
                clip, lyrics, sing_settings, ctx, track=track, accompaniment=backing,
                soundfont=Path(soundfont) if soundfont else None, cache=cache,
            )  # fmt: skip

        self._start_sound(44100 if backing else 22050, 2 if backing else 1)
        handle = self.start_job(
            JobSpec(title="Voice: sing", fn=work, family="voice", key="voice.run")
        )
        self._timer.start()
        return handle

    # -- playing -----------------------------------------------------------------------------------
    def play(self) -> None:
        """Play the selected take from its start."""
        take = self.document.take()
        if take is None:
            self.status.setText("Speak or sing first: there is no take to play.")
            return
        self.stop()
        self._play_clip(take.audio())
        self.status.setText(
            f"Playing take {take.id}" + (f" · no sound: {self._no_sound}" if self._no_sound else "")
        )

    def _play_clip(self, clip: AudioClip) -> None:
        self._start_sound(clip.sample_rate, clip.channels)
        if self._playing:
            self.player.feed(clip.samples)
            self.player.finish()
            self._timer.start()

    def stop(self) -> None:
        """Silence at once and stop making more (Esc)."""
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
            melody = self.document.melody
            if self.tabs.currentIndex() == 0:
                self.waveform.set_playhead(seconds)
            elif melody is not None:
                self.melody_view.playhead = seconds * melody.bpm / 60.0
                self.melody_view.update()
            self.cancel_button.setEnabled(True)
        elif self.job is None or self.job.done:
            self._timer.stop()
            self.waveform.set_playhead(None)
            self.melody_view.playhead = None
            self.melody_view.update()
            self.cancel_button.setEnabled(False)

    # -- transcribing ------------------------------------------------------------------------------
    def transcribe_dialog(self) -> None:
        path = files.ask_open(self, "audio", "A recording of speech", SOUND_FILTER)
        if path is not None:
            self.transcribe(path)

    def transcribe(self, path: Path, transcriber: str | None = None):
        """Run a transcriber plugin on a recording; its text replaces the text to speak, or the
        lyrics when the Sing tab is in front, as one undoable step. Returns the job (None
        without a transcriber)."""
        refs = self.context.registry.contributions("transcriber")
        if not refs:
            self.status.setText(
                "No transcriber is installed (the dictation example plugin is one)."
            )
            return None
        qualified = transcriber or refs[0].id
        registry = self.context.registry

        def work(_request, ctx):
            import soundfile

            samples, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
            return registry.run(qualified, {"audio": AudioClip(samples, int(rate))}, ctx)

        handle = self.context.runner.submit(
            JobSpec(title=f"Voice: transcribe {path.name}", fn=work, family=f"plugin:{qualified}")
        )
        self._transcribing[handle] = (Path(path), self.tabs.currentIndex() == 1)
        handle.succeeded.connect(self._on_transcribe_succeeded)
        handle.failed.connect(self._on_transcribe_failed)
        return handle

    def _on_transcribe_succeeded(self, text) -> None:
        path, into_lyrics = self._transcribing.pop(self.sender(), (Path("?"), False))
        if into_lyrics:
            self.document.set(f"Transcribe {path.name} into the lyrics", lyrics=str(text))
        else:
            self.document.set(f"Transcribe {path.name}", text=str(text), ssml=None)
        where = "the lyrics" if into_lyrics else "the text to speak"
        self.status.setText(f"Transcribed {path.name} into {where} (Edit ▸ Undo takes it back).")

    def _on_transcribe_failed(self, message: str, _tb: str) -> None:
        self._transcribing.pop(self.sender(), None)
        self.status.setText(f"⚠ {message}")

    # -- exporting ---------------------------------------------------------------------------------
    def export_dialog(self) -> Path | None:
        """Ctrl+E: write the selected take where the artist says."""
        take = self.document.take()
        if take is None:
            self.status.setText("Speak or sing first, then export.")
            return None
        path = files.ask_save(
            self, "audio", "Export take", f"take-{take.id}.flac", EXPORT_FILTER, suffix=".flac"
        )
        if path is None:
            return None
        self.export_to(path)
        return path

    def export_to(self, path: Path):
        """Write the selected take in a job (the disk never blocks the window). Returns it."""
        take = self.document.take()
        if take is None:
            self.status.setText("Speak or sing first, then export.")
            return None
        path = Path(path)
        handle = self.context.runner.submit(
            JobSpec(title=f"Voice: export {path.name}", fn=lambda _r, _c: write_take(take, path),
                    key="voice.export")
        )  # fmt: skip
        self._exports[handle] = take.provenance
        handle.succeeded.connect(self._on_export_succeeded)
        handle.failed.connect(self._on_export_failed)
        self.status.setText(f"Exporting take {take.id} to {path.name}…")
        return handle

    def _on_export_succeeded(self, path) -> None:
        provenance = self._exports.pop(self.sender(), {})
        self.status.setText(f"Exported {path}")
        log.info("exported %s", path)
        self.remember_saved(path, {"engine": "studio/voice", **provenance})

    def _on_export_failed(self, message: str, _tb: str) -> None:
        self._exports.pop(self.sender(), None)
        self.status.setText(f"⚠ Could not export: {message}")

    def shutdown(self) -> None:
        self.stop()
        self.player.stop()
