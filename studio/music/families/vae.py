"""The ``vae`` family: a MusicVAE-style hierarchical melody VAE with one latent per bar.

A melody (the skyline of a clip, 16 steps a bar, see :mod:`studio.music.families.rolls`) is encoded
bar by bar (a bidirectional GRU over each bar's steps), then across bars (a bidirectional GRU over
the bar features), giving each bar a latent ``z`` (mean and log-variance). The decoder is MusicVAE's
hierarchy: a *conductor* GRU runs over the bar latents, and each bar is written step by step by a
GRU conditioned on its conductor output only, so bars decode in parallel. Trained on 4-bar windows;
the conductor runs over any number of bars (4-16 is what the interface offers).

Modes: generate (z from the prior), interpolate (spherical, bar by bar, between the means of two
clips), variations (z drawn around a clip's mean, ``amount`` scaling the spread) and attributes
(adding a latent direction: ``density``, the mean latent of the busiest quarter of the training bars
minus that of the sparsest, MusicVAE's attribute vectors).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from studio.core.jobs import JobContext
from studio.core.media import DRUM_CHANNEL, MidiClip
from studio.music.families import FAMILY_KEY, FAMILY_MODES, FamilyBase
from studio.music.families.rolls import (
    MEL_CLASSES,
    REST,
    STEPS,
    check_meter,
    melody_clip,
    melody_roll,
)

__all__ = ["VAEConfig", "VAEFamily", "VAERecipe", "build_vae", "ATTRIBUTES"]

FORMAT = "studio-music-vae-1"
ATTRIBUTES = ("density",)
MAX_BARS = 64
WINDOW = 4  # bars per training example


@dataclass
class VAEConfig:
    z: int = 32
    emb: int = 48
    enc: int = 128
    dec: int = 192
    cond: int = 128


def build_vae(cfg: VAEConfig):
    import torch
    from torch import nn

    class MusicVAE(nn.Module):
        def __init__(self, cfg: VAEConfig) -> None:
            super().__init__()
            self.cfg = cfg
            self.emb = nn.Embedding(MEL_CLASSES + 1, cfg.emb)  # the last row: "start of bar"
            self.bar_enc = nn.GRU(cfg.emb, cfg.enc, batch_first=True, bidirectional=True)
            self.seq_enc = nn.GRU(2 * cfg.enc, cfg.enc, batch_first=True, bidirectional=True)
            self.to_mu = nn.Linear(2 * cfg.enc, cfg.z)
            self.to_logvar = nn.Linear(2 * cfg.enc, cfg.z)
            self.conductor = nn.GRU(cfg.z, cfg.cond, batch_first=True)
            self.init_h = nn.Linear(cfg.cond, cfg.dec)
            self.dec = nn.GRU(cfg.emb + cfg.cond, cfg.dec, batch_first=True)
            self.out = nn.Linear(cfg.dec, MEL_CLASSES)
            self.register_buffer("attr_density", torch.zeros(cfg.z))

        def encode(self, x):
            """(B, bars, 16) classes -> mu, logvar (B, bars, z)."""
            b, n, s = x.shape
            _, h = self.bar_enc(self.emb(x.reshape(b * n, s)))
            feats = torch.cat([h[0], h[1]], dim=-1).reshape(b, n, -1)
            seq, _ = self.seq_enc(feats)
            return self.to_mu(seq), self.to_logvar(seq).clamp(-8.0, 4.0)

        def forward(self, x):
            """Training pass (what DDP wraps): (logits, mu, logvar) with z drawn from q(z|x)."""
            mu, logvar = self.encode(x)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            return self.decode_teacher(z, x), mu, logvar

        def _conduct(self, z):
            b, n, _ = z.shape
            c, _ = self.conductor(z)
            c = c.reshape(b * n, -1)
            return c, torch.tanh(self.init_h(c)).unsqueeze(0)

        def decode_teacher(self, z, x):
            """Logits (B, bars, 16, classes) with the true previous step fed in."""
            b, n, s = x.shape
            c, h0 = self._conduct(z)
            flat = x.reshape(b * n, s)
            start = torch.full((b * n, 1), MEL_CLASSES, dtype=flat.dtype, device=flat.device)
            prev = torch.cat([start, flat[:, :-1]], dim=1)
            inp = torch.cat([self.emb(prev), c.unsqueeze(1).expand(-1, s, -1)], dim=-1)
            y, _ = self.dec(inp, h0)
            return self.out(y).reshape(b, n, s, -1)

        def sample(self, z, temperature: float = 0.0, generator=None):
            """(B, bars, 16) classes written step by step; temperature 0 is greedy."""
            b, n, _ = z.shape
            c, h = self._conduct(z)
            prev = torch.full((b * n,), MEL_CLASSES, dtype=torch.long, device=z.device)
            out = []
            for step in range(STEPS):
                inp = torch.cat([self.emb(prev), c], dim=-1).unsqueeze(1)
                y, h = self.dec(inp, h)
                logits = self.out(y[:, 0])
                if step == 0:
                    pass  # a bar may start by holding the last note of the bar before
                if temperature <= 0:
                    prev = logits.argmax(-1)
                else:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    prev = torch.multinomial(probs, 1, generator=generator)[:, 0]
                out.append(prev)
            return torch.stack(out, dim=1).reshape(b, n, STEPS)

    return MusicVAE(cfg)


def _loss_parts(model, x, generator=None):
    """(reconstruction nats, KL nats per bar (B, bars)) for a batch of melody windows."""
    import torch
    from torch.nn import functional as F

    mu, logvar = model.encode(x)
    eps = torch.randn(mu.shape, generator=generator, device="cpu").to(mu.device)
    z = mu + eps * torch.exp(0.5 * logvar)
    logits = model.decode_teacher(z, x)
    rec = F.cross_entropy(logits.reshape(-1, MEL_CLASSES), x.reshape(-1), reduction="sum")
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
    return rec, kl


def piece_windows(pieces, rng=None, limit: int | None = None) -> np.ndarray:
    """(N, 4, 16) melody windows of the 4/4 pieces, every 4 bars (an offset of 0-3 bars drawn by
    ``rng`` when given); windows with fewer than two bars of notes are left out."""
    from studio.music.tokens import MusicTokenizer

    tok = MusicTokenizer()
    out = []
    for piece in pieces:
        if piece.beats_per_bar != 4.0:
            continue
        pitched = [t for t in piece.tracks if not t.drum]
        if not pitched:
            continue
        clip = tok.decode(type(piece)(piece.piece_id, piece.style, piece.key, piece.meter,
                                      piece.tempo, pitched))  # fmt: skip
        roll = melody_roll(clip, piece.n_bars)
        offset = int(rng.integers(WINDOW)) if rng is not None else 0
        for start in range(offset, len(roll) - WINDOW + 1, WINDOW):
            w = roll[start : start + WINDOW]
            if int(((w >= 2).sum(axis=1) > 0).sum()) >= 2:
                out.append(w)
                if limit and len(out) >= limit:
                    return np.stack(out)
    return np.stack(out) if out else np.zeros((0, WINDOW, STEPS), dtype=np.int64)


def _elbo_per_step(model, windows: np.ndarray, device: str, batch: int = 64) -> float:
    import torch

    gen = torch.Generator().manual_seed(0)
    total, steps = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(windows), batch):
            x = torch.from_numpy(windows[i : i + batch]).to(device)
            rec, kl = _loss_parts(model, x, gen)
            total += float(rec) + float(kl.sum())
            steps += x.numel()
    return total / max(1, steps)


class VAERecipe:
    metric = "elbo"

    def __init__(self, cfg, train_pieces, val_pieces, device, rng, shard=(0, 1)) -> None:
        import torch

        from studio.music.families.trainer import shard_of

        self.cfg, self.device, self.rng = cfg, device, rng
        self.model = build_vae(VAEConfig(**cfg.model)).to(device)
        self.models = {"vae": self.model}
        self.nets = dict(self.models)
        self.optimizers = {"vae": torch.optim.Adam(self.model.parameters(), lr=cfg.lr)}
        self.train_windows = piece_windows(train_pieces)
        if train_pieces and not len(self.train_windows):
            raise ValueError("no 4/4 melodies of at least two bars to train the VAE on")
        self.train_windows = shard_of(self.train_windows, shard)  # a rank's share (torchrun)
        self.val_windows = piece_windows(val_pieces, limit=512) if val_pieces else None
        self.free_bits = 2.0  # nats per bar that cost nothing (MusicVAE's free bits)
        self.beta_max, self.beta_steps = 0.5, 2000

    def step(self, step: int) -> dict[str, float]:
        import torch

        net, opt = self.nets["vae"], self.optimizers["vae"]
        net.train()
        idx = self.rng.integers(len(self.train_windows), size=self.cfg.batch_size)
        x = torch.from_numpy(self.train_windows[idx]).to(self.device)
        logits, mu, logvar = net(x)
        rec = (
            torch.nn.functional.cross_entropy(
                logits.reshape(-1, MEL_CLASSES), x.reshape(-1), reduction="sum"
            )
            / x.shape[0]
        )
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)
        beta = self.beta_max * min(1.0, step / self.beta_steps)
        loss = rec + beta * torch.clamp(kl - self.free_bits, min=0.0).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        steps = x.shape[1] * x.shape[2]
        return {
            "loss": float(loss.detach()) / steps,
            "kl_per_bar": float(kl.detach().mean()),
            "acc": float((logits.argmax(-1) == x).float().mean()),
        }

    def evaluate(self) -> dict[str, float]:
        if self.val_windows is None or not len(self.val_windows):
            return {}
        import torch

        elbo = _elbo_per_step(self.model, self.val_windows, self.device)
        with torch.inference_mode():
            x = torch.from_numpy(self.val_windows[:256]).to(self.device)
            mu, _ = self.model.encode(x)
            acc = float((self.model.sample(mu) == x).float().mean())
        return {"elbo": elbo, "recon_acc": acc}

    def fit_attributes(self) -> None:
        """Set the density direction from the training windows (run once before export)."""
        import torch

        windows = self.train_windows[:4000]
        if not len(windows):
            return
        self.model.eval()
        with torch.inference_mode():
            mus = []
            for i in range(0, len(windows), 256):
                mu, _ = self.model.encode(torch.from_numpy(windows[i : i + 256]).to(self.device))
                mus.append(mu.reshape(-1, mu.shape[-1]).cpu())
            mu = torch.cat(mus)
        density = torch.from_numpy((windows >= 2).sum(-1).reshape(-1).astype(np.float32))
        lo, hi = torch.quantile(density, 0.25), torch.quantile(density, 0.75)
        if hi <= lo:
            return
        vec = mu[density >= hi].mean(0) - mu[density <= lo].mean(0)
        self.model.attr_density.copy_(vec.to(self.model.attr_density.device))

    def export(self, path: Path, extra: dict[str, str]) -> None:
        self.fit_attributes()
        save_vae(self.model, path, extra)

    def description(self) -> str:
        c = self.model.cfg
        return (
            f"hierarchical melody VAE (MusicVAE style): latent {c.z} per bar, bar encoder "
            f"{c.enc}, conductor {c.cond}, bar decoder {c.dec}"
        )


def save_vae(model, path: Path, extra: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, FAMILY_KEY: "vae", "config": json.dumps(asdict(model.cfg))}
    meta.update(extra or {})
    save_file(state, str(path), metadata=meta)
    return path


def load_vae(path: Path, device: str = "cpu"):
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        if meta.get("format") != FORMAT:
            raise ValueError(f"{Path(path).name} is not a Studio VAE music model")
        model = build_vae(VAEConfig(**json.loads(meta["config"])))
        model.load_state_dict(load_file(str(path), device="cpu"))
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors and torch raise their own types
        raise ValueError(f"{Path(path).name} is not a readable VAE music model ({exc})") from exc
    model.eval()
    return model.to(device), meta


def _slerp(a, b, t: float):
    import torch

    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-6, 1 - 1e-6))
    so = torch.sin(omega)
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return torch.where(so.abs() < 1e-4, (1 - t) * a + t * b, out)


class VAEFamily(FamilyBase):
    family = "vae"
    modes = FAMILY_MODES["vae"]

    def __init__(self, model, device: str = "cpu", meta: dict[str, str] | None = None) -> None:
        self.model, self.device, self.meta = model, device, dict(meta or {})

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> VAEFamily:
        model, meta = load_vae(Path(path), device)
        return cls(model, device, meta)

    # -- helpers -----------------------------------------------------------------------------------
    def _roll(self, clip: MidiClip, what: str) -> np.ndarray:
        if clip is None or not [n for n in clip.notes if n.channel != DRUM_CHANNEL]:
            raise ValueError(f"{what} needs a clip with pitched notes")
        check_meter(clip, "VAE")
        roll = melody_roll(clip)
        if len(roll) > MAX_BARS:
            raise ValueError(f"the VAE takes at most {MAX_BARS} bars; this clip has {len(roll)}")
        return roll

    def _encode(self, roll: np.ndarray):
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(roll[None]).to(self.device)
            mu, logvar = self.model.encode(x)
        return mu, logvar

    def _decode(self, z, temperature: float, seed: int) -> np.ndarray:
        import torch

        gen = torch.Generator(device=self.device).manual_seed(seed)
        with torch.inference_mode():
            return self.model.sample(z, temperature, gen)[0].cpu().numpy()

    def _clip(self, roll: np.ndarray, like: MidiClip | None, mode: str, seed: int, **extra):
        bpm = like.bpm if like is not None else 120.0
        channel, program = 0, 0
        if like is not None:
            pitched = sorted({n.channel for n in like.notes if n.channel != DRUM_CHANNEL})
            channel = pitched[0] if pitched else 0
            program = like.programs.get(channel, 0)
        clip = melody_clip(roll, bpm, channel, program)
        clip.provenance.update({"engine": "studio/music-vae", "mode": mode, "seed": seed, **extra})
        if self.meta.get("name"):
            clip.provenance["model"] = self.meta["name"]
        return clip

    # -- modes -------------------------------------------------------------------------------------
    def generate(self, bars, *, meter=(4, 4), tempo=120.0, style=None, seed=0, ctx=None):
        import torch

        if tuple(meter) not in ((4, 4), (2, 2)):
            raise ValueError(f"the VAE writes 4/4 bars, not {meter[0]}/{meter[1]}")
        if not 1 <= bars <= MAX_BARS:
            raise ValueError(f"bars must be between 1 and {MAX_BARS}")
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn((1, bars, self.model.cfg.z), generator=gen).to(self.device)
        clip = self._clip(self._decode(z, 0.5, seed), None, "generate", seed)
        clip.bpm = float(tempo)
        return clip

    def interpolate(self, a, b, steps, *, seed=0, ctx=None):
        """``steps`` clips from ``a`` to ``b`` (at least 2: the ends are the two clips as the model
        hears them). Both are cut or padded with rests to the longer one's bars."""
        import torch

        if steps < 2:
            raise ValueError("interpolate needs at least 2 steps (the two ends)")
        if steps > 64:
            raise ValueError("interpolate makes at most 64 steps")
        ctx = ctx or JobContext()
        ra, rb = self._roll(a, "interpolate"), self._roll(b, "interpolate")
        n = max(len(ra), len(rb))
        pad = lambda r: np.concatenate([r, np.full((n - len(r), STEPS), REST)]) if len(r) < n else r  # noqa: E731
        mu_a, _ = self._encode(pad(ra))
        mu_b, _ = self._encode(pad(rb))
        out = []
        for i in range(steps):
            ctx.check_cancelled()
            t = i / (steps - 1)
            with torch.inference_mode():
                z = _slerp(mu_a, mu_b, t)
            out.append(self._clip(self._decode(z, 0.0, seed), a, "interpolate", seed, t=t))
            ctx.progress((i + 1) / steps, f"step {i + 1}/{steps}")
        return out

    def variations(self, clip, amount, n, *, seed=0, ctx=None):
        """``n`` clips drawn around ``clip``'s latent: amount 0 gives the clip as the model hears
        it, 1 draws at the prior's spread (and samples the notes at temperature 0.5)."""
        import torch

        if not 0.0 <= amount <= 1.0:
            raise ValueError("amount must be between 0 and 1")
        if not 1 <= n <= 64:
            raise ValueError("make between 1 and 64 variations")
        ctx = ctx or JobContext()
        mu, _ = self._encode(self._roll(clip, "variations"))
        out = []
        for i in range(n):
            ctx.check_cancelled()
            gen = torch.Generator().manual_seed(seed + i)
            eps = torch.randn(mu.shape, generator=gen).to(self.device)
            z = mu + amount * eps
            roll = self._decode(z, 0.5 * amount, seed + i)
            out.append(self._clip(roll, clip, "variations", seed + i, amount=amount))
            ctx.progress((i + 1) / n, f"variation {i + 1}/{n}")
        return out

    def attribute(self, clip, name="density", amount=1.0, *, seed=0, ctx=None):
        """``clip`` moved along an attribute direction (``density``: more notes for amount > 0,
        fewer below 0; -2..2)."""
        if name not in ATTRIBUTES:
            raise ValueError(f"attribute must be one of {', '.join(ATTRIBUTES)}")
        if not -2.0 <= amount <= 2.0:
            raise ValueError("attribute amount must be between -2 and 2")
        mu, _ = self._encode(self._roll(clip, "attributes"))
        z = mu + amount * getattr(self.model, f"attr_{name}")
        return self._clip(self._decode(z, 0.0, seed), clip, f"attribute {name}", seed,
                          amount=amount)  # fmt: skip

    def nll(self, pieces):
        windows = piece_windows(list(pieces), limit=2048)
        if not len(windows):
            return None
        return _elbo_per_step(self.model, windows, self.device), "ELBO bound/step"
