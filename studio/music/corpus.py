"""The training corpus: music21's bundled collections, the staged MIDI sets (POP909, the Groove MIDI
Dataset, Freedoom, Nottingham) and the user's MIDI folders, tokenized, with a fixed held-out split
by piece.

A MIDI folder is recognised by its layout (see :func:`midi_set_kind`): each known set is read its
own way (POP909's meter from ``index.xlsx`` and its held-out split by song, so the versions of a
song go with it; Groove's long takes cut into 8-bar phrases at the tempo and meter in the file
name), and any other folder is the user's own MIDI.

Pieces are converted music21 -> MIDI -> symusic -> tokens in worker processes. A piece that fails to
convert is skipped and counted. The held-out split is a hash of the piece id (5%), and the ids of
the held-out pieces are committed in ``resources/music/heldout.txt`` so ``studio music eval``
measures the same pieces on any clone.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core.jobs import JobContext
from studio.music.keys import Key
from studio.music.tokens import STYLES, MusicTokenizer, PieceTokens, TrackBars

__all__ = [
    "COLLECTIONS",
    "Corpus",
    "build_corpus",
    "is_heldout",
    "load_corpus",
    "save_corpus",
    "CorpusReport",
]

# music21 corpus folder -> style token
COLLECTIONS = {
    "bach": "chorale",
    "essenFolksong": "essen",
    "oneills1850": "oneills",
    "ryansMammoth": "ryans",
}
# staged MIDI set -> style token
MIDI_SETS = {"pop909": "pop", "groove": "groove", "freedoom": "game", "nottingham": "folk"}
HELDOUT_PERCENT = 5
MIDI_SUFFIXES = (".mid", ".midi", ".MID", ".MIDI")
GROOVE_PHRASE_BARS = 8


def split_group(piece_id: str) -> str:
    """What the held-out split is decided on: a POP909 song (all its versions), a Groove take (all
    its phrases), otherwise the piece itself."""
    if piece_id.startswith("pop909/"):
        return "/".join(piece_id.split("/")[:2])
    if piece_id.startswith("groove/"):
        return piece_id.split("#")[0]
    return piece_id


def is_heldout(piece_id: str) -> bool:
    """The fixed split: 5% of pieces (of songs, for POP909), chosen by a hash of their id (stable
    across machines)."""
    digest = hashlib.sha1(split_group(piece_id).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELDOUT_PERCENT


@dataclass
class Corpus:
    pieces: list[PieceTokens]

    def split(
        self, heldout_ids: set[str] | None = None
    ) -> tuple[list[PieceTokens], list[PieceTokens]]:
        """(train, held-out). With ``heldout_ids`` (the committed list) it is used as is."""
        if heldout_ids is None:
            held = [p for p in self.pieces if is_heldout(p.piece_id)]
        else:
            held = [p for p in self.pieces if p.piece_id in heldout_ids]
        held_set = {id(p) for p in held}
        return [p for p in self.pieces if id(p) not in held_set], held

    @property
    def n_tokens(self) -> int:
        return sum(sum(len(b) + 1 for b in t.bars) + 2 for p in self.pieces for t in p.tracks)


@dataclass
class CorpusReport:
    pieces: int = 0
    failed: int = 0
    empty: int = 0
    by_style: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


# -- sources ---------------------------------------------------------------------------------------
def music21_files(collections: Sequence[str] = tuple(COLLECTIONS)) -> list[Item]:
    """(path, style) of every music21 corpus file in the chosen collections."""
    from music21 import corpus

    out = []
    for path in sorted(corpus.getCorePaths(), key=str):
        rel = str(path).split("/corpus/")[-1]
        folder = rel.split("/")[0]
        if folder in collections:
            out.append((str(path), COLLECTIONS[folder], rel, "{}"))
    return out


def midi_set_kind(folder: Path) -> str | None:
    """Which staged set ``folder`` holds, by its marker files: ``pop909`` (``POP909/index.xlsx``
    or ``index.xlsx`` beside numbered song folders), ``groove`` (``info.csv`` beside
    ``drummer*`` folders), ``freedoom`` (``CREDITS-MUSIC``), ``nottingham`` (a ``MIDI`` folder and
    the Jukedeck README); None for anything else."""
    if (folder / "POP909" / "index.xlsx").is_file() or (
        (folder / "index.xlsx").is_file() and (folder / "001").is_dir()
    ):
        return "pop909"
    if (folder / "info.csv").is_file() and any(folder.glob("drummer*")):
        return "groove"
    if (folder / "CREDITS-MUSIC").is_file():
        return "freedoom"
    readme = folder / "README.upstream.md"
    if (folder / "MIDI").is_dir() and (
        folder.name.lower().startswith("nottingham")
        or (readme.is_file() and "nottingham" in readme.read_text(errors="replace").lower())
    ):
        return "nottingham"
    return None


def _midi_in(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.rglob("*")) if p.suffix in MIDI_SUFFIXES and p.is_file()]


def pop909_meters(index: Path) -> dict[str, tuple[int, int]]:
    """Song id -> meter, from POP909's ``index.xlsx``. Its beat is two of the MIDI files' quarter
    notes (``beat_midi.txt`` has a downbeat every 4 quarters for 2 beats per measure, every 6 for
    3), so n beats per measure is a bar of 2n quarters: 4/4 or 6/4. (The quavers per beat, 2 or 3,
    is the feel inside the beat, which the position grid keeps.) Raises ValueError when openpyxl
    is missing or the sheet is not POP909's."""
    try:
        import openpyxl
    except ImportError:
        raise ValueError(
            "reading POP909's meters needs openpyxl: pip install 'studio[train-music]' "
            "(or pip install openpyxl)"
        ) from None
    try:
        book = openpyxl.load_workbook(index, read_only=True)
        rows = list(book.active.iter_rows(values_only=True))
        book.close()
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
        raise ValueError(f"{index} is not a readable spreadsheet ({exc})") from None
    if not rows or "num_beats_per_measure" not in [str(c) for c in rows[0]]:
        raise ValueError(f"{index} has no num_beats_per_measure column: not POP909's index")
    head = [str(c) for c in rows[0]]
    song, beats = head.index("song_id"), head.index("num_beats_per_measure")
    out = {}
    for row in rows[1:]:
        if row[song] is None or row[beats] is None:
            continue
        out[f"{int(row[song]):03d}"] = (2 * int(row[beats]), 4)
    return out


def pop909_downbeat(song_folder: Path) -> float | None:
    """Seconds to the first downbeat in a POP909 song's ``beat_midi.txt`` (None without one)."""
    try:
        for line in (song_folder / "beat_midi.txt").read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and float(fields[2]) == 1.0:
                return float(fields[0])
    except (OSError, ValueError):
        return None
    return None


def _groove_meter_tempo(name: str) -> tuple[tuple[int, int], float] | None:
    """Meter and tempo from a Groove file name: ``1_funk-groove1_138_beat_4-4.mid``."""
    parts = Path(name).stem.split("_")
    try:
        n, d = (int(x) for x in parts[-1].split("-"))
        return (n, d), float(parts[-3])
    except (ValueError, IndexError):
        return None


Item = tuple[str, str, str, str]  # (path, style, piece id, JSON options for the reader)


def midi_set_files(folder: Path, kind: str) -> list[Item]:
    """Every file of a staged set with its piece id and how to read it."""
    style = MIDI_SETS[kind]
    items: list[Item] = []
    if kind == "pop909":
        root = folder / "POP909" if (folder / "POP909").is_dir() else folder
        meters = pop909_meters(root / "index.xlsx")
        for path in _midi_in(root):
            song = path.relative_to(root).parts[0]
            meter = meters.get(song)
            opts: dict = {"meter": list(meter)} if meter else {}
            downbeat = pop909_downbeat(root / song)
            if downbeat:
                opts["downbeat_seconds"] = downbeat
            pid = f"pop909/{path.relative_to(root).as_posix()}"
            items.append((str(path), style, pid, json.dumps(opts)))
    elif kind == "groove":
        for path in _midi_in(folder):
            found = _groove_meter_tempo(path.name)
            opts = {"phrase_bars": GROOVE_PHRASE_BARS}
            if found:
                opts.update(meter=list(found[0]), tempo=found[1])
            pid = f"groove/{path.relative_to(folder).as_posix()}"
            items.append((str(path), style, pid, json.dumps(opts)))
    else:
        for path in _midi_in(folder):
            pid = f"{kind}/{path.relative_to(folder).as_posix()}"
            items.append((str(path), style, pid, "{}"))
    return items


def user_midi_files(folders: Sequence[str | Path]) -> list[Item]:
    """The files of each folder: a staged set read its own way (the folder itself, or sets found
    one level down), everything else as the user's own MIDI."""
    out: list[Item] = []
    for folder in folders:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"MIDI folder {folder} does not exist")
        kind = midi_set_kind(folder)
        if kind:
            out += midi_set_files(folder, kind)
            continue
        subsets = {sub: midi_set_kind(sub) for sub in sorted(folder.iterdir()) if sub.is_dir()}
        for sub, sub_kind in subsets.items():
            if sub_kind:
                out += midi_set_files(sub, sub_kind)
        skip = [sub for sub, sub_kind in subsets.items() if sub_kind]
        for path in _midi_in(folder):
            if not any(sub in path.parents for sub in skip):
                out.append((str(path), "user", str(path), "{}"))
    return out


_TOKENIZER: MusicTokenizer | None = None


def _tokenizer() -> MusicTokenizer:
    global _TOKENIZER
    if _TOKENIZER is None:
        _TOKENIZER = MusicTokenizer()
    return _TOKENIZER


def _read_midi(tok: MusicTokenizer, path: str, style: str, pid: str, opts: dict):
    """One MIDI file -> pieces: the meter given (POP909, Groove) replaces the file's, and a phrase
    length cuts the file into pieces of that many bars (Groove's takes)."""
    import symusic

    score = symusic.Score.from_midi(Path(path).read_bytes())
    if "meter" in opts:
        n, d = opts["meter"]
        if opts.get("downbeat_seconds"):
            # pad the start so the first downbeat falls on a bar line (POP909 starts mid-bar)
            qpm = float(score.tempos[0].qpm) if len(score.tempos) else 120.0
            at = round(opts["downbeat_seconds"] * qpm / 60 * score.ticks_per_quarter)
            bar = round(score.ticks_per_quarter * n * 4 / d)
            pad = (bar - at % bar) % bar
            if pad:
                score = score.shift_time(pad)
        score.time_signatures = symusic.core.TimeSignatureTickList(
            [symusic.TimeSignature(0, int(n), int(d))]
        )
    phrase = opts.get("phrase_bars")
    if not phrase:
        return [tok.encode_score(score, pid, style)]
    n, d = opts.get("meter", (4, 4))
    span = int(round(score.ticks_per_quarter * n * 4 / d * phrase))
    end = score.end()
    out = []
    for k, start in enumerate(range(0, max(1, end), span)):
        part = score.clip(start, start + span, clip_end=True).shift_time(-start)
        if sum(len(t.notes) for t in part.tracks) < 8:
            continue  # a take's silent or near-empty tail
        part.time_signatures = score.time_signatures
        out.append(tok.encode_score(part, f"{pid}#{k + 1}", style))
    return out


def _convert_file(item: Item) -> tuple[list[PieceTokens], int, list[str]]:
    """Worker: one corpus file (a score, an opus of many tunes, or a MIDI file) -> pieces."""
    path, style, pid, options = item
    tok = _tokenizer()
    pieces: list[PieceTokens] = []
    failed = 0
    errors: list[str] = []
    if style not in COLLECTIONS.values():
        try:
            pieces += _read_midi(tok, path, style, pid, json.loads(options))
        except Exception as exc:  # noqa: BLE001 - a bad file is counted, not fatal
            errors.append(f"{pid}: {type(exc).__name__}: {exc}")
            failed += 1
        return pieces, failed, errors
    import warnings

    from music21 import converter, midi

    rel = path.split("/corpus/")[-1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = converter.parse(path)
    except Exception as exc:  # noqa: BLE001
        return [], 1, [f"{rel}: {type(exc).__name__}: {exc}"]
    scores = list(parsed.scores) if type(parsed).__name__ == "Opus" else [parsed]
    for index, score in enumerate(scores):
        number = getattr(score.metadata, "number", None) if score.metadata else None
        piece_id = f"{rel}#{number or index + 1}" if len(scores) > 1 else rel
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = midi.translate.music21ObjectToMidiFile(score).writestr()
            pieces.append(tok.encode_midi_bytes(data, piece_id, style))
        except Exception as exc:  # noqa: BLE001 - music21 fails on some tunes: skip and count
            failed += 1
            if len(errors) < 5:
                errors.append(f"{piece_id}: {type(exc).__name__}: {str(exc)[:120]}")
    return pieces, failed, errors


def build_corpus(
    collections: Sequence[str] = tuple(COLLECTIONS),
    midi_folders: Sequence[str | Path] = (),
    ctx: JobContext | None = None,
    workers: int | None = None,
    limit: int | None = None,
) -> tuple[Corpus, CorpusReport]:
    """Convert and tokenize the chosen collections and MIDI folders.

    Raises ValueError when nothing could be read (an empty or unreadable folder says so).
    """
    ctx = ctx or JobContext()
    items = music21_files(collections) if collections else []
    items += user_midi_files(midi_folders)
    if limit:
        items = items[:limit]
    if not items:
        raise ValueError(
            "no music to train on: the corpus selection and the MIDI folders are empty"
        )
    report = CorpusReport()
    pieces: list[PieceTokens] = []
    workers = workers or min(len(items), os.cpu_count() or 1)
    # Big opus files first, so the workers finish together.
    items.sort(key=lambda it: -os.path.getsize(it[0]))
    # fork is fast and needs no __main__ guard; forkserver once torch (and its threads) are loaded.
    mp = multiprocessing.get_context("forkserver" if "torch" in sys.modules else "fork")
    pool = mp.Pool(workers) if workers > 1 else None
    try:
        results: Iterator = (
            pool.imap_unordered(_convert_file, items) if pool else map(_convert_file, items)
        )
        for done, (got, failed, errors) in enumerate(results, start=1):
            ctx.check_cancelled()
            report.failed += failed
            report.errors += errors[: max(0, 20 - len(report.errors))]
            for piece in got:
                if not piece.tracks:
                    report.empty += 1
                    continue
                pieces.append(piece)
                report.by_style[piece.style] = report.by_style.get(piece.style, 0) + 1
            ctx.progress(done / len(items), f"{len(pieces)} pieces from {done}/{len(items)} files")
    finally:
        if pool:
            pool.terminate()
    if not pieces:
        raise ValueError(
            f"none of the {len(items)} files could be read as music "
            f"({report.failed} failed, {report.empty} had no notes)"
        )
    pieces.sort(key=lambda p: p.piece_id)
    report.pieces = len(pieces)
    return Corpus(pieces), report


# -- storage (npz + JSON, no pickle) ---------------------------------------------------------------
def save_corpus(corpus: Corpus, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tokens: list[int] = []
    bar_offsets = [0]
    tracks = []
    pieces = []
    for p in corpus.pieces:
        first_track = len(tracks)
        for t in p.tracks:
            tracks.append((t.program, int(t.drum), len(bar_offsets) - 1, len(t.bars)))
            for bar in t.bars:
                tokens += bar
                bar_offsets.append(len(tokens))
        pieces.append(
            (
                first_track,
                len(p.tracks),
                p.key.tonic,
                int(p.key.mode == "minor"),
                p.meter[0],
                p.meter[1],
                int(round(p.tempo)),
                STYLES.index(p.style) if p.style in STYLES else STYLES.index("other"),
            )
        )
    from studio.core.atomic import atomic_write

    with atomic_write(path, "wb") as fh:
        np.savez_compressed(
            fh,
            tokens=np.asarray(tokens, dtype=np.int16),
            bar_offsets=np.asarray(bar_offsets, dtype=np.int64),
            tracks=np.asarray(tracks, dtype=np.int64).reshape(-1, 4),
            pieces=np.asarray(pieces, dtype=np.int64).reshape(-1, 8),
            ids=np.asarray(json.dumps([p.piece_id for p in corpus.pieces])),
        )
    return path


def load_corpus(path: Path) -> Corpus:
    """Read a corpus written by :func:`save_corpus`. Raises ValueError for a damaged file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            tokens = data["tokens"].astype(np.int64)
            offsets = data["bar_offsets"]
            tracks = data["tracks"]
            rows = data["pieces"]
            ids = json.loads(str(data["ids"]))
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable Studio corpus ({exc})") from exc
    pieces = []
    for pid, row in zip(ids, rows, strict=True):
        first, n, tonic, minor, num, den, tempo, style = (int(x) for x in row)
        tbs = []
        for program, drum, bar0, nbars in tracks[first : first + n]:
            bars = [tokens[offsets[b] : offsets[b + 1]].tolist() for b in range(bar0, bar0 + nbars)]
            tbs.append(TrackBars(int(program), bool(drum), bars))
        pieces.append(
            PieceTokens(
                pid,
                STYLES[style],
                Key(tonic, "minor" if minor else "major"),
                (num, den),
                float(tempo),
                tbs,
            )
        )
    return Corpus(pieces)
