"""Playback: audio through sounddevice (rendered with the SoundFont synth), MIDI to an output port,
and recording a seed from a MIDI input. No Qt: the panel polls :attr:`AudioPlayer.position`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from studio.core.media import AudioClip, MidiClip, Note
from studio.core.syslibs import quiet_stderr

__all__ = [
    "AudioPlayer",
    "NoAudioDevice",
    "MidiRecorder",
    "midi_ports",
    "MidiPortPlayer",
    "slice_clip",
]


class NoAudioDevice(RuntimeError):
    """No sound card or PortAudio: playback cannot start (rendering to a file still works)."""


def slice_clip(clip: MidiClip, start: float, end: float) -> MidiClip:
    """The notes of ``clip`` that start in [start, end) beats, moved to begin at 0."""
    notes = [
        Note(n.start - start, n.pitch, min(n.duration, end - n.start), n.velocity, n.channel)
        for n in clip.notes
        if start <= n.start < end
    ]
    return MidiClip(
        notes,
        bpm=clip.bpm,
        beats_per_bar=clip.beats_per_bar,
        programs=dict(clip.programs),
        length=end - start,
        beat_unit=clip.beat_unit,
    )


class AudioPlayer:
    """Plays an AudioClip on the default output; ``loop`` repeats it. Thread-safe start/stop."""

    def __init__(self) -> None:
        self._stream = None
        self._audio: np.ndarray | None = None
        self._rate = 44100
        self._frame = 0
        self._loop = False
        self._lock = threading.Lock()
        self.offset_beats = 0.0
        self.bpm = 120.0

    @staticmethod
    def output_available() -> tuple[bool, str]:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as exc:
            return False, f"audio output unavailable: {exc}"
        try:
            device = sd.query_devices(kind="output")
        except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error type
            return False, f"no audio output device ({exc})"
        return True, str(device.get("name", "default"))

    def play(
        self, audio: AudioClip, loop: bool = False, offset_beats: float = 0.0, bpm: float = 120.0
    ) -> None:
        """Start playing (stops what was playing). Raises NoAudioDevice without an output."""
        ok, why = self.output_available()
        if not ok:
            raise NoAudioDevice(why + "; use Render to write a WAV or FLAC file instead")
        import sounddevice as sd

        self.stop()
        samples = audio.samples if audio.samples.ndim == 2 else audio.samples[:, None]
        with self._lock:
            self._audio = np.ascontiguousarray(samples, dtype=np.float32)
            self._rate, self._frame, self._loop = audio.sample_rate, 0, loop
            self.offset_beats, self.bpm = offset_beats, bpm
        try:
            self._stream = sd.OutputStream(
                samplerate=audio.sample_rate,
                channels=self._audio.shape[1],
                dtype="float32",
                callback=self._callback,
            )
            self._stream.start()
        except Exception as exc:  # noqa: BLE001
            self._stream = None
            raise NoAudioDevice(f"could not open the audio output ({exc})") from exc

    def _callback(self, outdata, frames, _time, _status) -> None:
        with self._lock:
            audio = self._audio
            if audio is None:
                outdata[:] = 0
                return
            out = 0
            while out < frames:
                take = min(frames - out, len(audio) - self._frame)
                if take <= 0:
                    if not self._loop:
                        outdata[out:] = 0
                        self._audio = None
                        return
                    self._frame = 0
                    continue
                outdata[out : out + take] = audio[self._frame : self._frame + take]
                self._frame += take
                out += take

    @property
    def playing(self) -> bool:
        return self._audio is not None and self._stream is not None

    @property
    def position(self) -> float:
        """The playhead in beats of the clip."""
        seconds = self._frame / self._rate
        return self.offset_beats + seconds * self.bpm / 60.0

    def append(self, audio: AudioClip) -> None:
        """Queue ``audio`` after what is playing (or start playing it): bars heard as they are
        written. Raises NoAudioDevice without an output."""
        with self._lock:
            if self._audio is not None and self._stream is not None:
                samples = audio.samples if audio.samples.ndim == 2 else audio.samples[:, None]
                self._audio = np.concatenate([self._audio, samples.astype(np.float32)])
                return
        self.play(audio, bpm=self.bpm, offset_beats=self.offset_beats)

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        with self._lock:
            self._audio = None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # noqa: BLE001 - a vanished device must not block stopping
                pass


def midi_ports() -> tuple[list[str], list[str], str]:
    """(outputs, inputs, problem). With no MIDI backend or system, both lists are empty and
    ``problem`` says why."""
    try:
        import mido

        with quiet_stderr():
            return list(mido.get_output_names()), list(mido.get_input_names()), ""
    except Exception as exc:  # noqa: BLE001 - rtmidi raises several types when ALSA is missing
        return [], [], f"no MIDI system ({type(exc).__name__}: {str(exc)[:100]})"


class MidiPortPlayer:
    """Sends a clip's notes to a MIDI output port in real time (a DAW or a hardware synth)."""

    def __init__(self, port) -> None:
        self.port = port
        self._stop = threading.Event()

    def play(self, clip: MidiClip, start: float = 0.0) -> None:
        """Blocking; call from a worker. :meth:`stop` ends it and silences every note."""
        import mido

        seconds_per_beat = 60.0 / clip.bpm
        events = []
        for ch, program in clip.programs.items():
            events.append((0.0, 0, mido.Message("program_change", channel=ch, program=program)))
        for n in clip.notes:
            if n.start < start:
                continue
            events.append(
                (
                    (n.start - start) * seconds_per_beat,
                    2,
                    mido.Message("note_on", channel=n.channel, note=n.pitch, velocity=n.velocity),
                )
            )
            events.append(
                (
                    (n.end - start) * seconds_per_beat,
                    1,
                    mido.Message("note_off", channel=n.channel, note=n.pitch),
                )
            )
        events.sort(key=lambda e: (e[0], e[1]))
        began = time.monotonic()
        try:
            for when, _, msg in events:
                wait = when - (time.monotonic() - began)
                if wait > 0 and self._stop.wait(wait):
                    break
                self.port.send(msg)
        finally:
            for ch in range(16):
                self.port.send(mido.Message("control_change", channel=ch, control=123, value=0))

    def stop(self) -> None:
        self._stop.set()


@dataclass
class MidiRecorder:
    """Builds a MidiClip from incoming MIDI messages (a keyboard through mido, or any iterable)."""

    bpm: float = 120.0

    def __post_init__(self) -> None:
        self._open: dict[tuple[int, int], tuple[float, int]] = {}
        self.notes: list[Note] = []
        self._t0: float | None = None

    def feed(self, msg, at: float | None = None) -> None:
        """One message; ``at`` is its time in seconds (default: now)."""
        now = time.monotonic() if at is None else at
        if self._t0 is None and msg.type == "note_on" and msg.velocity > 0:
            self._t0 = now
        if self._t0 is None:
            return
        beat = (now - self._t0) * self.bpm / 60.0
        key = (msg.channel, msg.note) if hasattr(msg, "note") else None
        if msg.type == "note_on" and msg.velocity > 0:
            self._open[key] = (beat, msg.velocity)
        elif msg.type in ("note_off", "note_on") and key in self._open:
            start, velocity = self._open.pop(key)
            if beat > start:
                self.notes.append(
                    Note(round(start, 4), msg.note, round(beat - start, 4), velocity, msg.channel)
                )

    def feed_all(self, timed_messages: Iterable[tuple[float, object]]) -> MidiClip:
        for at, msg in timed_messages:
            self.feed(msg, at)
        return self.clip()

    def clip(self) -> MidiClip:
        return MidiClip(sorted(self.notes), bpm=self.bpm)
