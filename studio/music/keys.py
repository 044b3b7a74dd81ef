"""Keys and scales: parsing "D minor" / "F# major", scale membership, and key finding."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Key", "parse_key", "find_key", "PITCH_NAMES", "in_key_rate"]

PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_ALIASES = {
    "C": 0, "B#": 0, "C#": 1, "DB": 1, "D": 2, "D#": 3, "EB": 3, "E": 4, "FB": 4, "F": 5,
    "E#": 5, "F#": 6, "GB": 6, "G": 7, "G#": 8, "AB": 8, "A": 9, "A#": 10, "BB": 10, "B": 11,
    "CB": 11,
}  # fmt: skip
MAJOR = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR = (0, 2, 3, 5, 7, 8, 10)
# Minor counts its harmonic and melodic degrees too (raised 6th and 7th).
MINOR_ALL = (0, 2, 3, 5, 7, 8, 9, 10, 11)

# Krumhansl-Kessler key profiles.
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class 0..11
    mode: str  # "major" or "minor"

    @property
    def name(self) -> str:
        return f"{PITCH_NAMES[self.tonic]} {self.mode}"

    @property
    def token(self) -> str:
        return f"Key_{PITCH_NAMES[self.tonic]}_{self.mode}"

    def scale(self, strict: bool = False) -> frozenset[int]:
        """Pitch classes of the key; minor includes harmonic/melodic degrees unless ``strict``."""
        steps = MAJOR if self.mode == "major" else (NATURAL_MINOR if strict else MINOR_ALL)
        return frozenset((self.tonic + s) % 12 for s in steps)

    def contains(self, pitch: int) -> bool:
        return pitch % 12 in self.scale()


def parse_key(text: str) -> Key:
    """``"D minor"``, ``"F# major"``, ``"Bb"`` (major), ``"am"`` -> Key. Raises ValueError."""
    m = re.fullmatch(r"\s*([A-Ga-g])\s*([#b♯♭]?)\s*(major|minor|maj|min|m|M)?\s*", text or "")
    if not m:
        raise ValueError(f"key {text!r} should look like 'D minor' or 'F# major'")
    name = m.group(1).upper() + {"♯": "#", "♭": "B", "b": "B", "#": "#"}.get(m.group(2), "")
    mode = m.group(3) or "major"
    mode = "minor" if mode in ("minor", "min", "m") else "major"
    return Key(_ALIASES[name], mode)


def find_key(pitches: np.ndarray, weights: np.ndarray | None = None) -> Key:
    """Most likely key (Krumhansl-Schmuckler on a duration-weighted pitch-class profile)."""
    pitches = np.asarray(pitches, dtype=int)
    if len(pitches) == 0:
        return Key(0, "major")
    weights = np.ones(len(pitches)) if weights is None else np.asarray(weights, dtype=float)
    hist = np.bincount(pitches % 12, weights=weights, minlength=12)
    if hist.std() == 0:
        return Key(int(pitches[0]) % 12, "major")
    best, best_r = Key(0, "major"), -2.0
    for tonic in range(12):
        for mode, profile in (("major", _KK_MAJOR), ("minor", _KK_MINOR)):
            r = float(np.corrcoef(hist, np.roll(profile, tonic))[0, 1])
            if r > best_r:
                best, best_r = Key(tonic, mode), r
    return best


def in_key_rate(pitches, key: Key) -> float:
    """Fraction of ``pitches`` inside ``key`` (minor counts harmonic and melodic degrees)."""
    pitches = list(pitches)
    if not pitches:
        return 1.0
    scale = key.scale()
    return sum(p % 12 in scale for p in pitches) / len(pitches)
