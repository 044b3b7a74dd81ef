"""The music engine: generate, continue, infill and harmonize MidiClips with the trained
transformer.

Used by the Music panel, ``studio music ...`` and the benchmarks. Bars are numbered from 1 in
requests and ranges are inclusive (bars 5-6 are the fifth and sixth bar).
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from studio.core.jobs import JobContext
from studio.core.media import DRUM_CHANNEL, MidiClip, Note
from studio.music import DEFAULT_MODEL
from studio.music.keys import Key, parse_key
from studio.music.metrics import CONSONANT, implied_chords, instrument_range, track_ranges
from studio.music.sampling import (
    HEADER_LEN,
    BarConstraint,
    Sampler,
    SampleSettings,
    bar_window,
    free_channels,
    rhythm_bias,
)
from studio.music.tokens import (
    METERS,
    POSITIONS_PER_BEAT,
    STYLES,
    MusicTokenizer,
    PieceTokens,
    clip_key,
)
from studio.music.training import piece_bar_costs

__all__ = [
    "MusicRequest",
    "MusicEngine",
    "NoteListener",
    "parse_bars",
    "parse_meter",
    "parse_instruments",
    "DEFAULT_MODEL",
    "MODES",
]

MODES = ("generate", "continue", "infill", "harmonize")
EST_TOKENS_PER_BAR = 36  # per track, for sizing prompt windows
RANGE_MARGIN = 4  # continue and infill keep a track within its prompt range +- this many semitones
DRUM_HIT = 0.25  # the longest a generated drum note lasts, in beats
DENSITY_SLACK = 0.2  # ... and its notes per bar within this fraction of the prompt's last 4 bars
# The most common notes-per-bar bin of each style in the corpus.
STYLE_DENSITY = {"chorale": 2, "essen": 1, "oneills": 3, "ryans": 3, "user": 2, "other": 2}
GM_NAMES = {
    "piano": 0,
    "harpsichord": 6,
    "organ": 19,
    "guitar": 24,
    "bass": 32,
    "violin": 40,
    "viola": 41,
    "cello": 42,
    "strings": 48,
    "choir": 52,
    "voice": 53,
    "trumpet": 56,
    "trombone": 57,
    "horn": 60,
    "sax": 65,
    "oboe": 68,
    "bassoon": 70,
    "clarinet": 71,
    "flute": 73,
    "recorder": 74,
    "drums": -1,
}


def parse_bars(text: str) -> tuple[int, int]:
    """``"5-6"`` -> (5, 6); ``"3"`` -> (3, 3). Bars count from 1, ranges are inclusive."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[-–:]\s*(\d+))?\s*", text or "")
    if not m:
        raise ValueError(f"bars {text!r} should look like 5-6 or 3")
    a, b = int(m.group(1)), int(m.group(2) or m.group(1))
    if a < 1 or b < a:
        raise ValueError(f"bars {text!r}: bars count from 1 and the range must not be reversed")
    return a, b


def parse_meter(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or (int(m.group(1)), int(m.group(2))) not in METERS:
        choices = ", ".join(f"{n}/{d}" for n, d in METERS)
        raise ValueError(f"meter {text!r} is not one of {choices}")
    return int(m.group(1)), int(m.group(2))


def parse_instruments(text: str) -> list[int]:
    """``"choir,choir,strings,bass"`` or ``"52,52,48,32"`` -> GM programs (-1 is drums)."""
    out = []
    for part in (text or "").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part.lstrip("-").isdigit():
            value = int(part)
            if not -1 <= value <= 127:
                raise ValueError(
                    f"instrument {value} is not a General MIDI program (0-127, -1 drums)"
                )
            out.append(value)
        elif part in GM_NAMES:
            out.append(GM_NAMES[part])
        else:
            raise ValueError(
                f"unknown instrument {part!r}; use a GM program number or one of "
                f"{', '.join(GM_NAMES)}"
            )
    if not out:
        raise ValueError("name at least one instrument")
    return out


class NoteListener(Protocol):
    """Hears a generation's notes while they are written (a live player): each note as soon as
    it can sound, then each bar's final notes. Called on the job's thread; must not block."""

    def begin(self, bpm: float, programs: dict[int, int]) -> None:
        """Notes are coming at ``bpm``, with these General MIDI programs per channel (called
        before the first note of each pass of the sampler)."""

    def note_started(self, note: Note) -> None:
        """A new note: its onset, pitch, velocity and channel are final; its duration is not
        chosen yet (it lasts to the end of its bar until :meth:`bar_written` says)."""

    def bar_written(self, channel: int, start: float, end: float, notes: list[Note]) -> None:
        """Every note of ``channel`` starting in beats [start, end), as the result holds them
        (lengths final; a note :meth:`note_started` announced that is missing was dropped)."""


@dataclass
class MusicRequest:
    """What to make. ``clip`` is the input of continue, infill and harmonize."""

    mode: str = "generate"
    clip: MidiClip | None = None
    key: str | None = None  # "D minor"; None: the clip's key, or C major
    meter: str | None = None  # "3/4"; None: the clip's meter, or 4/4
    tempo: float | None = None  # None: the clip's tempo, or 120
    instruments: list[int] = field(default_factory=lambda: [0])
    style: str = "chorale"
    density: int | None = None
    bars: int = 8  # how many bars to generate or continue
    bar_range: tuple[int, int] | None = None  # infill: 1-based inclusive
    channels: list[int] | None = None  # infill: which tracks (default all)
    melody_channel: int | None = None  # harmonize: the melody (default: the lowest channel)
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0
    variations: int = 1
    strict_key: bool = True
    # hears the first variation's notes while they are written; never changes what is written
    listener: NoteListener | None = field(default=None, repr=False, compare=False)

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if self.mode != "generate" and (self.clip is None or not self.clip.notes):
            raise ValueError(f"{self.mode} needs a clip with notes")
        if not 1 <= self.bars <= 256:
            raise ValueError("bars must be between 1 and 256")
        if not 0.0 <= self.temperature <= 3.0:
            raise ValueError("temperature must be between 0 and 3")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top-p must be above 0 and at most 1")
        if not 1 <= self.variations <= 16:
            raise ValueError("variations must be between 1 and 16")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}")
        if self.mode == "infill" and self.bar_range is None:
            raise ValueError("infill needs the bars to rewrite, e.g. 5-6")


class MusicEngine:
    """Holds a model and its tokenizer; :meth:`run` makes one clip per variation."""

    def __init__(self, model, device: str = "cpu", tok: MusicTokenizer | None = None) -> None:
        self.model, self.device = model, device
        self.tok = tok or MusicTokenizer()
        self.sampler = Sampler(model, self.tok, device)

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> MusicEngine:
        from studio.music.model import load_model

        model, _meta = load_model(path, device)
        return cls(model, device)

    # -- helpers -----------------------------------------------------------------------------------
    def _controls(self, req: MusicRequest) -> tuple[Key, tuple[int, int], float]:
        clip = req.clip
        if req.key:
            key = parse_key(req.key)
        elif clip is not None and clip.notes:
            key = clip_key(clip)  # from the notes; the clip is tokenized once, later
        else:
            key = Key(0, "major")
        if req.meter:
            meter = parse_meter(req.meter)
        elif clip is not None:
            meter = (clip.beats_per_bar, clip.beat_unit)
            meter = meter if meter in METERS else (4, 4)
        else:
            meter = (4, 4)
        tempo = req.tempo or (clip.bpm if clip is not None else 120.0)
        return key, meter, float(tempo)

    def _header(self, req: MusicRequest, key: Key, meter, tempo: float) -> list[int]:
        piece = PieceTokens("request", req.style, key, meter, tempo, [])
        density = STYLE_DENSITY.get(req.style, 2) if req.density is None else req.density
        return self.tok.header(piece, density=density)

    def run(self, req: MusicRequest, ctx: JobContext | None = None) -> list[MidiClip]:
        """Make ``req.variations`` clips. Raises ValueError for a request that cannot be met."""
        req.validate()
        ctx = ctx or JobContext()
        vocab = int(getattr(self.model.cfg, "vocab_size", self.tok.vocab_size))
        if self.tok.ids.get(f"Style_{req.style}", vocab) >= vocab:
            # a style newer than the model: it never saw that token, so it writes "other"
            req = replace(req, style="other")
        clips = []
        for i in range(req.variations):

            def progress(f: float, m: str, i: int = i) -> None:
                ctx.progress(
                    (i + f) / req.variations,
                    f"variation {i + 1}/{req.variations}: {m}" if req.variations > 1 else m,
                )

            sub = ctx.child(progress, ctx.partial if i == 0 else None)
            one = copy.copy(req)
            one.seed = req.seed + i
            one.listener = req.listener if i == 0 else None
            clip = getattr(self, f"_{req.mode}")(one, sub)
            clip.provenance.update(
                {
                    "engine": "studio/music-transformer",
                    "mode": req.mode,
                    "seed": one.seed,
                    "temperature": req.temperature,
                    "top_p": req.top_p,
                    "style": req.style,
                }
            )
            clips.append(clip)
        return clips

    def warm(self, req: MusicRequest | None = None) -> None:
        """Get ready for ``req`` (a generate request; default: the default one): run the model on
        its first tokens now, so that when it comes its first note is written sooner. The
        result of a later :meth:`run` is the same warm or not."""
        req = req or MusicRequest()
        req.validate()
        vocab = int(getattr(self.model.cfg, "vocab_size", self.tok.vocab_size))
        if self.tok.ids.get(f"Style_{req.style}", vocab) >= vocab:
            req = replace(req, style="other")
        key, meter, tempo = self._controls(replace(req, clip=None))
        program = req.instruments[0] if req.instruments else 0
        header = self._header(req, key, meter, tempo)
        self.sampler.warm(header + [self.tok.track_token(max(program, 0), program < 0)])
        # one bar of the first track, thrown away: the first sampling's one-off costs (masks,
        # torch's first calls of its sampling kernels) are paid now, not after the click
        self.run(replace(req, bars=1, variations=1, instruments=[program], listener=None))

    def _settings(self, req: MusicRequest) -> SampleSettings:
        return SampleSettings(req.temperature, req.top_p, req.seed, req.strict_key)

    # -- generate ----------------------------------------------------------------------------------
    def _generate(self, req: MusicRequest, ctx: JobContext) -> MidiClip:
        key, meter, tempo = self._controls(req)
        header = self._header(req, key, meter, tempo)
        bar_length = meter[0] * 4.0 / meter[1]
        channels = self._new_channels([], req.instruments)
        clip = MidiClip(
            [],
            bpm=tempo,
            beats_per_bar=meter[0],
            beat_unit=meter[1],
            programs={c: p for c, p in zip(channels, req.instruments, strict=True) if p >= 0},
            length=req.bars * bar_length,
        )
        tracks = [self.tok.track_token(max(p, 0), p < 0) for p in req.instruments]
        last = req.bars - 1

        def never_silent(ti: int, b: int) -> BarConstraint | None:
            # a generated track is never empty: when its earlier bars hold no note (a rest is
            # the model's choice; a whole silent track is not what Generate was asked for), its
            # last bar gets at least one
            if b == last and not any(n.channel == channels[ti] for n in clip.notes):
                return BarConstraint(min_notes=1)
            return None

        self._write_tracks(
            clip, header, [], tracks, channels, req, key, meter, ctx, constraint_for=never_silent
        )
        clip.provenance["key"] = key.name
        return clip

    def _new_channels(self, used: list[int], instruments: list[int]) -> list[int]:
        melodic = free_channels(used, sum(1 for p in instruments if p >= 0))
        return [DRUM_CHANNEL if p < 0 else melodic.pop(0) for p in instruments]

    def _write_tracks(
        self,
        clip: MidiClip,
        header: list[int],
        context_tracks,
        track_tokens,
        channels: list[int],
        req: MusicRequest,
        key: Key,
        meter,
        ctx: JobContext,
        first_bar: int = 0,
        n_bars: int | None = None,
        constraint_for=None,
        grid: list[tuple[float, int, int]] | None = None,
    ) -> None:
        n_bars = req.bars if n_bars is None else n_bars
        grid = grid or bar_grid(clip, first_bar + n_bars)
        end = bar_end(grid, first_bar + n_bars - 1)

        def on_bar(ti: int, b: int, tokens: list[int]) -> None:
            add_notes(clip, self._bar_notes(tokens, grid[first_bar + b], channels[ti], end))
            clip.notes.sort()
            _bar_written(req.listener, clip, grid, first_bar + b, channels[ti])
            ctx.partial(replace(clip, notes=list(clip.notes)))  # a snapshot for the GUI

        on_note = _note_sink(req.listener, grid, channels, end, first_bar)
        if req.listener is not None:
            req.listener.begin(clip.bpm, dict(clip.programs))
        self.sampler.run_tracks(
            header,
            context_tracks,
            track_tokens,
            n_bars,
            meter[0] * POSITIONS_PER_BEAT,
            key,
            self._settings(req),
            ctx,
            on_bar,
            drums=[c == DRUM_CHANNEL for c in channels],
            constraint_for=constraint_for,
            on_note=on_note,
        )

    def _bar_notes(
        self, tokens: list[int], bar: tuple[float, int, int], channel: int, end: float | None
    ) -> list[Note]:
        """Notes of a generated bar at ``bar`` = (start beat, numerator, denominator); Position and
        Duration count in the meter's own beat. With ``end`` no note sounds past it."""
        start, num, den = bar
        scale = 4.0 / den
        raw = self.tok.bar_notes(tokens, 0.0, float(num), channel)
        out = []
        for i, n in enumerate(raw):
            at, length = start + n.start * scale, n.duration * scale
            if channel == DRUM_CHANNEL:
                length = min(length, DRUM_HIT)  # a hit, so the next one on that drum is heard
            # a note ends where the next one of its pitch starts (MIDI cannot overlap them)
            later = [m.start for m in raw[i + 1 :] if m.pitch == n.pitch and m.start > n.start]
            if later:
                length = min(length, (min(later) - n.start) * scale)
            if end is not None:
                if at >= end - 1e-9:
                    continue
                length = min(length, end - at)
            if length > 0:
                out.append(Note(at, n.pitch, length, n.velocity, channel))
        return out

    # -- continue and infill -----------------------------------------------------------------------
    def _fill(
        self,
        req: MusicRequest,
        ctx: JobContext,
        piece: PieceTokens,
        channels: list[int],
        slots: list[tuple[int, int]],
        base: MidiClip,
        context: tuple[int, int],
    ) -> MidiClip:
        """Write the (track, bar) ``slots``; ``context`` (bars, half-open, can be two ranges'
        hull) holds the bars whose notes set each track's range, density and rhythm."""
        costs = piece_bar_costs(piece)
        bars_needed = sorted({b for _, b in slots})
        focus = (bars_needed[0], bars_needed[-1] + 1)
        reserve = len(slots) * EST_TOKENS_PER_BAR + 3
        budget = self.model.cfg.context - HEADER_LEN - 2 * len(piece.tracks) - reserve
        window = bar_window(costs, focus, max(budget, int(costs[focus[0] : focus[1]].sum())))
        clip = base
        grid = bar_grid(req.clip or base, max(piece.n_bars, focus[1]))
        end = max(clip.length or 0.0, bar_end(grid, len(grid) - 1))
        constraint_for, counted = self._keep_the_piece(req, piece, channels, slots, grid, context)

        def on_bar(ti: int, b: int, tokens: list[int]) -> None:
            counted(ti, tokens)
            add_notes(clip, self._bar_notes(tokens, grid[b], channels[ti], end))
            clip.notes.sort()
            _bar_written(req.listener, clip, grid, b, channels[ti])
            ctx.partial(replace(clip, notes=list(clip.notes)))  # a snapshot for the GUI

        if req.listener is not None:
            req.listener.begin(clip.bpm, dict(clip.programs))
        self.sampler.run_fill(
            piece,
            slots,
            window,
            self._settings(req),
            ctx,
            on_bar,
            constraint_for=constraint_for,
            positions=lambda b: grid[b][1] * POSITIONS_PER_BEAT,
            on_note=_note_sink(req.listener, grid, channels, end),
        )
        return clip

    def _keep_the_piece(self, req, piece, channels, slots, grid, context):
        """Constraints that keep each track's character: its range (prompt range +-4 semitones,
        inside its instrument), its notes per bar (a running budget within 20% of the context
        bars' density) and its rhythm (the context's positions and durations favoured)."""
        assert req.clip is not None
        clip = req.clip
        lo_ctx, hi_ctx = context
        start_beat = grid[lo_ctx][0] if lo_ctx < len(grid) else 0.0
        end_beat = bar_end(grid, hi_ctx - 1) if hi_ctx > 0 else 0.0
        filled = {b for _, b in slots}
        ctx_bars = [b for b in range(lo_ctx, hi_ctx) if b not in filled and b < len(grid)]
        ctx_notes = [
            n
            for n in clip.notes
            if start_beat - 1e-9 <= n.start < end_beat - 1e-9
            and not any(grid[b][0] - 1e-9 <= n.start < bar_end(grid, b) - 1e-9 for b in filled)
        ]
        ranges = track_ranges(ctx_notes)
        whole = track_ranges(clip.notes)
        per_track: dict[int, tuple[BarConstraint, float, list[int]]] = {}
        for ti, c in enumerate(channels):
            drum = c == DRUM_CHANNEL
            glo, ghi = instrument_range(clip.programs.get(c, 0), drum)
            plo, phi = ranges.get(c, whole.get(c, (glo, ghi)))
            lo, hi = max(glo, plo - RANGE_MARGIN), min(ghi, phi + RANGE_MARGIN)
            if lo > hi:  # the prompt lies outside the instrument: its nearest octave of it
                lo, hi = (glo, min(ghi, glo + 11)) if phi < glo else (max(glo, ghi - 11), ghi)
            mine = sum(1 for n in ctx_notes if n.channel == c)
            density = mine / max(1, len(ctx_bars))
            replaced = [b for t, b in slots if t == ti and b < len(grid)]
            if not mine and replaced:
                # nothing around to follow (the whole clip is rewritten, or the track plays only
                # there): keep the density of the notes being replaced
                lo_r, hi_r = grid[min(replaced)][0], bar_end(grid, max(replaced))
                density = sum(
                    1 for n in clip.notes if n.channel == c and lo_r - 1e-9 <= n.start < hi_r - 1e-9
                ) / len(replaced)
            track = piece.tracks[ti]
            bias = rhythm_bias(self.tok, [track.bars[b] for b in ctx_bars if b < len(track.bars)])
            order = sorted(b for t, b in slots if t == ti)
            per_track[ti] = (BarConstraint(lo, hi, bias=bias), density, order)
        counts = dict.fromkeys(per_track, 0)
        pitch_ids = self.tok.pitch_ids

        def constraint_for(ti: int, b: int) -> BarConstraint | None:
            if ti not in per_track:
                return None
            base, density, order = per_track[ti]
            k = order.index(b) + 1 if b in order else 1
            want_lo = math.ceil(density * (1 - DENSITY_SLACK) * k - 1e-9)
            want_hi = math.floor(density * (1 + DENSITY_SLACK) * k + 1e-9)
            least = max(0, want_lo - counts[ti])
            most = max(least, want_hi - counts[ti])
            return replace(base, min_notes=least, max_notes=most)

        def counted(ti: int, tokens: list[int]) -> None:
            if ti in counts:
                counts[ti] += sum(1 for t in tokens if t in pitch_ids)

        return constraint_for, counted

    def _piece(self, req: MusicRequest) -> tuple[PieceTokens, list[int], Key]:
        assert req.clip is not None
        key, _meter, _tempo = self._controls(req)
        channels = sorted({n.channel for n in req.clip.notes})
        piece = self.tok.encode_clip(req.clip, style=req.style, key=key, channels=channels)
        return piece, channels, key

    def _continue(self, req: MusicRequest, ctx: JobContext) -> MidiClip:
        piece, channels, key = self._piece(req)
        assert req.clip is not None
        # the clip's own bar grid says where it ends (a last note quantized past its end must not
        # push the new bars one bar later)
        start = len(req.clip.bar_starts()) or piece.n_bars
        for track in piece.tracks:
            del track.bars[start:]
            track.bars += [[] for _ in range(start + req.bars - len(track.bars))]
        slots = [(ti, b) for ti in range(len(piece.tracks)) for b in range(start, start + req.bars)]
        base = copy.deepcopy(req.clip)
        grid = bar_grid(req.clip, start + req.bars)
        base.length = bar_end(grid, start + req.bars - 1)
        clip = self._fill(req, ctx, piece, channels, slots, base, (max(0, start - 4), start))
        clip.provenance["key"] = key.name
        return clip

    def _infill(self, req: MusicRequest, ctx: JobContext) -> MidiClip:
        piece, channels, key = self._piece(req)
        assert req.bar_range is not None and req.clip is not None
        first, last = req.bar_range[0] - 1, req.bar_range[1] - 1
        if first >= piece.n_bars:
            raise ValueError(f"the clip has {piece.n_bars} bars; bar {first + 1} does not exist")
        last = min(last, piece.n_bars - 1)
        chosen = channels if not req.channels else [c for c in channels if c in req.channels]
        if not chosen:
            raise ValueError(f"none of the channels {req.channels} has notes in the clip")
        tracks = [channels.index(c) for c in chosen]
        slots = [(ti, b) for ti in tracks for b in range(first, last + 1)]
        grid = bar_grid(req.clip, piece.n_bars)
        lo, hi = grid[first][0], bar_end(grid, last)
        base = copy.deepcopy(req.clip)
        base.notes = [
            n for n in base.notes if not (n.channel in chosen and lo - 1e-9 <= n.start < hi - 1e-9)
        ]
        around = (max(0, first - 4), min(piece.n_bars, last + 5))
        clip = self._fill(req, ctx, piece, channels, slots, base, around)
        clip.provenance.update({"key": key.name, "bars": f"{first + 1}-{last + 1}"})
        return clip

    # -- harmonize ---------------------------------------------------------------------------------
    def _harmonize(self, req: MusicRequest, ctx: JobContext) -> MidiClip:
        piece, channels, key = self._piece(req)
        assert req.clip is not None
        melody = req.melody_channel if req.melody_channel is not None else channels[0]
        if melody not in channels:
            raise ValueError(f"channel {melody + 1} has no notes to harmonize")
        mel_track = piece.tracks[channels.index(melody)]
        # The default instrument list means "three more voices like the melody", with a bass
        # instead of the lowest when the melody's instrument cannot go an octave below it.
        instruments = req.instruments
        if instruments == [0]:
            program = mel_track.program
            mel_low = min(n.pitch for n in req.clip.notes if n.channel == melody)
            low_voice = program if instrument_range(program)[0] <= mel_low - 12 else 32
            instruments = [program, program, low_voice]
        new_channels = self._new_channels(channels, instruments)
        header = self._header(req, key, piece.meter, piece.tempo)
        mel_token = self.tok.track_token(mel_track.program, mel_track.drum)
        track_tokens = [self.tok.track_token(max(p, 0), p < 0) for p in instruments]
        costs = [len(b) + 1 for b in mel_track.bars]
        per_bar = max(costs, default=1) + EST_TOKENS_PER_BAR * len(instruments)
        window = max(1, (self.model.cfg.context - HEADER_LEN - 4 - 2 * len(instruments)) // per_bar)
        clip = copy.deepcopy(req.clip)
        for c, p in zip(new_channels, instruments, strict=True):
            if p >= 0:
                clip.programs[c] = p
        meter = piece.meter
        grid = bar_grid(req.clip, piece.n_bars)
        voices = self._voicing(req.clip, melody, instruments, new_channels, grid, key, clip)
        spans = phrase_spans([n for n in req.clip.notes if n.channel == melody])
        for start in range(0, piece.n_bars, window):
            end = min(piece.n_bars, start + window)

            def progress(f: float, m: str, start: int = start, end: int = end) -> None:
                ctx.progress((start + f * (end - start)) / piece.n_bars, f"bars {start + 1}-{end}")

            def constraint_for(ti: int, b: int, start: int = start) -> BarConstraint | None:
                return voices(ti, start + b)

            sub = ctx.child(progress, ctx.partial)
            self._write_tracks(
                clip,
                header,
                [(mel_token, mel_track.bars[start:end])],
                track_tokens,
                new_channels,
                req,
                key,
                meter,
                sub,
                first_bar=start,
                n_bars=end - start,
                constraint_for=constraint_for,
                grid=grid,
            )
        melodic = [c for c, p in zip(new_channels, instruments, strict=True) if p >= 0]
        # the voices sing with the melody's phrases: none starts where the melody is silent
        clip.notes = [n for n in clip.notes if n.channel not in melodic or _inside(spans, n.start)]
        clip.provenance["key"] = key.name
        if melodic:
            clip.provenance["bass_channel"] = melodic[-1]
        return clip

    def _voicing(self, source, melody, instruments, new_channels, grid, key, clip):
        """Constraints that make added voices harmony. Each beat has a chord: the one the chord
        model (:mod:`studio.music.chords`, fitted on POP909's labels) finds likeliest for the
        whole melody, else the diatonic triad the melody implies in the bar. A note starting
        under a melody note is a tone of that chord that is also a third, fifth or sixth from it
        (a unison or octave only when nothing else fits; else just consonant with it), and the
        bass takes the root where it can; one starting where the melody rests is one of the
        chord's likeliest tones (mostly the note the phrase ended on). A note ends before a beat
        where the melody moves to a note it clashes with, or rests and it is no likely tone of
        the chord there; inside its bar; and where the melody's phrase ends (:func:`phrase_spans`:
        in a bar where the melody is silent, the voices are too). Each voice stays in its
        instrument's range, and the last melodic voice (the bass) below every note sounding in
        its bar (it is written after the other voices)."""
        mel = [n for n in source.notes if n.channel == melody]
        mel_lo = min((n.pitch for n in mel), default=60)
        beat_chords = _beat_chords(mel, grid, key)
        spans = phrase_spans(mel)
        melodic = [i for i, p in enumerate(instruments) if p >= 0]
        bass = melodic[-1] if melodic else None

        def sounding(b: int) -> list[int]:
            lo, hi = grid[b][0], bar_end(grid, b)
            return [
                n.pitch
                for n in clip.notes
                if n.channel != DRUM_CHANNEL and n.start < hi - 1e-9 and n.end > lo + 1e-9
            ]

        def melody_at(beat: float) -> int | None:
            pitches = [n.pitch for n in mel if n.start <= beat + 1e-9 < n.end]
            return max(pitches) if pitches else None

        def chord_at(beat: float) -> tuple[frozenset[int], frozenset[int], int]:
            """(tones, likeliest tones, root) of the chord at ``beat``."""
            i = min(max(0, int(math.floor(beat + 1e-9))), len(beat_chords) - 1)
            return beat_chords[i]

        def harmony(b: int, lo: int, hi: int, is_bass: bool = False, **kw) -> BarConstraint:
            start, _num, den = grid[b]
            per_position = 4.0 / den / POSITIONS_PER_BEAT  # quarter notes per position
            span = range(lo, hi + 1)

            def pitches_at(pos: int) -> frozenset[int] | None:
                at = start + pos * per_position
                tones, likely, root = chord_at(at)
                chord = frozenset(p for p in span if p % 12 in tones)
                m = melody_at(at)
                if m is None:
                    safe = frozenset(p for p in span if p % 12 in likely)
                    if is_bass:
                        roots = frozenset(p for p in safe if p % 12 == root)
                        return roots or safe or chord or None
                    return safe or chord or None
                near = frozenset(p for p in span if abs(m - p) % 12 in CONSONANT)
                if is_bass:
                    roots = frozenset(p for p in chord & near if p % 12 == root)
                    if roots:
                        return roots
                else:  # a third, fifth or sixth from the melody rather than its octave
                    apart = frozenset(p for p in chord & near if (p - m) % 12)
                    if apart:
                        return apart
                return (chord & near) or near or chord or None

            def max_length(pos: int, pitch: int) -> float:
                at = start + pos * per_position
                beat = math.floor(at + 1e-9) + 1.0
                end = min(bar_end(grid, b), _span_end(spans, at))
                while beat < end - 1e-9:
                    m = melody_at(beat)
                    if m is not None and abs(m - pitch) % 12 not in CONSONANT:
                        return (beat - at) / per_position
                    if m is None and pitch % 12 not in chord_at(beat)[1]:
                        return (beat - at) / per_position
                    beat += 1.0
                return float("inf")

            return BarConstraint(
                lo,
                hi,
                min_notes=1,
                hold_in_bar=True,
                pitches_at=pitches_at,
                max_length=max_length,
                **kw,
            )

        def voices(ti: int, b: int) -> BarConstraint | None:
            if instruments[ti] < 0 or b >= len(grid):
                return None
            glo, ghi = instrument_range(instruments[ti])
            if not any(lo < bar_end(grid, b) - 1e-9 and hi > grid[b][0] + 1e-9 for lo, hi in spans):
                return BarConstraint(glo, ghi, max_notes=0)  # the melody is silent all bar
            if ti == bass:
                below = min(sounding(b), default=ghi + 1) - 1
                lo, hi = glo, min(ghi, below)
                if hi - lo < 7:  # no room under the other voices: the range wins
                    lo, hi = glo, min(ghi, glo + 11)
                return harmony(b, lo, hi, is_bass=True)
            bar_mel = [
                n.pitch
                for n in mel
                if n.start < bar_end(grid, b) - 1e-9 and n.end > grid[b][0] + 1e-9
            ]
            top = max(bar_mel, default=mel_lo)
            lo, hi = max(glo, mel_lo - 19), min(ghi, top)
            if hi - lo < 7:
                lo, hi = glo, ghi
            return harmony(b, lo, hi)

        return voices


def _note_sink(
    listener: NoteListener | None,
    grid: list[tuple[float, int, int]],
    channels: list[int],
    end: float | None,
    first_bar: int = 0,
):
    """The sampler's note callback for ``listener``: (track slot, bar, position, pitch, velocity)
    as a Note at its beat (as :meth:`MusicEngine._bar_notes` places it), lasting to its bar's end
    (a drum: one hit) until the bar is written. None without a listener."""
    if listener is None:
        return None

    def on_note(ti: int, b: int, position: int, pitch: int, velocity: int) -> None:
        bar = first_bar + b
        start, _num, den = grid[bar]
        at = start + (position / POSITIONS_PER_BEAT) * (4.0 / den)
        stop = bar_end(grid, bar) if end is None else min(end, bar_end(grid, bar))
        if at >= stop - 1e-9:
            return  # past the requested bars: the result drops it too
        channel = channels[ti]
        length = min(stop - at, DRUM_HIT) if channel == DRUM_CHANNEL else stop - at
        listener.note_started(Note(at, pitch, length, velocity, channel))

    return on_note


def _bar_written(
    listener: NoteListener | None,
    clip: MidiClip,
    grid: list[tuple[float, int, int]],
    bar: int,
    channel: int,
) -> None:
    """Tell ``listener`` the final notes of ``bar`` on ``channel`` (as the clip holds them)."""
    if listener is None:
        return
    lo, hi = grid[bar][0], bar_end(grid, bar)
    notes = [n for n in clip.notes if n.channel == channel and lo - 1e-9 <= n.start < hi - 1e-9]
    listener.bar_written(channel, lo, hi, notes)


HOLD_BEATS = 2.0  # how long the voices go on after the melody's phrase ends


def phrase_spans(melody: list[Note], hold: float = HOLD_BEATS) -> list[tuple[float, float]]:
    """Where harmonize's voices sing: from each melody note to ``hold`` beats after it ends,
    joined. Before the melody enters and where it rests longer, the voices rest too (nothing to
    harmonize: the chord there is a guess)."""
    out: list[tuple[float, float]] = []
    for n in sorted(melody, key=lambda n: n.start):
        lo, hi = n.start, n.end + hold
        if out and lo <= out[-1][1] + 1e-9:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _inside(spans: list[tuple[float, float]], at: float) -> bool:
    return any(lo - 1e-9 <= at < hi - 1e-9 for lo, hi in spans)


def _span_end(spans: list[tuple[float, float]], at: float) -> float:
    """Where the span holding ``at`` ends (``at`` itself when none holds it)."""
    return next((hi for lo, hi in spans if lo - 1e-9 <= at < hi - 1e-9), at)


def _beat_chords(
    melody: list[Note], grid: list[tuple[float, int, int]], key: Key
) -> list[tuple[frozenset[int], frozenset[int], int]]:
    """(tones, likeliest tones, root) of the chord under each beat of ``grid``: the chord model's
    (:func:`studio.music.chords.default_model`) when it is shipped, else each bar's implied
    diatonic triad."""
    from studio.music.chords import default_model

    starts = [g[0] for g in grid]
    bar_length = grid[0][1] * 4.0 / grid[0][2]
    n_beats = max(1, int(math.ceil(bar_end(grid, len(grid) - 1) - 1e-9)))
    model = default_model()
    if model is not None and melody:
        return [
            (c.chord.tones, c.safe_tones(), c.chord.root)
            for c in model.chords(melody, n_beats, starts, bar_length, key)
        ]
    chords = implied_chords(melody, starts, bar_length, key)
    out = []
    for beat in range(n_beats):
        b = 0
        while b + 1 < len(starts) and starts[b + 1] <= beat + 1e-9:
            b += 1
        c = chords[min(b, len(chords) - 1)]
        out.append((c.tones, c.tones, c.root))
    return out


def bar_grid(clip: MidiClip, n_bars: int) -> list[tuple[float, int, int]]:
    """(start beat, numerator, denominator) of the first ``n_bars`` bars of ``clip``, following its
    meter map (``MidiClip.bar_starts``) and continuing its last meter past its end."""
    segments = [(0.0, clip.beats_per_bar, clip.beat_unit)]
    for beat, num, den in sorted(clip.meter_changes):
        if num <= 0 or den <= 0:
            continue
        if beat <= segments[-1][0] + 1e-9:
            segments[-1] = (segments[-1][0], num, den)
        else:
            segments.append((float(beat), num, den))
    n_bars = max(1, n_bars)
    far = clip.length_beats + n_bars * max(num * 4.0 / den for _, num, den in segments) + 1
    out = []
    for start in clip.bar_starts(until=far, limit=n_bars):
        num, den = next((n, d) for at, n, d in reversed(segments) if at <= start + 1e-9)
        out.append((start, num, den))
    return out


def bar_end(grid: list[tuple[float, int, int]], b: int) -> float:
    """The beat where bar ``b`` of ``grid`` ends."""
    if b + 1 < len(grid):
        return grid[b + 1][0]
    start, num, den = grid[b]
    return start + num * 4.0 / den


def add_notes(clip: MidiClip, new: list[Note]) -> None:
    """Add generated notes without overlapping a sounding note of the same pitch and channel (MIDI
    cannot tell such notes apart): a new note that starts inside one is dropped, and one that would
    run into the next is shortened. Existing notes are never changed."""
    by_key: dict[tuple[int, int], list[Note]] = {}
    for n in clip.notes:
        by_key.setdefault((n.channel, n.pitch), []).append(n)
    for n in new:
        same = by_key.setdefault((n.channel, n.pitch), [])
        if any(o.start <= n.start < o.end for o in same):
            continue
        later = [o.start for o in same if o.start > n.start]
        if later and min(later) < n.end:
            n = Note(n.start, n.pitch, min(later) - n.start, n.velocity, n.channel)
        same.append(n)
        clip.notes.append(n)
    clip.notes.sort()


def clip_notes_in_bars(clip: MidiClip, first: int, last: int) -> list[Note]:
    """Notes starting in bars first..last (1-based, inclusive)."""
    lo, hi = (first - 1) * clip.bar_length, last * clip.bar_length
    return [n for n in clip.notes if lo - 1e-9 <= n.start < hi - 1e-9]
