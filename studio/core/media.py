"""The typed values that pass between panels, engines and plugins.

Plain dataclasses over NumPy arrays and Python lists, with no Qt, so every engine, test and plugin
can use them. Each carries ``provenance`` (engine, model, parameters, seed) so any result can be
reproduced.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Note",
    "MidiClip",
    "AudioClip",
    "Image",
    "Mask",
    "Scores",
    "Provenance",
    "parse_size",
]

Provenance = dict[str, Any]
DRUM_CHANNEL = 9


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
        return self.length_beats / self.bar_length

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
        now = 0
        for tick, msg in sorted(changes, key=lambda c: c[0]):
            meta.append(msg.copy(time=max(0, tick - now)))
            now = max(now, tick)
        mid.tracks.append(meta)
        for channel in sorted({n.channel for n in self.notes}):
            track = mido.MidiTrack()
            events: list[tuple[int, int, mido.Message]] = []
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
        """Write a standard MIDI file that any DAW opens."""
        path = Path(path)
        self.to_midi_file().save(str(path))
        return path

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self.to_midi_file().save(file=buf)
        return buf.getvalue()

    @classmethod
    def load(cls, path: str | Path) -> MidiClip:
        """Read a MIDI file. Raises ValueError with the file name when it is not valid MIDI."""
        import mido

        try:
            mid = mido.MidiFile(str(path))
        except (OSError, EOFError, ValueError, KeyError, IndexError) as exc:
            raise ValueError(f"{Path(path).name} is not a readable MIDI file ({exc})") from exc
        return cls.from_midi_file(mid)

    @classmethod
    def from_midi_file(cls, mid) -> MidiClip:
        import mido

        tpb = mid.ticks_per_beat
        bpm, beats_per_bar, beat_unit = None, None, 4
        tempos: list[tuple[float, float]] = []
        meters: list[tuple[float, int, int]] = []
        notes: list[Note] = []
        programs: dict[int, int] = {}
        track_of: list[int] = []  # the file track of each note, to split shared channels
        track_programs: dict[tuple[int, int], int] = {}
        for track_index, track in enumerate(mid.tracks):
            tick = 0
            # Several notes of one pitch may be open at once: note-offs close them
            # first in, first out.
            open_notes: dict[tuple[int, int], list[tuple[int, int]]] = {}
            for msg in track:
                tick += msg.time
                # The first tempo and meter are the clip's; later ones are its changes.
                if msg.type == "set_tempo":
                    if bpm is None:
                        bpm = mido.tempo2bpm(msg.tempo)
                    else:
                        tempos.append((tick / tpb, round(mido.tempo2bpm(msg.tempo), 3)))
                elif msg.type == "time_signature":
                    if beats_per_bar is None:
                        beats_per_bar, beat_unit = msg.numerator, msg.denominator
                    else:
                        meters.append((tick / tpb, msg.numerator, msg.denominator))
                elif msg.type == "program_change":
                    programs[msg.channel] = msg.program
                    track_programs[(track_index, msg.channel)] = msg.program
                elif msg.type == "note_on" and msg.velocity > 0:
                    open_notes.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
                elif msg.type in ("note_off", "note_on"):
                    stack = open_notes.get((msg.channel, msg.note))
                    started = stack.pop(0) if stack else None
                    if started and tick > started[0]:
                        track_of.append(track_index)
                        notes.append(
                            Note(
                                started[0] / tpb,
                                msg.note,
                                (tick - started[0]) / tpb,
                                started[1],
                                msg.channel,
                            )
                        )
        notes, programs = _split_shared_channels(notes, track_of, programs, track_programs)
        notes.sort()
        return cls(
            notes=notes,
            bpm=round(bpm or 120.0, 3),
            beats_per_bar=beats_per_bar or 4,
            programs=programs,
            beat_unit=beat_unit,
            tempo_changes=sorted(set(tempos)),
            meter_changes=sorted(set(meters)),
        )


def _split_shared_channels(
    notes: list[Note],
    track_of: list[int],
    programs: dict[int, int],
    track_programs: dict[tuple[int, int], int],
) -> tuple[list[Note], dict[int, int]]:
    """Files where several tracks share a channel (music21 writes every part on channel 1) get one
    channel per track, so each part stays its own track. Drums stay on channel 10; with more tracks
    than free channels the file's channels are kept."""
    pairs = sorted({(t, n.channel) for n, t in zip(notes, track_of, strict=True)})
    melodic = [p for p in pairs if p[1] != DRUM_CHANNEL]
    if len(melodic) == len({c for _, c in melodic}) or len(melodic) > 15:
        return notes, programs
    free = [c for c in range(16) if c != DRUM_CHANNEL]
    remap = {pair: free[i] for i, pair in enumerate(melodic)}
    new_programs = {ch: programs[ch] for ch in programs if ch == DRUM_CHANNEL}
    for (t, c), ch in remap.items():
        new_programs[ch] = track_programs.get((t, c), programs.get(c, 0))
    notes = [
        Note(n.start, n.pitch, n.duration, n.velocity, remap.get((t, n.channel), n.channel))
        for n, t in zip(notes, track_of, strict=True)
    ]
    return notes, new_programs


@dataclass
class AudioClip:
    """Audio as float32 samples in -1..1, shaped (frames,) or (frames, channels)."""

    samples: np.ndarray
    sample_rate: int
    provenance: Provenance = field(default_factory=dict)

    def __post_init__(self) -> None:
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
        try:
            with wave.open(str(path), "rb") as wav:
                width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
                raw = wav.readframes(wav.getnframes())
        except (wave.Error, EOFError, OSError) as exc:
            raise ValueError(f"{Path(path).name} is not a readable WAV file ({exc})") from exc
        if width != 2:
            raise ValueError(f"{Path(path).name}: only 16-bit WAV is supported")
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
