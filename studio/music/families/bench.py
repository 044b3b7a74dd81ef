"""Samples per second of each music family at (about) the same parameter count, untrained, on one
device: the transformer's ``small`` size sets the count, the LSTM, the VAE and the GAN are sized to
match. A sample is four 4/4 bars of one part (the GAN: drums, bass and chords together)."""

from __future__ import annotations

import time
from typing import Any

from studio.core.jobs import JobContext

__all__ = ["bench_families", "equal_size_families"]

BARS = 4


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def equal_size_families(device: str = "cpu") -> dict[str, Any]:
    """family -> an untrained family object of about the transformer ``small`` preset's size."""
    import torch

    from studio.music.families.gan import GANConfig, GANFamily, build_gan
    from studio.music.families.lstm import LSTMConfig, LSTMFamily, build_lstm
    from studio.music.families.transformer import TransformerFamily
    from studio.music.families.vae import VAEConfig, VAEFamily, build_vae
    from studio.music.model import ModelConfig, MusicTransformer
    from studio.music.tokens import MusicTokenizer
    from studio.music.training import PRESETS

    torch.manual_seed(0)
    small = PRESETS["small"]
    vocab = MusicTokenizer().vocab_size
    tf = MusicTransformer(
        ModelConfig(vocab, 512, small["d_model"], small["n_layers"], small["n_heads"], 0.0)
    )
    target = _count(tf)

    def closest(build, sizes):
        return min((build(s) for s in sizes), key=lambda m: abs(_count(m) - target))

    lstm = closest(lambda d: build_lstm(LSTMConfig(vocab, 512, d, 2, 0.0)), range(160, 320, 8))
    vae = closest(lambda w: build_vae(VAEConfig(enc=w, cond=w, dec=w * 3 // 2)), range(96, 256, 8))
    gan = closest(lambda w: build_gan(GANConfig(width=w))[0], range(128, 400, 8))
    return {
        "transformer": TransformerFamily(tf.eval().to(device), device),
        "lstm": LSTMFamily(lstm.eval().to(device), device),
        "vae": VAEFamily(vae.eval().to(device), device),
        "gan": GANFamily(gan.eval().to(device), device),
    }


def bench_families(ctx: JobContext | None = None, device: str = "cpu", rounds: int = 3):
    """{family: {"parameters", "samples_per_s", "ratio_to_transformer"}} measured in one run."""
    ctx = ctx or JobContext()
    families = equal_size_families(device)
    out: dict[str, Any] = {}
    for i, (name, fam) in enumerate(families.items()):
        ctx.check_cancelled()
        fam.generate(1, seed=99)  # warm up
        began = time.perf_counter()
        for r in range(rounds):
            fam.generate(BARS, seed=r)
        per = (time.perf_counter() - began) / rounds
        out[name] = {"parameters": fam.num_parameters(), "samples_per_s": round(1.0 / per, 2)}
        ctx.progress((i + 1) / len(families), f"{name}: {1.0 / per:.2f} samples/s")
    base = out["transformer"]["samples_per_s"]
    for row in out.values():
        row["ratio_to_transformer"] = round(row["samples_per_s"] / base, 2)
    return out


def _synthetic_pieces(n: int = 6):
    """Hand-made 8-bar pieces (melody, bass, chords, a rock beat) tokenized as the corpus is."""
    from studio.core.media import DRUM_CHANNEL, MidiClip, Note
    from studio.music.tokens import MusicTokenizer

    tok = MusicTokenizer()
    pieces = []
    for i in range(n):
        notes = []
        for b in range(8):
            for e in range(8):
                t = b * 4.0 + e * 0.5
                notes.append(Note(t, 60 + (e * (i + 2)) % 12, 0.5, 90, 0))
                notes.append(Note(t, 42, 0.25, 80, DRUM_CHANNEL))
            notes.append(Note(b * 4.0, 40 + i, 4.0, 90, 1))
            notes += [Note(b * 4.0, p + i, 4.0, 70, 2) for p in (48, 52, 55)]
        clip = MidiClip(sorted(notes), programs={0: 73, 1: 33, 2: 0}, length=32.0)
        piece = tok.encode_clip(clip, style="user")
        piece.piece_id = f"freedoom/bench{i}.mid"  # read as the game style by the GAN
        pieces.append(piece)
    return pieces


def family_train_rates(device: str, tiny: bool, steps: int = 3) -> dict[str, float]:
    """Training steps/s of the LSTM, VAE and GAN recipes (their ``small`` preset; tiny: the
    ``tiny`` one) on synthetic pieces, one process on ``device``."""
    import numpy as np

    from studio.music.families.trainer import PRESETS, FamilyTrainConfig, recipe_for

    pieces = _synthetic_pieces()
    out = {}
    for arch in ("lstm", "vae", "gan"):
        cfg = FamilyTrainConfig(arch=arch, **PRESETS[arch]["tiny" if tiny else "small"])
        recipe = recipe_for(arch)(cfg, pieces, [], device, np.random.default_rng(0))
        recipe.step(0)  # warm up
        _sync(device)
        began = time.perf_counter()
        for s in range(steps):
            recipe.step(s + 1)
        _sync(device)
        out[arch] = round(steps / (time.perf_counter() - began), 3)
    return out


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
