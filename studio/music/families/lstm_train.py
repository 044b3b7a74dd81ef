"""The LSTM's training recipe: the transformer's examples (bar-aligned windows, tracks shuffled,
half of them fill-in-the-middle) and its held-out windows, so the two NLLs compare."""

from __future__ import annotations

from pathlib import Path

__all__ = ["LSTMRecipe"]

EVAL_WINDOWS = 96


class LSTMRecipe:
    metric = "nll"

    def __init__(self, cfg, train_pieces, val_pieces, device, rng) -> None:
        import torch

        from studio.music.families.lstm import LSTMConfig, build_lstm
        from studio.music.tokens import MusicTokenizer
        from studio.music.training import ExampleSampler, heldout_windows

        self.cfg, self.device = cfg, device
        self.tok = MusicTokenizer()
        self.model = build_lstm(LSTMConfig(self.tok.vocab_size, **cfg.model)).to(device)
        self.models = {"lstm": self.model}
        self.nets = dict(self.models)
        self.optimizers = {
            "lstm": torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=0.01)
        }
        context = self.model.cfg.context
        # no pieces: a recipe made only to export a checkpoint
        self.sampler = (
            ExampleSampler(self.tok, train_pieces, context, 0.5, rng) if train_pieces else None
        )
        self.val = (
            heldout_windows(self.tok, val_pieces, context, EVAL_WINDOWS) if val_pieces else []
        )

    def step(self, step: int) -> dict[str, float]:
        import torch
        from torch.nn import functional as F

        net, opt = self.nets["lstm"], self.optimizers["lstm"]
        net.train()
        x, y = self.sampler.batch(self.cfg.batch_size)
        logits, _ = net(x.to(self.device))
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            y.to(self.device).reshape(-1),
            ignore_index=self.tok.PAD,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        return {"loss": float(loss.detach())}

    def evaluate(self) -> dict[str, float]:
        from studio.music.training import cross_entropy

        if not self.val:
            return {}
        value, _ = cross_entropy(self.model, self.val, self.tok.PAD, self.device)
        return {"nll": value}

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
