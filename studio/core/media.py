"""The typed values that pass between panels, engines and plugins.

Plain dataclasses over NumPy arrays and Python lists, with no Qt, so every engine, test and plugin
can use them. Each carries ``provenance`` (engine, model, parameters, seed) so any result can be
reproduced.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is imported where arrays are made: the window paints without it
    import numpy as np

__all__ = [
    "Note",
    "MidiClip",
    "MidiError",
    "MidiFileMissing",
    "MIDI_MAX_FILE_BYTES",
    "MIDI_MAX_NOTES",
    "AudioClip",
    "Image",
    "Mask",
    "Scores",
    "Provenance",
    "parse_size",
]

Provenance = dict[str, Any]
DRUM_CHANNEL = 9
# What the MIDI reader takes, checked before the work: mido holds every event of a file in memory
# (about 100 bytes each), so 4 MiB is at most ~150 MB and a few seconds; the largest real scores
# are a few hundred KB.
MIDI_MAX_FILE_BYTES = 4 * 1024 * 1024
MIDI_MAX_NOTES = 500_000
_SMPTE_FPS = {24: 24.0, 25: 25.0, 29: 29.97, 30: 30.0}


class MidiError(ValueError):
    """A MIDI file that Studio cannot read; the message names the file and says what is wrong
    with it in words."""


class MidiFileMissing(MidiError, FileNotFoundError):
    """The MIDI file does not exist (also a FileNotFoundError, for callers that say "missing")."""


@dataclass(frozen=True, order=True)
class Note:
    """One note. Times are in beats (quarter notes) from the start of the clip."""

    start: float
    pitch: int
    duration: float
    velocity: int = 96
    channel: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.pitch <= 127:
            raise ValueError(f"pitch {self.pitch} outside 0..127")
        if not 1 <= self.velocity <= 127:
            raise ValueError(f"velocity {self.velocity} outside 1..127")
        if self.duration <= 0 or self.start < 0:
            raise ValueError("a note needs start >= 0 and duration > 0")
        if not 0 <= self.channel <= 15:
            raise ValueError(f"channel {self.channel} outside 0..15")

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass
class MidiClip:
    """A piece of MIDI: notes, tempo and metre. Saves to and loads from standard MIDI files."""

    notes: list[Note] = field(default_factory=list)
    bpm: float = 120.0
    beats_per_bar: int = 4  # the meter's numerator
    programs: dict[int, int] = field(default_factory=dict)  # channel -> General MIDI program
    provenance: Provenance = field(default_factory=dict)
    length: float | None = None  # explicit length in beats (a clip may end in a rest)
    beat_unit: int = 4  # the meter's denominator: 6/8 is beats_per_bar=6, beat_unit=8
    # Later changes, kept through MIDI import and export: (beat, bpm) and (beat, numerator, denom).
    tempo_changes: list[tuple[float, float]] = field(default_factory=list)
    meter_changes: list[tuple[float, int, int]] = field(default_factory=list)
    # Kept through MIDI import and export: channel -> track name, (beat, key) with keys as mido
    # writes them ("C", "F#m", "Bb"), and (beat, text) markers and lyrics.
    track_names: dict[int, str] = field(default_factory=dict)
    key_signatures: list[tuple[float, str]] = field(default_factory=list)
    markers: list[tuple[float, str]] = field(default_factory=list)
    lyrics: list[tuple[float, str]] = field(default_factory=list)

    def seconds_at(self, beat: float) -> float:
        """Time in seconds of ``beat``, following the tempo changes."""
        seconds, at, bpm = 0.0, 0.0, self.bpm
        for change_beat, change_bpm in sorted(self.tempo_changes):
            if change_beat >= beat:
                break
            seconds += (change_beat - at) * 60.0 / bpm
            at, bpm = change_beat, change_bpm
        return seconds + (beat - at) * 60.0 / bpm

    @property
    def bar_length(self) -> float:
        """Length of one bar in quarter notes (the unit of every time in a clip)."""
        return self.beats_per_bar * 4.0 / self.beat_unit

    @property
    def length_beats(self) -> float:
        return max(self.length or 0.0, max((n.end for n in self.notes), default=0.0))

    @property
    def bars(self) -> float:
        """How many bars the clip spans, following the meter changes (a bar cut short by a
        change counts whole, as a DAW draws it; the last bar counts its part)."""
        segments = self.meter_map()
        end = self.length_beats
        total = 0.0
        for i, (at, length) in enumerate(segments):
            if at >= end:
                break
            stop = segments[i + 1][0] if i + 1 < len(segments) else end
            span = min(stop, end) - at
            whole = stop < end  # a meter that ends before the clip: its last bar counts whole
            total += math.ceil(round(span / length, 9)) if whole else span / length
        return total

    def meter_map(self) -> list[tuple[float, float]]:
        """(beat, bar length in quarter notes) of each meter in force, from beat 0: the clip's
        meter, then its changes (a change starts a new bar, wherever it falls)."""
        out = [(0.0, self.bar_length)]
        for beat, numerator, denominator in sorted(self.meter_changes):
            if numerator <= 0 or denominator <= 0:
                continue
            length = numerator * 4.0 / denominator
            if beat <= out[-1][0] + 1e-9:
                out[-1] = (out[-1][0], length)
            else:
                out.append((float(beat), length))
        return out

    def bar_at(self, beat: float) -> tuple[int, float, float]:
        """(bar index from 0, start beat, length) of the bar holding ``beat``, following the
        meter changes: the grid continue, infill and the piano roll should snap to."""
        segments = self.meter_map()
        index = 0
        for i, (at, length) in enumerate(segments):
            stop = segments[i + 1][0] if i + 1 < len(segments) else math.inf
            if beat < stop:
                k = max(0, math.floor(round((beat - at) / length, 9)))
                return index + k, at + k * length, length
            index += math.ceil(round((stop - at) / length, 9))
        raise AssertionError("unreachable: the last meter runs to infinity")

    def bar_starts(self, until: float | None = None, limit: int = 100_000) -> list[float]:
        """The beats where bars start, up to ``until`` (the clip's length by default), at most
        ``limit`` of them."""
        end = self.length_beats if until is None else until
        segments = self.meter_map()
        starts: list[float] = []
        for i, (at, length) in enumerate(segments):
            stop = min(segments[i + 1][0] if i + 1 < len(segments) else end, end)
            beat = at
            while beat < stop - 1e-9 and len(starts) < limit:
                starts.append(beat)
                beat += length
        return starts

    def to_midi_file(self, ticks_per_beat: int = 480):
        """A ``mido.MidiFile`` (type 1: a tempo track, then one track per channel used)."""
        import mido

        mid = mido.MidiFile(type=1, ticks_per_beat=ticks_per_beat)
        meta = mido.MidiTrack()
        meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(self.bpm), time=0))
        meta.append(
            mido.MetaMessage(
                "time_signature", numerator=self.beats_per_bar, denominator=self.beat_unit, time=0
            )
        )
        if self.provenance:
            text = ";".join(f"{k}={v}" for k, v in sorted(self.provenance.items()))
            meta.append(mido.MetaMessage("text", text=f"studio:{text}"[:2000], time=0))
        changes = [
            (round(b * ticks_per_beat), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
            for b, bpm in self.tempo_changes
        ]
        changes += [
            (
                round(b * ticks_per_beat),
                mido.MetaMessage("time_signature", numerator=n, denominator=d),
            )
            for b, n, d in self.meter_changes
        ]
        changes += [
            (round(b * ticks_per_beat), mido.MetaMessage("key_signature", key=key))
            for b, key in self.key_signatures
        ]
        changes += [
            (round(b * ticks_per_beat), mido.MetaMessage("marker", text=text))
            for b, text in self.markers
        ]
        channels = sorted({n.channel for n in self.notes})
        lyrics = [
            (round(b * ticks_per_beat), 0, mido.MetaMessage("lyrics", text=text))
            for b, text in self.lyrics
        ]
        if not channels:  # no note track to carry them
            changes += [(tick, msg) for tick, _, msg in lyrics]
        now = 0
        for tick, msg in sorted(changes, key=lambda c: c[0]):
            meta.append(msg.copy(time=max(0, tick - now)))
            now = max(now, tick)
        mid.tracks.append(meta)
        for index, channel in enumerate(channels):
            track = mido.MidiTrack()
            if channel in self.track_names:
                track.append(mido.MetaMessage("track_name", name=self.track_names[channel]))
            # the lyrics go with the first part, where DAWs and karaoke players look for them
            events: list[tuple[int, int, Any]] = list(lyrics) if index == 0 else []
            if channel in self.programs:
                events.append(
                    (
                        0,
                        0,
                        mido.Message(
                            "program_change", channel=channel, program=self.programs[channel]
                        ),
                    )
                )
            for n in self.notes:
                if n.channel != channel:
                    continue
                on = round(n.start * ticks_per_beat)
                off = max(on + 1, round(n.end * ticks_per_beat))
                events.append(
                    (
                        on,
                        2,
                        mido.Message("note_on", channel=channel, note=n.pitch, velocity=n.velocity),
                    )
                )
                events.append(
                    (off, 1, mido.Message("note_off", channel=channel, note=n.pitch, velocity=0))
                )
            events.sort(key=lambda e: (e[0], e[1]))
            now = 0
            for tick, _, msg in events:
                track.append(msg.copy(time=tick - now))
                now = tick
            mid.tracks.append(track)
        return mid

    def save(self, path: str | Path) -> Path:
        """Write a standard MIDI file that any DAW opens, atomically (an error or a kill leaves
        the file that was there)."""
        from studio.core.atomic import write_bytes

        path = Path(path)
        write_bytes(path, self.to_bytes())
        return path

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.to_midi_file().save(file=buf)
        return buf.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> MidiClip:
        """Read a MIDI file. Raises :class:`MidiError` (a ValueError) naming the file and saying
        in words what is wrong when it is missing, unreadable, not MIDI Studio can read, or
        larger than :data:`MIDI_MAX_FILE_BYTES`."""
        path = Path(path)
        try:
            size = path.stat().st_size
            if size > MIDI_MAX_FILE_BYTES:
                raise MidiError(
                    f"{path.name} is {size / 2**20:.1f} MiB; Studio reads MIDI files up to "
                    f"{MIDI_MAX_FILE_BYTES // 2**20} MiB"
                )
            data = path.read_bytes()
        except FileNotFoundError:
            raise MidiFileMissing(f"cannot read {path}: there is no such file") from None
        except OSError as exc:
            raise MidiError(f"cannot read {path}: {exc.strerror or exc}") from None
        return cls.from_bytes(data, path.name)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "the MIDI data") -> MidiClip:
        """A clip from the bytes of a standard MIDI file; raises :class:`MidiError` like
        :meth:`load`."""
        import mido

        if len(data) > MIDI_MAX_FILE_BYTES:
            raise MidiError(
                f"{name} is {len(data) / 2**20:.1f} MiB; Studio reads MIDI files up to "
                f"{MIDI_MAX_FILE_BYTES // 2**20} MiB"
            )
        try:
            # clip: a data byte over 127 is clipped, as players do, instead of refusing the file
            mid = mido.MidiFile(file=io.BytesIO(data), clip=True)
        except Exception as exc:  # noqa: BLE001 - mido raises many types for corrupt bytes
            raise MidiError(f"{name} is not a readable MIDI file: {_mido_reason(exc)}") from None
        return cls.from_midi_file(mid, name)

    @classmethod
    def from_midi_file(cls, mid, name: str = "the MIDI file") -> MidiClip:
        """A clip from a ``mido.MidiFile``: notes, programs (a program change in the middle of a
        track splits it there), tempo and meter maps, track names, key signatures, markers and
        lyrics. SMPTE-timed files are read at their first tempo (120 BPM without one). Raises
        :class:`MidiError` for a file whose timing or meta events make no sense."""
        import bisect

        import mido

        division = int(mid.ticks_per_beat)
        if division < 0:  # mido reads the division signed: SMPTE sets its top bit
            division &= 0xFFFF
        smpte: float | None = None  # ticks per second
        if division & 0x8000:
            fps_code, per_frame = 256 - (division >> 8), division & 0xFF
            if fps_code not in _SMPTE_FPS or per_frame == 0:
                raise MidiError(
                    f"{name} has SMPTE timing of {fps_code} frames a second and {per_frame} "
                    "ticks a frame; 24, 25, 29.97 or 30 frames and at least one tick are needed"
                )
            smpte = _SMPTE_FPS[fps_code] * per_frame
        elif division == 0:
            raise MidiError(f"{name} says a beat has 0 ticks, so no note has a time")

        # Pass 1: every event in file ticks. Tracks are separate lists in mido (not merged in time
        # order), so program changes are applied in pass 2, by time, whichever track has them.
        tempos: list[tuple[int, int]] = []  # (tick, microseconds per beat)
        meters: list[tuple[int, int, int]] = []
        keys: list[tuple[int, str]] = []
        markers: list[tuple[int, str]] = []
        lyrics: list[tuple[int, str]] = []
        # (channel, track or -1 for all tracks) -> [(tick, order, program)]
        program_events: dict[tuple[int, int], list[tuple[int, int, int]]] = {}
        raw: list[tuple[int, int, int, int, int, int]] = []  # start, end, pitch, vel, ch, track
        names: dict[int, str] = {}
        order = 0
        for track_index, track in enumerate(mid.tracks):
            tick = 0
            # Several notes of one pitch may be open at once: note-offs close them first in,
            # first out.
            open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for msg in track:
                tick += msg.time
                kind = msg.type
                if kind == "note_on" and msg.velocity > 0:
                    open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                elif kind in ("note_off", "note_on"):
                    stack = open_notes.get((msg.channel, msg.note))
                    started = stack.pop(0) if stack else None
                    if started and tick > started[0]:
                        raw.append(
                            (started[0], tick, msg.note, started[1], msg.channel, track_index)
                        )
                        if len(raw) > MIDI_MAX_NOTES:
                            raise MidiError(
                                f"{name} has more than {MIDI_MAX_NOTES:,} notes; Studio reads "
                                "files up to that"
                            )
                elif kind == "program_change":
                    order += 1
                    for key in ((msg.channel, track_index), (msg.channel, -1)):
                        program_events.setdefault(key, []).append((tick, order, msg.program))
                elif kind == "set_tempo":
                    if msg.tempo <= 0:
                        raise MidiError(
                            f"{name} sets a tempo of 0 microseconds a beat at tick {tick}, "
                            "which is no tempo"
                        )
                    tempos.append((tick, msg.tempo))
                elif kind == "time_signature":
                    if not 1 <= msg.numerator <= 64 or msg.denominator not in _DENOMINATORS:
                        raise MidiError(
                            f"{name} has a time signature of {msg.numerator}/{msg.denominator} "
                            f"at tick {tick}, which is not a meter"
                        )
                    meters.append((tick, msg.numerator, msg.denominator))
                elif kind == "key_signature":
                    keys.append((tick, msg.key))
                elif kind == "track_name":
                    names.setdefault(track_index, msg.name)
                elif kind == "marker":
                    markers.append((tick, msg.text))
                elif kind == "lyrics":
                    lyrics.append((tick, msg.text))

        tempos.sort(key=lambda t: t[0])
        first_bpm = mido.tempo2bpm(tempos[0][1]) if tempos else 120.0
        if smpte is not None:
            # Absolute time: file ticks are seconds / smpte; a beat lasts 60 / first_bpm seconds.
            ticks_per_beat = smpte * 60.0 / first_bpm
            tempos = tempos[:1]  # in an SMPTE file tempo events do not move the notes
        else:
            ticks_per_beat = float(division)

        def beat(tick: int) -> float:
            return tick / ticks_per_beat

        for events in program_events.values():
            events.sort()
        starts = {key: [t for t, _, _ in events] for key, events in program_events.items()}

        def program_at(channel: int, track_index: int, tick: int) -> int | None:
            """The program of a note on ``channel`` starting at ``tick`` (changes at that tick
            count): its own track's changes when it has any (tracks sharing a channel, as
            music21 writes them, each mean their own), else any track's (a conductor track)."""
            key = (channel, track_index) if (channel, track_index) in starts else (channel, -1)
            at = bisect.bisect_right(starts.get(key, []), tick)
            return program_events[key][at - 1][2] if at else None

        notes: list[Note] = []
        parts: list[tuple[int, int, int | None]] = []  # (track, channel, program) of each note
        for start, end, pitch, velocity, channel, track_index in raw:
            notes.append(Note(beat(start), pitch, beat(end - start), velocity, channel))
            drum = channel == DRUM_CHANNEL  # a drum kit change does not make a new part
            program = None if drum else program_at(channel, track_index, start)
            parts.append((track_index, channel, program))
        # channels without notes keep their last program, as before
        programs = {ch: events[-1][2] for (ch, t), events in program_events.items() if t < 0}
        notes, programs, names_by_channel = _assign_channels(notes, parts, programs, names)

        bpm = round(first_bpm, 3)
        tempo_changes = sorted({(beat(t), round(mido.tempo2bpm(us), 3)) for t, us in tempos[1:]})
        meters.sort(key=lambda m: m[0])
        beats_per_bar, beat_unit = meters[0][1:] if meters else (4, 4)
        order_notes = sorted(range(len(notes)), key=lambda i: notes[i])
        return cls(
            notes=[notes[i] for i in order_notes],
            bpm=bpm,
            beats_per_bar=beats_per_bar,
            programs=programs,
            beat_unit=beat_unit,
            tempo_changes=tempo_changes,
            meter_changes=sorted({(beat(t), n, d) for t, n, d in meters[1:]}),
            track_names=names_by_channel,
            key_signatures=[(beat(t), k) for t, k in sorted(keys, key=lambda k: k[0])],
            markers=[(beat(t), text) for t, text in sorted(markers, key=lambda m: m[0])],
            lyrics=[(beat(t), text) for t, text in sorted(lyrics, key=lambda m: m[0])],
        )


_DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)


def _mido_reason(exc: BaseException) -> str:
    """What mido's exception says about the bytes, in words."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    if kind == "KeySignatureError":
        return f"a key signature is not a key ({text})"
    if isinstance(exc, EOFError):
        return "it ends in the middle of its data (truncated?)"
    if isinstance(exc, (IndexError, KeyError, struct_error())):
        return f"its data is corrupt ({text or 'an event is cut short'})"
    if isinstance(exc, (OverflowError, MemoryError, RecursionError)):
        return "a length or count in it is far too large"
    return text or "its data is corrupt"


def struct_error() -> type[Exception]:
    import struct

    return struct.error


def _assign_channels(
    notes: list[Note],
    parts: list[tuple[int, int, int | None]],
    programs: dict[int, int],
    track_names: dict[int, str],
) -> tuple[list[Note], dict[int, int], dict[int, str]]:
    """Give each part (a file track's notes on one channel with one program) its own channel
    where the file shares one: music21 writes every part on channel 1, and a program change in
    the middle of a track (muted guitar, then distorted) starts a new part there. Drums stay on
    channel 10; with more parts than free channels the file's channels are kept (each with the
    program of most of its notes)."""
    counts: dict[tuple[int, int, int | None], int] = {}
    for part in parts:
        counts[part] = counts.get(part, 0) + 1
    first: dict[tuple[int, int, int | None], int] = {}
    for i, part in enumerate(parts):
        first.setdefault(part, i)
    melodic = sorted(
        (p for p in counts if p[1] != DRUM_CHANNEL), key=lambda p: (p[0], p[1], first[p])
    )
    channels_used = {c for _, c, _ in melodic}
    names: dict[int, str] = {}
    if len(melodic) == len(channels_used) or len(melodic) > 15:
        new_programs = dict(programs)
        best: dict[int, tuple[int, int | None]] = {}
        for (t, c, prog), n in counts.items():
            if prog is not None and (c not in best or n > best[c][0]):
                best[c] = (n, prog)
            if t in track_names:
                names.setdefault(c, track_names[t])
        for c, (_, prog) in best.items():
            if prog is not None:
                new_programs[c] = prog
        return notes, new_programs, names
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    remap = {part: free[i] for i, part in enumerate(melodic)}
    new_programs = {ch: programs[ch] for ch in programs if ch == DRUM_CHANNEL}
    for (t, _c, prog), ch in remap.items():
        new_programs[ch] = prog if prog is not None else 0
        if t in track_names:
            names[ch] = track_names[t]
    for t, c, _ in counts:
        if c == DRUM_CHANNEL and t in track_names:
            names.setdefault(c, track_names[t])
    moved = [
        Note(n.start, n.pitch, n.duration, n.velocity, remap.get(part, n.channel))
        for n, part in zip(notes, parts, strict=True)
    ]
    return moved, new_programs, names


@dataclass
class AudioClip:
    """Audio as float32 samples in -1..1, shaped (frames,) or (frames, channels)."""

    samples: np.ndarray
    sample_rate: int
    provenance: Provenance = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        self.samples = np.asarray(self.samples, dtype=np.float32)
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def channels(self) -> int:
        return 1 if self.samples.ndim == 1 else int(self.samples.shape[1])

    def save_wav(self, path: str | Path) -> Path:
        """Write 16-bit PCM WAV."""
        import wave

        import numpy as np

        path = Path(path)
        pcm = (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2")
        with wave.open(str(path), "wb") as wav:
            wav.setnchannels(self.channels)
            wav.setsampwidth(2)
            wav.setframerate(self.sample_rate)
            wav.writeframes(pcm.tobytes())
        return path

    @classmethod
    def load_wav(cls, path: str | Path) -> AudioClip:
        """Read a PCM WAV file. Raises ValueError when the file is not one."""
        import wave  # (not at import: media is on the path to the first paint)

        try:
            with wave.open(str(path), "rb") as wav:
                width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
                raw = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError, OSError) as exc:
            raise ValueError(f"{Path(path).name} is not a readable WAV file ({exc})") from exc
        if width != 2:
            raise ValueError(f"{Path(path).name}: only 16-bit WAV is supported")
        import numpy as np

        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if channels > 1:
            data = data.reshape(-1, channels)
        return cls(data, rate)


@dataclass
class Image:
    """An RGB or RGBA image as uint8 pixels shaped (height, width, 3|4)."""

    pixels: np.ndarray
    provenance: Provenance = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        self.pixels = np.asarray(self.pixels)
        if self.pixels.dtype != np.uint8:
            raise ValueError("Image pixels must be uint8")
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in (3, 4):
            raise ValueError("Image pixels must be shaped (height, width, 3 or 4)")

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)"""
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


@dataclass
class Mask:
    """A soft matte: float32 in 0..1 shaped (height, width); 1 is foreground."""

    alpha: np.ndarray
    provenance: Provenance = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        self.alpha = np.clip(np.asarray(self.alpha, dtype=np.float32), 0.0, 1.0)
        if self.alpha.ndim != 2:
            raise ValueError("Mask alpha must be shaped (height, width)")

    @property
    def size(self) -> tuple[int, int]:
        return int(self.alpha.shape[1]), int(self.alpha.shape[0])


@dataclass
class Scores:
    """What an annotator or recommender returns: scores per label or item, and free tags."""

    scores: dict[str, float] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    provenance: Provenance = field(default_factory=dict)

    def top(self, n: int = 10) -> list[tuple[str, float]]:
        return sorted(self.scores.items(), key=lambda kv: -kv[1])[:n]


def parse_size(text: str, limit: int = 16384) -> tuple[int, int]:
    """``1280x720`` -> (1280, 720): a picture or frame size as the commands take it. Raises
    ValueError with a readable message."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"a size is WIDTHxHEIGHT, not {text!r}") from None
    if not (16 <= width <= limit and 16 <= height <= limit):
        raise ValueError(f"width and height are between 16 and {limit}")
    return width, height
