"""Studio's music tokens: miditok REMI for the notes of each bar, arranged MMM-style.

A piece becomes ``BOS Key Meter Tempo Style Density`` followed by one block per track,
``Track_<program> Bar <notes> Bar <notes> ... TrackEnd``, then ``EOS``. Notes inside a bar are
miditok REMI tokens (Position, Pitch, Velocity, Duration). Because tracks come one after another, a
given track can be kept exactly while others are written (harmonize), and because any bar can be
replaced by a ``Fill`` placeholder whose content follows after ``FillStart`` (fill-in-the-middle),
one model continues, infills bars and adds voices.

Meter changes: a bar whose meter differs from the one before it (in that track) starts with a
``Meter_<n>/<d>`` token, so the bar grid follows the piece's meter map. Inside a bar, Position and
Duration count in the meter's own beat (an eighth in 6/8), as miditok writes them.
For the bar grid of a tokenized piece use :func:`piece_bar_starts` (bar index -> start in quarter
notes, ticks = beats * ticks per quarter) and :func:`piece_bar_at` (beat -> bar index); for a
MidiClip, ``MidiClip.bar_starts`` / ``bar_at`` give the same grid.

The vocabulary only ever grows at its end (new meters, then new styles), so a model trained on a
smaller vocabulary keeps working: it never sees the new ids (see :meth:`MusicTokenizer.style_for`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from studio.core.media import DRUM_CHANNEL, MidiClip, Note
from studio.music.keys import PITCH_NAMES, Key, find_key

__all__ = [
    "MusicTokenizer",
    "clip_key",
    "PieceTokens",
    "TrackBars",
    "STYLES",
    "TEMPO_BINS",
    "METERS",
    "piece_bar_starts",
    "piece_bar_at",
    "piece_meters",
]

SPECIALS = ("PAD", "BOS", "EOS", "TrackEnd", "Bar", "Fill", "FillStart", "FillEnd")
# New entries go at the END (their tokens are appended to the vocabulary, after everything else).
STYLES = ("chorale", "essen", "oneills", "ryans", "user", "other", "pop", "groove", "game", "folk")
_BASE_STYLES = 6  # styles the first vocabulary (450 tokens, studio-music-small) has
TEMPO_BINS = (60, 80, 100, 120, 140, 170)  # upper edges; last bin is open
DENSITY_EDGES = (2.0, 4.0, 6.0, 9.0)  # notes per bar per track
METERS = ((2, 4), (3, 4), (4, 4), (5, 4), (6, 4), (7, 4), (2, 2), (3, 2), (4, 2), (3, 8), (6, 8),
          (9, 8), (12, 8), (1, 4), (5, 8), (7, 8))  # fmt: skip
_BASE_METERS = 14  # meters the first vocabulary has; later ones are appended at its end
POSITIONS_PER_BEAT = 8


@dataclass
class TrackBars:
    """One track: its General MIDI program, whether it is drums, and its bars as token ids."""

    program: int
    drum: bool
    bars: list[list[int]]


@dataclass
class PieceTokens:
    """A tokenized piece: the controls and every track's bars."""

    piece_id: str
    style: str
    key: Key
    meter: tuple[int, int]
    tempo: float
    tracks: list[TrackBars] = field(default_factory=list)

    @property
    def n_bars(self) -> int:
        return max((len(t.bars) for t in self.tracks), default=0)

    @property
    def beats_per_bar(self) -> float:
        return self.meter[0] * 4.0 / self.meter[1]


def _tempo_bin(bpm: float) -> int:
    for i, edge in enumerate(TEMPO_BINS):
        if bpm < edge:
            return i
    return len(TEMPO_BINS)


def _bin_tempo(index: int) -> float:
    centers = (50, 70, 90, 110, 130, 155, 185)
    return float(centers[index])


class MusicTokenizer:
    """Turns scores and MidiClips into token ids and back. Deterministic: the vocabulary depends on
    the miditok configuration only.
    """

    def __init__(self) -> None:
        import miditok

        self.config = miditok.TokenizerConfig(
            pitch_range=(21, 109),
            beat_res={(0, 4): POSITIONS_PER_BEAT, (4, 12): 4},
            num_velocities=8,
            use_time_signatures=True,
            use_tempos=False,
            use_programs=False,
            use_chords=False,
            use_rests=False,
            use_pitchdrum_tokens=False,  # drums share the Pitch tokens (the track says "drums")
            time_signature_range={8: [3, 5, 6, 7, 9, 12], 4: [1, 2, 3, 4, 5, 6, 7], 2: [2, 3, 4]},
        )
        self.remi = miditok.REMI(self.config)
        names: list[str] = list(SPECIALS)
        note_prefixes = ("Position_", "Pitch_", "Velocity_", "Duration_")
        base = sorted(self.remi.vocab.items(), key=lambda kv: kv[1])
        names += [tok for tok, _ in base if tok.startswith(note_prefixes)]
        names += [f"Key_{PITCH_NAMES[t]}_{m}" for m in ("major", "minor") for t in range(12)]
        names += [f"Meter_{n}/{d}" for n, d in METERS[:_BASE_METERS]]
        names += [f"Tempo_{i}" for i in range(len(TEMPO_BINS) + 1)]
        names += [f"Style_{s}" for s in STYLES[:_BASE_STYLES]]
        names += [f"Density_{i}" for i in range(len(DENSITY_EDGES) + 1)]
        names += [f"Track_{p}" for p in range(128)] + ["Track_Drums"]
        # appended later (a model trained before simply never sees these ids)
        names += [f"Meter_{n}/{d}" for n, d in METERS[_BASE_METERS:]]
        names += [f"Style_{s}" for s in STYLES[_BASE_STYLES:]]
        self.names = names
        self.ids = {name: i for i, name in enumerate(names)}
        self.base_to_ours = {
            bid: self.ids[tok] for tok, bid in self.remi.vocab.items() if tok in self.ids
        }
        for name in SPECIALS:
            setattr(self, name.upper(), self.ids[name])

    @property
    def vocab_size(self) -> int:
        return len(self.names)

    # -- token classes -----------------------------------------------------------------------------
    @cached_property
    def pitch_ids(self) -> dict[int, int]:
        """token id -> MIDI pitch, for every Pitch token."""
        return {i: int(n.split("_")[1]) for n, i in self.ids.items() if n.startswith("Pitch_")}

    @cached_property
    def note_token_ids(self) -> frozenset[int]:
        prefixes = ("Position_", "Pitch_", "Velocity_", "Duration_")
        return frozenset(i for n, i in self.ids.items() if n.startswith(prefixes))

    @cached_property
    def track_token_ids(self) -> frozenset[int]:
        return frozenset(i for n, i in self.ids.items() if n.startswith("Track_"))

    def track_token(self, program: int, drum: bool) -> int:
        return self.ids["Track_Drums" if drum else f"Track_{program}"]

    # -- encoding ----------------------------------------------------------------------------------
    def encode_score(
        self, score, piece_id: str = "", style: str = "other", key: Key | None = None
    ) -> PieceTokens:
        """A symusic Score -> PieceTokens. Empty tracks are dropped; the first meter and tempo are
        the piece's controls; the key is found from the notes when not given.
        """
        meter = (4, 4)
        if len(score.time_signatures):
            ts = score.time_signatures[0]
            if (ts.numerator, ts.denominator) in METERS:
                meter = (ts.numerator, ts.denominator)
        tempo = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
        tracks: list[TrackBars] = []
        pitches: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        nonempty = [t for t in score.tracks if len(t.notes)]
        if not nonempty:
            return PieceTokens(piece_id, style, key or Key(0, "major"), meter, tempo, [])
        seqs = self.remi.encode(score)
        if not isinstance(seqs, list):
            seqs = [seqs]
        for track, seq in zip(nonempty, seqs, strict=False):
            bars: list[list[int]] = []
            current = meter
            for tok, bid in zip(seq.tokens, seq.ids, strict=False):
                if tok == "Bar_None":
                    bars.append([])
                elif tok.startswith("TimeSig_") and bars:
                    n, _, d = tok[8:].partition("/")
                    ts = (int(n), int(d))
                    if ts != current and f"Meter_{n}/{d}" in self.ids:
                        # a meter change: the bar starts with its Meter token
                        bars[-1].insert(0, self.ids[f"Meter_{n}/{d}"])
                        current = ts
                elif bid in self.base_to_ours and bars:
                    bars[-1].append(self.base_to_ours[bid])
            while bars and not bars[-1]:
                bars.pop()
            if not bars:
                continue
            tracks.append(TrackBars(int(track.program), bool(track.is_drum), bars))
            if not track.is_drum:
                arr = track.notes.numpy()
                pitches.append(arr["pitch"])
                weights.append(arr["duration"])
        if key is None:
            key = (
                find_key(np.concatenate(pitches), np.concatenate(weights))
                if pitches
                else Key(0, "major")
            )
        return PieceTokens(piece_id, style, key, meter, tempo, tracks)

    def encode_midi_bytes(
        self, data: bytes, piece_id: str = "", style: str = "other"
    ) -> PieceTokens:
        import symusic

        return self.encode_score(symusic.Score.from_midi(data), piece_id, style)

    def encode_clip(
        self,
        clip: MidiClip,
        style: str = "user",
        key: Key | None = None,
        channels: Sequence[int] | None = None,
    ) -> PieceTokens:
        """A MidiClip -> PieceTokens with one track per channel (in ``channels`` order, default all
        channels used, ascending). Empty channels give tracks with no notes, so indices line up."""
        import symusic

        channels = sorted({n.channel for n in clip.notes}) if channels is None else list(channels)
        meter = (clip.beats_per_bar, clip.beat_unit)
        if meter not in METERS:
            meter = (4, 4)
        n_bars = len(clip.bar_starts()) if clip.notes else 0
        tracks: list[TrackBars] = []
        for channel in channels:
            part = MidiClip(
                [n for n in clip.notes if n.channel == channel],
                bpm=clip.bpm,
                beats_per_bar=meter[0],
                beat_unit=meter[1],
                programs={channel: clip.programs.get(channel, 0)},
                meter_changes=list(clip.meter_changes),
                length=clip.length_beats,
            )
            drum = channel == DRUM_CHANNEL
            bars: list[list[int]] = []
            if part.notes:
                sub = self.encode_score(
                    symusic.Score.from_midi(part.to_bytes()), "clip", style, Key(0, "major")
                )
                bars = sub.tracks[0].bars if sub.tracks else []
            bars = bars + [[] for _ in range(n_bars - len(bars))]
            tracks.append(TrackBars(clip.programs.get(channel, 0), drum, bars))
        return PieceTokens("clip", style, key or clip_key(clip), meter, clip.bpm, tracks)

    # -- sequences ---------------------------------------------------------------------------------
    def density_bin(self, piece: PieceTokens) -> int:
        notes = sum(
            sum(1 for t in bar if t in self.pitch_ids) for tr in piece.tracks for bar in tr.bars
        )
        per = notes / max(1, piece.n_bars * max(1, len(piece.tracks)))
        return int(np.searchsorted(DENSITY_EDGES, per, side="right"))

    def header(self, piece: PieceTokens, density: int | None = None) -> list[int]:
        meter = f"Meter_{piece.meter[0]}/{piece.meter[1]}"
        return [
            self.BOS,
            self.ids[piece.key.token],
            self.ids.get(meter, self.ids["Meter_4/4"]),
            self.ids[f"Tempo_{_tempo_bin(piece.tempo)}"],
            self.ids[f"Style_{piece.style if piece.style in STYLES else 'other'}"],
            self.ids[f"Density_{self.density_bin(piece) if density is None else density}"],
        ]

    def sequence(
        self,
        piece: PieceTokens,
        order: Sequence[int] | None = None,
        bars: tuple[int, int] | None = None,
        fill: Iterable[tuple[int, int]] = (),
        eos: bool | None = None,
    ) -> list[int]:
        """Token ids of ``piece``.

        ``order`` lists track indices (default: as stored); ``bars`` is a half-open bar range;
        ``fill`` holds (track index, bar index) pairs replaced by ``Fill`` and written after
        ``FillStart`` in track order, then bar order. ``eos`` defaults to "the range reaches the end
        of the piece".
        """
        order = list(range(len(piece.tracks))) if order is None else list(order)
        start, stop = bars if bars is not None else (0, piece.n_bars)
        fill = set(fill)
        out = self.header(piece)
        filled: list[int] = []
        for ti in order:
            track = piece.tracks[ti]
            out.append(self.track_token(track.program, track.drum))
            for b in range(start, stop):
                content = track.bars[b] if b < len(track.bars) else []
                if (ti, b) in fill:
                    out.append(self.FILL)
                    filled += [self.BAR, *content]
                else:
                    out += [self.BAR, *content]
            out.append(self.TRACKEND)
        if fill:
            out += [self.FILLSTART, *filled, self.FILLEND]
        if eos if eos is not None else stop >= piece.n_bars:
            out.append(self.EOS)
        return out

    # -- decoding ----------------------------------------------------------------------------------
    def bar_notes(
        self,
        tokens: Sequence[int],
        bar_start: float,
        beats_per_bar: float,
        channel: int,
        beat_unit: int = 4,
    ) -> list[Note]:
        """Notes of one bar's tokens (times in quarter notes); malformed runs are skipped.

        ``beats_per_bar`` is the bar's length in quarter notes; ``beat_unit`` the meter's
        denominator, the beat that Position and Duration count in (8: eighths, in 6/8)."""
        scale = 4.0 / beat_unit
        notes: list[Note] = []
        pos = 0.0
        pitch: int | None = None
        velocity = 80
        for t in tokens:
            name = self.names[t]
            kind, _, value = name.partition("_")
            if kind == "Position":
                pos = int(value) / POSITIONS_PER_BEAT * scale
            elif kind == "Pitch":
                pitch = int(value)
            elif kind == "Velocity":
                velocity = max(1, min(127, int(value)))
            elif kind == "Duration" and pitch is not None:
                a, b, r = (int(x) for x in value.split("."))
                duration = (a + b / r) * scale
                if pos < beats_per_bar and duration > 0:
                    notes.append(Note(bar_start + pos, pitch, duration, velocity, channel))
                pitch = None
        return notes

    def decode(self, piece: PieceTokens, bpm: float | None = None) -> MidiClip:
        """PieceTokens -> MidiClip: one channel per track (drums on channel 10), programs kept."""
        notes: list[Note] = []
        programs: dict[int, int] = {}
        free = [c for c in range(16) if c != DRUM_CHANNEL]
        meters = self.piece_meters(piece)
        starts = _starts(meters)
        for track in piece.tracks:
            if track.drum:
                channel = DRUM_CHANNEL
            else:
                channel = free.pop(0) if free else 15
                programs[channel] = track.program
            for b, bar in enumerate(track.bars):
                n, d = meters[b]
                notes += self.bar_notes(bar, starts[b], n * 4.0 / d, channel, d)
        changes = [
            (starts[b], n, d) for b, (n, d) in enumerate(meters) if b and meters[b - 1] != (n, d)
        ]
        clip = MidiClip(
            notes=sorted(notes),
            bpm=bpm or piece.tempo,
            beats_per_bar=piece.meter[0],
            programs=programs,
            length=starts[-1],
            beat_unit=piece.meter[1],
            meter_changes=changes,
        )
        return clip

    def piece_meters(self, piece: PieceTokens) -> list[tuple[int, int]]:
        """The meter of every bar of ``piece``: its header meter until a bar starts with a Meter
        token (in any track), then that one."""
        return piece_meters(piece, self)

    def for_vocab(self, seq: Sequence[int], vocab_size: int) -> list[int]:
        """``seq`` for a model with ``vocab_size`` tokens (trained before the vocabulary grew): a
        newer style becomes ``Style_other``, a newer meter in the header ``Meter_4/4``, and newer
        Meter tokens inside bars are dropped (the bars stay where they are)."""
        out: list[int] = []
        for i, t in enumerate(seq):
            if t < vocab_size:
                out.append(t)
            elif self.names[t].startswith("Style_"):
                out.append(self.ids["Style_other"])
            elif self.names[t].startswith("Meter_") and i < 6:
                out.append(self.ids["Meter_4/4"])
            elif not self.names[t].startswith("Meter_"):
                raise ValueError(f"token {self.names[t]} is newer than the model")
        return out

    def style_for(self, style: str, vocab_size: int) -> str:
        """``style`` when a model with ``vocab_size`` tokens knows it, else "other" (a model
        trained before the style existed never saw its token)."""
        token = self.ids.get(f"Style_{style}")
        return style if token is not None and token < vocab_size else "other"


def piece_meters(piece: PieceTokens, tok: MusicTokenizer) -> list[tuple[int, int]]:
    """The meter (numerator, denominator) of each bar of ``piece``, following its Meter tokens."""
    changes: dict[int, tuple[int, int]] = {}
    meter_ids = {i: n for n, i in tok.ids.items() if n.startswith("Meter_")}
    for track in piece.tracks:
        for b, bar in enumerate(track.bars):
            for t in bar[:1]:
                if t in meter_ids and b not in changes:
                    n, _, d = meter_ids[t][6:].partition("/")
                    changes[b] = (int(n), int(d))
    out: list[tuple[int, int]] = []
    current = piece.meter
    for b in range(piece.n_bars):
        current = changes.get(b, current)
        out.append(current)
    return out


def _starts(meters: Sequence[tuple[int, int]]) -> list[float]:
    """Bar start beats (quarter notes) for bars of these meters, plus the end as the last item."""
    starts = [0.0]
    for n, d in meters:
        starts.append(starts[-1] + n * 4.0 / d)
    return starts


def piece_bar_starts(piece: PieceTokens, tok: MusicTokenizer, extra: int = 0) -> list[float]:
    """Start of each bar of ``piece`` in quarter notes (ticks = beats * ticks per quarter),
    honouring its meter changes, plus the end of the last bar; ``extra`` more bars after the end
    continue the last meter (for bars about to be written)."""
    meters = piece_meters(piece, tok)
    last = meters[-1] if meters else piece.meter
    return _starts(meters + [last] * extra)


def piece_bar_at(piece: PieceTokens, tok: MusicTokenizer, beat: float) -> int:
    """Index of the bar of ``piece`` holding ``beat`` (quarter notes); past the end, counted on
    in the last meter."""
    starts = piece_bar_starts(piece, tok)
    index = int(np.searchsorted(starts, beat + 1e-9, side="right")) - 1
    if index < len(starts) - 1:
        return max(0, index)
    meters = piece_meters(piece, tok)
    n, d = meters[-1] if meters else piece.meter
    return len(starts) - 1 + int((beat - starts[-1]) // (n * 4.0 / d) + 1e-9)


def clip_key(clip: MidiClip) -> Key:
    """The key of a clip's melodic notes (drums ignored), C major when it has none."""
    pitched = [n for n in clip.notes if n.channel != DRUM_CHANNEL]
    if not pitched:
        return Key(0, "major")
    return find_key(np.array([n.pitch for n in pitched]), np.array([n.duration for n in pitched]))
