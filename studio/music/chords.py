"""Chord estimation for harmonize: which chord a melody implies, beat by beat.

A hidden Markov model over 96 chords (maj, min, 7, min7, maj7, sus2, sus4 and dim on each of the
12 roots, taken relative to the melody's key), one state per beat, decoded with forward-backward:
each beat gets its likeliest chord and the chance that each pitch class is a tone of the real
chord. Its parameters are counts from POP909's chord labels (Wang et al. 2020, MIT licence) of
training songs only: the held-out songs (``resources/music/heldout.txt``) never shape them, and a
validation split of training songs (:func:`is_validation`) chose the emission weight. They ship as
``resources/music/chord_hmm.json`` with a card; ``python -m studio.music.chords --midi DIR``
writes them again.

numpy only; no Qt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core.media import Note
from studio.music.corpus import is_heldout, split_group
from studio.music.keys import Key

VALIDATION_PERCENT = 10


def is_validation(piece_id: str) -> bool:
    """The validation split: 10% of training songs (never held-out ones), by a hash of the song."""
    if is_heldout(piece_id):
        return False
    digest = hashlib.sha1(split_group(piece_id).encode()).digest()
    return int.from_bytes(digest[4:8], "big") % 100 < VALIDATION_PERCENT


# -- chords ----------------------------------------------------------------------------------------
# Each quality's intervals, as POP909's labels spell them (see evaluate.chord_label_tones): a
# chord's tones are what a note is judged against.
QUALITIES: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "7": (0, 4, 7, 10),
    "min7": (0, 3, 7, 10),
    "maj7": (0, 4, 7, 11),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "dim": (0, 3, 6),
}
QUALITY_NAMES = tuple(QUALITIES)
# label qualities read as one of the above (longest prefix first)
_LABEL_QUALITY = (
    ("minmaj7", "min"),
    ("hdim7", "dim"),
    ("dim7", "dim"),
    ("maj7", "maj7"),
    ("min7", "min7"),
    ("maj6", "maj"),
    ("min6", "min"),
    ("sus4", "sus4"),
    ("sus2", "sus2"),
    ("dim", "dim"),
    ("aug", "maj"),
    ("min", "min"),
    ("maj", "maj"),
    ("7", "7"),
)
_ROOTS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
N_STATES = 12 * len(QUALITIES)
# where a beat falls in its bar: the downbeat, the middle of an even bar, anywhere else
DOWNBEAT, HALF_BAR, OTHER_BEAT = 0, 1, 2


@dataclass(frozen=True)
class EstimatedChord:
    root: int  # pitch class
    quality: str  # a key of QUALITIES

    @property
    def tones(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in QUALITIES[self.quality])

    @property
    def name(self) -> str:
        from studio.music.keys import PITCH_NAMES

        return f"{PITCH_NAMES[self.root]}:{self.quality}"


def parse_label(label: str) -> EstimatedChord | None:
    """A Harte-style label (``B:maj``, ``C#:min7``, ``G:7/3``) as one of the model's chords; None
    for ``N`` or one it cannot read."""
    root_text, _, quality = label.strip().partition(":")
    if not root_text or root_text[0] not in _ROOTS:
        return None
    root = (_ROOTS[root_text[0]] + root_text[1:].count("#") - root_text[1:].count("b")) % 12
    quality = (quality or "maj").split("/")[0].split("(")[0]
    for prefix, name in _LABEL_QUALITY:
        if quality.startswith(prefix):
            return EstimatedChord(root, name)
    return None


def _state(chord: EstimatedChord, ref: int) -> int:
    return QUALITY_NAMES.index(chord.quality) * 12 + (chord.root - ref) % 12


def _chord(state: int, ref: int) -> EstimatedChord:
    return EstimatedChord((state % 12 + ref) % 12, QUALITY_NAMES[state // 12])


def key_reference(key: Key) -> int:
    """The pitch class states are counted from: the tonic of the key, or of its relative major."""
    return key.tonic if key.mode == "major" else (key.tonic + 3) % 12


def beat_position(beat: float, bar_starts: Sequence[float], bar_length: float) -> int:
    b = 0
    while b + 1 < len(bar_starts) and bar_starts[b + 1] <= beat + 1e-9:
        b += 1
    start = bar_starts[b] if bar_starts else 0.0
    end = bar_starts[b + 1] if b + 1 < len(bar_starts) else start + bar_length
    at = beat - start
    if abs(at) < 1e-6:
        return DOWNBEAT
    length = end - start
    if round(length) % 2 == 0 and abs(at - length / 2) < 1e-6:
        return HALF_BAR
    return OTHER_BEAT


ECHO = 1.0  # how much the last melody note counts in a beat where the melody rests
ECHO_HALF_LIFE = 1.0  # beats


def melody_profile(melody: Sequence[Note], beat: float, echo: float = ECHO) -> np.ndarray:
    """Pitch-class weights of the melody in the beat ``beat .. beat + 1``: the time each pitch
    class sounds there, a note starting on the beat counting half as much again. Where the melody
    rests, its last note still counts (``echo``, halving every beat since it ended): a phrase
    mostly ends on a tone of the chord that goes on under the rest."""
    out = np.zeros(12)
    last: Note | None = None
    for n in melody:
        overlap = min(n.end, beat + 1.0) - max(n.start, beat)
        if overlap > 0:
            out[n.pitch % 12] += overlap * (1.5 if abs(n.start - beat) < 1e-6 else 1.0)
        elif n.end <= beat + 1e-9 and (last is None or n.end > last.end):
            last = n
    if not out.any() and last is not None and echo > 0:
        out[last.pitch % 12] = echo * 0.5 ** ((beat - last.end) / ECHO_HALF_LIFE)
    return out


def melody_rests(melody: Sequence[Note], beat: float) -> bool:
    return not any(n.end > beat and n.start < beat + 1.0 for n in melody)


# -- the model -------------------------------------------------------------------------------------
@dataclass
class ChordModel:
    """Prior, transitions and emissions over the 96 key-relative chords.

    - ``init[s]``: the chord of the first beat;
    - ``stay[p]``: the chance the chord goes on at a beat of position ``p`` (downbeat, half bar,
      other);
    - ``change[s, t]``: where it goes when it changes (the diagonal is 0);
    - ``emit[q, i]``: the chance a melody pitch class lies ``i`` semitones above the root of a
      chord of quality ``q``;
    - ``weight``: how much one beat of melody counts against the transitions."""

    init: np.ndarray
    stay: np.ndarray
    change: np.ndarray
    emit: np.ndarray
    weight: float = 1.0
    meta: dict = field(default_factory=dict)

    # -- files
    def to_json(self) -> str:
        data = {
            "format": "studio-chord-hmm-1",
            "qualities": {k: list(v) for k, v in QUALITIES.items()},
            "weight": self.weight,
            "init": np.round(self.init, 6).tolist(),
            "stay": np.round(self.stay, 6).tolist(),
            "change": np.round(self.change, 6).tolist(),
            "emit": np.round(self.emit, 6).tolist(),
            "meta": self.meta,
        }
        return json.dumps(data, separators=(",", ":")) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ChordModel:
        data = json.loads(text)
        if data.get("format") != "studio-chord-hmm-1":
            raise ValueError("studio: the chord model file is not a studio chord model")
        if data["qualities"] != {k: list(v) for k, v in QUALITIES.items()}:
            raise ValueError("studio: the chord model file was fitted for other chord qualities")
        return cls(
            init=np.asarray(data["init"], float),
            stay=np.asarray(data["stay"], float),
            change=np.asarray(data["change"], float),
            emit=np.asarray(data["emit"], float),
            weight=float(data["weight"]),
            meta=data.get("meta", {}),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> ChordModel:
        return cls.from_json(Path(path or default_path()).read_text())

    # -- inference
    def posteriors(
        self,
        melody: Sequence[Note],
        n_beats: int,
        bar_starts: Sequence[float],
        bar_length: float,
        key: Key,
    ) -> np.ndarray:
        """(n_beats, 96) chance of each key-relative chord at each beat, given the whole melody
        (forward-backward)."""
        ref = key_reference(key)
        log_emit = np.log(self.emit)  # (Q, 12) by interval above the root
        # emission log-likelihood of every state at every beat
        obs = np.stack([melody_profile(melody, float(b)) for b in range(n_beats)])  # (T, 12)
        like = np.zeros((n_beats, N_STATES))
        for q in range(len(QUALITY_NAMES)):
            for r in range(12):
                root = (r + ref) % 12
                rolled = np.roll(log_emit[q], root)  # by absolute pitch class
                like[:, q * 12 + r] = obs @ rolled
        like = np.exp(self.weight * (like - like.max(axis=1, keepdims=True)))
        positions = [beat_position(float(b), bar_starts, bar_length) for b in range(n_beats)]
        alpha = np.zeros((n_beats, N_STATES))
        a = self.init * like[0]
        alpha[0] = a / a.sum()
        for t in range(1, n_beats):
            s = self.stay[positions[t]]
            a = (s * alpha[t - 1] + (1 - s) * (alpha[t - 1] @ self.change)) * like[t]
            alpha[t] = a / a.sum()
        beta = np.ones(N_STATES)
        post = np.zeros_like(alpha)
        post[-1] = alpha[-1]
        for t in range(n_beats - 1, 0, -1):
            s = self.stay[positions[t]]
            m = like[t] * beta
            beta = s * m + (1 - s) * (self.change @ m)
            beta /= beta.sum()
            p = alpha[t - 1] * beta
            post[t - 1] = p / p.sum()
        return post

    def chords(
        self,
        melody: Sequence[Note],
        n_beats: int,
        bar_starts: Sequence[float],
        bar_length: float,
        key: Key,
    ) -> list[BeatChord]:
        """The chord of each beat (the most likely one), with the chance that each pitch class is
        a tone of the beat's chord."""
        ref = key_reference(key)
        post = self.posteriors(melody, n_beats, bar_starts, bar_length, key)
        member = post @ _membership(ref)  # (T, 12)
        return [
            BeatChord(_chord(int(np.argmax(p)), ref), tuple(float(x) for x in m))
            for p, m in zip(post, member, strict=True)
        ]


@dataclass(frozen=True)
class BeatChord:
    chord: EstimatedChord
    member: tuple[float, ...]  # per pitch class: the chance it is a tone of the beat's chord

    def safe_tones(self, floor: float = 0.9) -> frozenset[int]:
        """The pitch classes likeliest to be tones of the real chord: the likeliest one, and any
        other at least ``floor`` likely. What a voice plays where the melody rests (after a
        phrase, mostly the melody's last note, which the real chord holds 85% of the time)."""
        order = sorted(range(12), key=lambda pc: -self.member[pc])
        return frozenset([order[0]] + [pc for pc in order[1:] if self.member[pc] >= floor])


def _membership(ref: int) -> np.ndarray:
    """(96, 12): 1 where a pitch class is a tone of a state's chord."""
    out = np.zeros((N_STATES, 12))
    for s in range(N_STATES):
        for pc in _chord(s, ref).tones:
            out[s, pc] = 1.0
    return out


def default_path() -> Path:
    from studio.core.resources import resources_dir

    return resources_dir() / "music" / "chord_hmm.json"


_CACHE: dict[str, ChordModel] = {}


def default_model() -> ChordModel | None:
    """The shipped chord model, or None when its file is missing."""
    path = default_path()
    if str(path) not in _CACHE:
        if not path.is_file():
            return None
        _CACHE[str(path)] = ChordModel.load(path)
    return _CACHE[str(path)]


# -- fitting ---------------------------------------------------------------------------------------
@dataclass
class LabelledWindow:
    """Bars of a POP909 song's melody with the labelled chord of each beat (None: no chord)."""

    piece_id: str
    melody: list[Note]
    bar_starts: list[float]
    bar_length: float
    labels: list[EstimatedChord | None]
    key: Key


def read_labels(path: Path) -> list[tuple[float, float, EstimatedChord | None]]:
    """POP909's ``chord_midi.txt``: (start s, end s, chord) of each labelled span."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) >= 3:
            try:
                out.append((float(parts[0]), float(parts[1]), parse_label(parts[2])))
            except ValueError:
                continue
    return out


def labelled_windows(
    folders: Sequence[str | Path], select, bars: int = 8, windows: int = 4
) -> list[LabelledWindow]:
    """Up to ``windows`` consecutive ``bars``-bar windows from the first note of each POP909 song
    that ``select`` picks by id, each with its melody, its beats' labelled chords and the key its
    melody implies (as harmonize finds it)."""
    from studio.music.evaluate import excerpt, heldout_songs, melody_channel
    from studio.music.keys import find_key

    songs = heldout_songs(
        folders,
        limit=1_000_000,
        bars=bars * windows,
        select=lambda p: p.startswith("pop909/") and select(p),
    )
    out = []
    for song in songs:
        labels_path = Path(song.path).with_name("chord_midi.txt")
        if not labels_path.is_file():
            continue
        labels = read_labels(labels_path)
        starts = song.clip.bar_starts()
        for w in range(windows):
            clip = excerpt(song.clip, w * bars, bars)
            if clip is None:
                break
            mel = melody_channel(clip)
            melody = [n for n in clip.notes if n.channel == mel]
            if not melody:
                continue
            beat_labels = []
            for b in range(int(round(clip.length_beats))):
                t = song.seconds_at(starts[w * bars] + b)
                beat_labels.append(next((c for lo, hi, c in labels if lo <= t < hi), None))
            key = find_key(
                np.array([n.pitch for n in melody]), np.array([n.duration for n in melody])
            )
            out.append(
                LabelledWindow(
                    song.piece_id, melody, clip.bar_starts(), clip.bar_length, beat_labels, key
                )
            )
    return out


def fit(
    windows: Sequence[LabelledWindow], weight: float = 1.0, smoothing: float = 0.5
) -> ChordModel:
    """Count the model's parameters from labelled windows (add-``smoothing`` on every count)."""
    init = np.full(N_STATES, smoothing)
    stay_counts = np.full((3, 2), smoothing)  # (position, [changed, stayed])
    change = np.full((N_STATES, N_STATES), smoothing / N_STATES)
    emit = np.full((len(QUALITY_NAMES), 12), smoothing)
    for w in windows:
        ref = key_reference(w.key)
        prev: int | None = None
        for b, chord in enumerate(w.labels):
            if chord is None:
                prev = None
                continue
            s = _state(chord, ref)
            if prev is None:
                init[s] += 1
            else:
                pos = beat_position(float(b), w.bar_starts, w.bar_length)
                stay_counts[pos, int(s == prev)] += 1
                if s != prev:
                    change[prev, s] += 1
            prev = s
            emit[QUALITY_NAMES.index(chord.quality)] += np.roll(
                melody_profile(w.melody, float(b)), -chord.root
            )
    np.fill_diagonal(change, 0.0)
    return ChordModel(
        init=init / init.sum(),
        stay=stay_counts[:, 1] / stay_counts.sum(axis=1),
        change=change / change.sum(axis=1, keepdims=True),
        emit=emit / emit.sum(axis=1, keepdims=True),
        weight=weight,
    )


def agreement(model: ChordModel, windows: Sequence[LabelledWindow]) -> dict[str, float]:
    """How well the model's chords match the labels, beat by beat: the same root and quality,
    the same root, and the share of each beat's safe tones (:meth:`BeatChord.safe_tones`) that
    are tones of the labelled chord; on every labelled beat and on those where the melody rests."""
    n = same = root = safe = safe_n = rest_safe = rest_n = 0
    for w in windows:
        beats = model.chords(w.melody, len(w.labels), w.bar_starts, w.bar_length, w.key)
        for b, (est, label) in enumerate(zip(beats, w.labels, strict=True)):
            if label is None:
                continue
            n += 1
            same += est.chord == label
            root += est.chord.root == label.root
            tones = est.safe_tones()
            good = sum(pc in label.tones for pc in tones)
            safe += good
            safe_n += len(tones)
            if melody_rests(w.melody, float(b)):
                rest_safe += good
                rest_n += len(tones)
    return {
        "beats": n,
        "same_chord": same / max(1, n),
        "same_root": root / max(1, n),
        "safe_tones_in_label": safe / max(1, safe_n),
        "safe_tones_in_label_melody_rests": rest_safe / max(1, rest_n),
    }


# -- the command -----------------------------------------------------------------------------------
WEIGHTS = (0.5, 1.0, 2.0, 3.0, 5.0)
COMMAND = "python -m studio.music.chords --midi ../shared/data/midi/pop909"


def _card(model: ChordModel, path: Path, text: str) -> str:
    meta = model.meta
    lines = [
        'name = "chord_hmm"',
        'kind = "music-chords"',
        f'file = "{path.name}"',
        f'sha256 = "{hashlib.sha256(text.encode()).hexdigest()}"',
        'licence = "GPL-3.0-or-later"',
        'source = "Fitted by Studio (counts, no training) from the chord labels (chord_midi.txt) '
        "and melodies of POP909's training songs: POP909 (music-x-lab/POP909-Dataset), MIT "
        "License, "
        "Copyright (c) 2020 Music X Lab, text in resources/licenses/pop909-MIT.txt; Ziyu Wang, Ke "
        "Chen, Junyan Jiang, Yiyi Zhang, Maoran Xu, Shuqi Dai, Guxian Bin, Gus Xia. POP909: A "
        "Pop-song Dataset for Music Arrangement Generation. ISMIR 2020. Never fitted on: the "
        "held-out songs (resources/music/heldout.txt, studio.music.corpus.is_heldout) and the "
        'validation songs (studio.music.chords.is_validation), which chose the emission weight."',
        f'command = "{COMMAND}"',
        'description = "Hidden Markov model of the chord under each beat of a melody: 96 chords '
        "(maj, min, 7, min7, maj7, sus2, sus4, dim on 12 roots, relative to the melody's key), "
        "stay/change by beat position, key-relative transitions, melody pitch-class emissions per "
        'quality; harmonize decodes it with forward-backward."',
        "",
        "[metrics]",
    ]
    for k, v in meta.items():
        lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import sys

    from studio.core.atomic import write_text

    parser = argparse.ArgumentParser(
        prog="python -m studio.music.chords",
        description="Fit harmonize's chord model from POP909's chord labels (training songs only).",
    )
    parser.add_argument("--midi", action="append", required=True, help="folder holding POP909")
    parser.add_argument("-o", "--output", default=None, help="default: the shipped file")
    args = parser.parse_args(argv)
    try:
        train = labelled_windows(args.midi, lambda p: not is_heldout(p) and not is_validation(p))
        val = labelled_windows(args.midi, is_validation)
        if not train or not val:
            raise ValueError(f"no POP909 song with chord labels in {', '.join(args.midi)}")
        print(f"{len(train)} training windows, {len(val)} validation windows", flush=True)
        best: tuple[float, ChordModel, dict] | None = None
        for weight in WEIGHTS:
            model = fit(train, weight=weight)
            score = agreement(model, val)
            print(f"weight {weight}: {score}", flush=True)
            # what harmonize leans on the model for: the tones it plays where the melody rests
            if best is None or score["safe_tones_in_label_melody_rests"] > best[0]:
                best = (score["safe_tones_in_label_melody_rests"], model, score)
        assert best is not None
        _, model, score = best
        model.meta = {
            "training_songs": len({w.piece_id for w in train}),
            "training_windows": len(train),
            "validation_songs": len({w.piece_id for w in val}),
            "weight": model.weight,
        } | {f"validation_{k}": round(v, 4) for k, v in score.items()}
        path = Path(args.output) if args.output else default_path()
        text = model.to_json()
        write_text(path, text)
        write_text(path.with_name(path.name + ".card.toml"), _card(model, path, text))
        print(f"wrote {path}")
        return 0
    except (OSError, ValueError) as e:
        print(f"studio: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
