"""Sampling with a KV cache and a grammar: generate, continue, infill, harmonize.

The sampler writes one bar at a time. Inside a bar only well-formed REMI runs are allowed (Position,
then Pitch, Velocity, Duration, with positions moving forward inside the bar); the number of bars,
track boundaries and fill markers are placed by the sampler, so the requested bars are exactly what
comes back and every note outside them is kept exactly. With ``strict_key`` pitches outside the
key's scale are masked (melodic tracks only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from studio.core.jobs import JobContext
from studio.core.media import DRUM_CHANNEL, Note
from studio.music.keys import Key
from studio.music.tokens import POSITIONS_PER_BEAT, MusicTokenizer, PieceTokens

__all__ = [
    "Sampler",
    "SampleSettings",
    "BarSink",
    "NoteSink",
    "BarConstraint",
    "ConstraintFor",
    "rhythm_bias",
]

MAX_TOKENS_PER_BAR = 96
HEADER_LEN = 6
MEMO_TOKENS = HEADER_LEN + 2  # the tokens whose model state is kept: header, first track, Bar


@contextmanager
def _one_cpu_thread(device: str):
    """torch on one thread for the block (the setting is process-wide), then as it was."""
    before = torch.get_num_threads()
    if str(device) != "cpu" or before <= 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class SampleSettings:
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0
    strict_key: bool = True


BarSink = Callable[[int, int, list[int]], None]  # (track slot, bar index, tokens) -> None
# (track slot, bar index, position, pitch, velocity) -> None: a note as soon as it can sound (its
# onset, pitch and velocity are chosen; its duration is the next token), for playback that starts
# before the bar is written. Only reads what was chosen, so the result is the same without it.
NoteSink = Callable[[int, int, int, int, int], None]


@dataclass(frozen=True)
class BarConstraint:
    """What one bar of one track may hold, beyond the grammar.

    ``low``/``high``: the pitch range (a track's prompt range and its instrument's); ``min_notes``
    and ``max_notes``: how many notes the bar gets (a density budget); ``pitch_classes``: the only
    pitch classes allowed (a chord); ``hold_in_bar``: no note sounds past the bar's end; ``bias``:
    (token id, log weight) pairs added to the model's logits (the prompt's positions and
    durations, so the rhythm keeps its character); ``pitches_at`` and ``max_length`` narrow a
    note by where it starts (harmony against the melody sounding then)."""

    low: int = 0
    high: int = 127
    min_notes: int = 0
    max_notes: int | None = None
    pitch_classes: frozenset[int] | None = None
    hold_in_bar: bool = False
    bias: tuple[tuple[int, float], ...] = ()
    # position -> the only pitches a note starting there may have (None: no narrowing)
    pitches_at: Callable[[int], frozenset[int] | None] | None = None
    # (position, pitch) -> the longest the note may last, in positions
    max_length: Callable[[int, int], float] | None = None


ConstraintFor = Callable[[int, int], BarConstraint | None]  # (track slot, bar index)


def rhythm_bias(
    tok: MusicTokenizer, bars: Sequence[Sequence[int]], weight: float = 0.7
) -> tuple[tuple[int, float], ...]:
    """Log-frequency biases for the Position and Duration tokens of ``bars`` (a track's prompt):
    tokens the prompt uses are favoured in proportion to how often, unused ones pushed down."""
    counts: dict[int, int] = {}
    for bar in bars:
        for t in bar:
            name = tok.names[t]
            if name.startswith(("Position_", "Duration_")):
                counts[t] = counts.get(t, 0) + 1
    if not counts:
        return ()
    out = []
    groups = {"Position_": 0, "Duration_": 0}
    for t, c in counts.items():
        groups[tok.names[t].split("_")[0] + "_"] += c
    for name, i in tok.ids.items():
        prefix = name.split("_")[0] + "_"
        if prefix not in groups or not groups[prefix]:
            continue
        p = (counts.get(i, 0) + 0.05) / (groups[prefix] + 0.05 * 64)
        out.append((i, weight * float(np.log(p))))
    return tuple(out)


@dataclass
class _Grammar:
    tok: MusicTokenizer
    positions: dict[int, int] = field(default_factory=dict)  # token id -> position index
    pitches: dict[int, int] = field(default_factory=dict)
    velocities: list[int] = field(default_factory=list)
    velocity_of: dict[int, int] = field(default_factory=dict)  # id -> MIDI velocity
    durations: list[int] = field(default_factory=list)
    enders: list[int] = field(default_factory=list)

    duration_steps: dict[int, float] = field(default_factory=dict)  # id -> length in positions

    @classmethod
    def of(cls, tok: MusicTokenizer, vocab: int | None = None) -> _Grammar:
        g = cls(tok)
        for name, i in tok.ids.items():
            if vocab is not None and i >= vocab:
                continue  # a token the model was never trained with
            kind, _, value = name.partition("_")
            if kind == "Position":
                g.positions[i] = int(value)
            elif kind == "Pitch":
                g.pitches[i] = int(value)
            elif kind == "Velocity":
                g.velocities.append(i)
                g.velocity_of[i] = max(1, min(127, int(value)))
            elif kind == "Duration":
                g.durations.append(i)
                a, b, r = (int(x) for x in value.split("."))
                g.duration_steps[i] = (a + b / r) * POSITIONS_PER_BEAT
        g.enders = [tok.BAR, tok.TRACKEND, tok.FILLEND, tok.EOS]
        return g


class Sampler:
    """Runs a MusicTransformer token by token with its KV cache."""

    def __init__(self, model, tok: MusicTokenizer, device: str = "cpu") -> None:
        self.model, self.tok, self.device = model, tok, device
        v = int(getattr(model.cfg, "vocab_size", tok.vocab_size))
        self.grammar = _Grammar.of(tok, v)
        self.context = model.cfg.context
        self._pitch_ids = torch.tensor(sorted(self.grammar.pitches), device=device)
        self._pitch_vals = torch.tensor(
            [self.grammar.pitches[i] for i in sorted(self.grammar.pitches)], device=device
        )
        self._allowed_cache: dict[tuple, torch.Tensor] = {}
        self._v = v
        # (tokens) -> (logits, KV cache) after a request's first tokens (its header, first track
        # and Bar): the same computation gives the same tensors, so a warm one is reused as is
        self._memo: dict[tuple[int, ...], tuple[torch.Tensor, object]] = {}

    # -- the model ---------------------------------------------------------------------------------
    def _start(self, prefix: list[int]) -> torch.Tensor:
        """Prefill the cache with ``prefix``; returns the logits for the next token."""
        self._tokens = list(prefix)
        known = self._memo.get(tuple(prefix))
        if known is not None:
            logits, self._cache = known
            return logits
        x = torch.tensor([prefix], device=self.device)
        with torch.inference_mode():
            logits, self._cache = self.model(x, use_cache=True)
        self._remember(logits[0, -1])
        return logits[0, -1]

    def _push(self, token: int) -> torch.Tensor:
        """Append one token; returns logits for the next. Re-prefills when the context is full,
        keeping the header and the most recent tokens."""
        self._tokens.append(token)
        if len(self._tokens) >= self.context:
            keep = self.context // 2
            return self._start(self._tokens[:HEADER_LEN] + self._tokens[-keep:])
        if len(self._tokens) <= MEMO_TOKENS:
            known = self._memo.get(tuple(self._tokens))
            if known is not None:
                logits, self._cache = known
                return logits
        x = torch.tensor([[token]], device=self.device)
        with torch.inference_mode():
            logits, self._cache = self.model(x, past=self._cache, use_cache=True)
        self._remember(logits[0, -1])
        return logits[0, -1]

    def _remember(self, logits: torch.Tensor) -> None:
        """Keep the state after a request's first few tokens (the header, the first track and its
        Bar), so the next request with the same settings starts without running the model."""
        if len(self._tokens) > MEMO_TOKENS:
            return
        if len(self._memo) >= 32:
            self._memo.pop(next(iter(self._memo)))
        self._memo[tuple(self._tokens)] = (logits, self._cache)

    def warm(self, prefix: list[int]) -> None:
        """Run ``prefix`` (a request's header and first track token) and its first Bar now, so a
        request starting with them reaches its first note sooner (a panel calls this when it
        is shown or a model is picked, on the model's worker)."""
        with _one_cpu_thread(self.device):
            self._start(prefix)
            self._push(self.tok.BAR)

    # -- choosing ----------------------------------------------------------------------------------
    def _mask(
        self,
        kind: str,
        pos: int,
        bar_positions: int,
        scale: frozenset[int] | None,
        full: bool,
        pitches: tuple | None = None,
    ) -> torch.Tensor:
        key = (kind, pos, bar_positions, scale, full, pitches)
        cached = self._allowed_cache.get(key)
        if cached is not None:
            return cached
        g = self.grammar
        allowed = torch.zeros(self._v, dtype=torch.bool, device=self.device)
        if kind == "velocity":
            allowed[g.velocities] = True
        elif kind == "duration":
            allowed[g.durations] = True
        elif kind == "pitch":  # after a Position: a note must follow
            allowed[self._scale_pitches(scale, pitches)] = True
        else:  # "start" (just after Bar) or "after_note": a new position, a chord note, or the end
            allowed[g.enders] = True
            if not full:
                lowest = 0 if kind == "start" else pos + 1
                allowed[[i for i, p in g.positions.items() if lowest <= p < bar_positions]] = True
                if kind == "after_note":
                    allowed[self._scale_pitches(scale, pitches)] = True
        if len(self._allowed_cache) > 20000:
            self._allowed_cache.clear()
        self._allowed_cache[key] = allowed
        return allowed

    def _scale_pitches(
        self, scale: frozenset[int] | None, pitches: tuple | None = None
    ) -> torch.Tensor:
        """Pitch token ids in ``scale`` and inside ``pitches`` = (low, high, pitch classes,
        exact pitches). When nothing is left the key gives way first, then the rest but the range
        (the instrument's range always holds)."""
        vals = self._pitch_vals
        keep = torch.ones(len(vals), dtype=torch.bool, device=self.device)
        if pitches is not None:
            low, high, classes, exact = (tuple(pitches) + (None,))[:4]
            keep &= (vals >= low) & (vals <= high)
            if classes is not None:
                keep &= torch.tensor([int(p) % 12 in classes for p in vals], device=self.device)
            if exact is not None:
                keep &= torch.tensor([int(p) in exact for p in vals], device=self.device)
        if scale is not None:
            in_scale = torch.tensor([int(p) % 12 in scale for p in vals], device=self.device)
            if bool((keep & in_scale).any()):
                keep &= in_scale
        if not bool(keep.any()) and pitches is not None:
            return self._scale_pitches(scale, (pitches[0], pitches[1], None, None))
        return self._pitch_ids[keep]

    def _choose(
        self,
        logits: torch.Tensor,
        allowed: torch.Tensor,
        s: SampleSettings,
        gen: torch.Generator,
        bias: torch.Tensor | None = None,
    ) -> int:
        logits = logits.float()
        if bias is not None:
            logits = logits + bias
        logits = logits.masked_fill(~allowed, float("-inf"))
        if s.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / s.temperature, dim=-1)
        if s.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            cum = torch.cumsum(sorted_p, dim=-1)
            cut = cum - sorted_p > s.top_p
            sorted_p[cut] = 0
            probs = torch.zeros_like(probs).scatter(0, order, sorted_p)
        return int(torch.multinomial(probs.cpu(), 1, generator=gen))

    def _bias(self, c: BarConstraint | None) -> torch.Tensor | None:
        if c is None or not c.bias:
            return None
        key = ("bias", c.bias)
        cached = self._allowed_cache.get(key)
        if cached is None:
            cached = torch.zeros(self._v, device=self.device)
            ids = [i for i, _ in c.bias if i < self._v]
            cached[ids] = torch.tensor([w for i, w in c.bias if i < self._v], device=self.device)
            self._allowed_cache[key] = cached
        return cached

    def sample_bar(
        self,
        logits: torch.Tensor,
        bar_positions: int,
        scale: frozenset[int] | None,
        s: SampleSettings,
        gen: torch.Generator,
        ctx: JobContext,
        constraint: BarConstraint | None = None,
        on_note: Callable[[int, int, int], None] | None = None,
    ) -> tuple[list[int], torch.Tensor]:
        """Sample one bar's note tokens after a Bar token; returns (tokens, logits after them).

        The bar ends when the model chooses an end token (which is not pushed: the caller places the
        next structural token). A ``constraint`` narrows pitches, durations and the note count.
        ``on_note(position, pitch, velocity)`` hears each note once its velocity is chosen, before
        the model is run for its duration (so playback can start it a token earlier)."""
        tokens: list[int] = []
        kind, pos = "start", 0
        g = self.grammar
        c = constraint
        pitches = (c.low, c.high, c.pitch_classes, None) if c is not None else None
        pitch = 0
        limit = MAX_TOKENS_PER_BAR
        if c is not None and c.max_notes is not None:
            limit = max(limit, 4 * c.max_notes + 8)
        bias = self._bias(c)
        notes = 0
        enders = torch.tensor(g.enders, device=self.device)
        while True:
            ctx.check_cancelled()
            if c is not None and c.pitches_at is not None and kind in ("pitch", "after_note"):
                pitches = (c.low, c.high, c.pitch_classes, c.pitches_at(pos))
            allowed = self._mask(kind, pos, bar_positions, scale, len(tokens) >= limit, pitches)
            if c is not None and kind in ("start", "after_note"):
                if c.max_notes is not None and notes >= c.max_notes:
                    allowed = torch.zeros_like(allowed)
                    allowed[enders] = True
                elif notes < c.min_notes:
                    more = allowed.clone()
                    more[enders] = False
                    if bool(more.any()):
                        allowed = more
            elif c is not None and kind == "duration" and (c.hold_in_bar or c.max_length):
                room = float(bar_positions - pos) if c.hold_in_bar else float("inf")
                if c.max_length is not None:
                    room = min(room, c.max_length(pos, pitch))
                fits = [i for i in g.durations if g.duration_steps[i] <= room + 1e-6]
                fits = fits or [min(g.durations, key=g.duration_steps.__getitem__)]
                allowed = torch.zeros_like(allowed)
                allowed[fits] = True
            t = self._choose(logits, allowed, s, gen, bias)
            if t in g.enders:
                return tokens, logits
            if on_note is not None and kind == "velocity":
                on_note(pos, pitch, g.velocity_of[t])
            tokens.append(t)
            logits = self._push(t)
            if t in g.positions:
                kind, pos = "pitch", g.positions[t]
            elif t in g.pitches:
                kind = "velocity"
                notes += 1
                pitch = g.pitches[t]
            elif kind == "velocity":
                kind = "duration"
            else:
                kind = "after_note"

    # -- the modes ---------------------------------------------------------------------------------
    def run_tracks(self, *args, **kwargs) -> list[list[list[int]]]:
        """:meth:`_run_tracks` on one CPU thread: decoding one token at a time is many tiny
        matrix products, where a second thread only waits (8 bars of chorale: 0.52-0.58 s on one
        thread against 4-6 s on two, on a 2-core machine at load 4)."""
        with _one_cpu_thread(self.device):
            return self._run_tracks(*args, **kwargs)

    def _run_tracks(
        self,
        header: list[int],
        context_tracks: Sequence[tuple[int, list[list[int]]]],
        new_tracks: Sequence[int],
        n_bars: int,
        bar_positions: int,
        key: Key | None,
        s: SampleSettings,
        ctx: JobContext,
        on_bar: BarSink | None = None,
        drums: Sequence[bool] = (),
        constraint_for: ConstraintFor | None = None,
        on_note: NoteSink | None = None,
    ) -> list[list[list[int]]]:
        """Write ``new_tracks`` (track tokens), ``n_bars`` each, after the given context tracks.
        ``constraint_for(track slot, bar)`` narrows each bar (it may look at the bars written
        so far: tracks are written one after another); ``on_note`` hears each note as it is
        chosen (see :data:`NoteSink`)."""
        gen = torch.Generator().manual_seed(s.seed)
        prefix = list(header)
        for track_token, bars in context_tracks:
            prefix.append(track_token)
            for bar in bars:
                prefix += [self.tok.BAR, *bar]
            prefix.append(self.tok.TRACKEND)
        out: list[list[list[int]]] = []
        logits = None
        total = max(1, len(new_tracks) * n_bars)
        for ti, track_token in enumerate(new_tracks):
            logits = (
                self._start(prefix + [track_token]) if logits is None else self._push(track_token)
            )
            scale = key.scale() if (key and s.strict_key and not (drums and drums[ti])) else None
            bars: list[list[int]] = []
            for b in range(n_bars):
                logits = self._push(self.tok.BAR)
                c = constraint_for(ti, b) if constraint_for else None
                tokens, logits = self.sample_bar(
                    logits, bar_positions, scale, s, gen, ctx, c, _bound(on_note, ti, b)
                )
                bars.append(tokens)
                if on_bar:
                    on_bar(ti, b, tokens)
                ctx.progress((ti * n_bars + b + 1) / total, f"track {ti + 1}, bar {b + 1}")
            logits = self._push(self.tok.TRACKEND)
            out.append(bars)
        return out

    def run_fill(self, *args, **kwargs) -> dict[tuple[int, int], list[int]]:
        """:meth:`_run_fill` on one CPU thread (continue and infill decode token by token too:
        see :meth:`run_tracks`)."""
        with _one_cpu_thread(self.device):
            return self._run_fill(*args, **kwargs)

    def _run_fill(
        self,
        piece: PieceTokens,
        fill: Sequence[tuple[int, int]],
        bars: tuple[int, int],
        s: SampleSettings,
        ctx: JobContext,
        on_bar: BarSink | None = None,
        constraint_for: ConstraintFor | None = None,
        positions: Callable[[int], int] | None = None,
        on_note: NoteSink | None = None,
    ) -> dict[tuple[int, int], list[int]]:
        """Fill the (track, bar) slots of ``piece`` (bars outside ``bars`` are left out of the
        prompt). Returns the new tokens of each slot. ``positions(bar)`` is how many positions
        the bar has (default: the piece's meter); ``constraint_for(track, bar)`` narrows it;
        ``on_note`` hears each note as it is chosen (see :data:`NoteSink`)."""
        gen = torch.Generator().manual_seed(s.seed)
        fill = sorted(set(fill))
        prompt = self.tok.sequence(piece, None, bars, fill, eos=False)
        prompt = prompt[: prompt.index(self.tok.FILLSTART) + 1]
        bar_positions = piece.meter[0] * POSITIONS_PER_BEAT  # in the meter's own beat
        logits = self._start(prompt)
        result: dict[tuple[int, int], list[int]] = {}
        for i, (ti, b) in enumerate(fill):
            drum = piece.tracks[ti].drum
            scale = piece.key.scale() if (s.strict_key and not drum) else None
            logits = self._push(self.tok.BAR)
            c = constraint_for(ti, b) if constraint_for else None
            n_pos = positions(b) if positions else bar_positions
            tokens, logits = self.sample_bar(
                logits, n_pos, scale, s, gen, ctx, c, _bound(on_note, ti, b)
            )
            result[(ti, b)] = tokens
            if on_bar:
                on_bar(ti, b, tokens)
            ctx.progress((i + 1) / len(fill), f"bar {b + 1}")
        return result


def _bound(on_note: NoteSink | None, ti: int, b: int) -> Callable[[int, int, int], None] | None:
    """``on_note`` with its track slot and bar filled in (None stays None)."""
    if on_note is None:
        return None

    def note(position: int, pitch: int, velocity: int) -> None:
        on_note(ti, b, position, pitch, velocity)

    return note


def bar_window(costs: np.ndarray, focus: tuple[int, int], budget: int) -> tuple[int, int]:
    """The widest bar range around ``focus`` (half-open) whose tokens fit ``budget``; grows left
    first (what came before matters most), then right.
    """
    start, end = focus
    total = int(costs[start:end].sum())
    while True:
        grew = False
        if start > 0 and total + costs[start - 1] <= budget:
            start -= 1
            total += int(costs[start])
            grew = True
        if end < len(costs) and total + costs[end] <= budget and (not grew or end - focus[1] < 2):
            total += int(costs[end])
            end += 1
            grew = True
        if not grew:
            return start, end


def notes_of_bar(
    tok: MusicTokenizer,
    tokens: list[int],
    bar: int,
    bar_length: float,
    channel: int,
    end: float | None = None,
) -> list[Note]:
    """Notes of a generated bar; with ``end`` (in beats) no note sounds past it."""
    notes = tok.bar_notes(tokens, bar * bar_length, bar_length, channel)
    if end is None:
        return notes
    return [
        n if n.end <= end else Note(n.start, n.pitch, end - n.start, n.velocity, n.channel)
        for n in notes
        if n.start < end
    ]


def free_channels(used: Sequence[int], count: int) -> list[int]:
    free = [c for c in range(16) if c != DRUM_CHANNEL and c not in used]
    if len(free) < count:
        raise ValueError(
            f"a clip has 15 melodic channels; {len(used)} are used, {count} more asked"
        )
    return free[:count]
