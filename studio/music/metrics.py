"""Music metrics, numpy only: what ``studio music eval`` measures.

- **MGEval features** (Yang & Lerch 2018, "On the evaluation of generative models in music") of one
  piece: pitch-class histogram, note density, inter-onset intervals, polyphony, pitch range, in-key
  rate and repetition; and the **overlapping area** of each feature between a set of samples and the
  held-out pieces. As in the paper, the distance of every pair inside the held-out set (intra-set)
  and of every held-out/sample pair (inter-set) is smoothed with a Gaussian KDE (Scott's bandwidth);
  the score is the area both densities share, 1.0 when samples are as close to the held-out pieces
  as those pieces are to each other, near 0 when they are far.
- **MuseGAN's multi-track metrics** (Dong et al. 2018): empty bars, used pitch classes per bar,
  qualified notes, drum pattern and tonal distance.
- **Continuation, infill and harmony checks**: a General MIDI playable range per program, note
  density against the prompt, range against the prompt, the chord a melody implies, and the three
  harmonize figures.

Times are in beats (quarter notes), as in :class:`studio.core.media.Note`. Bars are given as a list
of their start beats (``MidiClip.bar_starts``), so meter changes are honoured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from studio.core.media import DRUM_CHANNEL, Note
from studio.music.keys import Key, find_key

__all__ = [
    "GM_RANGES",
    "DRUM_RANGE",
    "instrument_range",
    "FEATURES",
    "piece_features",
    "overlap_area",
    "mgeval_overlap",
    "musegan_metrics",
    "bar_index",
    "density",
    "track_ranges",
    "rhythm_similarity",
    "implied_chords",
    "chord_tones",
    "harmony_report",
    "CONSONANT",
]

# -- General MIDI playable ranges ------------------------------------------------------------------
# (first program, last program, lowest MIDI pitch, highest MIDI pitch): the sounding range a
# player (or the usual patch) covers. Orchestral figures follow standard orchestration tables
# (violin G3-G7, viola C3-E6, cello C2-C6, double bass E1-G4, flute C4-C7, ...); keyboards, synths
# and effects get the piano's A0-C8.
_RANGE_TABLE: tuple[tuple[int, int, int, int], ...] = (
    (0, 7, 21, 108),  # pianos
    (8, 8, 60, 108),  # celesta
    (9, 9, 67, 108),  # glockenspiel
    (10, 10, 60, 96),  # music box
    (11, 11, 53, 89),  # vibraphone
    (12, 12, 45, 96),  # marimba
    (13, 13, 65, 108),  # xylophone
    (14, 14, 60, 77),  # tubular bells
    (15, 15, 48, 96),  # dulcimer
    (16, 20, 24, 96),  # organs
    (21, 21, 53, 89),  # accordion
    (22, 22, 60, 96),  # harmonica
    (23, 23, 53, 89),  # tango accordion
    (24, 31, 40, 88),  # guitars E2-E6
    (32, 37, 28, 67),  # basses E1-G4
    (38, 39, 24, 72),  # synth basses
    (40, 40, 55, 103),  # violin G3-G7
    (41, 41, 48, 88),  # viola C3-E6
    (42, 42, 36, 84),  # cello C2-C6
    (43, 43, 28, 67),  # contrabass E1-G4
    (44, 45, 28, 103),  # tremolo / pizzicato strings (the section)
    (46, 46, 23, 103),  # harp
    (47, 47, 38, 57),  # timpani D2-A3
    (48, 51, 28, 103),  # string ensembles
    (52, 54, 40, 84),  # choir, voice oohs, synth voice (bass E2 to soprano C6)
    (55, 55, 36, 96),  # orchestra hit
    (56, 56, 54, 86),  # trumpet F#3-D6
    (57, 57, 40, 72),  # trombone E2-C5
    (58, 58, 28, 58),  # tuba E1-Bb3
    (59, 59, 54, 82),  # muted trumpet
    (60, 60, 34, 77),  # French horn
    (61, 61, 34, 86),  # brass section
    (62, 63, 24, 96),  # synth brass
    (64, 64, 56, 88),  # soprano sax
    (65, 65, 49, 81),  # alto sax
    (66, 66, 44, 76),  # tenor sax
    (67, 67, 36, 69),  # baritone sax
    (68, 68, 58, 91),  # oboe
    (69, 69, 52, 81),  # English horn
    (70, 70, 34, 75),  # bassoon
    (71, 71, 50, 94),  # clarinet
    (72, 72, 74, 108),  # piccolo
    (73, 73, 60, 96),  # flute C4-C7
    (74, 74, 60, 98),  # recorder
    (75, 76, 60, 96),  # pan flute, blown bottle
    (77, 77, 55, 84),  # shakuhachi
    (78, 78, 60, 96),  # whistle
    (79, 79, 60, 84),  # ocarina
    (80, 103, 21, 108),  # synth leads, pads, effects
    (104, 104, 48, 77),  # sitar
    (105, 105, 48, 84),  # banjo
    (106, 106, 50, 79),  # shamisen
    (107, 107, 55, 96),  # koto
    (108, 108, 60, 84),  # kalimba
    (109, 109, 55, 74),  # bagpipe
    (110, 110, 55, 103),  # fiddle
    (111, 111, 60, 96),  # shanai
    (112, 127, 21, 108),  # percussive and sound effects
)
GM_RANGES: dict[int, tuple[int, int]] = {
    p: (lo, hi) for first, last, lo, hi in _RANGE_TABLE for p in range(first, last + 1)
}
DRUM_RANGE = (27, 87)  # the General MIDI percussion keys, with the GM2 extensions


def instrument_range(program: int, drum: bool = False) -> tuple[int, int]:
    """(lowest, highest) MIDI pitch the General MIDI instrument plays."""
    if drum:
        return DRUM_RANGE
    return GM_RANGES.get(int(program), (21, 108))


def in_instrument_range(note: Note, programs: dict[int, int]) -> bool:
    lo, hi = instrument_range(programs.get(note.channel, 0), note.channel == DRUM_CHANNEL)
    return lo <= note.pitch <= hi


# -- bars ------------------------------------------------------------------------------------------
def bar_index(beat: float, bar_starts: Sequence[float]) -> int:
    """Index of the bar holding ``beat`` (bars past the last start continue its length)."""
    starts = np.asarray(bar_starts, dtype=float)
    if len(starts) == 0:
        return 0
    i = int(np.searchsorted(starts, beat + 1e-9, side="right")) - 1
    return max(0, i)


def notes_in(notes: Iterable[Note], lo: float, hi: float) -> list[Note]:
    """Notes starting in [lo, hi)."""
    return [n for n in notes if lo - 1e-9 <= n.start < hi - 1e-9]


def density(notes: Sequence[Note], lo: float, hi: float, n_bars: int) -> float:
    """Notes per bar that start in [lo, hi), which spans ``n_bars`` bars."""
    return len(notes_in(notes, lo, hi)) / max(1, n_bars)


def _onset_histogram(notes: Sequence[Note], duration: bool) -> np.ndarray:
    """Where in the beat notes start (on the beat, the 8th, the 16ths, elsewhere) or how long they
    last (a 16th or less, an 8th, a quarter, half, longer), as fractions."""
    hist = np.zeros(5)
    for n in notes:
        if duration:
            edges = (0.26, 0.51, 1.01, 2.01)
            hist[int(np.searchsorted(edges, n.duration))] += 1
        else:
            frac = n.start % 1.0
            slot = round(frac * 4)
            hist[slot if abs(frac * 4 - slot) < 0.1 and slot < 4 else 4] += 1
    return hist / hist.sum() if hist.sum() else hist


def rhythm_similarity(new: Sequence[Note], reference: Sequence[Note]) -> float:
    """How alike two passages' rhythms are, 0..1: the mean histogram intersection of where notes
    start within the beat and of how long they last."""
    if not new or not reference:
        return 0.0 if (new or reference) else 1.0
    out = []
    for duration in (False, True):
        a, b = _onset_histogram(new, duration), _onset_histogram(reference, duration)
        out.append(float(np.minimum(a, b).sum()))
    return float(np.mean(out))


def track_ranges(notes: Iterable[Note]) -> dict[int, tuple[int, int]]:
    """channel -> (lowest, highest) pitch."""
    out: dict[int, tuple[int, int]] = {}
    for n in notes:
        lo, hi = out.get(n.channel, (n.pitch, n.pitch))
        out[n.channel] = (min(lo, n.pitch), max(hi, n.pitch))
    return out


# -- MGEval features -------------------------------------------------------------------------------
FEATURES = (
    "pitch_class_histogram",
    "note_density",
    "inter_onset_interval",
    "polyphony",
    "pitch_range",
    "in_key_rate",
    "repetition",
)


def piece_features(notes: Sequence[Note], bar_length: float = 4.0) -> dict[str, np.ndarray]:
    """The MGEval features of one piece (drums left out of the pitch features).

    - pitch_class_histogram: 12 values summing to 1 (duration-free counts);
    - note_density: notes per bar (all tracks);
    - inter_onset_interval: the mean gap in beats between successive distinct onsets;
    - polyphony: the mean number of notes sounding at each onset;
    - pitch_range: highest minus lowest pitch, in semitones;
    - in_key_rate: the fraction of notes in the piece's own key (Krumhansl-Schmuckler);
    - repetition: the fraction of 4-note interval patterns (per track) heard earlier in the piece.
    """
    pitched = [n for n in notes if n.channel != DRUM_CHANNEL]
    pitches = np.array([n.pitch for n in pitched], dtype=int)
    hist = np.bincount(pitches % 12, minlength=12).astype(float) if len(pitches) else np.zeros(12)
    if hist.sum():
        hist /= hist.sum()
    end = max((n.end for n in notes), default=0.0)
    n_bars = max(1.0, np.ceil(end / bar_length - 1e-9))
    onsets = np.unique(np.round([n.start for n in notes], 4)) if notes else np.zeros(0)
    ioi = float(np.diff(onsets).mean()) if len(onsets) > 1 else 0.0
    if len(onsets):
        starts = np.array([n.start for n in notes])
        ends = np.array([n.end for n in notes])
        sounding = [int(((starts <= t + 1e-9) & (ends > t + 1e-9)).sum()) for t in onsets]
        poly = float(np.mean(sounding))
    else:
        poly = 0.0
    prange = float(pitches.max() - pitches.min()) if len(pitches) else 0.0
    if len(pitches):
        key = find_key(pitches, np.array([n.duration for n in pitched]))
        scale = key.scale()
        in_key = float(np.mean([p % 12 in scale for p in pitches]))
    else:
        in_key = 1.0
    return {
        "pitch_class_histogram": hist,
        "note_density": np.array([len(notes) / n_bars]),
        "inter_onset_interval": np.array([ioi]),
        "polyphony": np.array([poly]),
        "pitch_range": np.array([prange]),
        "in_key_rate": np.array([in_key]),
        "repetition": np.array([repetition(pitched)]),
    }


def repetition(notes: Sequence[Note], n: int = 4) -> float:
    """Fraction of n-note interval patterns (per channel, in onset order) already heard earlier."""
    seen: set[tuple] = set()
    total = repeated = 0
    by_channel: dict[int, list[Note]] = {}
    for note in sorted(notes, key=lambda x: (x.start, -x.pitch)):
        by_channel.setdefault(note.channel, []).append(note)
    for channel_notes in by_channel.values():
        # one note per onset: the highest (the line a listener follows)
        line: list[int] = []
        last = None
        for note in channel_notes:
            if last is not None and abs(note.start - last) < 1e-6:
                continue
            line.append(note.pitch)
            last = note.start
        steps = np.diff(line)
        for i in range(len(steps) - n + 2):
            pattern = (len(by_channel),) + tuple(int(s) for s in steps[i : i + n - 1])
            total += 1
            if pattern in seen:
                repeated += 1
            seen.add(pattern)
    return repeated / total if total else 0.0


def _kde(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, dtype=float)
    if len(samples) == 0:
        return np.zeros_like(grid)
    std = samples.std(ddof=1) if len(samples) > 1 else 0.0
    span = grid[-1] - grid[0] if len(grid) > 1 else 1.0
    # Scott's rule, with a floor so a set of identical distances is a narrow bump, not a spike
    h = max(std * len(samples) ** (-1 / 5), span * 1e-3, 1e-6)
    z = (grid[:, None] - samples[None, :]) / h
    return np.exp(-0.5 * z * z).sum(axis=1) / (len(samples) * h * np.sqrt(2 * np.pi))


def overlap_area(a: np.ndarray, b: np.ndarray, points: int = 512) -> float:
    """Area shared by the Gaussian KDEs of two samples of distances (0..1)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return 0.0
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    pad = max(hi - lo, 1e-3) * 0.25
    grid = np.linspace(max(0.0, lo - pad), hi + pad, points)
    pa, pb = _kde(a, grid), _kde(b, grid)
    # normalise on the grid, so the two areas are exactly 1 before taking the overlap
    pa /= max(np.trapezoid(pa, grid), 1e-12)
    pb /= max(np.trapezoid(pb, grid), 1e-12)
    return float(np.clip(np.trapezoid(np.minimum(pa, pb), grid), 0.0, 1.0))


def _pairwise(x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances: every pair inside ``x`` (i < j), or every (x, y) pair."""
    if y is None:
        d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
        return d[np.triu_indices(len(x), k=1)]
    return np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1).ravel()


def mgeval_overlap(
    samples: Sequence[dict[str, np.ndarray]], reference: Sequence[dict[str, np.ndarray]]
) -> dict[str, float]:
    """Overlapping area, per feature, of the intra-set distances of ``reference`` (the held-out
    pieces) and the inter-set distances between ``samples`` and ``reference``; plus ``mean``."""
    out: dict[str, float] = {}
    if len(samples) == 0 or len(reference) < 2:
        return {f: 0.0 for f in FEATURES} | {"mean": 0.0}
    for f in FEATURES:
        ref = np.stack([r[f] for r in reference])
        gen = np.stack([s[f] for s in samples])
        out[f] = round(overlap_area(_pairwise(ref), _pairwise(gen, ref)), 4)
    out["mean"] = round(float(np.mean([out[f] for f in FEATURES])), 4)
    return out


# -- MuseGAN metrics -------------------------------------------------------------------------------
def _tonal_centroid(chroma: np.ndarray) -> np.ndarray:
    """Harte, Sandler & Gasser (2006): a 12-bin chroma -> the 6-D tonal centroid."""
    k = np.arange(12)
    r = (1.0, 1.0, 1.0, 1.0, 0.5, 0.5)
    phi = np.stack(
        [
            r[0] * np.sin(k * 7 * np.pi / 6),
            r[1] * np.cos(k * 7 * np.pi / 6),
            r[2] * np.sin(k * 3 * np.pi / 2),
            r[3] * np.cos(k * 3 * np.pi / 2),
            r[4] * np.sin(k * 2 * np.pi / 3),
            r[5] * np.cos(k * 2 * np.pi / 3),
        ]
    )
    total = chroma.sum()
    return phi @ (chroma / total) if total else np.zeros(6)


def musegan_metrics(
    notes: Sequence[Note], bar_starts: Sequence[float], bar_length: float = 4.0
) -> dict[str, float]:
    """MuseGAN's metrics of one multi-track piece, each averaged over tracks (and bars):

    - empty_bars: the fraction of (track, bar) cells with no note;
    - used_pitch_classes: pitch classes used per non-empty bar (melodic tracks);
    - qualified_notes: the fraction of melodic notes at least a 32nd note long;
    - drum_pattern: the fraction of drum onsets on a 16th-note grid (8- or 16-beat patterns);
    - tonal_distance: the mean distance between the tonal centroids of each pair of melodic
      tracks in the same bar (smaller: the tracks agree harmonically).
    Missing figures (no drums, one melodic track) are NaN."""
    starts = list(bar_starts) or [0.0]
    n_bars = len(starts)
    channels = sorted({n.channel for n in notes})
    cells: dict[tuple[int, int], list[Note]] = {}
    for n in notes:
        cells.setdefault((n.channel, bar_index(n.start, starts)), []).append(n)
    empty = [
        sum((c, b) not in cells for b in range(n_bars)) / n_bars for c in channels
    ]  # per track
    melodic = [c for c in channels if c != DRUM_CHANNEL]
    upc = [
        len({n.pitch % 12 for n in cells[(c, b)]})
        for c in melodic
        for b in range(n_bars)
        if (c, b) in cells
    ]
    mel_notes = [n for n in notes if n.channel != DRUM_CHANNEL]
    qualified = (
        float(np.mean([n.duration >= 0.125 - 1e-9 for n in mel_notes])) if mel_notes else np.nan
    )
    drums = [n for n in notes if n.channel == DRUM_CHANNEL]
    if drums:
        on_grid = [abs(n.start * 4 - round(n.start * 4)) < 0.1 for n in drums]
        drum_pattern = float(np.mean(on_grid))
    else:
        drum_pattern = np.nan
    distances = []
    for b in range(n_bars):
        cents = {}
        for c in melodic:
            if (c, b) in cells:
                chroma = np.zeros(12)
                for n in cells[(c, b)]:
                    chroma[n.pitch % 12] += n.duration
                cents[c] = _tonal_centroid(chroma)
        keys = sorted(cents)
        for i in range(len(keys)):
            for j in range(i + 1, len(keys)):
                distances.append(float(np.linalg.norm(cents[keys[i]] - cents[keys[j]])))
    return {
        "empty_bars": float(np.mean(empty)) if empty else 1.0,
        "used_pitch_classes": float(np.mean(upc)) if upc else 0.0,
        "qualified_notes": qualified,
        "drum_pattern": drum_pattern,
        "tonal_distance": float(np.mean(distances)) if distances else np.nan,
    }


# -- harmony ---------------------------------------------------------------------------------------
CONSONANT = frozenset({0, 3, 4, 7, 8, 9})  # unison/octave, thirds, fifth, sixths (mod 12)
_QUALITIES = {"major": (0, 4, 7), "minor": (0, 3, 7), "diminished": (0, 3, 6)}


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class
    quality: str  # "major", "minor" or "diminished"

    @property
    def tones(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in _QUALITIES[self.quality])


def chord_tones(chord: Chord) -> frozenset[int]:
    return chord.tones


def _diatonic_chords(key: Key) -> list[Chord]:
    scale = sorted(key.scale(strict=True))
    out = []
    for i, root in enumerate(scale):
        third, fifth = scale[(i + 2) % 7], scale[(i + 4) % 7]
        intervals = ((third - root) % 12, (fifth - root) % 12)
        quality = {(4, 7): "major", (3, 7): "minor", (3, 6): "diminished"}.get(intervals)
        if quality:
            out.append(Chord(root, quality))
    if key.mode == "minor":  # the harmonic minor's major dominant
        out.append(Chord((key.tonic + 7) % 12, "major"))
    return out


def implied_chords(
    melody: Sequence[Note], bar_starts: Sequence[float], bar_length: float, key: Key | None = None
) -> list[Chord]:
    """The chord the melody implies in each bar: the key's diatonic triad (and the minor key's
    major V) whose tones cover most of the bar's melody, weighted by duration, with strong beats
    and long notes counting more; ties go to the tonic, then to the previous bar's chord. A bar
    with no melody takes the next bar's chord (the one it leads into), or at the end the last."""
    starts = list(bar_starts) or [0.0]
    if key is None:
        pitched = [n for n in melody if n.channel != DRUM_CHANNEL]
        key = (
            find_key(np.array([n.pitch for n in pitched]), np.array([n.duration for n in pitched]))
            if pitched
            else Key(0, "major")
        )
    candidates = _diatonic_chords(key)
    tonic = candidates[0]
    out: list[Chord | None] = []
    for b, lo in enumerate(starts):
        hi = starts[b + 1] if b + 1 < len(starts) else lo + bar_length
        weights = np.zeros(12)
        for n in melody:
            overlap = min(n.end, hi) - max(n.start, lo)
            if overlap <= 0:
                continue
            strong = 1.5 if abs((n.start - lo) % 1.0) < 1e-6 else 1.0
            weights[n.pitch % 12] += overlap * strong
        if not weights.any():
            out.append(None)  # filled below
            continue
        prev = next((c for c in reversed(out) if c is not None), tonic)

        def score(c: Chord, weights: np.ndarray = weights, prev: Chord = prev) -> float:
            covered = sum(weights[pc] for pc in c.tones) / weights.sum()
            root_bonus = 0.05 * weights[c.root] / weights.sum()
            return covered + root_bonus + 0.02 * (c == tonic) + 0.01 * (c == prev)

        out.append(max(candidates, key=score))
    # a bar with no melody takes the chord of the next bar that has one (a pickup or an intro
    # leads into it), else the last one before
    for b in range(len(out)):
        if out[b] is None:
            later = next((c for c in out[b:] if c is not None), None)
            out[b] = later or next((c for c in reversed(out[:b]) if c is not None), tonic)
    return [c if c is not None else tonic for c in out]


def melody_at(melody: Sequence[Note], beat: float) -> int | None:
    """The highest melody pitch sounding at ``beat``."""
    sounding = [n.pitch for n in melody if n.start <= beat + 1e-9 < n.end]
    return max(sounding) if sounding else None


def harmony_report(
    melody: Sequence[Note],
    added: Sequence[Note],
    bass_channel: int | None,
    programs: dict[int, int],
    bar_starts: Sequence[float],
    bar_length: float,
    end: float,
    key: Key | None = None,
) -> dict[str, float | int]:
    """The harmonize figures of one piece.

    - on_beat_consonant: of added notes sounding on a beat, the fraction whose pitch class is a
      tone of the melody's implied chord, or a unison, third, fifth or sixth from the melody note
      sounding then (``on_beat_notes`` is how many were judged);
    - bass_lowest: of beats where the bass sounds, the fraction where nothing sounds below it;
    - in_instrument_range: the fraction of added notes inside their instrument's range."""
    starts = list(bar_starts) or [0.0]
    chords = implied_chords(melody, starts, bar_length, key)
    judged = good = 0
    bass_beats = bass_low = 0
    beat = 0.0
    everything = list(melody) + list(added)
    while beat < end - 1e-9:
        chord = chords[min(bar_index(beat, starts), len(chords) - 1)]
        mel = melody_at(melody, beat)
        for n in added:
            if n.channel == DRUM_CHANNEL or not (n.start <= beat + 1e-9 < n.end):
                continue
            judged += 1
            if n.pitch % 12 in chord.tones or (
                mel is not None and abs(mel - n.pitch) % 12 in CONSONANT
            ):
                good += 1
        if bass_channel is not None:
            bass = [
                n.pitch
                for n in added
                if n.channel == bass_channel and n.start <= beat + 1e-9 < n.end
            ]
            if bass:
                others = [
                    n.pitch
                    for n in everything
                    if n.channel not in (bass_channel, DRUM_CHANNEL)
                    and n.start <= beat + 1e-9 < n.end
                ]
                bass_beats += 1
                bass_low += min(bass) <= min(others, default=128)
        beat += 1.0
    inside = sum(in_instrument_range(n, programs) for n in added)
    return {
        "on_beat_consonant": good / judged if judged else 1.0,
        "on_beat_notes": judged,
        "bass_lowest": bass_low / bass_beats if bass_beats else 1.0,
        "bass_beats": bass_beats,
        "in_instrument_range": inside / len(added) if added else 1.0,
        "added_notes": len(added),
    }
