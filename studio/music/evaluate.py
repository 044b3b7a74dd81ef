"""``studio music eval``: held-out cross-entropy of the transformer against a smoothed n-gram
trained on the same tokens, and how often generated notes stay in the requested key.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from studio.core.jobs import JobContext
from studio.core.media import DRUM_CHANNEL, MidiClip, Note
from studio.music.keys import PITCH_NAMES, in_key_rate, parse_key
from studio.music.metrics import (
    CONSONANT,
    harmony_report,
    instrument_range,
    mgeval_overlap,
    musegan_metrics,
    notes_in,
    piece_features,
    rhythm_similarity,
    track_ranges,
)
from studio.music.ngram import KneserNey
from studio.music.tokens import PieceTokens
from studio.music.training import cross_entropy, heldout_windows

__all__ = ["evaluate", "in_key_samples"]

DIATONIC_STYLES = ("chorale", "essen", "oneills", "ryans")


def in_key_samples(
    engine, samples: int, strict_key: bool, seed: int = 1234, ctx: JobContext | None = None
) -> float:
    """In-key rate over ``samples`` four-bar melodies in random keys and diatonic styles."""
    from studio.music.engine import MusicRequest

    rng = np.random.default_rng(seed)
    total, inside = 0, 0
    for i in range(samples):
        if ctx:
            ctx.check_cancelled()
        key = f"{PITCH_NAMES[int(rng.integers(12))]} {('major', 'minor')[int(rng.integers(2))]}"
        style = DIATONIC_STYLES[int(rng.integers(len(DIATONIC_STYLES)))]
        req = MusicRequest(
            mode="generate",
            key=key,
            style=style,
            bars=4,
            instruments=[0],
            seed=int(rng.integers(2**31)),
            strict_key=strict_key,
        )
        [clip] = engine.run(req)
        pitches = [n.pitch for n in clip.notes]
        inside += round(in_key_rate(pitches, parse_key(key)) * len(pitches))
        total += len(pitches)
        if ctx:
            ctx.progress((i + 1) / samples, f"in-key sample {i + 1}/{samples}")
    return inside / max(1, total)


def evaluate(
    engine,
    train_pieces: list[PieceTokens],
    heldout: list[PieceTokens],
    orders: tuple[int, ...] = (4, 6),
    samples: int = 100,
    max_windows: int | None = None,
    ctx: JobContext | None = None,
) -> dict:
    """The transformer and smoothed n-grams of each order on the same held-out tokens, plus in-key
    rates. The first order is the baseline the improvement is quoted against. Returns a report."""
    ctx = ctx or JobContext()
    tok, context = engine.tok, engine.model.cfg.context
    started = time.monotonic()
    windows = heldout_windows(tok, heldout, context, max_windows)
    ctx.progress(0.05, f"transformer on {len(windows)} held-out windows")
    ce_model, tokens = cross_entropy(engine.model, windows, tok.PAD, engine.device, ctx=ctx)
    report: dict = {
        "heldout_pieces": len(heldout),
        "heldout_tokens": tokens,
        "transformer_nats_per_token": round(ce_model, 4),
        "transformer_perplexity": round(math.exp(ce_model), 3),
    }
    train_windows = heldout_windows(tok, train_pieces, context)
    for i, order in enumerate(orders):
        ctx.check_cancelled()
        ctx.progress(0.1 + 0.4 * i / len(orders), f"fitting the {order}-gram")
        ngram = KneserNey(order, tok.vocab_size).fit(train_windows)
        ce_ngram, _ = ngram.cross_entropy(windows)
        report[f"ngram{order}_nats_per_token"] = round(ce_ngram, 4)
        report[f"improvement_vs_ngram{order}_percent"] = round(100 * (1 - ce_model / ce_ngram), 2)
    if samples:
        ctx.progress(0.6, "sampling for the in-key rate")
        report["in_key_rate_free"] = round(in_key_samples(engine, samples, False, ctx=None), 4)
        report["in_key_rate_strict"] = round(in_key_samples(engine, samples, True, ctx=None), 4)
        report["in_key_samples"] = samples
    report["seconds"] = round(time.monotonic() - started, 1)
    ctx.progress(1.0, "done")
    return report


# -- held-out songs from MIDI folders --------------------------------------------------------------
@dataclass
class HeldoutSong:
    piece_id: str
    style: str
    clip: MidiClip
    path: str = ""
    # the excerpt's beat 0 in the file, and the file's clock: seconds of a beat of the excerpt
    offset: float = 0.0
    source: MidiClip | None = None

    def seconds_at(self, beat: float) -> float:
        return (self.source or self.clip).seconds_at(self.offset + beat)


def _midi_items(folders: Sequence[str | Path]) -> list[tuple[str, str, str, dict]]:
    """(path, style, piece id, reader options) of every MIDI file in ``folders``, read the way the
    corpus reads them (POP909's meter from its index, and so on)."""
    from studio.music.corpus import user_midi_files

    out = []
    for item in user_midi_files(folders):
        if len(item) >= 4:
            path, style, pid, opts = item[:4]
            out.append((path, style, pid, json.loads(opts) if isinstance(opts, str) else opts))
        else:
            path, style = item[:2]
            out.append((path, style, str(path), {}))
    return out


def excerpt(clip: MidiClip, first_bar: int, n_bars: int) -> MidiClip | None:
    """Bars ``first_bar`` .. ``first_bar + n_bars`` of ``clip`` as a clip of their own, starting at
    beat 0 (notes cut at the end); None when the clip is shorter."""
    starts = clip.bar_starts(limit=first_bar + n_bars + 1)
    if len(starts) < first_bar + n_bars:
        return None
    lo = starts[first_bar]
    _, _, last_len = clip.bar_at(starts[first_bar + n_bars - 1])
    hi = starts[first_bar + n_bars - 1] + last_len
    notes = []
    for n in clip.notes:
        if lo - 1e-9 <= n.start < hi - 1e-9:
            notes.append(
                Note(n.start - lo, n.pitch, min(n.end, hi) - n.start, n.velocity, n.channel)
            )
    # the meter in force at the start, then the later changes inside the excerpt
    _, _, length = clip.bar_at(lo)
    base = (clip.beats_per_bar, clip.beat_unit)
    for beat, num, den in sorted(clip.meter_changes):
        if beat <= lo + 1e-9:
            base = (num, den)
    changes = [(b - lo, num, den) for b, num, den in clip.meter_changes if lo + 1e-9 < b < hi]
    return MidiClip(
        sorted(notes),
        bpm=clip.bpm,
        beats_per_bar=base[0],
        beat_unit=base[1],
        programs=dict(clip.programs),
        length=hi - lo,
        meter_changes=changes,
        track_names=dict(clip.track_names),
    )


def heldout_songs(
    folders: Sequence[str | Path],
    limit: int = 20,
    bars: int = 12,
    select: Callable[[str], bool] | None = None,
) -> list[HeldoutSong]:
    """Up to ``limit`` held-out songs (the corpus's split, one version per POP909 song) with at
    least ``bars`` bars from their first note, taken in turn from each style so every set is
    measured; each is cut to those bars. ``select`` picks other songs by id instead (a validation
    split of training songs, :func:`studio.music.chords.is_validation`)."""
    from studio.music.corpus import is_heldout

    select = select or is_heldout
    by_style: dict[str, list[tuple[str, str, dict]]] = {}
    for path, style, pid, opts in _midi_items(folders):
        if "/versions/" in pid or not select(pid):
            continue
        by_style.setdefault(style, []).append((path, pid, opts))
    queues = {s: sorted(items, key=lambda x: x[1]) for s, items in sorted(by_style.items())}
    out: list[HeldoutSong] = []
    while len(out) < limit and any(queues.values()):
        for style, queue in queues.items():
            if not queue or len(out) >= limit:
                continue
            path, pid, opts = queue.pop(0)
            try:
                clip = MidiClip.load(path)
            except Exception:  # noqa: BLE001 - a file that does not read is skipped
                continue
            source, pad = clip, 0.0
            if "meter" in opts:
                clip = replace(clip, meter_changes=[])
                clip.beats_per_bar, clip.beat_unit = (int(x) for x in opts["meter"])
                if opts.get("downbeat_seconds"):
                    # as the corpus reads POP909: the start padded so the first downbeat
                    # falls on a bar line
                    at = float(opts["downbeat_seconds"]) * clip.bpm / 60.0
                    pad = (clip.bar_length - at % clip.bar_length) % clip.bar_length
                    clip.notes = [replace(n, start=n.start + pad) for n in clip.notes]
            if not clip.notes:
                continue
            first = clip.bar_at(min(n.start for n in clip.notes))[0]
            part = excerpt(clip, first, bars)
            if part is None or len(part.bar_starts()) < bars:
                continue
            starts = part.bar_starts()
            # every stretch the checks compare must have notes
            if not notes_in(part.notes, 0.0, starts[4]) or not notes_in(
                part.notes, starts[4], starts[8]
            ):
                continue
            offset = clip.bar_starts(limit=first + 1)[first] - pad  # in the file's beats
            out.append(HeldoutSong(pid, style, part, path, offset, source))
    return out


def _engine_style(engine, style: str) -> str:
    style_for = getattr(engine.tok, "style_for", None)
    if style_for is not None:
        return style_for(style, engine.model.cfg.vocab_size)
    from studio.music.tokens import STYLES

    return style if style in STYLES[:6] else "other"


def _range_checks(
    new: list[Note], context: list[Note], programs: dict[int, int], margin: int = 4
) -> tuple[int, int]:
    """(notes within their track's context range +-margin, notes within their instrument)."""
    ranges = track_ranges(context)
    in_prompt = in_gm = 0
    for n in new:
        lo, hi = ranges.get(n.channel, (n.pitch, n.pitch))
        in_prompt += lo - margin <= n.pitch <= hi + margin
        glo, ghi = instrument_range(programs.get(n.channel, 0), n.channel == DRUM_CHANNEL)
        in_gm += glo <= n.pitch <= ghi
    return in_prompt, in_gm


def continuation_eval(
    engine,
    songs: Sequence[HeldoutSong],
    seed: int = 0,
    prompt_bars: int = 8,
    new_bars: int = 4,
    ctx: JobContext | None = None,
) -> dict:
    """Continue the first ``prompt_bars`` bars of each song by ``new_bars``; infill bars 5-8 of its
    first 12 between the four on each side. Returns, for ``continue`` and ``infill``, the
    fractions ``density_within_35pct`` (pieces whose new bars' notes per bar are within 35% of
    the prompt's last 4 bars, or of the 8 bars around an infill), ``in_prompt_range`` (new notes
    within their track's range in the prompt +-4 semitones) and ``in_instrument_range``."""
    from studio.music.engine import MusicRequest

    ctx = ctx or JobContext()
    report: dict = {"pieces": len(songs), "seed": seed}
    per_piece: list[dict] = []
    for mode in ("continue", "infill"):
        dens_ok = n_pieces = 0
        in_prompt = in_gm = total = 0
        rhythm: list[float] = []
        for i, song in enumerate(songs):
            ctx.check_cancelled()
            ctx.progress((i + (mode == "infill") * len(songs)) / (2 * len(songs)), song.piece_id)
            style = _engine_style(engine, song.style)
            starts = song.clip.bar_starts()
            if mode == "continue":
                prompt = excerpt(song.clip, 0, prompt_bars)
                assert prompt is not None
                req = MusicRequest(mode="continue", clip=prompt, bars=new_bars, style=style)
                p_starts = prompt.bar_starts()
                end = prompt.length_beats if prompt.length else p_starts[-1]
                ref = notes_in(prompt.notes, p_starts[prompt_bars - 4], end)
                ref_bars = 4
                context = prompt.notes
                lo = end
                hi = math.inf
            else:
                req = MusicRequest(mode="infill", clip=song.clip, bar_range=(5, 8), style=style)
                lo, hi = starts[4], starts[8]
                context = notes_in(song.clip.notes, 0.0, lo) + notes_in(
                    song.clip.notes, hi, math.inf
                )
                ref, ref_bars = context, 8
            req.seed = seed
            try:
                [out] = engine.run(req)
            except ValueError as exc:
                per_piece.append({"piece": song.piece_id, "mode": mode, "error": str(exc)})
                continue
            new = notes_in(out.notes, lo, hi)
            if mode == "continue":
                new = [n for n in out.notes if n.start >= lo - 1e-9]
            ref_density = len(ref) / ref_bars
            new_density = len(new) / new_bars
            ok = abs(new_density - ref_density) <= 0.35 * ref_density + 1e-9
            dens_ok += ok
            n_pieces += 1
            rhythm.append(rhythm_similarity(new, ref))
            a, b = _range_checks(new, context, out.programs)
            in_prompt += a
            in_gm += b
            total += len(new)
            per_piece.append(
                {
                    "piece": song.piece_id,
                    "mode": mode,
                    "prompt_notes_per_bar": round(ref_density, 2),
                    "new_notes_per_bar": round(new_density, 2),
                    "in_prompt_range": round(a / max(1, len(new)), 3),
                    "in_instrument_range": round(b / max(1, len(new)), 3),
                    "rhythm_similarity": round(rhythm[-1], 3),
                }
            )
        report[mode] = {
            "density_within_35pct": round(dens_ok / max(1, n_pieces), 4),
            "in_prompt_range": round(in_prompt / max(1, total), 4),
            "in_instrument_range": round(in_gm / max(1, total), 4),
            # where notes fall in the beat and how long they last, new bars against the prompt's
            # last 4 (the bars around an infill), 1 = alike; a mean over pieces
            "rhythm_similarity": round(float(np.mean(rhythm)), 4) if rhythm else None,
            "pieces": n_pieces,
            "new_notes": total,
        }
    report["per_piece"] = per_piece
    ctx.progress(1.0, "done")
    return report


def melody_channel(clip: MidiClip) -> int | None:
    """The melody: a track named like one, else the melodic channel with the highest mean pitch."""
    channels = sorted({n.channel for n in clip.notes if n.channel != DRUM_CHANNEL})
    if not channels:
        return None
    for c in channels:
        if "melody" in clip.track_names.get(c, "").lower():
            return c
    return max(channels, key=lambda c: np.mean([n.pitch for n in clip.notes if n.channel == c]))


HARMONIZE_VOICES = (40, 41, 42)  # violin, viola, cello: the cello is the bass

_ROOTS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_CHORD_QUALITIES = (  # longest prefix first
    ("hdim7", (0, 3, 6, 10)),
    ("dim7", (0, 3, 6, 9)),
    ("maj7", (0, 4, 7, 11)),
    ("min7", (0, 3, 7, 10)),
    ("minmaj7", (0, 3, 7, 11)),
    ("maj6", (0, 4, 7, 9)),
    ("min6", (0, 3, 7, 9)),
    ("sus4", (0, 5, 7)),
    ("sus2", (0, 2, 7)),
    ("dim", (0, 3, 6)),
    ("aug", (0, 4, 8)),
    ("min", (0, 3, 7)),
    ("maj", (0, 4, 7)),
    ("7", (0, 4, 7, 10)),
)


def chord_label_tones(label: str) -> frozenset[int] | None:
    """Pitch classes of a Harte-style chord label (``B:maj``, ``C#:min7``, ``G:7/3``); None for
    ``N`` (no chord) or a label it cannot read."""
    root_text, _, quality = label.strip().partition(":")
    if not root_text or root_text[0] not in _ROOTS:
        return None
    root = _ROOTS[root_text[0]] + root_text[1:].count("#") - root_text[1:].count("b")
    quality = (quality or "maj").split("/")[0].split("(")[0]
    for name, steps in sorted(_CHORD_QUALITIES, key=lambda q: -len(q[0])):
        if quality.startswith(name):
            return frozenset((root + i) % 12 for i in steps)
    return None


def read_chord_labels(path: Path) -> list[tuple[float, float, frozenset[int]]]:
    """POP909's ``chord_midi.txt``: (start s, end s, pitch classes) of each labelled chord."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        try:
            a, b = float(parts[0]), float(parts[1])
        except ValueError:
            continue
        tones = chord_label_tones(parts[2])
        if tones is not None:
            out.append((a, b, tones))
    return out


def labelled_chord_rate(
    song: HeldoutSong, melody: Sequence[Note], added: Sequence[Note], end: float
) -> tuple[int, int]:
    """(good, judged): added notes sounding on a beat where the song's chord labels name a chord,
    and how many of them are tones of that chord or a unison, third, fifth or sixth from the
    melody note sounding then. (0, 0) when the song has no labels."""
    labels_path = Path(song.path).with_name("chord_midi.txt") if song.path else None
    if labels_path is None or not labels_path.is_file():
        return 0, 0
    labels = read_chord_labels(labels_path)
    good = judged = 0
    beat = 0.0
    while beat < end - 1e-9:
        t = song.seconds_at(beat)
        tones = next((c for a, b, c in labels if a <= t < b), None)
        if tones is not None:
            mel = [n.pitch for n in melody if n.start <= beat + 1e-9 < n.end]
            for n in added:
                if n.channel == DRUM_CHANNEL or not (n.start <= beat + 1e-9 < n.end):
                    continue
                judged += 1
                good += n.pitch % 12 in tones or (
                    bool(mel) and abs(max(mel) - n.pitch) % 12 in CONSONANT
                )
        beat += 1.0
    return good, judged


def harmonize_eval(
    engine,
    songs: Sequence[HeldoutSong],
    seed: int = 0,
    bars: int = 8,
    instruments: Sequence[int] = HARMONIZE_VOICES,
    ctx: JobContext | None = None,
) -> dict:
    """Harmonize the melody of each song's first ``bars`` bars with ``instruments`` (the last is
    the bass) and pool the three figures of :func:`studio.music.metrics.harmony_report`."""
    from studio.music.engine import MusicRequest

    ctx = ctx or JobContext()
    judged = good = bass_beats = bass_low = added = inside = pieces = 0
    lab_good = lab_judged = 0
    per_piece = []
    for i, song in enumerate(songs):
        ctx.check_cancelled()
        ctx.progress(i / max(1, len(songs)), song.piece_id)
        part = excerpt(song.clip, 0, bars)
        mel = melody_channel(part) if part else None
        if part is None or mel is None:
            continue
        part.notes = [n for n in part.notes if n.channel == mel]
        if not part.notes:
            continue
        req = MusicRequest(
            mode="harmonize",
            clip=part,
            instruments=list(instruments),
            melody_channel=mel,
            style=_engine_style(engine, song.style),
            seed=seed,
        )
        [out] = engine.run(req)
        new = [n for n in out.notes if n.channel != mel]
        bass = out.provenance.get("bass_channel")
        if bass is None:
            bass = max((n.channel for n in new), default=None)
        rep = harmony_report(
            part.notes,
            new,
            bass,
            out.programs,
            part.bar_starts(),
            part.bar_length,
            part.length_beats,
        )
        lg, lj = labelled_chord_rate(song, part.notes, new, part.length_beats)
        lab_good += lg
        lab_judged += lj
        if lj:
            rep["labelled_chords"] = lg / lj
        pieces += 1
        judged += rep["on_beat_notes"]
        good += round(rep["on_beat_consonant"] * rep["on_beat_notes"])
        bass_beats += rep["bass_beats"]
        bass_low += round(rep["bass_lowest"] * rep["bass_beats"])
        added += rep["added_notes"]
        inside += round(rep["in_instrument_range"] * rep["added_notes"])
        per_piece.append({"piece": song.piece_id} | {k: round(v, 3) for k, v in rep.items()})
    ctx.progress(1.0, "done")
    return {
        "pieces": pieces,
        "seed": seed,
        "instruments": list(instruments),
        "on_beat_consonant": round(good / max(1, judged), 4),
        "bass_lowest": round(bass_low / max(1, bass_beats), 4),
        "in_instrument_range": round(inside / max(1, added), 4),
        "on_beat_notes": judged,
        "added_notes": added,
        # the same test against POP909's chord labels instead of the implied chord (pop songs)
        "on_beat_consonant_labelled": round(lab_good / lab_judged, 4) if lab_judged else None,
        "on_beat_notes_labelled": lab_judged,
        "per_piece": per_piece,
    }


# -- the command -----------------------------------------------------------------------------------
def _print_section(title: str, rows: dict) -> None:
    print(title)
    for k, v in rows.items():
        if not isinstance(v, (list, dict)):
            print(f"  {k:30} {v}")


def eval_command(args) -> int:
    """``studio music eval --all | --continuation | --harmonize``."""
    from studio.core.jobs import ConsoleContext
    from studio.music.cli import load_engine

    report: dict = {}
    ctx = ConsoleContext()
    songs: list[HeldoutSong] = []
    if args.continuation or args.harmonize:
        if not args.midi:
            raise ValueError(
                "--continuation and --harmonize need --midi DIR: a folder of MIDI files whose "
                "held-out songs are measured (the corpus's split)"
            )
        songs = heldout_songs(args.midi, args.pieces)
        if not songs:
            raise ValueError(f"no held-out song of 12 bars or more in {', '.join(args.midi)}")
    engine = load_engine(args) if (args.continuation or args.harmonize) else None
    if args.continuation:
        report["continuation"] = continuation_eval(engine, songs, args.seed, ctx=ctx)
    if args.harmonize:
        from studio.music.engine import parse_instruments

        voices = parse_instruments(args.instruments) if args.instruments else HARMONIZE_VOICES
        report["harmonize"] = harmonize_eval(engine, songs, args.seed, instruments=voices, ctx=ctx)
    if args.all:
        report |= eval_all(args, ctx)  # "models", keyed by family, at the top level
    if args.json:
        json.dump(report, sys.stdout, indent=2, default=_json_default)
        print()
        return 0
    if "continuation" in report:
        rep = report["continuation"]
        print(f"continuation: {rep['pieces']} held-out songs, seed {rep['seed']}")
        for mode in ("continue", "infill"):
            _print_section(f" {mode}", rep[mode])
    if "harmonize" in report:
        _print_section("harmonize", report["harmonize"])
    if "models" in report:
        print_table(report)
    return 0


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


NGRAM_ORDERS = (4, 6)
SAMPLE_BARS = 8
MAX_SAMPLE_TRACKS = 6
NGRAM_TRAIN_TOKENS = 1_500_000


def _fit_vocab(windows: list[list[int]], tok, vocab: int) -> list[list[int]]:
    """``windows`` for a model that knows only the first ``vocab`` tokens: a newer style becomes
    "other"; windows still holding an unknown token are left out."""
    if vocab >= tok.vocab_size:
        return windows
    other = tok.ids["Style_other"]
    styles = {i for n, i in tok.ids.items() if n.startswith("Style_")}
    out = []
    for w in windows:
        w = [other if (t >= vocab and t in styles) else t for t in w]
        if max(w) < vocab:
            out.append(w)
    return out


def _reference_clips(tok, pieces: Sequence[PieceTokens], bars: int) -> list[tuple[MidiClip, str]]:
    """(clip, style) of the held-out pieces: ``bars`` bars from their first note (shorter ones
    whole)."""
    out = []
    for piece in pieces:
        try:
            clip = tok.decode(piece)
        except Exception:  # noqa: BLE001 - a piece that does not decode is left out
            continue
        if not clip.notes:
            continue
        first = clip.bar_at(min(n.start for n in clip.notes))[0]
        n = min(bars, max(1, len(clip.bar_starts()) - first))
        part = excerpt(clip, first, n)
        if part is not None and part.notes:
            out.append((part, piece.style))
    return out


def _features(clip: MidiClip) -> dict[str, np.ndarray]:
    return piece_features(clip.notes, clip.bar_length)


def _musegan(clips: Sequence[MidiClip]) -> dict[str, float] | None:
    """MuseGAN's metrics averaged over the multi-track clips (None when none has two tracks)."""
    rows = [
        musegan_metrics(c.notes, c.bar_starts(), c.bar_length)
        for c in clips
        if len({n.channel for n in c.notes}) >= 2
    ]
    if not rows:
        return None
    out: dict[str, float] = {}
    for k in rows[0]:
        values = [r[k] for r in rows if not math.isnan(r[k])]
        out[k] = round(float(np.mean(values)), 4) if values else math.nan
    return out | {"clips": len(rows)}


def _sample(family, ref: MidiClip, style: str, seed: int, bars: int = SAMPLE_BARS) -> MidiClip:
    """One sample of ``bars`` bars in the reference's meter and style; a family that cannot
    write those is asked for its defaults."""
    meter = (ref.beats_per_bar, ref.beat_unit)
    engine = getattr(family, "engine", None)
    if engine is not None:  # a token model writes the reference's instruments too
        from studio.music.engine import MusicRequest
        from studio.music.tokens import METERS

        channels = sorted({n.channel for n in ref.notes})[:MAX_SAMPLE_TRACKS]
        req = MusicRequest(
            mode="generate",
            meter=f"{meter[0]}/{meter[1]}" if meter in METERS else None,
            tempo=ref.bpm,
            style=style,
            bars=bars,
            instruments=[-1 if c == DRUM_CHANNEL else ref.programs.get(c, 0) for c in channels],
            seed=seed,
        )
        return engine.run(req)[0]
    try:
        return family.generate(bars, meter=meter, tempo=ref.bpm, style=style, seed=seed)
    except ValueError:
        return family.generate(bars, seed=seed)


def evaluate_families(
    families: dict[str, object],
    train: Sequence[PieceTokens],
    held: Sequence[PieceTokens],
    samples: int = 100,
    max_windows: int | None = None,
    orders: Sequence[int] = NGRAM_ORDERS,
    context: int = 512,
    ctx: JobContext | None = None,
    sample_bars: int = SAMPLE_BARS,
) -> dict:
    """One table: every family (a loaded model, or the exception that kept it from loading) and
    the n-gram baselines on the same held-out pieces.

    - ``nll``: nats per token on the same held-out windows (transformer, LSTM, n-grams); the
      VAE's is an ELBO bound per 16th-note step on its piano rolls, ``nll_kind`` says which;
    - ``mgeval``: overlapping areas of ``samples`` samples of 8 bars against the held-out pieces;
    - ``musegan``: MuseGAN's metrics of the multi-track samples (and of the held-out pieces).
    """
    from studio.music.tokens import MusicTokenizer

    ctx = ctx or JobContext()
    tok = MusicTokenizer()
    started = time.monotonic()
    # the same windows for every token model: they fit the smallest context among them
    contexts = [
        int(f.model.cfg.context)
        for f in families.values()
        if hasattr(f, "tok") and getattr(getattr(f, "model", None), "cfg", None) is not None
    ]
    context = min([context, *contexts])
    windows = heldout_windows(tok, list(held), context, max_windows)
    refs = _reference_clips(tok, held, sample_bars)
    ref_features = [_features(c) for c, _ in refs]
    report: dict = {
        "heldout_pieces": len(held),
        "heldout_tokens": sum(len(w) - 1 for w in windows),
        "reference_clips": len(refs),
        "samples": samples,
        "sample_bars": sample_bars,
        "reference": {
            "musegan": _musegan([c for c, _ in refs]),
            # the ceiling: one half of the held-out pieces scored against the other half
            "mgeval_split_half": (
                mgeval_overlap(ref_features[1::2], ref_features[0::2])
                if len(ref_features) >= 6
                else None
            ),
        },
        "models": {},
    }
    models = report["models"]
    names = list(families)
    for k, name in enumerate(names):
        family = families[name]
        ctx.check_cancelled()
        ctx.progress(k / (len(names) + len(orders)), f"{name}")
        if isinstance(family, FileNotFoundError):
            models[name] = {"status": "not trained", "why": str(family)}
            continue
        if isinstance(family, Exception):
            models[name] = {"status": "failed to load", "why": str(family)}
            continue
        row: dict = {"status": "ok"}
        t0 = time.monotonic()
        describe = getattr(family, "describe", None)
        if describe is not None:
            row["parameters"] = describe().get("parameters")
        model = getattr(family, "model", None)
        if hasattr(family, "tok") and model is not None and getattr(model, "cfg", None):
            vocab = int(getattr(model.cfg, "vocab_size", tok.vocab_size))
            fitted = _fit_vocab(windows, tok, vocab)
            if getattr(model.cfg, "context", context) >= context and fitted:
                nll, count = cross_entropy(model, fitted, tok.PAD, family.device)
                row |= {"nll": round(nll, 4), "nll_kind": "nll/token", "nll_tokens": count}
        if "nll" not in row:
            got = family.nll(held)
            if got is not None:
                value, unit = got
                row |= {"nll": round(float(value), 4), "nll_kind": unit}
        clips: list[MidiClip] = []
        errors: list[str] = []
        for i in range(samples if refs else 0):
            ctx.check_cancelled()
            ref, style = refs[i % len(refs)]
            try:
                clips.append(_sample(family, ref, style, i, sample_bars))
            except ValueError as exc:
                errors.append(str(exc))
        clips = [c for c in clips if c.notes]
        if clips:
            row["mgeval"] = mgeval_overlap([_features(c) for c in clips], ref_features)
            row["musegan"] = _musegan(clips)
        row["samples"] = len(clips)
        if errors:
            row["sample_errors"] = sorted(set(errors))[:3]
        row["seconds"] = round(time.monotonic() - t0, 1)
        models[name] = row
    # the n-grams are pure Python: they learn from an even subset of at most NGRAM_TRAIN_TOKENS
    sizes = [sum(len(b) + 1 for t in p.tracks for b in t.bars) for p in train]
    step = max(1, math.ceil(sum(sizes) / NGRAM_TRAIN_TOKENS))
    train_windows = heldout_windows(tok, list(train)[::step], context)
    report["ngram_train_tokens"] = sum(len(w) for w in train_windows)
    for i, order in enumerate(orders):
        ctx.check_cancelled()
        ctx.progress((len(names) + i) / (len(names) + len(orders)), f"the {order}-gram")
        t0 = time.monotonic()
        ngram = KneserNey(order, tok.vocab_size).fit(train_windows)
        ce, count = ngram.cross_entropy(windows)
        models[f"ngram-{order}"] = {
            "status": "ok",
            "nll": round(ce, 4),
            "nll_kind": "nll/token",
            "nll_tokens": count,
            "mgeval": None,  # the baseline is only scored on likelihood
            "seconds": round(time.monotonic() - t0, 1),
        }
    report["seconds"] = round(time.monotonic() - started, 1)
    ctx.progress(1.0, "done")
    return report


def _round_robin(pieces: Sequence[PieceTokens], limit: int) -> list[PieceTokens]:
    """Up to ``limit`` pieces taken in turn from each style, so every set is measured."""
    by_style: dict[str, list[PieceTokens]] = {}
    for p in sorted(pieces, key=lambda p: p.piece_id):
        by_style.setdefault(p.style, []).append(p)
    out: list[PieceTokens] = []
    while len(out) < limit and any(by_style.values()):
        for queue in by_style.values():
            if queue and len(out) < limit:
                out.append(queue.pop(0))
    return out


def eval_all(args, ctx: JobContext) -> dict:
    """``studio music eval --all``: the corpus (``--corpus``, else the cached one, else built from
    ``--midi`` folders, else music21's) split by the committed held-out list."""
    from studio.music.cli import (
        _load_or_build_corpus,
        _settings_device,
        default_corpus_path,
        read_heldout,
    )
    from studio.music.corpus import build_corpus
    from studio.music.families import FAMILIES, load_family

    if args.corpus or default_corpus_path().exists() or not args.midi:
        corpus = _load_or_build_corpus(args.corpus)
    else:
        corpus, _report = build_corpus([], args.midi, ctx)
    train, held = corpus.split(read_heldout())
    if not held:
        train, held = corpus.split(None)  # a corpus the committed list does not cover
    if not held:
        raise ValueError("the corpus has no held-out pieces")
    held = _round_robin(held, args.pieces) if args.pieces else held
    device = _settings_device(args)
    families: dict[str, object] = {}
    for name in FAMILIES:
        try:
            families[name] = load_family(name, device)
        except (FileNotFoundError, ValueError) as exc:
            families[name] = exc
    try:  # the previous shipped transformer, still the default for music21's styles
        from studio.core.models import ModelStore

        store = ModelStore.from_settings()
        small = store.verify(store.find("studio-music-small", "music"))
        families["transformer-small"] = load_family(small, device)
    except (KeyError, FileNotFoundError, ValueError) as exc:
        families["transformer-small"] = FileNotFoundError(str(exc))
    orders = tuple(int(o) for o in args.orders.split(","))
    return evaluate_families(families, train, held, args.samples, args.windows, orders, ctx=ctx)


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def print_table(report: dict) -> None:
    """The evaluation table as text: one row per model."""
    print(
        f"{report['heldout_pieces']} held-out pieces, {report['heldout_tokens']:,} tokens; "
        f"{report['samples']} samples of {report['sample_bars']} bars per family "
        f"against {report['reference_clips']} held-out clips"
    )
    short = {
        "pitch_class_histogram": "PCH",
        "note_density": "dens",
        "inter_onset_interval": "IOI",
        "polyphony": "poly",
        "pitch_range": "range",
        "in_key_rate": "inkey",
        "repetition": "rep",
        "mean": "mean",
    }
    head = f"{'model':12} {'status':12} {'NLL':>7} {'kind':16}" + "".join(
        f" {v:>6}" for v in short.values()
    )
    print("MGEval overlapping area (1 = as close as held-out pieces are to each other)")
    print(head)
    half = report["reference"].get("mgeval_split_half")
    rows = ({"held-out/2": {"status": "ceiling", "mgeval": half}} if half else {}) | report[
        "models"
    ]
    for name, row in rows.items():
        mg = row.get("mgeval") or {}
        line = (
            f"{name:12} {row['status']:12} {_fmt(row.get('nll')):>7} "
            f"{(row.get('nll_kind') or '-'):16}"
        )
        line += "".join(f" {_fmt(mg.get(k), 2):>6}" for k in short)
        print(line)
    print("MuseGAN metrics of multi-track output (EB empty bars, UPC, QN, DP drum pattern, TD)")
    rows = {"held-out": report["reference"]["musegan"]} | {
        n: r.get("musegan") for n, r in report["models"].items()
    }
    for name, m in rows.items():
        if not m:
            continue
        print(
            f"{name:12} EB {_fmt(m['empty_bars'])}  UPC {_fmt(m['used_pitch_classes'], 2)}  "
            f"QN {_fmt(m['qualified_notes'])}  DP {_fmt(m['drum_pattern'])}  "
            f"TD {_fmt(m['tonal_distance'])}  ({m['clips']} clips)"
        )
