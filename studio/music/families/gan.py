"""The ``gan`` family: a MuseGAN-style multi-track bar generator (drums, bass, chords).

Four 4/4 bars at once as a band roll (see :mod:`studio.music.families.rolls`): 9 drum voices, 36
bass and 36 chord pitches on a 16th-note grid. The generator turns a noise vector and a style into
bar features, up-samples them to beats and steps (transposed 1-D convolutions over time), and mixes
in a melody condition (the melody's pitch classes and onsets per step, or zeros): MuseGAN's
"track-conditional" setting, so it can write drums under an existing melody. The critic sees the
roll and the melody and scores it per style (a projection discriminator); training is WGAN-GP.

Modes: generate and groove (``groove(style, bars, under=None)``). It has no likelihood, so
:meth:`GANFamily.nll` is None.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from studio.core.media import DRUM_CHANNEL, MidiClip
from studio.music.families import FAMILY_KEY, FAMILY_MODES, FamilyBase
from studio.music.families.rolls import (
    BAND_WIDTH,
    N_DRUMS,
    STEPS,
    band_clip,
    band_roll,
    check_meter,
    melody_condition,
)

__all__ = ["GANConfig", "GANFamily", "GANRecipe", "build_gan", "gan_style"]

FORMAT = "studio-music-gan-1"
BARS = 4
T = BARS * STEPS
COND = 13


@dataclass
class GANConfig:
    styles: list[str] = field(default_factory=lambda: ["groove", "game"])
    z: int = 64
    width: int = 128


def gan_style(piece) -> str | None:
    """The GAN style of a corpus piece: its own style when it is a band style, else read from where
    the file came from (the Groove MIDI Dataset is ``groove``, Freedoom is ``game``)."""
    if piece.style in ("groove", "game", "pop"):
        return piece.style
    pid = piece.piece_id.lower()
    if "groove" in pid:
        return "groove"
    if "freedoom" in pid:
        return "game"
    if "pop909" in pid:
        return "pop"
    return None


def build_gan(cfg: GANConfig):
    import torch
    from torch import nn

    w, n_styles = cfg.width, len(cfg.styles)

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cfg = cfg
            self.style = nn.Embedding(n_styles, 16)
            self.fc = nn.Linear(cfg.z + 16, w * BARS)
            self.up = nn.Sequential(
                nn.BatchNorm1d(w),
                nn.ReLU(),
                nn.ConvTranspose1d(w, w, 4, stride=4),  # bars -> beats
                nn.BatchNorm1d(w),
                nn.ReLU(),
                nn.ConvTranspose1d(w, w, 4, stride=4),  # beats -> steps
                nn.BatchNorm1d(w),
                nn.ReLU(),
            )
            self.cond = nn.Conv1d(COND, w // 2, 3, padding=1)
            self.mix = nn.Sequential(
                nn.Conv1d(w + w // 2, w, 3, padding=1),
                nn.ReLU(),
                nn.Conv1d(w, BAND_WIDTH, 1),
            )

        def forward(self, z, style, melody):
            """z (B, z), style (B,), melody (B, 64, 13) -> probabilities (B, 64, BAND_WIDTH)."""
            h = self.fc(torch.cat([z, self.style(style)], dim=-1)).view(-1, w, BARS)
            h = self.up(h)
            c = torch.relu(self.cond(melody.transpose(1, 2)))
            return torch.sigmoid(self.mix(torch.cat([h, c], dim=1))).transpose(1, 2)

    class Critic(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv1d(BAND_WIDTH + COND, w, 3, padding=1),
                nn.LeakyReLU(0.2),
                nn.Conv1d(w, w, 4, stride=4),
                nn.LeakyReLU(0.2),
                nn.Conv1d(w, w, 4, stride=4),
                nn.LeakyReLU(0.2),
            )
            self.fc = nn.Linear(w * BARS, 1)
            self.style = nn.Embedding(n_styles, w * BARS)

        def forward(self, roll, style, melody):
            h = self.net(torch.cat([roll, melody], dim=-1).transpose(1, 2)).flatten(1)
            return self.fc(h)[:, 0] + (self.style(style) * h).sum(-1) * 0.01

    return Generator(), Critic()


def binarize(probs: np.ndarray) -> np.ndarray:
    """Notes from the generator's probabilities (..., BAND_WIDTH): a drum voice sounds above 0.5;
    the bass is one line (a step sounds when its pitches' probabilities add up past 0.5, at the
    likeliest pitch), so a bass spread over neighbouring pitches is not lost; chords above 0.4."""
    from studio.music.families.rolls import BASS_N

    out = np.zeros_like(probs, dtype=np.float32)
    out[..., :N_DRUMS] = probs[..., :N_DRUMS] > 0.5
    bass = probs[..., N_DRUMS : N_DRUMS + BASS_N]
    on = bass.sum(-1) > 0.5
    best = bass.argmax(-1)
    sub = out[..., N_DRUMS : N_DRUMS + BASS_N]
    np.put_along_axis(sub, best[..., None], on[..., None].astype(np.float32), axis=-1)
    out[..., N_DRUMS : N_DRUMS + BASS_N] = sub
    out[..., N_DRUMS + BASS_N :] = probs[..., N_DRUMS + BASS_N :] > 0.4
    return out


def band_windows(pieces):
    """(rolls (N, 64, W), melody conditions (N, 64, 13), style indices (N,)) from the 4/4 pieces
    that have drums, every 4 bars; the style list is the config's default order."""
    from studio.music.tokens import MusicTokenizer

    styles = GANConfig().styles
    tok = MusicTokenizer()
    rolls, conds, labels = [], [], []
    for piece in pieces:
        style = gan_style(piece)
        if style not in styles or piece.beats_per_bar != 4.0:
            continue
        if not any(t.drum for t in piece.tracks):
            continue
        clip = tok.decode(piece)
        roll, cond = band_roll(clip, piece.n_bars)
        for start in range(0, len(roll) - BARS + 1, BARS):
            r = roll[start : start + BARS]
            if r[:, :, :N_DRUMS].sum() < 8:  # a window with (almost) no drums teaches nothing
                continue
            rolls.append(r.reshape(T, BAND_WIDTH))
            conds.append(cond[start : start + BARS].reshape(T, COND))
            labels.append(styles.index(style))
    if not rolls:
        return (
            np.zeros((0, T, BAND_WIDTH), np.float32),
            np.zeros((0, T, COND), np.float32),
            np.zeros(0, np.int64),
        )
    return np.stack(rolls), np.stack(conds), np.asarray(labels, dtype=np.int64)


def roll_stats(rolls: np.ndarray) -> dict[str, float]:
    """MuseGAN-style statistics of binary rolls (N, 64, W): drum hits per bar, empty-bar rates of
    bass and chords, and the share of drum hits on 8th-note positions (its drum pattern score)."""
    r = rolls > 0.5
    drums = r[:, :, :N_DRUMS]
    bars = r.reshape(len(r), BARS, STEPS, BAND_WIDTH)
    hits = drums.sum()
    on_eighths = drums[:, ::2].sum()
    from studio.music.families.rolls import BASS_N

    return {
        "drum_hits_per_bar": float(drums.sum() / max(1, len(r) * BARS)),
        "drum_pattern": float(on_eighths / max(1, hits)),
        "bass_empty_bars": float((bars[..., N_DRUMS : N_DRUMS + BASS_N].sum((2, 3)) == 0).mean()),
        "chords_empty_bars": float((bars[..., N_DRUMS + BASS_N :].sum((2, 3)) == 0).mean()),
    }


class GANRecipe:
    """WGAN-GP on band windows. Under torchrun the trainer wraps the generator and the critic in
    DDP; each rank draws from its own share of every style's windows, and its noise from its own
    random stream."""

    metric = "drum_hits_ratio"

    def __init__(self, cfg, train_pieces, val_pieces, device, rng, shard=(0, 1)) -> None:
        import torch

        from studio.music.families.trainer import shard_of

        self.cfg, self.device, self.rng = cfg, device, rng
        self.gcfg = GANConfig(**cfg.model)
        self.gen, self.critic = build_gan(self.gcfg)
        self.gen.to(device)
        self.critic.to(device)
        self.models = {"generator": self.gen, "critic": self.critic}
        self.nets = dict(self.models)
        self.optimizers = {
            "generator": torch.optim.Adam(self.gen.parameters(), lr=cfg.lr, betas=(0.5, 0.9)),
            "critic": torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, betas=(0.5, 0.9)),
        }
        self.rolls, self.conds, self.labels = band_windows(train_pieces)
        if train_pieces and not len(self.rolls):
            raise ValueError(
                "no 4/4 pieces with drums to train the GAN on (it needs the groove or game style)"
            )
        # under torchrun each rank draws from its own share of every style's windows
        self.by_style = {
            int(s): shard_of(np.flatnonzero(self.labels == s), shard)
            for s in np.unique(self.labels)
        }
        self.present = np.array(sorted(self.by_style))
        self.val = band_windows(val_pieces) if val_pieces else None
        if self.val is not None and len(self.val[0]):  # a fixed sample, styles in equal shares
            pick = np.random.default_rng(0)
            labels = self.val[2]
            per = [np.flatnonzero(labels == s) for s in np.unique(labels)]
            chosen = np.concatenate([pick.permutation(p)[: 128 // len(per)] for p in per])
            self.val = tuple(a[chosen] for a in self.val)
        self.n_critic, self.gp = 2, 10.0

    def _noise(self, *shape: int):
        """Noise from the recipe's own random stream: a rank's own under torchrun, the same on
        the CPU and CUDA for a seed, and in the checkpoint, so a resumed run draws what it would
        have."""
        import torch

        return torch.from_numpy(self.rng.standard_normal(shape, dtype=np.float32)).to(self.device)

    def _batch(self):
        import torch

        # Styles in equal shares, whatever their number of windows (Groove has far more than
        # Freedoom, and only Freedoom has bass and chords).
        styles = self.rng.choice(self.present, size=self.cfg.batch_size)
        idx = np.array([self.by_style[s][self.rng.integers(len(self.by_style[s]))] for s in styles])
        cond = self.conds[idx].copy()
        cond[self.rng.random(len(idx)) < 0.5] = 0.0  # half the time without the melody
        t = lambda a: torch.from_numpy(a).to(self.device)  # noqa: E731
        return t(self.rolls[idx]), t(cond), t(self.labels[idx])

    def step(self, step: int) -> dict[str, float]:
        import torch

        gen, critic = self.nets["generator"], self.nets["critic"]
        g_opt, c_opt = self.optimizers["generator"], self.optimizers["critic"]
        gen.train()
        critic.train()
        b = self.cfg.batch_size
        for _ in range(self.n_critic):
            real, cond, style = self._batch()
            z = self._noise(b, self.gcfg.z)
            with torch.no_grad():
                fake = gen(z, style, cond)
            alpha = torch.from_numpy(self.rng.random((b, 1, 1), dtype=np.float32)).to(self.device)
            mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
            score = critic(mixed, style, cond)
            grad = torch.autograd.grad(score.sum(), mixed, create_graph=True)[0]
            penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            w_dist = critic(real, style, cond).mean() - critic(fake, style, cond).mean()
            c_loss = -w_dist + self.gp * penalty
            c_opt.zero_grad(set_to_none=True)
            c_loss.backward()
            c_opt.step()
        real, cond, style = self._batch()
        z = self._noise(b, self.gcfg.z)
        g_loss = -critic(gen(z, style, cond), style, cond).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
        return {"loss": float(c_loss.detach()), "w_dist": float(w_dist.detach()),
                "g_loss": float(g_loss.detach())}  # fmt: skip

    def evaluate(self) -> dict[str, float]:
        """Statistics of 128 samples against the held-out windows (ratios near 1 are good)."""
        import torch

        if self.val is None or not len(self.val[0]):
            return {}
        rolls, conds, labels = self.val
        gen = torch.Generator().manual_seed(0)
        n = min(128, len(rolls))
        self.gen.eval()
        with torch.inference_mode():
            z = torch.randn(n, self.gcfg.z, generator=gen).to(self.device)
            fake = (
                self.gen(
                    z,
                    torch.from_numpy(labels[:n]).to(self.device),
                    torch.from_numpy(conds[:n]).to(self.device),
                )
                .cpu()
                .numpy()
            )
        real_s, fake_s = roll_stats(rolls[:n]), roll_stats(binarize(fake))
        out = {f"sample_{k}": v for k, v in fake_s.items()}
        out.update({f"heldout_{k}": v for k, v in real_s.items()})
        out["drum_hits_ratio"] = fake_s["drum_hits_per_bar"] / max(
            1e-6, real_s["drum_hits_per_bar"]
        )
        return out

    def export(self, path: Path, extra: dict[str, str]) -> None:
        save_gan(self.gen, path, extra)

    def description(self) -> str:
        return (
            f"MuseGAN-style 4-bar drums/bass/chords generator, width {self.gcfg.width}, "
            f"styles {', '.join(self.gcfg.styles)} (WGAN-GP; the critic is not shipped)"
        )


def save_gan(gen, path: Path, extra: dict[str, str] | None = None) -> Path:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in gen.state_dict().items()}
    meta = {"format": FORMAT, FAMILY_KEY: "gan", "config": json.dumps(asdict(gen.cfg))}
    meta.update(extra or {})
    save_file(state, str(path), metadata=meta)
    return path


def load_gan(path: Path, device: str = "cpu"):
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
        if meta.get("format") != FORMAT:
            raise ValueError(f"{Path(path).name} is not a Studio GAN music model")
        gen, _critic = build_gan(GANConfig(**json.loads(meta["config"])))
        gen.load_state_dict(load_file(str(path), device="cpu"))
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors and torch raise their own types
        raise ValueError(f"{Path(path).name} is not a readable GAN music model ({exc})") from exc
    gen.eval()
    return gen.to(device), meta


class GANFamily(FamilyBase):
    family = "gan"
    modes = FAMILY_MODES["gan"]

    def __init__(self, gen, device: str = "cpu", meta: dict[str, str] | None = None) -> None:
        self.model, self.device, self.meta = gen, device, dict(meta or {})
        self.styles: list[str] = list(gen.cfg.styles)

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> GANFamily:
        gen, meta = load_gan(Path(path), device)
        return cls(gen, device, meta)

    def generate(self, bars, *, meter=(4, 4), tempo=120.0, style=None, seed=0, ctx=None):
        if tuple(meter) not in ((4, 4), (2, 2)):
            raise ValueError(f"the GAN writes 4/4 bars, not {meter[0]}/{meter[1]}")
        clip = self.groove(style or self.styles[0], bars, seed=seed, ctx=ctx)
        clip.bpm = float(tempo)
        return clip

    def groove(self, style, bars, under=None, *, seed=0, ctx=None):
        """Drums, bass and chords for ``bars`` bars in ``style``, written 4 bars at a time; with a
        melody ``under``, drums only, under it (its bars when ``bars`` is None), merged with it."""
        import torch

        if style not in self.styles:
            raise ValueError(f"style must be one of {', '.join(self.styles)} for this GAN")
        melody_notes = []
        if under is not None:
            melody_notes = [n for n in under.notes if n.channel != DRUM_CHANNEL]
            if not melody_notes:
                raise ValueError("the melody to put drums under has no pitched notes")
            check_meter(under, "GAN")
            if bars is None:
                bars = max(1, int(np.ceil(under.length_beats / 4.0 - 1e-9)))
        if bars is None or not 1 <= bars <= 256:
            raise ValueError("bars must be between 1 and 256")
        chunks = (bars + BARS - 1) // BARS
        cond = melody_condition(melody_notes, chunks * BARS).reshape(chunks, T, 13)
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(chunks, self.model.cfg.z, generator=gen).to(self.device)
        with torch.inference_mode():
            probs = self.model(
                z,
                torch.full((chunks,), self.styles.index(style), device=self.device),
                torch.from_numpy(cond).to(self.device),
            )
        roll = binarize(probs.cpu().numpy()).reshape(chunks * T, BAND_WIDTH)[: bars * STEPS]
        tracks = ("drums",) if under is not None else ("drums", "bass", "chords")
        if under is not None:
            used = {n.channel for n in under.notes}
            free = [c for c in range(16) if c != DRUM_CHANNEL and c not in used] + [14, 15]
            clip = band_clip(roll, under.bpm, tracks, (free[0], free[1]))
            merged = MidiClip(
                sorted(list(under.notes) + [n for n in clip.notes]),
                bpm=under.bpm,
                beats_per_bar=under.beats_per_bar,
                beat_unit=under.beat_unit,
                programs=dict(under.programs),
                length=max(under.length_beats, bars * 4.0),
            )
            clip = merged
        else:
            clip = band_clip(roll, 120.0, tracks)
        clip.provenance.update(
            {"engine": "studio/music-gan", "mode": "groove", "style": style, "seed": seed}
        )
        if self.meta.get("name"):
            clip.provenance["model"] = self.meta["name"]
        return clip
