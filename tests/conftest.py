"""Shared fixtures: a tiny corpus and a tiny music model, made once per session (seconds on the
CPU).
"""

import pytest

from studio.core.media import MidiClip, Note
from studio.music.corpus import Corpus
from studio.music.tokens import MusicTokenizer


def _chorale_like(seed: int, bars: int = 8) -> MidiClip:
    import random

    rng = random.Random(seed)
    scale = [0, 2, 4, 5, 7, 9, 11]
    notes = []
    for bar in range(bars):
        for beat in range(4):
            degree = rng.randrange(7)
            for ch, octave in ((0, 72), (1, 64), (2, 57), (3, 48)):
                notes.append(
                    Note(bar * 4.0 + beat, octave + scale[(degree + ch * 2) % 7], 1.0, 80, ch)
                )
    return MidiClip(notes=sorted(notes), bpm=100, programs={0: 52, 1: 52, 2: 52, 3: 52})


@pytest.fixture(scope="session")
def tok():
    return MusicTokenizer()


@pytest.fixture(scope="session")
def tiny_corpus(tok):
    pieces = []
    for i in range(24):
        piece = tok.encode_clip(_chorale_like(i), style="chorale")
        piece.piece_id = f"synthetic/{i}"
        pieces.append(piece)
    return Corpus(pieces)


@pytest.fixture(scope="session")
def tiny_run(tiny_corpus, tmp_path_factory):
    """(checkpoint path, model path) of a tiny model trained for a few steps."""
    from studio.music.cli import export
    from studio.music.training import PRESETS, TrainConfig, train

    out = tmp_path_factory.mktemp("music-train")
    cfg = TrainConfig(**(PRESETS["tiny"] | {"steps": 30, "eval_every": 30}))
    result = train(cfg, tiny_corpus.pieces[:20], tiny_corpus.pieces[20:], out, device="cpu")
    model = export(result.checkpoint, out / "tiny.safetensors", "tiny", "pytest", result)
    return result.checkpoint, model


@pytest.fixture(scope="session")
def engine(tiny_run):
    from studio.music.engine import MusicEngine

    return MusicEngine.load(tiny_run[1])


@pytest.fixture
def chorale():
    return _chorale_like(99, bars=4)


@pytest.fixture(scope="session")
def voice_cache(tmp_path_factory):
    """One warm speaker cache for the session (a Piper voice loads in ~0.5 s)."""
    from studio.core.models import ModelStore
    from studio.voice.speech import SpeakerCache

    return SpeakerCache(ModelStore(tmp_path_factory.mktemp("models")))
