"""The LSTM's training recipe: the transformer's examples (bar-aligned windows, tracks shuffled,
half of them fill-in-the-middle), its step and its held-out windows (:class:`TokenRecipe`), so the
two NLLs compare."""

from __future__ import annotations

from pathlib import Path

from studio.music.tokens import MusicTokenizer
from studio.music.training import TokenRecipe

__all__ = ["LSTMRecipe"]

EVAL_WINDOWS = 96


class LSTMRecipe(TokenRecipe):
    key = "lstm"

    def __init__(self, cfg, train_pieces, val_pieces, device, rng, shard=(0, 1)) -> None:
        import torch

        from studio.music.families.lstm import LSTMConfig, build_lstm

        self.cfg, self.device = cfg, device
        self.tok = MusicTokenizer()
        self.model = build_lstm(LSTMConfig(self.tok.vocab_size, **cfg.model)).to(device)
        self.models = {"lstm": self.model}
        self.optimizers = {
            "lstm": torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=0.01)
        }
        self._data(train_pieces, val_pieces, rng, shard, 0.5, EVAL_WINDOWS)

    def export(self, path: Path, extra: dict[str, str]) -> None:
        """Saved to read at least the transformer's context: an LSTM has no position limit, so
        the sampler and the evaluation give it the same windows as the transformer."""
        from dataclasses import replace

        from studio.music.families.lstm import save_lstm
        from studio.music.families.transformer import NLL_CONTEXT

        trained = self.model.cfg
        self.model.cfg = replace(trained, context=max(trained.context, NLL_CONTEXT))
        try:
            save_lstm(self.model, path, {"trained_context": str(trained.context), **extra})
        finally:
            self.model.cfg = trained

    def description(self) -> str:
        c = self.model.cfg
        return f"token LSTM, {c.n_layers} layers of {c.d_model}, tied embeddings"
