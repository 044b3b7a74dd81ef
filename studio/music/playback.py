"""Playback: audio through sounddevice (rendered with the SoundFont synth), MIDI to an output port,
and recording a seed from a MIDI input. No Qt: the panel polls :attr:`AudioPlayer.position`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studio.core.media import DRUM_CHANNEL, AudioClip, MidiClip, Note
from studio.core.syslibs import quiet_stderr

__all__ = [
    "AudioPlayer",
    "LivePlayer",
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


class LivePlayer:
    """Plays a generation's notes while it is written: each note sounds as soon as the sampler
    has chosen it, not once its bar (or the clip) is done.

    A FluidSynth synth with the SoundFont loaded and an output stream opened are kept warm
    (:meth:`prepare`, on a worker); the stream's callback renders the synth a small block at a
    time (:data:`BLOCK` frames) and starts and ends notes at their frame. The first note sets the
    clock: it sounds in the next block, and every later note at its beat from there (one whose
    time has passed, as a track written after the first, sounds at once). The engine calls it as
    a :class:`studio.music.engine.NoteListener` (:meth:`begin`, :meth:`note_started`,
    :meth:`bar_written`) from the job's thread; the panel calls :meth:`reset`, :meth:`finish` and
    :meth:`stop`. ``first_heard`` is the ``time.perf_counter()`` at which the first note's first
    sample reaches the output (the callback's time plus the output latency). Qt-free.
    """

    BLOCK = 128  # frames per callback: 2.9 ms at 44.1 kHz
    RELEASE = 1.0  # seconds of sound after the last note ends
    GAIN = 4.0  # the level Listen always used (the GM SoundFont is quiet)

    def __init__(
        self, soundfont: Path | None = None, sample_rate: int = 44100, paced: bool = False
    ) -> None:
        self.soundfont = soundfont
        self.rate = sample_rate
        # ``paced``: the callback waits for the wall clock (ALSA's null device has no clock and
        # would call back as fast as it can: benchmarks and tests on a machine with no sound card)
        self.paced = paced
        self._clock: tuple[float, int] | None = None  # (perf_counter, frames) since the start
        self._lock = threading.RLock()
        self._prepare_lock = threading.Lock()
        self._synth = None
        self._sfid = -1
        self._stream = None
        self._latency = 0.0
        self.problem = ""  # why nothing can be heard (no output device, no synth), or ""
        self._generation = 0  # counts resets: a session of an older one is ignored
        self._clear(0.0)

    def _clear(self, offset_beats: float) -> None:
        # (frame, 0 off / 1 on, order, note key, version of its end), a heap
        self._events: list[tuple[int, int, int, tuple, int]] = []
        self._seq = itertools.count()
        # (channel, pitch, start) -> [on frame, off frame, version, velocity, sounded]
        self._notes: dict[tuple, list] = {}
        self._frame = 0  # frames played since reset
        self._origin: tuple[float, int] | None = None  # (beat, frame) of the first note
        self._last_off = 0
        self._finished = False
        self._silence = True  # all notes off before the next block
        self._programs: dict[int, int] = {}
        self._selected: set[int] = set()  # channels whose program the synth has
        self.offset_beats = offset_beats
        self.bpm = 120.0
        self.first_heard: float | None = None
        self.notes_heard = 0
        self._stopped = False  # stop() was called: nothing more sounds until reset()

    # -- warm ----------------------------------------------------------------------------------
    @property
    def prepared(self) -> bool:
        return self._synth is not None and self._stream is not None

    def prepare(self) -> bool:
        """Load the synth and open the output (about 0.1 s; call it on a worker). False, with
        :attr:`problem` saying why, when there is no output device or no synth."""
        with self._prepare_lock:
            if self.prepared:
                return True
            ok, why = AudioPlayer.output_available()
            if not ok:
                self.problem = why + "; use Render to write a WAV or FLAC file instead"
                return False
            try:
                from studio.music.synth import _fluidsynth, default_soundfont

                fluidsynth = _fluidsynth()
                font = Path(self.soundfont) if self.soundfont else default_soundfont()
                synth = fluidsynth.Synth(gain=self.GAIN, samplerate=float(self.rate))
                sfid = synth.sfload(str(font))
                if sfid < 0:
                    synth.delete()
                    self.problem = f"{font.name} is not a readable SoundFont"
                    return False
            except Exception as exc:  # noqa: BLE001 - SynthUnavailable, OSError from the library
                self.problem = str(exc)
                return False
            try:
                import sounddevice as sd

                stream = sd.OutputStream(
                    samplerate=self.rate,
                    channels=2,
                    dtype="float32",
                    blocksize=self.BLOCK,
                    latency="low",
                    callback=self._callback,
                )
            except Exception as exc:  # noqa: BLE001 - PortAudio raises its own error type
                synth.delete()
                self.problem = (
                    f"could not open the audio output ({exc}); use Render to write a WAV or "
                    "FLAC file instead"
                )
                return False
            with self._lock:
                self._synth, self._sfid = synth, sfid
                self._stream, self._latency = stream, float(stream.latency)
            self.problem = ""
            return True

    # -- the panel's side ----------------------------------------------------------------------
    def reset(self, offset_beats: float = 0.0) -> None:
        """Forget what was scheduled (a new generation starts; notes sounding are released)."""
        with self._lock:
            self._clear(offset_beats)
            self._generation += 1

    def listener(self) -> _LiveSession:
        """What to hand one generation (call after :meth:`reset`): it passes the notes on until
        the next :meth:`reset`, so a cancelled job still finishing its note cannot slip into the
        next generation's timeline."""
        return _LiveSession(self, self._generation)

    def finish(self) -> None:
        """The generation ended: play what is scheduled, then stop by itself."""
        with self._lock:
            self._finished = True

    def stop(self) -> None:
        """Silence now (the synth and the stream stay open for the next generation)."""
        with self._lock:
            self._clear(self.offset_beats)
            self._finished = self._stopped = True
            stream = self._stream
        if stream is not None:
            try:
                stream.stop()
            except Exception:  # noqa: BLE001 - a vanished device must not block stopping
                pass

    def close(self) -> None:
        """Stop and let go of the synth and the output."""
        self.stop()
        with self._prepare_lock, self._lock:
            stream, synth = self._stream, self._synth
            self._stream, self._synth = None, None
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass
        if synth is not None:
            synth.delete()

    @property
    def playing(self) -> bool:
        """Notes are scheduled or sounding (or the generation may still add some)."""
        stream = self._stream
        if stream is None or self._origin is None or not stream.active:
            return False
        with self._lock:
            return not self._finished or bool(self._events) or not self._released()

    def _released(self) -> bool:
        return self._frame >= self._last_off + int(self.RELEASE * self.rate)

    @property
    def position(self) -> float:
        """The playhead in beats of the clip."""
        with self._lock:
            if self._origin is None:
                return self.offset_beats
            beat, frame = self._origin
            return beat + (self._frame - frame) / self.rate * self.bpm / 60.0

    # -- the engine's side (NoteListener) --------------------------------------------------------
    def begin(self, bpm: float, programs: dict[int, int]) -> None:
        """The tempo and the instruments of the notes to come; starts the output (and loads the
        synth first when :meth:`prepare` has not run)."""
        if self._stopped or not self.prepare():
            return
        with self._lock:
            self.bpm = float(bpm) or 120.0
            for channel, program in programs.items():
                if self._programs.get(channel) != program:
                    self._programs[channel] = program
                    self._selected.discard(channel)
            self._finished = False
        stream = self._stream
        if stream is not None and not stream.active:
            try:
                if not stream.stopped:
                    stream.stop()
                self._clock = None
                stream.start()
            except Exception as exc:  # noqa: BLE001
                self.problem = f"could not start the audio output ({exc})"

    def _frame_of(self, beat: float) -> int:
        assert self._origin is not None
        origin_beat, origin_frame = self._origin
        return origin_frame + int(round((beat - origin_beat) * 60.0 / self.bpm * self.rate))

    def _push(self, frame: int, on: int, key: tuple, version: int) -> None:
        heapq.heappush(self._events, (frame, on, next(self._seq), key, version))

    def note_started(self, note: Note) -> None:
        """Schedule ``note`` (to its bar's end until :meth:`bar_written` gives its length)."""
        if self._synth is None or self._stopped:
            return
        with self._lock:
            key = (note.channel, note.pitch, round(note.start, 6))
            if key in self._notes:
                return
            if self._origin is None:
                self._origin = (note.start, self._frame)
            if self._frame_of(note.end) <= self._frame:
                return  # written after it would have ended (a slow machine): not a click
            on = max(self._frame, self._frame_of(note.start))
            off = max(on + 64, self._frame_of(note.end))
            self._notes[key] = [on, off, 0, note.velocity, False]
            self._push(on, 1, key, 0)
            self._push(off, 0, key, 0)
            self._last_off = max(self._last_off, off)

    def bar_written(self, channel: int, start: float, end: float, notes: list[Note]) -> None:
        """The bar's final notes: lengths set, dropped notes cancelled, missing ones added."""
        if self._synth is None or self._stopped:
            return
        final = {(n.channel, n.pitch, round(n.start, 6)): n for n in notes}
        with self._lock:
            for key, state in list(self._notes.items()):
                if key[0] != channel or not start - 1e-9 <= key[2] < end - 1e-9:
                    continue
                note = final.get(key)
                if note is None and not state[4]:
                    del self._notes[key]  # dropped before it sounded: its events are skipped
                    continue
                off = self._frame if note is None else max(state[0] + 64, self._frame_of(note.end))
                if off != state[1]:
                    state[1], state[2] = max(off, self._frame), state[2] + 1
                    self._push(state[1], 0, key, state[2])
                    self._last_off = max(self._last_off, state[1])
        for key, note in final.items():
            if key not in self._notes:
                self.note_started(note)

    # -- the audio thread ----------------------------------------------------------------------
    def _render(self, out, at: int, count: int) -> int:
        """Render ``count`` frames of the synth into ``out`` from ``at``; returns the new ``at``."""
        raw = self._synth.get_samples(count)
        out[at : at + count] = np.clip(
            np.asarray(raw, dtype=np.float32).reshape(-1, 2) / 32768.0, -1.0, 1.0
        )
        self._frame += count
        return at + count

    def _callback(self, outdata, frames, time_info, _status) -> None:
        called = time.perf_counter()
        if self.paced:
            if self._clock is None:
                self._clock = (called, 0)
            began, done = self._clock
            wait = began + done / self.rate - called
            if wait > 0:
                time.sleep(wait)
                called = time.perf_counter()
            self._clock = (began, done + frames)
        with self._lock:
            synth = self._synth
            if synth is None:
                outdata[:] = 0
                return
            if self._silence:  # a reset: what sounded from the last generation stops
                for ch in range(16):
                    synth.cc(ch, 123, 0)  # all notes off
                self._silence = False
            for ch in range(16):
                if ch not in self._selected:
                    program = 0 if ch == DRUM_CHANNEL else max(0, self._programs.get(ch, 0))
                    bank = 128 if ch == DRUM_CHANNEL else 0
                    synth.program_select(ch, self._sfid, bank, program)
                    self._selected.add(ch)
            at = 0
            end = self._frame + frames
            while at < frames:
                if self._events and self._events[0][0] < end:
                    frame, on, _seq, key, version = heapq.heappop(self._events)
                    if frame > self._frame:
                        at = self._render(outdata, at, frame - self._frame)
                    state = self._notes.get(key)
                    if state is None or (not on and version != state[2]):
                        continue  # a note forgotten by reset, or an end moved later
                    channel, pitch, _start = key
                    if on:
                        synth.noteon(channel, pitch, state[3])
                        state[4] = True
                        self.notes_heard += 1
                        if self.first_heard is None:
                            latency = self._latency
                            dac = getattr(time_info, "outputBufferDacTime", 0.0)
                            now = getattr(time_info, "currentTime", 0.0)
                            if 0.0 < dac - now < 1.0:
                                latency = max(latency, dac - now)
                            self.first_heard = called + at / self.rate + latency
                    elif state[4]:
                        synth.noteoff(channel, pitch)
                else:
                    at = self._render(outdata, at, frames - at)
            done = self._finished and not self._events and self._released()
        if done:
            import sounddevice as sd

            raise sd.CallbackStop


class _LiveSession:
    """One generation's view of a :class:`LivePlayer` (a NoteListener): silent once the player
    was reset for another."""

    def __init__(self, player: LivePlayer, generation: int) -> None:
        self.player, self.generation = player, generation

    def _current(self) -> bool:
        return self.player._generation == self.generation

    def begin(self, bpm: float, programs: dict[int, int]) -> None:
        if self._current():
            self.player.begin(bpm, programs)

    def note_started(self, note: Note) -> None:
        if self._current():
            self.player.note_started(note)

    def bar_written(self, channel: int, start: float, end: float, notes: list[Note]) -> None:
        if self._current():
            self.player.bar_written(channel, start, end, notes)


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
