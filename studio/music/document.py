"""The Music panel's document, without Qt: the clip (notes, tracks and their instruments, tempo
and meter, the mix), the selection, the takes of the last generation with their provenance, and
the generation controls.

Every value is immutable: a :class:`Clip` is a frozen copy of a :class:`~studio.core.media.MidiClip`
with its notes in a tuple, so an undo step keeps references and an autosave snapshot is free.
Engines still take and return ``MidiClip``; :meth:`Clip.to_midi` and :meth:`Clip.from_midi`
convert (a fresh ``MidiClip`` each time, so nothing an engine does can change the document).

On disk (a folder of a project)::

    clip.mid            the clip, a standard MIDI file
    takes/take-N.mid    the takes of the last generation
    document.json       controls, selection, mix, what MIDI can't hold (explicit length,
                        provenance), the takes' provenance and the undo history's labels

Note times are kept on the MIDI file's grid (1/480 of a beat), so what is saved is what opens.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from studio.core.atomic import atomic_path, write_bytes
from studio.core.document import (
    DOCUMENT_JSON,
    Document,
    DocumentError,
    read_json,
    to_jsonable,
    write_json,
)
from studio.core.media import MidiClip, Note

__all__ = ["Clip", "MusicDocument", "TICKS_PER_BEAT", "TRANSFORMER", "CONTROL_FIELDS"]

TICKS_PER_BEAT = 480  # what clip.mid is written with; note times are kept on this grid
TRANSFORMER = "studio/transformer"  # the built-in music transformer in the generator list
FAMILY_NAMES = ("transformer", "lstm", "vae", "gan")  # studio.music.families.FAMILIES
CLIP_MID = "clip.mid"
TAKES = "takes"


def _on_grid(beats: float) -> float:
    return round(beats * TICKS_PER_BEAT) / TICKS_PER_BEAT


def grid_note(n: Note) -> Note:
    """``n`` with its start and length on the MIDI grid (at least one tick long)."""
    start = _on_grid(n.start)
    end = max(start + 1 / TICKS_PER_BEAT, _on_grid(n.start + n.duration))
    duration = round((end - start) * TICKS_PER_BEAT) / TICKS_PER_BEAT
    if start == n.start and duration == n.duration:
        return n
    return Note(start, n.pitch, duration, n.velocity, n.channel)


@dataclass(frozen=True, eq=True)
class Clip:
    """An immutable clip. ``programs`` and ``provenance`` are sorted (key, value) pairs."""

    notes: tuple[Note, ...] = ()
    bpm: float = 120.0
    beats_per_bar: int = 4
    beat_unit: int = 4
    programs: tuple[tuple[int, int], ...] = ()
    length: float | None = None
    tempo_changes: tuple[tuple[float, float], ...] = ()
    meter_changes: tuple[tuple[float, int, int], ...] = ()
    provenance: tuple[tuple[str, Any], ...] = field(default=(), compare=True)
    # what other tools wrote and a round trip keeps: channel -> name, (beat, text) events
    track_names: tuple[tuple[int, str], ...] = ()
    key_signatures: tuple[tuple[float, str], ...] = ()
    markers: tuple[tuple[float, str], ...] = ()
    lyrics: tuple[tuple[float, str], ...] = ()

    @classmethod
    def from_midi(cls, clip: MidiClip) -> Clip:
        return cls(
            notes=tuple(sorted(grid_note(n) for n in clip.notes)),
            bpm=float(clip.bpm),
            beats_per_bar=int(clip.beats_per_bar),
            beat_unit=int(clip.beat_unit),
            programs=tuple(sorted((int(c), int(p)) for c, p in clip.programs.items())),
            length=None if clip.length is None else float(clip.length),
            tempo_changes=tuple(tuple(c) for c in clip.tempo_changes),  # type: ignore[misc]
            meter_changes=tuple(tuple(c) for c in clip.meter_changes),  # type: ignore[misc]
            provenance=_freeze(clip.provenance),
            track_names=tuple(sorted((int(c), str(n))
                                     for c, n in getattr(clip, "track_names", {}).items())),
            key_signatures=tuple((float(b), str(k))
                                 for b, k in getattr(clip, "key_signatures", [])),
            markers=tuple((float(b), str(t)) for b, t in getattr(clip, "markers", [])),
            lyrics=tuple((float(b), str(t)) for b, t in getattr(clip, "lyrics", [])),
        )  # fmt: skip

    def to_midi(self) -> MidiClip:
        """A new, mutable MidiClip with the same content (for engines, the editor, files)."""
        return MidiClip(
            notes=list(self.notes),
            bpm=self.bpm,
            beats_per_bar=self.beats_per_bar,
            programs=dict(self.programs),
            provenance=self.provenance_dict(),
            length=self.length,
            beat_unit=self.beat_unit,
            tempo_changes=list(self.tempo_changes),
            meter_changes=list(self.meter_changes),
            track_names=dict(self.track_names),
            key_signatures=list(self.key_signatures),
            markers=list(self.markers),
            lyrics=list(self.lyrics),
        )

    def midi_bytes(self) -> bytes:
        """The clip as a standard MIDI file, encoded once per clip (a clip never changes): a
        save or autosave after a selection or settings change does not encode it again."""
        cached = self.__dict__.get("_midi_bytes")
        if cached is None:
            cached = self.to_midi().to_bytes()
            object.__setattr__(self, "_midi_bytes", cached)
        return cached

    def provenance_dict(self) -> dict[str, Any]:
        return {k: _thaw(v) for k, v in self.provenance}

    def program_map(self) -> dict[int, int]:
        return dict(self.programs)

    def with_notes(self, notes: Iterable[Note]) -> Clip:
        return replace(self, notes=tuple(sorted(grid_note(n) for n in notes)))

    def with_program(self, channel: int, program: int) -> Clip:
        programs = dict(self.programs) | {int(channel): int(program)}
        return replace(self, programs=tuple(sorted(programs.items())))

    @property
    def channels(self) -> list[int]:
        return sorted({n.channel for n in self.notes})

    @property
    def bar_length(self) -> float:
        return self.beats_per_bar * 4.0 / self.beat_unit

    @property
    def length_beats(self) -> float:
        return max(self.length or 0.0, max((n.end for n in self.notes), default=0.0))

    @property
    def bars(self) -> float:
        return self.length_beats / self.bar_length

    def summary(self) -> str:
        tracks = len(self.channels)
        bars = math.ceil(round(self.bars, 6))
        return (
            f"{tracks} track{'s' * (tracks != 1)}, {len(self.notes)} note"
            f"{'s' * (len(self.notes) != 1)}, {bars} bar{'s' * (bars != 1)}"
        )


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# The generation controls and the editor settings: saved with the document, never an undo step
# (changing the temperature is not something to undo; the result it made is).
CONTROL_FIELDS: dict[str, Any] = {
    "generator": TRANSFORMER,
    "model": "",  # the model list's text, "" for the shipped default
    "family": "transformer",  # the chosen model's family: transformer, lstm, vae or gan
    "key": "",  # "D minor"; "" from the clip
    "meter": "",  # "3/4"; "" from the clip
    "tempo": 0,  # 0: from the clip
    "instruments": "choir,choir,choir,choir",
    "style": "chorale",
    "bars": 8,
    "temperature": 1.0,
    "top_p": 0.95,
    "seed": -1,  # -1: a new random seed each time (shown in the take)
    "variations": 1,
    "strict_key": True,
    "interp_a": -1,  # Interpolate from: -1 the clip, N take N+1, -2 the file interp_a_file
    "interp_b": 0,  # Interpolate to
    "interp_a_file": "",  # a MIDI file to interpolate from
    "interp_b_file": "",  # a MIDI file to interpolate to
    "interp_steps": 5,  # clips from A to B, both ends included
    "amount": 0.5,  # Variations: how far from the clip, 0..1
    "density": 1.0,  # Density: the VAE's note-density direction, -2 (fewer) .. 2 (more)
    "groove_style": "groove",  # the GAN's style for a drum groove
    "groove_under": True,  # the groove goes under the clip's notes (drums only)
    "plugin_values": dict,  # generator id -> {param: value} (replaced, never changed in place)
    "snap": 0.25,  # beats; 0 = off
    "velocity": 90,  # of new notes
    "loop": False,
    "listen": False,
}
SELECTION_FIELDS: dict[str, Any] = {
    "selected_notes": tuple,  # tuple[Note, ...]
    "bar_range": None,  # (first, last), 1-based inclusive, or None
    "track": -1,  # the channel new notes go to and harmonize follows; -1: the first
}


def _note_json(n: Note) -> list[Any]:
    return [n.start, n.pitch, n.duration, n.velocity, n.channel]


def _note_from_json(data: Any) -> Note | None:
    try:
        start, pitch, duration, velocity, channel = data
        return Note(float(start), int(pitch), float(duration), int(velocity), int(channel))
    except (TypeError, ValueError):
        return None


class MusicDocument(Document):
    """What the Music panel shows and edits. Content changes go through the methods below (or
    ``set``) and are undo steps; controls and the selection are quiet fields."""

    KIND: ClassVar[str] = "music"
    VERSION: ClassVar[int] = 1
    EXPORT_SUFFIXES: ClassVar[tuple[str, ...]] = (".mid", ".midi", ".wav", ".flac")
    FIELDS: ClassVar[dict[str, Any]] = {
        "clip": Clip,
        "volumes": tuple,  # ((channel, 0..1), ...) for channels not at full volume
        "muted": tuple,  # channels
        "soloed": tuple,  # channels
        "takes": tuple,  # tuple[Clip, ...] of the last generation
        "take": -1,  # which take the clip came from (-1: none)
        "source": "",  # the MIDI file this came from or was last exported to
        **SELECTION_FIELDS,
        **CONTROL_FIELDS,
    }
    QUIET_FIELDS: ClassVar[frozenset[str]] = frozenset(SELECTION_FIELDS) | frozenset(CONTROL_FIELDS)

    # -- edits (each one undo step) ----------------------------------------------------------------
    def edit_notes(self, label: str, notes: Iterable[Note]) -> None:
        """Replace the notes (a gesture in the editor: draw, move, resize, delete, velocity)."""
        self.set(label, clip=self.clip.with_notes(notes))

    def set_program(self, channel: int, program: int) -> None:
        clip = self.clip.with_program(channel, program)
        self.set(f"Instrument of track {channel + 1}", clip=clip)

    def set_volume(self, channel: int, volume: float) -> None:
        """Consecutive changes of one track's volume (a slider drag) are one undo step."""
        volumes = dict(self.volumes) | {channel: round(max(0.0, min(1.0, volume)), 3)}
        self.set(
            f"Volume of track {channel + 1}",
            merge_key=f"music.volume.{channel}",
            volumes=tuple(sorted((c, v) for c, v in volumes.items() if v != 1.0)),
        )

    def set_muted(self, channel: int, on: bool) -> None:
        group = (set(self.muted) | {channel}) if on else (set(self.muted) - {channel})
        label = f"{'Mute' if on else 'Unmute'} track {channel + 1}"
        self.set(label, muted=tuple(sorted(group)))

    def set_solo(self, channel: int, on: bool) -> None:
        group = (set(self.soloed) | {channel}) if on else (set(self.soloed) - {channel})
        label = f"{'Solo' if on else 'Unsolo'} track {channel + 1}"
        self.set(label, soloed=tuple(sorted(group)))

    def replace_clip(self, label: str, clip: MidiClip | Clip, source: str | None = None) -> None:
        """A whole new clip (an imported file, a recording) as one undo step."""
        clip = clip if isinstance(clip, Clip) else Clip.from_midi(clip)
        values: dict[str, Any] = {"clip": clip}
        if source is not None:
            values["source"] = source
        self.set(label, **values)

    def apply_generation(self, label: str, clips: Sequence[MidiClip | Clip]) -> None:
        """A finished generation (any mode, over existing bars too): the first take becomes the
        clip and all of them the takes, as ONE undo step called ``label``."""
        if not clips:
            raise ValueError("a generation made no clips")
        takes = tuple(c if isinstance(c, Clip) else Clip.from_midi(c) for c in clips)
        with self.macro(label):
            self.set(label, clip=takes[0], takes=takes, take=0)

    def choose_take(self, index: int) -> None:
        """Hear take ``index`` (0-based) in the editor: one undo step."""
        if not 0 <= index < len(self.takes):
            raise IndexError(f"there is no take {index + 1}")
        if index != self.take or self.clip != self.takes[index]:
            self.set(f"Take {index + 1}", clip=self.takes[index], take=index)

    # -- reading -----------------------------------------------------------------------------------
    def midi_clip(self) -> MidiClip:
        """The clip as a fresh MidiClip (an engine's input, what playback renders)."""
        return self.clip.to_midi()

    def mix(self) -> dict[int, float]:
        """channel -> gain for playback of each channel of the clip, mute and solo applied."""
        volumes = dict(self.volumes)
        out = {}
        for ch in self.clip.channels:
            audible = (ch in self.soloed) if self.soloed else (ch not in self.muted)
            out[ch] = volumes.get(ch, 1.0) if audible else 0.0
        return out

    def silent(self) -> set[int]:
        return {ch for ch, gain in self.mix().items() if gain == 0}

    def current_track(self) -> int | None:
        """The chosen track's channel (the first one when none was chosen), None when empty."""
        channels = self.clip.channels
        if self.track in channels:
            return self.track
        return channels[0] if channels else None

    def summary(self) -> str:
        """ "2 tracks, 64 notes, 8 bars, 3 takes": the line ``studio project info`` shows."""
        return _summary(self.clip, len(self.takes))

    # -- files -------------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> MusicDocument:
        """A document holding the notes of MIDI file ``path``. Raises DocumentError when it is
        not a readable MIDI file or has no notes."""
        path = Path(path)
        try:
            clip = MidiClip.load(path)
        except (ValueError, OSError) as exc:
            raise DocumentError(str(exc)) from exc
        if not clip.notes:
            raise DocumentError(f"{path.name} has no notes")
        return cls(clip=Clip.from_midi(clip), source=str(path))

    def export(self, path: str | Path, soundfont: Path | None = None) -> Path:
        """Write the clip as ``path``: a standard MIDI file (.mid, the same notes), or rendered
        audio (.wav, .flac) with the mix applied (``soundfont``: None for the shipped one).
        Raises DocumentError for another suffix or an empty clip, OSError when the file can't be
        written (what was there is kept)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in self.EXPORT_SUFFIXES:
            raise DocumentError(f"{path.name}: music exports to {', '.join(self.EXPORT_SUFFIXES)}")
        if suffix in (".mid", ".midi"):
            write_bytes(path, self.clip.to_midi().to_bytes())
            return path
        if not self.clip.notes:
            raise DocumentError("there are no notes to render")
        from studio.music.synth import render, save_audio

        audio = render(self.clip.to_midi(), soundfont, volumes=self.mix(), tail=0.5)
        with atomic_path(path) as temp:
            save_audio(audio, temp)
        return path

    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        clip: Clip = snapshot["clip"]
        takes: tuple[Clip, ...] = snapshot["takes"]
        files = [CLIP_MID]
        _write_if_changed(folder / CLIP_MID, clip.midi_bytes())
        take_meta = []
        if takes:
            (folder / TAKES).mkdir(exist_ok=True)
        for i, take in enumerate(takes, start=1):
            name = f"{TAKES}/take-{i}.mid"
            _write_if_changed(folder / name, take.midi_bytes())
            files.append(name)
            take_meta.append({"file": name, **_clip_meta(take)})
        fields = {
            name: to_jsonable(snapshot[name])
            for name in (*CONTROL_FIELDS, "volumes", "muted", "soloed", "take", "source")
        }
        fields["bar_range"] = to_jsonable(snapshot["bar_range"])
        fields["track"] = snapshot["track"]
        fields["selected_notes"] = [_note_json(n) for n in snapshot["selected_notes"]]
        data = {
            "kind": cls.KIND,
            "version": cls.VERSION,
            "history": list(snapshot.get("__history__", [])),
            "clip": {"file": CLIP_MID, **_clip_meta(clip)},
            "takes": take_meta,
            "fields": fields,
        }
        write_json(folder / DOCUMENT_JSON, data)
        files.append(DOCUMENT_JSON)
        # Takes of an earlier generation: document.json (written above) no longer names them.
        for old in (folder / TAKES).glob("take-*.mid") if (folder / TAKES).is_dir() else ():
            if f"{TAKES}/{old.name}" not in files:
                with contextlib.suppress(OSError):
                    old.unlink()
        return {
            "files": files,
            "summary": _summary(clip, len(takes)),
            "provenance": to_jsonable(clip.provenance_dict()),
        }

    @classmethod
    def read(cls, folder: Path) -> MusicDocument:
        folder = Path(folder)
        messages: list[str] = []
        try:
            data = read_json(folder / DOCUMENT_JSON)
        except DocumentError as exc:
            if not (folder / CLIP_MID).exists():
                raise
            messages.append(f"{exc}; the controls are back to their defaults")
            data = {}
        version = int(data.get("version", 1))
        if version > cls.VERSION:
            raise DocumentError(
                f"the music document was written by a newer Studio (format {version}, "
                f"this one reads up to {cls.VERSION})"
            )
        values: dict[str, Any] = {}
        for name, raw in dict(data.get("fields", {})).items():
            value = _field_from_json(name, raw)
            if value is not _INVALID:
                values[name] = value
        clip_meta = data.get("clip") if isinstance(data.get("clip"), dict) else {}
        clip = _read_clip(folder, str(clip_meta.get("file", CLIP_MID)), clip_meta, messages)
        if clip is not None:
            values["clip"] = clip
        takes = []
        for i, meta in enumerate(data.get("takes", []) or [], start=1):
            meta = meta if isinstance(meta, dict) else {}
            take = _read_clip(folder, str(meta.get("file", f"{TAKES}/take-{i}.mid")), meta,
                              messages, what=f"take {i}")  # fmt: skip
            if take is not None:
                takes.append(take)
        values["takes"] = tuple(takes)
        if not 0 <= int(values.get("take", -1)) < len(takes):
            values["take"] = -1
        doc = cls(**values)
        doc.messages.extend(messages)
        return doc


_INVALID = object()


def _field_from_json(name: str, raw: Any) -> Any:
    """A field's value from document.json, or _INVALID (it keeps its default) when it has the
    wrong shape: a hand-edited file must not break the panel."""
    if name not in MusicDocument.FIELDS or name in ("clip", "takes"):
        return _INVALID
    try:
        if name == "selected_notes":
            return tuple(n for n in (_note_from_json(x) for x in raw) if n is not None)
        if name == "bar_range":
            if raw is None:
                return None
            first, last = (int(x) for x in raw)
            return (first, last) if 1 <= first <= last else _INVALID
        if name == "volumes":
            return tuple((int(c), float(v)) for c, v in raw)
        if name in ("muted", "soloed"):
            return tuple(sorted(int(c) for c in raw))
        if name == "plugin_values":
            return {str(k): dict(v) for k, v in dict(raw).items()}
        if name == "family":
            return raw if raw in FAMILY_NAMES else _INVALID
        if name == "amount":
            return min(1.0, max(0.0, float(raw)))
        if name == "density":
            return min(2.0, max(-2.0, float(raw)))
        if name == "interp_steps":
            return min(16, max(2, int(raw)))
        default = MusicDocument.FIELDS[name]
        if isinstance(default, bool):
            return bool(raw) if isinstance(raw, bool) else _INVALID
        if isinstance(default, int):
            number = isinstance(raw, int | float) and not isinstance(raw, bool)
            return int(raw) if number else _INVALID
        if isinstance(default, float):
            return float(raw) if isinstance(raw, int | float) else _INVALID
        if isinstance(default, str):
            return raw if isinstance(raw, str) else _INVALID
    except (TypeError, ValueError):
        return _INVALID
    return _INVALID


def _clip_meta(clip: Clip) -> dict[str, Any]:
    """What a MIDI file does not hold exactly: kept in document.json beside it."""
    return {
        "bpm": clip.bpm,
        "length": clip.length,
        "programs": [list(p) for p in clip.programs],
        "provenance": to_jsonable(clip.provenance_dict()),
        "notes": len(clip.notes),
    }


def _read_clip(
    folder: Path, name: str, meta: dict[str, Any], messages: list[str], what: str = "the clip"
) -> Clip | None:
    path = folder / name
    try:
        midi = MidiClip.load(path)
    except FileNotFoundError:
        messages.append(f"{what} ({name}) is missing")
        return None
    except (ValueError, OSError) as exc:
        messages.append(f"{what} ({name}) could not be read: {exc}")
        return None
    with contextlib.suppress(TypeError, ValueError):
        if meta.get("bpm"):
            midi.bpm = float(meta["bpm"])
        if meta.get("length") is not None:
            midi.length = float(meta["length"])
        if "programs" in meta:
            midi.programs = {int(c): int(p) for c, p in meta["programs"]}
        if isinstance(meta.get("provenance"), dict):
            midi.provenance = dict(meta["provenance"])
    return Clip.from_midi(midi)


def _summary(clip: Clip, takes: int) -> str:
    text = clip.summary()
    return text + (f", {takes} take{'s' * (takes != 1)}" if takes else "")


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` atomically unless the file already holds exactly that (a save after a
    change of the controls leaves a long clip's file alone)."""
    with contextlib.suppress(OSError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    write_bytes(path, data)
