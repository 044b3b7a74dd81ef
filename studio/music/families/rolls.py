"""Piano rolls for the VAE and the GAN, derived from the same pieces as the tokens.

Time is a grid of 16th notes: a 4/4 bar is 16 steps (both models work in 4/4; a clip in another
meter is refused with a message).

- **Melody roll** (VAE): one class per step, MusicVAE's melody encoding: 0 rest, 1 hold (the note
  before goes on), 2 + p for a note starting at pitch ``MEL_LOW + p``. The melody of a clip is its
  skyline (the highest sounding pitched note).
- **Band roll** (GAN): per step, 9 drum voices, bass pitches and chord pitches, each on/off
  (MuseGAN's multi-track piano roll). A run of "on" steps of one pitch is one note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from studio.core.media import DRUM_CHANNEL, MidiClip, Note

__all__ = [
    "STEPS",
    "MEL_LOW",
    "MEL_HIGH",
    "MEL_CLASSES",
    "melody_roll",
    "melody_clip",
    "band_roll",
    "band_clip",
    "melody_condition",
    "check_meter",
    "DRUM_VOICES",
    "BASS_LOW",
    "BASS_N",
    "CHORD_LOW",
    "CHORD_N",
    "BAND_WIDTH",
]

STEPS = 16  # per 4/4 bar
STEP = 0.25  # beats per step
MEL_LOW, MEL_HIGH = 36, 96  # pitches 36..95
MEL_CLASSES = 2 + (MEL_HIGH - MEL_LOW)
REST, HOLD = 0, 1

# GM drum notes folded into 9 voices (Groove MIDI Dataset's reduced mapping).
DRUM_VOICES = (
    36,
    38,
    42,
    46,
    43,
    47,
    50,
    49,
    51,
)  # kick snare hh-closed hh-open low mid high crash ride
_DRUM_MAP = {
    35: 0, 36: 0, 37: 1, 38: 1, 40: 1, 39: 1, 42: 2, 44: 2, 22: 2, 46: 3, 26: 3,
    41: 4, 43: 4, 58: 4, 45: 5, 47: 5, 48: 6, 50: 6, 49: 7, 52: 7, 55: 7, 57: 7,
    51: 8, 53: 8, 59: 8,
}  # fmt: skip
BASS_LOW, BASS_N = 28, 36  # E1..D#4
CHORD_LOW, CHORD_N = 48, 36  # C3..B5
N_DRUMS = len(DRUM_VOICES)
BAND_WIDTH = N_DRUMS + BASS_N + CHORD_N


def check_meter(clip: MidiClip, what: str) -> None:
    """Raise ValueError unless ``clip`` is in 4/4 (or 2/2: the same 16 steps a bar)."""
    if abs(clip.bar_length - 4.0) > 1e-9:
        raise ValueError(
            f"the {what} works on 4/4 bars; this clip is in {clip.beats_per_bar}/{clip.beat_unit}"
        )


def _n_bars(clip: MidiClip) -> int:
    return max(1, int(np.ceil(clip.length_beats / 4.0 - 1e-9)))


def _fold(pitch: int, low: int, n: int) -> int:
    while pitch < low:
        pitch += 12
    while pitch >= low + n:
        pitch -= 12
    return pitch


def melody_roll(clip: MidiClip, n_bars: int | None = None) -> np.ndarray:
    """(bars, 16) int64 classes of ``clip``'s skyline melody (drums ignored)."""
    bars = _n_bars(clip) if n_bars is None else n_bars
    total = bars * STEPS
    top = np.full(total, -1, dtype=np.int64)  # highest pitch starting at each step
    end = np.zeros(total, dtype=np.int64)
    for n in clip.notes:
        if n.channel == DRUM_CHANNEL:
            continue
        s = int(round(n.start / STEP))
        if 0 <= s < total and n.pitch > top[s]:
            top[s] = n.pitch
            end[s] = max(s + 1, int(round(n.end / STEP)))
    out = np.zeros(total, dtype=np.int64)
    sounding_until, current = 0, -1
    for s in range(total):
        if top[s] >= 0 and (current < 0 or s >= sounding_until or top[s] > current):
            current = _fold(int(top[s]), MEL_LOW, MEL_HIGH - MEL_LOW)
            sounding_until = int(end[s])
            out[s] = 2 + current - MEL_LOW
        elif current >= 0 and s < sounding_until:
            out[s] = HOLD
        else:
            current = -1
            out[s] = REST
    return out.reshape(bars, STEPS)


def melody_clip(roll: np.ndarray, bpm: float = 120.0, channel: int = 0, program: int = 0):
    """A MidiClip from a (bars, 16) melody roll."""
    flat = np.asarray(roll).reshape(-1)
    notes: list[Note] = []
    start, pitch = None, None
    for s, c in enumerate(list(flat) + [REST]):
        c = int(c)
        if c == HOLD and pitch is not None:
            continue
        if pitch is not None and start is not None:
            notes.append(Note(start * STEP, pitch, (s - start) * STEP, 90, channel))
            pitch = None
        if c >= 2:
            start, pitch = s, MEL_LOW + c - 2
    return MidiClip(notes, bpm=bpm, programs={channel: program}, length=len(flat) * STEP)


def band_roll(clip: MidiClip, n_bars: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(bars, 16, BAND_WIDTH) float32 band roll and (bars, 16, 13) melody condition of ``clip``.

    Drums come from channel 10; the bass is the pitched channel with the lowest mean pitch (when
    there are two or more, or its program is a bass); the melody the one with the highest; every
    other pitched channel is chords."""
    bars = _n_bars(clip) if n_bars is None else n_bars
    total = bars * STEPS
    roll = np.zeros((total, BAND_WIDTH), dtype=np.float32)
    by_channel: dict[int, list[Note]] = {}
    for n in clip.notes:
        by_channel.setdefault(n.channel, []).append(n)
    pitched = {c: ns for c, ns in by_channel.items() if c != DRUM_CHANNEL}
    means = sorted(pitched, key=lambda c: float(np.mean([n.pitch for n in pitched[c]])))
    bass = (
        means[0]
        if means and (len(means) >= 2 or 32 <= clip.programs.get(means[0], 0) <= 39)
        else None
    )
    melody = means[-1] if len(means) >= 2 else (means[0] if means and bass is None else None)
    for n in by_channel.get(DRUM_CHANNEL, []):
        s = int(round(n.start / STEP))
        if 0 <= s < total and n.pitch in _DRUM_MAP:
            roll[s, _DRUM_MAP[n.pitch]] = 1.0
    for c, ns in pitched.items():
        if c == melody:
            continue
        low, width, offset = (
            (BASS_LOW, BASS_N, N_DRUMS) if c == bass else (CHORD_LOW, CHORD_N, N_DRUMS + BASS_N)
        )
        for n in ns:
            s, e = int(round(n.start / STEP)), int(round(n.end / STEP))
            if s < total:
                roll[s : max(s + 1, min(e, total)), offset + _fold(n.pitch, low, width) - low] = 1.0
    cond = (
        melody_condition([n for n in pitched[melody]], bars)
        if melody is not None
        else np.zeros((total, 13), dtype=np.float32)
    )
    return roll.reshape(bars, STEPS, BAND_WIDTH), cond.reshape(bars, STEPS, 13)


def melody_condition(notes: Iterable[Note], bars: int) -> np.ndarray:
    """(bars*16, 13): the sounding pitch class one-hot, and 1 in the last column at an onset."""
    total = bars * STEPS
    cond = np.zeros((total, 13), dtype=np.float32)
    for n in notes:
        s, e = int(round(n.start / STEP)), int(round(n.end / STEP))
        if s >= total:
            continue
        cond[s : max(s + 1, min(e, total)), n.pitch % 12] = 1.0
        cond[s, 12] = 1.0
    return cond


def band_clip(
    roll: np.ndarray,
    bpm: float = 120.0,
    tracks: Sequence[str] = ("drums", "bass", "chords"),
    channels: tuple[int, int] = (1, 2),
) -> MidiClip:
    """A MidiClip from a binary (bars, 16, BAND_WIDTH) roll: drums on channel 10, the bass (GM 33,
    fingered bass) and the chords (GM 0, piano) on ``channels``."""
    flat = np.asarray(roll).reshape(-1, BAND_WIDTH) > 0.5
    total = flat.shape[0]
    notes: list[Note] = []
    if "drums" in tracks:
        for s in range(total):
            for v in np.flatnonzero(flat[s, :N_DRUMS]):
                notes.append(
                    Note(s * STEP, DRUM_VOICES[v], STEP, 100 if v < 2 else 80, DRUM_CHANNEL)
                )
    parts = []
    if "bass" in tracks:
        parts.append((N_DRUMS, BASS_N, BASS_LOW, channels[0], 85))
    if "chords" in tracks:
        parts.append((N_DRUMS + BASS_N, CHORD_N, CHORD_LOW, channels[1], 70))
    for offset, width, low, channel, velocity in parts:
        for p in range(width):
            col = flat[:, offset + p]
            s = 0
            while s < total:
                if col[s]:
                    e = s
                    while e < total and col[e]:
                        e += 1
                    notes.append(Note(s * STEP, low + p, (e - s) * STEP, velocity, channel))
                    s = e
                else:
                    s += 1
    programs = {}
    if "bass" in tracks:
        programs[channels[0]] = 33
    if "chords" in tracks:
        programs[channels[1]] = 0
    return MidiClip(sorted(notes), bpm=bpm, programs=programs, length=total * STEP)
