"""The training corpus: music21's bundled collections and the user's MIDI folders, tokenized, with a
fixed held-out split by piece.

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
HELDOUT_PERCENT = 5
MIDI_SUFFIXES = (".mid", ".midi", ".MID", ".MIDI")


def is_heldout(piece_id: str) -> bool:
    """The fixed split: 5% of pieces, chosen by a hash of their id (stable across machines)."""
    digest = hashlib.sha1(piece_id.encode()).digest()
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
def music21_files(collections: Sequence[str] = tuple(COLLECTIONS)) -> list[tuple[str, str]]:
    """(path, style) of every music21 corpus file in the chosen collections."""
    from music21 import corpus

    out = []
    for path in sorted(corpus.getCorePaths(), key=str):
        rel = str(path).split("/corpus/")[-1]
        folder = rel.split("/")[0]
        if folder in collections:
            out.append((str(path), COLLECTIONS[folder]))
    return out


def user_midi_files(folders: Sequence[str | Path]) -> list[tuple[str, str]]:
    out = []
    for folder in folders:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"MIDI folder {folder} does not exist")
        for path in sorted(folder.rglob("*")):
            if path.suffix in MIDI_SUFFIXES and path.is_file():
                out.append((str(path), "user"))
    return out


_TOKENIZER: MusicTokenizer | None = None


def _tokenizer() -> MusicTokenizer:
    global _TOKENIZER
    if _TOKENIZER is None:
        _TOKENIZER = MusicTokenizer()
    return _TOKENIZER


def _convert_file(item: tuple[str, str]) -> tuple[list[PieceTokens], int, list[str]]:
    """Worker: one corpus file (a score, an opus of many tunes, or a MIDI file) -> pieces."""
    path, style = item
    tok = _tokenizer()
    pieces: list[PieceTokens] = []
    failed = 0
    errors: list[str] = []
    if style == "user":
        try:
            pieces.append(tok.encode_midi_bytes(Path(path).read_bytes(), path, style))
        except Exception as exc:  # noqa: BLE001 - a bad file is counted, not fatal
            errors.append(f"{path}: {type(exc).__name__}: {exc}")
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
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        tokens=np.asarray(tokens, dtype=np.int16),
        bar_offsets=np.asarray(bar_offsets, dtype=np.int64),
        tracks=np.asarray(tracks, dtype=np.int64).reshape(-1, 4),
        pieces=np.asarray(pieces, dtype=np.int64).reshape(-1, 8),
        ids=np.asarray(json.dumps([p.piece_id for p in corpus.pieces])),
    )
    os.replace(tmp, path)
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
