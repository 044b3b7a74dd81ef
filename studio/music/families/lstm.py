"""The ``lstm`` family: a folk-rnn style token LSTM on the transformer's tokens.

It has the transformer's call signature (``forward(idx, past, use_cache) -> (logits, state)``, the
state being the LSTM's (h, c) instead of a KV cache), so the same sampler, grammar, key mask and
training examples (fill-in-the-middle included: that is how continue is asked) drive it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from studio.music.families import FAMILY_KEY, FAMILY_MODES
from studio.music.families.transformer import TokenFamily

__all__ = ["LSTMConfig", "LSTMFamily", "build_lstm", "save_lstm", "load_lstm"]

FORMAT = "studio-music-lstm-1"


@dataclass
class LSTMConfig:
    vocab_size: int
    context: int = 512  # the sampler re-primes the state past this many tokens
    d_model: int = 224
    n_layers: int = 2
    dropout: float = 0.1


def build_lstm(cfg: LSTMConfig):
    """A MusicLSTM module (torch imported here)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class MusicLSTM(nn.Module):
        def __init__(self, cfg: LSTMConfig) -> None:
            super().__init__()
            self.cfg = cfg
            self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
            nn.init.normal_(self.tok.weight, std=0.05)
            self.lstm = nn.LSTM(
                cfg.d_model,
                cfg.d_model,
                cfg.n_layers,
                batch_first=True,
                dropout=cfg.dropout if cfg.n_layers > 1 else 0.0,
            )
            self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

        def num_parameters(self) -> int:
            return sum(p.numel() for p in self.parameters())

        def forward(self, idx, past=None, use_cache: bool = False):
            """Logits for every position of ``idx`` (batch, time), continuing from ``past`` (the
            (h, c) state). Returns (logits, new state or None)."""
            x = F.dropout(self.tok(idx), self.cfg.dropout, self.training)
            y, state = self.lstm(x, past)
            y = F.dropout(y, self.cfg.dropout, self.training)
            logits = y @ self.tok.weight.T + self.bias  # tied input and output embeddings
            return logits, (state if use_cache else None)

    return MusicLSTM(cfg)


def save_lstm(model, path: Path, extra: dict[str, str] | None = None) -> Path:
    """Weights (float32) and config as safetensors (write to a temporary path and rename)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, FAMILY_KEY: "lstm", "config": json.dumps(asdict(model.cfg))}
    meta.update(extra or {})
    save_file(state, str(path), metadata=meta)
    return path


def load_lstm(path: Path, device: str = "cpu"):
    """(model, metadata) from a file written by :func:`save_lstm`. Raises ValueError."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        if meta.get("format") != FORMAT:
            raise ValueError(f"{Path(path).name} is not a Studio LSTM music model")
        cfg = LSTMConfig(**json.loads(meta["config"]))
        state = load_file(str(path), device="cpu")
        model = build_lstm(cfg)
        model.load_state_dict(state)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors and torch raise their own types
        raise ValueError(f"{Path(path).name} is not a readable LSTM music model ({exc})") from exc
    model.eval()
    return model.to(device), meta


class LSTMFamily(TokenFamily):
    family = "lstm"
    modes = FAMILY_MODES["lstm"]

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> LSTMFamily:
        model, meta = load_lstm(Path(path), device)
        return cls(model, device, meta)
