"""The Arrange panel's document, without Qt: one timeline of lanes and clips that puts the music,
the sung and spoken takes and the video together.

- The timeline counts in beats (quarter notes) and follows a tempo and meter map (``bpm``,
  ``tempo_changes``, ``beats_per_bar``/``beat_unit``), usually the Music document's;
  :meth:`ArrangeDocument.seconds_at` and :meth:`~ArrangeDocument.beat_at` convert.
- A **source** is what a clip plays: MIDI (held as an immutable :class:`~studio.music.document.Clip`
  and rendered with the SoundFont at the arrangement's tempo), audio (a take's samples held in
  memory, or a file), a video file or a picture (pixels or a file).
- A **lane** has a kind (``midi``, ``audio`` or ``video``: one video lane at most), gain, pan,
  mute, solo and effects. A **clip** sits on a lane at a beat, for a length in beats, from an
  offset into its source (beats for MIDI, seconds otherwise); it can loop and fade.
- Every edit is one undo step; the playhead, the selection, snap and zoom are view state.

Values are immutable (frozen dataclasses in tuples, read-only arrays), so an undo step and an
autosave snapshot hold references.

On disk (a project's ``arrange/`` folder)::

    document.json       tempo, lanes, clips, sources (files by path), master, history
    media/<id>.mid      MIDI sources
    media/<id>.flac     audio held in memory (takes sent from Voice)
    media/<id>.png      pictures held in memory (sent from Image)

A source that names a file outside the project keeps its path; when the file has moved or was
deleted, the document still opens and says which lane lost what.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from studio.core.atomic import atomic_path, write_bytes
from studio.core.document import (
    DOCUMENT_JSON,
    Document,
    DocumentError,
    plain,
    read_json,
    write_json,
)
from studio.core.media import MidiClip
from studio.music.document import Clip as MusicClip

__all__ = [
    "ArrangeDocument",
    "ArrangeClip",
    "Lane",
    "Source",
    "Effects",
    "LANE_KINDS",
    "AUDIO_SUFFIXES",
    "VIDEO_SUFFIXES",
    "IMAGE_SUFFIXES",
    "MIDI_SUFFIXES",
    "source_kind",
]

LANE_KINDS = ("midi", "audio", "video")
MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
MEDIA = "media"
MIN_LENGTH = 1 / 16  # beats: the shortest clip a trim or split leaves
MAX_LANES = 128


def source_kind(path: str | Path) -> str:
    """``midi``, ``audio``, ``video`` or ``image`` from a file's suffix. Raises DocumentError for
    anything else, naming what can be added."""
    suffix = Path(path).suffix.lower()
    for kind, suffixes in (("midi", MIDI_SUFFIXES), ("audio", AUDIO_SUFFIXES),
                           ("video", VIDEO_SUFFIXES), ("image", IMAGE_SUFFIXES)):  # fmt: skip
        if suffix in suffixes:
            return kind
    raise DocumentError(
        f"{Path(path).name}: Arrange takes MIDI ({', '.join(MIDI_SUFFIXES)}), audio "
        f"({', '.join(AUDIO_SUFFIXES)}), video ({', '.join(VIDEO_SUFFIXES)}) or pictures "
        f"({', '.join(IMAGE_SUFFIXES)})"
    )


def lane_kind_for(kind: str) -> str:
    return "video" if kind in ("video", "image") else kind


@dataclass(frozen=True)
class Effects:
    """A lane's (or the master's) effects, run by pedalboard in this order: EQ (low shelf
    200 Hz, peak 1 kHz, high shelf 5 kHz, in dB), compressor (0..1 amount), delay (0..1 mix,
    time in beats so it follows the tempo), reverb (0..1 wet)."""

    low_db: float = 0.0
    mid_db: float = 0.0
    high_db: float = 0.0
    compress: float = 0.0
    delay: float = 0.0
    delay_beats: float = 0.5
    reverb: float = 0.0

    @property
    def active(self) -> bool:
        return any((self.low_db, self.mid_db, self.high_db, self.compress, self.delay,
                    self.reverb))  # fmt: skip

    @classmethod
    def from_dict(cls, data: Any) -> Effects:
        values = {}
        for f in dataclasses.fields(cls):
            try:
                values[f.name] = float(data[f.name])
            except (KeyError, TypeError, ValueError):
                continue
        return cls(**values)


@dataclass(frozen=True)
class Lane:
    id: int
    name: str
    kind: str  # one of LANE_KINDS
    gain_db: float = 0.0
    pan: float = 0.0  # -1 left .. 1 right
    mute: bool = False
    solo: bool = False
    effects: Effects = field(default_factory=Effects)


def _frozen(array: np.ndarray | None, dtype=np.float32) -> np.ndarray | None:
    if array is None:
        return None
    out = np.asarray(array, dtype=dtype)
    if out.flags.writeable:
        out = out.copy()
        out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Source:
    """What clips play. Exactly one of ``path`` (a file, kept where it is), ``midi``,
    ``samples`` or ``pixels`` holds the content. ``sung_bpm``: the tempo a sung take was sung
    at; when the arrangement's tempo differs the take is re-timed with WORLD to stay on its
    melody."""

    id: str
    kind: str  # midi, audio, video, image
    name: str
    path: str = ""
    midi: MusicClip | None = None
    samples: np.ndarray | None = field(default=None, repr=False)
    sample_rate: int = 0
    pixels: np.ndarray | None = field(default=None, repr=False)  # H x W x 3 uint8
    seconds: float = 0.0  # length (audio, video); 0 for pictures and MIDI
    sung_bpm: float | None = None
    provenance: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "samples", _frozen(self.samples))
        object.__setattr__(self, "pixels", _frozen(self.pixels, np.uint8))

    @property
    def embedded(self) -> bool:
        return not self.path

    @property
    def missing(self) -> bool:
        return bool(self.path) and not Path(self.path).exists()

    @property
    def media_file(self) -> str:
        ext = {"midi": ".mid", "audio": ".flac", "image": ".png"}.get(self.kind, "")
        return f"{MEDIA}/{self.id}{ext}"

    def length_beats(self, doc: ArrangeDocument, at: float) -> float:
        """The natural length of a clip of this source placed at beat ``at``."""
        if self.kind == "midi" and self.midi is not None:  # whole bars: clips line up
            bars = math.ceil(round(self.midi.length_beats / doc.bar_length, 6))
            return max(1, bars) * doc.bar_length
        if self.kind == "image" or self.seconds <= 0:
            return float(doc.bar_length * 4)
        return max(MIN_LENGTH, doc.beat_at(doc.seconds_at(at) + self.seconds) - at)

    def meta(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "name": self.name, "path": self.path,
            "file": "" if self.path else self.media_file, "sample_rate": self.sample_rate,
            "seconds": round(self.seconds, 6), "sung_bpm": self.sung_bpm,
            "provenance": {k: _plain(v) for k, v in self.provenance},
        }  # fmt: skip


@dataclass(frozen=True)
class ArrangeClip:
    id: int
    lane: int  # the lane's id
    source: str  # the source's id
    start: float  # beat on the timeline
    length: float  # beats on the timeline
    offset: float = 0.0  # into the source: beats for MIDI, seconds otherwise
    loop: bool = False  # repeat the source to fill the length
    fade_in: float = 0.0  # beats
    fade_out: float = 0.0  # beats
    gain_db: float = 0.0

    @property
    def end(self) -> float:
        return self.start + self.length


_plain = plain  # provenance as plain JSON


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class ArrangeDocument(Document):
    """Everything the Arrange panel shows and edits."""

    KIND: ClassVar[str] = "arrange"
    VERSION: ClassVar[int] = 1
    FIELDS: ClassVar[dict[str, Any]] = {
        "bpm": 120.0,
        "beats_per_bar": 4,
        "beat_unit": 4,
        "tempo_changes": tuple,  # ((beat, bpm), ...)
        "lanes": tuple,  # tuple[Lane, ...] top to bottom
        "clips": tuple,  # tuple[ArrangeClip, ...]
        "sources": tuple,  # tuple[Source, ...]
        "master_gain_db": 0.0,
        "master_effects": Effects,
        "target_lufs": -14.0,
        "loop_region": None,  # (start, end) beats, or None
        # view state
        "playhead": 0.0,  # beats
        "selected_clip": 0,
        "selected_lane": 0,
        "snap": 1.0,  # beats; 0 = off
        "zoom": 24.0,  # pixels per beat
    }
    QUIET_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"playhead", "selected_clip", "selected_lane", "snap", "zoom"}
    )

    # -- time --------------------------------------------------------------------------------------
    @property
    def bar_length(self) -> float:
        return self.beats_per_bar * 4.0 / self.beat_unit

    def _map(self) -> list[tuple[float, float]]:
        return [(0.0, float(self.bpm))] + sorted((float(b), float(t)) for b, t in
                                                 self.tempo_changes if b > 0)  # fmt: skip

    def seconds_at(self, beat: float) -> float:
        """Seconds from the start of the timeline to ``beat``, following the tempo map."""
        seconds, at, bpm = 0.0, 0.0, float(self.bpm)
        for change, new in self._map()[1:]:
            if change >= beat:
                break
            seconds += (change - at) * 60.0 / bpm
            at, bpm = change, new
        return seconds + (beat - at) * 60.0 / bpm

    def beat_at(self, seconds: float) -> float:
        at, elapsed, bpm = 0.0, 0.0, float(self.bpm)
        for change, new in self._map()[1:]:
            span = (change - at) * 60.0 / bpm
            if elapsed + span >= seconds:
                break
            elapsed += span
            at, bpm = change, new
        return at + (seconds - elapsed) * bpm / 60.0

    def bar_beat(self, beat: float) -> str:
        """``"3.2"``: bar 3, beat 2 (1-based), for labels."""
        bar = int(beat // self.bar_length)
        within = (beat - bar * self.bar_length) / (4.0 / self.beat_unit)
        return f"{bar + 1}.{int(within) + 1}"

    def snapped(self, beat: float) -> float:
        step = float(self.snap)
        beat = max(0.0, float(beat))
        return round(beat / step) * step if step > 0 else beat

    @property
    def length_beats(self) -> float:
        return max((c.end for c in self.clips), default=0.0)

    @property
    def seconds(self) -> float:
        return self.seconds_at(self.length_beats)

    # -- lookups -----------------------------------------------------------------------------------
    def lane(self, lane_id: int) -> Lane | None:
        return next((lane for lane in self.lanes if lane.id == lane_id), None)

    def clip(self, clip_id: int) -> ArrangeClip | None:
        return next((c for c in self.clips if c.id == clip_id), None)

    def source(self, source_id: str) -> Source | None:
        return next((s for s in self.sources if s.id == source_id), None)

    def lane_clips(self, lane_id: int) -> list[ArrangeClip]:
        return sorted((c for c in self.clips if c.lane == lane_id), key=lambda c: c.start)

    def lane_index(self, lane_id: int) -> int:
        return next((i for i, lane in enumerate(self.lanes) if lane.id == lane_id), -1)

    def video_lane(self) -> Lane | None:
        return next((lane for lane in self.lanes if lane.kind == "video"), None)

    def audible(self, lane: Lane) -> bool:
        """Mute and solo: with any lane soloed only soloed lanes sound."""
        if any(x.solo for x in self.lanes if x.kind != "video"):
            return lane.solo and not lane.mute
        return not lane.mute

    def missing(self) -> list[str]:
        """A line for each lane whose file was moved or deleted."""
        out = []
        used = {c.source: c.lane for c in self.clips}
        for source in self.sources:
            if source.id in used and source.missing:
                lane = self.lane(used[source.id])
                where = f"lane {self.lane_index(lane.id) + 1} ({lane.name})" if lane else "a lane"
                out.append(f"{where}: {source.path} is missing (moved or deleted?); it stays "
                           "silent until you add the file again")  # fmt: skip
        return out

    def summary(self) -> str:
        minutes, secs = divmod(self.seconds, 60)
        return (f"{len(self.lanes)} lane{'s' * (len(self.lanes) != 1)}, {len(self.clips)} clip"
                f"{'s' * (len(self.clips) != 1)}, {int(minutes)}:{secs:04.1f} at "
                f"{self.bpm:g} BPM")  # fmt: skip

    def _next_lane_id(self) -> int:
        return max((lane.id for lane in self.lanes), default=0) + 1

    def _next_clip_id(self) -> int:
        return max((c.id for c in self.clips), default=0) + 1

    # -- edits: lanes ------------------------------------------------------------------------------
    def add_lane(self, kind: str, name: str = "") -> Lane:
        """A new empty lane at the bottom (the video lane is reused: there is one)."""
        if kind not in LANE_KINDS:
            raise ValueError(f"a lane is {', '.join(LANE_KINDS)}, not {kind!r}")
        if kind == "video" and self.video_lane() is not None:
            return self.video_lane()  # type: ignore[return-value]
        if len(self.lanes) >= MAX_LANES:
            raise DocumentError(f"an arrangement holds at most {MAX_LANES} lanes")
        lane = Lane(self._next_lane_id(), name or f"{kind.capitalize()} {len(self.lanes) + 1}",
                    kind)  # fmt: skip
        self.set(f"Add lane {lane.name}", lanes=(*self.lanes, lane), selected_lane=lane.id)
        return lane

    def remove_lane(self, lane_id: int) -> None:
        lane = self.lane(lane_id)
        if lane is None:
            return
        clips = tuple(c for c in self.clips if c.lane != lane_id)
        self.set(f"Delete lane {lane.name}", lanes=tuple(x for x in self.lanes if x.id != lane_id),
                 clips=clips, sources=self._used_sources(clips))  # fmt: skip

    def set_lane(self, lane_id: int, label: str | None = None, **changes: Any) -> None:
        """Change a lane (gain_db, pan, mute, solo, name) as one undo step; consecutive moves of
        one slider merge into one."""
        lane = self.lane(lane_id)
        if lane is None:
            raise KeyError(f"no lane {lane_id}")
        new = replace(lane, **changes)
        what = ", ".join(sorted(changes))
        self.set(label or f"{lane.name}: {what}", merge_key=f"arrange.lane.{lane_id}.{what}",
                 lanes=tuple(new if x.id == lane_id else x for x in self.lanes))  # fmt: skip

    def set_lane_effects(self, lane_id: int, **changes: float) -> None:
        lane = self.lane(lane_id)
        if lane is None:
            raise KeyError(f"no lane {lane_id}")
        what = ", ".join(sorted(changes))
        self.set_lane(lane_id, f"{lane.name}: {what}",
                      effects=replace(lane.effects, **changes))  # fmt: skip

    def set_master(self, **changes: Any) -> None:
        """``gain_db``, ``target_lufs`` or effect names (reverb, compress, ...)."""
        values: dict[str, Any] = {}
        effects = {k: v for k, v in changes.items() if k not in ("gain_db", "target_lufs")}
        if "gain_db" in changes:
            values["master_gain_db"] = float(changes["gain_db"])
        if "target_lufs" in changes:
            values["target_lufs"] = changes["target_lufs"]
        if effects:
            values["master_effects"] = replace(self.master_effects, **effects)
        what = ", ".join(sorted(changes))
        self.set(f"Master: {what}", merge_key=f"arrange.master.{what}", **values)

    def set_tempo(self, bpm: float, beats_per_bar: int | None = None,
                  beat_unit: int | None = None, tempo_changes=None) -> None:  # fmt: skip
        """A new tempo (and meter): MIDI follows at once, sung takes are re-timed to stay on
        their melody."""
        if not 20 <= bpm <= 400:
            raise ValueError(f"tempo {bpm:g} BPM is outside 20..400")
        values: dict[str, Any] = {"bpm": float(bpm)}
        if beats_per_bar:
            values["beats_per_bar"] = int(beats_per_bar)
        if beat_unit:
            values["beat_unit"] = int(beat_unit)
        if tempo_changes is not None:
            values["tempo_changes"] = tuple((float(b), float(t)) for b, t in tempo_changes)
        self.set(f"Tempo {bpm:g} BPM", merge_key="arrange.tempo", **values)

    def follow_music(self, clip: MusicClip | MidiClip) -> None:
        """Take the tempo and meter map of the Music document's clip."""
        self.set_tempo(clip.bpm, clip.beats_per_bar, clip.beat_unit,
                       tuple(tuple(c) for c in clip.tempo_changes))  # fmt: skip

    # -- edits: sources and clips ------------------------------------------------------------------
    def add_source(
        self, source: Source, at: float | None = None, lane_id: int | None = None,
        label: str | None = None, length: float | None = None,
    ) -> ArrangeClip:  # fmt: skip
        """Put ``source`` on the timeline at beat ``at`` (default: the playhead) on lane
        ``lane_id`` (default: a new lane of its kind; the video lane for pictures and video),
        as one undo step. Returns the clip."""
        at = self.playhead if at is None else max(0.0, float(at))
        kind = lane_kind_for(source.kind)
        with self.macro(label or f"Add {source.name}"):
            lane = self.lane(lane_id) if lane_id is not None else None
            if lane is not None and lane.kind != kind:
                raise DocumentError(f"{source.name} is {source.kind}; lane {lane.name} holds "
                                    f"{lane.kind}")  # fmt: skip
            if lane is None:
                lane = self.add_lane(kind, name=source.name if kind != "video" else "Video")
            clip = ArrangeClip(self._next_clip_id(), lane.id, source.id, at,
                               length or source.length_beats(self, at))  # fmt: skip
            sources = self.sources if self.source(source.id) else (*self.sources, source)
            self.set(label or f"Add {source.name}", sources=sources, clips=(*self.clips, clip),
                     selected_clip=clip.id, selected_lane=lane.id)  # fmt: skip
        return clip

    def add_file(self, path: str | Path, at: float | None = None,
                 lane_id: int | None = None) -> ArrangeClip:  # fmt: skip
        """A MIDI, audio, video or picture file onto the timeline (see :func:`source_from_file`).
        Raises DocumentError when the file can't be read."""
        return self.add_source(source_from_file(path), at, lane_id)

    def _replace_clip(self, label: str, clip: ArrangeClip, merge: str | None = None) -> None:
        self.set(label, merge_key=merge,
                 clips=tuple(clip if c.id == clip.id else c for c in self.clips))  # fmt: skip

    def _get(self, clip_id: int) -> ArrangeClip:
        clip = self.clip(clip_id)
        if clip is None:
            raise KeyError(f"no clip {clip_id}")
        return clip

    def move_clip(self, clip_id: int, start: float, lane_id: int | None = None,
                  snap: bool = True) -> None:  # fmt: skip
        clip = self._get(clip_id)
        start = self.snapped(start) if snap else max(0.0, start)
        changes: dict[str, Any] = {"start": start}
        if lane_id is not None and lane_id != clip.lane:
            lane, old = self.lane(lane_id), self.lane(clip.lane)
            if lane is None or old is None or lane.kind != old.kind:
                raise DocumentError("a clip moves only to a lane of its kind")
            changes["lane"] = lane_id
        self._replace_clip(f"Move clip to {self.bar_beat(start)}", replace(clip, **changes))

    def trim_clip(self, clip_id: int, start: float | None = None, end: float | None = None,
                  snap: bool = True) -> None:  # fmt: skip
        """Move the clip's left edge (its source starts later: ``offset`` grows) and/or its right
        edge."""
        clip = self._get(clip_id)
        source = self.source(clip.source)
        new = clip
        if start is not None:
            start = self.snapped(start) if snap else max(0.0, start)
            start = min(start, clip.end - MIN_LENGTH)
            start = max(start, clip.start - self._offset_beats(clip, source))
            offset = clip.offset + self._source_units(clip, source, clip.start, start)
            new = replace(new, start=start, length=clip.end - start, offset=max(0.0, offset))
        if end is not None:
            end = self.snapped(end) if snap else end
            new = replace(new, length=max(MIN_LENGTH, end - new.start))
        self._replace_clip("Trim clip", new)

    def _source_units(self, clip: ArrangeClip, source: Source | None, a: float, b: float) -> float:
        """The source time between timeline beats ``a`` and ``b`` (beats for MIDI, else s)."""
        if source is not None and source.kind == "midi":
            return b - a
        return self.seconds_at(b) - self.seconds_at(a)

    def _offset_beats(self, clip: ArrangeClip, source: Source | None) -> float:
        if source is not None and source.kind == "midi":
            return clip.offset
        return clip.start - self.beat_at(max(0.0, self.seconds_at(clip.start) - clip.offset))

    def split_clip(self, clip_id: int, at: float, snap: bool = True) -> ArrangeClip | None:
        """Cut the clip in two at beat ``at``; returns the right-hand part (None when ``at`` is
        not inside it)."""
        clip = self._get(clip_id)
        at = self.snapped(at) if snap else at
        if not clip.start + MIN_LENGTH <= at <= clip.end - MIN_LENGTH:
            return None
        source = self.source(clip.source)
        left = replace(clip, length=at - clip.start, fade_out=0.0)
        right = replace(clip, id=self._next_clip_id(), start=at, length=clip.end - at,
                        offset=clip.offset + self._source_units(clip, source, clip.start, at),
                        fade_in=0.0)  # fmt: skip
        clips = tuple(left if c.id == clip.id else c for c in self.clips) + (right,)
        self.set(f"Split clip at {self.bar_beat(at)}", clips=clips, selected_clip=right.id)
        return right

    def set_clip(self, clip_id: int, **changes: Any) -> None:
        """Loop, fades (beats, at most the clip's length) or gain, as one undo step."""
        clip = self._get(clip_id)
        for name in ("fade_in", "fade_out"):
            if name in changes:
                changes[name] = max(0.0, min(float(changes[name]), clip.length))
        what = ", ".join(sorted(changes)).replace("_", " ")
        self._replace_clip(f"Clip {what}", replace(clip, **changes),
                           merge=f"arrange.clip.{clip_id}.{what}")  # fmt: skip

    def remove_clip(self, clip_id: int) -> None:
        clip = self._get(clip_id)
        clips = tuple(c for c in self.clips if c.id != clip_id)
        source = self.source(clip.source)
        self.set(f"Delete clip {source.name if source else clip_id}", clips=clips,
                 sources=self._used_sources(clips), selected_clip=0)  # fmt: skip

    def _used_sources(self, clips: tuple[ArrangeClip, ...]) -> tuple[Source, ...]:
        used = {c.source for c in clips}
        return tuple(s for s in self.sources if s.id in used)

    def set_loop_region(self, region: tuple[float, float] | None) -> None:
        if region is not None:
            a, b = sorted(float(x) for x in region)
            region = (a, b) if b - a >= MIN_LENGTH else None
        self.set("Loop region" if region else "No loop region", loop_region=region)

    # -- files -------------------------------------------------------------------------------------
    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        folder = Path(folder)
        files = [DOCUMENT_JSON]
        sources = snapshot["sources"]
        if any(s.embedded for s in sources):
            (folder / MEDIA).mkdir(exist_ok=True)
        for source in sources:
            if not source.embedded:
                continue
            target = folder / source.media_file
            files.append(source.media_file)
            if target.exists():  # the id names the content: written before, unchanged
                continue
            _write_media(source, target)
        fields: dict[str, Any] = {}
        for name in cls.FIELDS:
            value = snapshot[name]
            if name == "sources":
                value = [s.meta() for s in value]
            elif name in ("lanes", "clips"):
                value = [dataclasses.asdict(x) for x in value]
            elif name == "master_effects":
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = [list(x) if isinstance(x, tuple) else x for x in value]
            fields[name] = value
        data = {"kind": cls.KIND, "version": cls.VERSION,
                "history": snapshot.get("__history__", []), "fields": fields}  # fmt: skip
        write_json(folder / DOCUMENT_JSON, data)
        doc = cls(**{k: v for k, v in snapshot.items() if k in cls.FIELDS})
        return {"files": files, "summary": doc.summary()}

    @classmethod
    def read(cls, folder: Path) -> ArrangeDocument:
        folder = Path(folder)
        data = read_json(folder / DOCUMENT_JSON)
        if int(data.get("version", 1)) > cls.VERSION:
            raise DocumentError(
                f"the arrange document was written by a newer Studio (format "
                f"{data.get('version')}, this one reads up to {cls.VERSION})"
            )
        fields = data.get("fields", {})
        messages: list[str] = []
        values: dict[str, Any] = {}
        try:
            for name in ("bpm", "master_gain_db", "playhead", "snap", "zoom"):
                if name in fields:
                    values[name] = float(fields[name])
            for name in ("beats_per_bar", "beat_unit", "selected_clip", "selected_lane"):
                if name in fields:
                    values[name] = int(fields[name])
            if fields.get("target_lufs") is not None:
                values["target_lufs"] = float(fields["target_lufs"])
            elif "target_lufs" in fields:
                values["target_lufs"] = None
            region = fields.get("loop_region")
            values["loop_region"] = tuple(float(x) for x in region) if region else None
            values["tempo_changes"] = tuple(
                (float(b), float(t)) for b, t in fields.get("tempo_changes", [])
            )
            values["master_effects"] = Effects.from_dict(fields.get("master_effects", {}))
            values["lanes"] = tuple(
                Lane(int(x["id"]), str(x["name"]), str(x["kind"]), float(x.get("gain_db", 0)),
                     float(x.get("pan", 0)), bool(x.get("mute")), bool(x.get("solo")),
                     Effects.from_dict(x.get("effects", {})))
                for x in fields.get("lanes", []))  # fmt: skip
            values["clips"] = tuple(
                ArrangeClip(int(c["id"]), int(c["lane"]), str(c["source"]), float(c["start"]),
                            float(c["length"]), float(c.get("offset", 0)), bool(c.get("loop")),
                            float(c.get("fade_in", 0)), float(c.get("fade_out", 0)),
                            float(c.get("gain_db", 0)))
                for c in fields.get("clips", []))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            raise DocumentError(f"{folder / DOCUMENT_JSON} is damaged: {exc}") from exc
        sources = []
        for meta in fields.get("sources", []):
            source = _read_source(folder, meta, messages)
            if source is not None:
                sources.append(source)
        values["sources"] = tuple(sources)
        known = {s.id for s in sources}
        values["clips"] = tuple(c for c in values["clips"] if c.source in known)
        doc = cls(**values)
        doc.messages.extend(messages + doc.missing())
        return doc


def _write_media(source: Source, target: Path) -> None:
    if source.kind == "midi" and source.midi is not None:
        write_bytes(target, source.midi.to_midi().to_bytes())
    elif source.kind == "audio" and source.samples is not None:
        import soundfile

        with atomic_path(target) as temp:
            soundfile.write(str(temp), np.clip(source.samples, -1, 1), source.sample_rate,
                            format="FLAC", subtype="PCM_24")  # fmt: skip
    elif source.kind == "image" and source.pixels is not None:
        from PIL import Image

        with atomic_path(target) as temp:
            Image.fromarray(np.asarray(source.pixels)).save(temp, format="PNG")


def _read_source(folder: Path, meta: dict[str, Any], messages: list[str]) -> Source | None:
    try:
        sid, kind, name = str(meta["id"]), str(meta["kind"]), str(meta.get("name", ""))
    except (KeyError, TypeError):
        messages.append(f"a source without an id was left out ({meta!r:.80})")
        return None
    common = {
        "id": sid, "kind": kind, "name": name, "seconds": float(meta.get("seconds") or 0),
        "sung_bpm": float(meta["sung_bpm"]) if meta.get("sung_bpm") else None,
        "provenance": _freeze(meta.get("provenance") or {}),
    }  # fmt: skip
    if meta.get("path"):
        return Source(path=str(meta["path"]), sample_rate=int(meta.get("sample_rate") or 0),
                      **common)  # fmt: skip
    file = folder / str(meta.get("file", ""))
    try:
        if kind == "midi":
            return Source(midi=MusicClip.from_midi(MidiClip.load(file)), **common)
        if kind == "audio":
            import soundfile

            samples, rate = soundfile.read(str(file), dtype="float32", always_2d=False)
            return Source(samples=samples, sample_rate=int(rate), **common)
        if kind == "image":
            from PIL import Image

            with Image.open(file) as im:
                return Source(pixels=np.asarray(im.convert("RGB")), **common)
    except Exception as exc:  # noqa: BLE001 - any unreadable media file is a message
        reason = "is missing" if not file.exists() else f"could not be read ({exc})"
        messages.append(f"{name or sid} ({meta.get('file')}) {reason}: its clips were left out")
        return None
    messages.append(f"{name or sid}: unknown source kind {kind!r}; left out")
    return None


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def source_from_file(path: str | Path, name: str | None = None) -> Source:
    """A source for a file: MIDI is read in (its notes live in the project), audio and video
    stay where they are (their length is read now), pictures too. Raises DocumentError when the
    file is missing or unreadable."""
    path = Path(path).expanduser()
    kind = source_kind(path)
    if not path.is_file():
        raise DocumentError(f"{path} does not exist")
    name = name or path.stem
    if kind == "midi":
        try:
            clip = MidiClip.load(path)
        except (ValueError, OSError) as exc:
            raise DocumentError(str(exc)) from exc
        if not clip.notes:
            raise DocumentError(f"{path.name} has no notes")
        return Source(new_id(), "midi", name, midi=MusicClip.from_midi(clip),
                      provenance=(("file", str(path.resolve())),))  # fmt: skip
    path = path.resolve()
    if kind == "audio":
        import soundfile

        try:
            info = soundfile.info(str(path))
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors vary
            raise DocumentError(f"{path.name} is not readable audio: {exc}") from exc
        return Source(new_id(), "audio", name, path=str(path), sample_rate=int(info.samplerate),
                      seconds=float(info.frames) / info.samplerate)  # fmt: skip
    if kind == "video":
        import cv2

        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise DocumentError(f"{path.name} is not a readable video")
            fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
            frames = cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0
        finally:
            cap.release()
        seconds = frames / fps if fps > 0 and math.isfinite(fps) else 0.0
        return Source(new_id(), "video", name, path=str(path), seconds=seconds)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, UnidentifiedImageError) as exc:
        raise DocumentError(f"{path.name} is not a readable picture: {exc}") from exc
    return Source(new_id(), "image", name, path=str(path))
