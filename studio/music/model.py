"""A small decoder-only transformer for music tokens, with a KV cache for sampling.

Pre-norm blocks, learned positions, tied input/output embeddings, attention through
``torch.nn.functional.scaled_dot_product_attention``. Weights are stored as safetensors with the
config in the file's metadata.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ModelConfig",
    "MusicTransformer",
    "save_model",
    "load_model",
    "KVCache",
    "grow_from",
]

FORMAT = "studio-music-transformer-1"


@dataclass
class ModelConfig:
    vocab_size: int
    context: int = 512
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 6
    dropout: float = 0.1


KVCache = list[tuple[torch.Tensor, torch.Tensor]]


class _Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads = cfg.n_heads
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None):
        b, t, c = x.shape
        h = self.n_heads
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q = q.view(b, t, h, c // h).transpose(1, 2)
        k = k.view(b, t, h, c // h).transpose(1, 2)
        v = v.view(b, t, h, c // h).transpose(1, 2)
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        drop = self.dropout if self.training else 0.0
        if past is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        elif t == 1:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:  # several new tokens after a cache: causal with an offset
            total = k.shape[2]
            mask = torch.ones(t, total, dtype=torch.bool, device=x.device).tril(total - t)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        x = x + F.dropout(self.proj(y), drop, self.training)
        x = x + F.dropout(self.mlp(self.ln2(x)), drop, self.training)
        return x, (k, v)


class MusicTransformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos = nn.Embedding(cfg.context, cfg.d_model)
        self.blocks = nn.ModuleList(_Block(cfg) for _ in range(cfg.n_layers))
        self.ln = nn.LayerNorm(cfg.d_model)
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(
        self, idx: torch.Tensor, past: KVCache | None = None, use_cache: bool = False
    ) -> tuple[torch.Tensor, KVCache | None]:
        """Logits for every position of ``idx`` (batch, time); with ``past`` the positions continue
        after the cached ones. Returns (logits, new cache or None)."""
        start = past[0][0].shape[2] if past else 0
        t = idx.shape[1]
        if start + t > self.cfg.context:
            raise ValueError(
                f"sequence of {start + t} tokens exceeds the context {self.cfg.context}"
            )
        pos = torch.arange(start, start + t, device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, past[i] if past else None)
            if use_cache:
                cache.append(kv)
        logits = self.ln(x) @ self.tok.weight.T
        return logits, (cache if use_cache else None)


def save_model(model: MusicTransformer, path: Path, extra: dict[str, str] | None = None) -> Path:
    """Write weights (float32) and config as safetensors."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(asdict(model.cfg))}
    meta.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=meta)
    return path


def load_model(path: Path, device: str = "cpu") -> tuple[MusicTransformer, dict[str, str]]:
    """Read a model written by :func:`save_model`. Raises ValueError when it is not one."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path.name} is not a Studio music model")
        cfg = ModelConfig(**json.loads(meta["config"]))
        state = load_file(str(path), device="cpu")
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for bad files
        raise ValueError(f"{path.name} is not a readable Studio music model ({exc})") from exc
    model = MusicTransformer(cfg)
    model.load_state_dict(state)
    model.eval()
    return model.to(device), meta


def grow_from(model: MusicTransformer, source: MusicTransformer) -> None:
    """Start ``model`` from a smaller trained ``source`` so that it computes the same function:
    the source's token rows (a vocabulary only grows at its end), positions, blocks and final norm
    are copied; extra blocks get zero output projections, so they pass their input through until
    training changes them. Raises ValueError when the widths, heads or contexts differ, or when the
    source is deeper or has the larger vocabulary."""
    a, b = model.cfg, source.cfg
    if (a.d_model, a.n_heads) != (b.d_model, b.n_heads) or a.context < b.context:
        raise ValueError(
            f"cannot grow a d_model {b.d_model}/{b.n_heads} heads/context {b.context} model into "
            f"d_model {a.d_model}/{a.n_heads} heads/context {a.context}"
        )
    if a.n_layers < b.n_layers or a.vocab_size < b.vocab_size:
        raise ValueError("the source model is deeper or has a larger vocabulary than the target")
    with torch.no_grad():
        model.tok.weight[: b.vocab_size] = source.tok.weight
        model.pos.weight[: b.context] = source.pos.weight
        for i, block in enumerate(model.blocks):
            if i < b.n_layers:
                block.load_state_dict(source.blocks[i].state_dict())
            else:
                for layer in (block.proj, block.mlp[2]):
                    layer.weight.zero_()
                    layer.bias.zero_()
        model.ln.load_state_dict(source.ln.state_dict())
