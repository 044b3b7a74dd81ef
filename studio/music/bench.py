"""``studio bench music``: the KV cache against full recomputation, chorale speed, time to first
sound, and samples/s of each model family at equal size.
"""

from __future__ import annotations

import time
from typing import Any

from studio.core.jobs import JobContext

__all__ = ["bench_music"]


def _engine(device: str):
    """The shipped model an artist gets for the default style (chorale), or (when none is
    installed) an untrained one of the same size."""
    from studio.music import default_model_for, find_model_path
    from studio.music.engine import MusicEngine

    try:
        path = find_model_path(None, "chorale")
        return MusicEngine.load(path, device), f"shipped model ({default_model_for('chorale')})"
    except FileNotFoundError:
        from studio.music.model import ModelConfig, MusicTransformer
        from studio.music.tokens import MusicTokenizer
        from studio.music.training import PRESETS

        small = PRESETS["small"]
        tok = MusicTokenizer()
        model = MusicTransformer(
            ModelConfig(
                tok.vocab_size, 512, small["d_model"], small["n_layers"], small["n_heads"], 0.0
            )
        ).eval()
        return MusicEngine(model.to(device), device, tok), "untrained model of the shipped size"


def bench_music(ctx: JobContext) -> dict[str, Any]:
    """KV-cache sampling vs full recomputation, 8 bars of chorale, time to first sound"""
    import torch

    from studio.core.devices import describe_device, pick_device
    from studio.core.media import MidiClip, Note
    from studio.music.engine import MusicRequest
    from studio.music.synth import render

    device = pick_device("auto")
    engine, which = _engine(device)
    model = engine.model
    out: dict[str, Any] = {"device": describe_device(device), "model": which}
    gen = torch.Generator().manual_seed(0)

    # 1. sampling to 512 tokens of context: with the cache against recomputing everything
    ctx.progress(0.05, "KV cache against full recomputation")
    vocab = int(getattr(model.cfg, "vocab_size", engine.tok.vocab_size))  # an older model's
    prompt = torch.randint(10, vocab, (1, 384), generator=gen)
    new = 512 - 384
    with torch.inference_mode():
        start = time.perf_counter()
        logits, cache = model(prompt.to(device), use_cache=True)
        for _ in range(new):
            ctx.check_cancelled()
            nxt = torch.argmax(logits[:, -1:], dim=-1)
            logits, cache = model(nxt, past=cache, use_cache=True)
        cached = time.perf_counter() - start
        seq = prompt.to(device)
        start = time.perf_counter()
        for _ in range(new):
            ctx.check_cancelled()
            logits, _ = model(seq)
            seq = torch.cat([seq, torch.argmax(logits[:, -1:], dim=-1)], dim=1)
        full = time.perf_counter() - start
    out["kv_cache_tokens_per_s"] = round(new / cached, 1)
    out["recompute_tokens_per_s"] = round(new / full, 1)
    out["kv_cache_speedup"] = round(full / cached, 2)

    # 2. eight bars of four-voice chorale
    ctx.progress(0.4, "eight bars of four-voice chorale")
    req = MusicRequest(key="G major", bars=8, instruments=[52, 52, 52, 52], style="chorale", seed=1)
    engine.run(MusicRequest(bars=1, seed=0))  # warm up
    start = time.perf_counter()
    [clip] = engine.run(req, ctx.child())
    chorale_s = time.perf_counter() - start
    music_s = 8 * clip.bar_length * 60 / clip.bpm
    tokens = sum(1 for _ in clip.notes) * 4 + 8 * 4  # roughly four tokens a note plus bars
    out["chorale_8_bars_s"] = round(chorale_s, 3)
    out["chorale_faster_than_real_time"] = round(music_s / chorale_s, 1)
    out["chorale_notes"] = len(clip.notes)
    out["chorale_tokens_per_s"] = round(tokens / chorale_s, 1)

    # 3. click to first sound of a continuation: first bar written, then rendered
    ctx.progress(0.7, "time to the first sound of a continuation")
    seed_clip = MidiClip([Note(i * 1.0, 60 + (0, 4, 7, 12)[i % 4], 1.0) for i in range(16)])
    first: dict[str, float] = {}
    begun = time.perf_counter()

    def on_partial(partial) -> None:
        if "t" not in first:
            new_notes = [n for n in partial.notes if n.start >= 16]
            if new_notes:
                bar = MidiClip(new_notes, bpm=partial.bpm)
                render(bar, tail=0.0)
                first["t"] = time.perf_counter() - begun

    engine.run(
        MusicRequest(mode="continue", clip=seed_clip, bars=4, seed=2),
        ctx.child(None, on_partial),
    )
    out["first_sound_s"] = round(first.get("t", float("nan")), 3)

    # 4. samples/s of every family at the transformer's size (untrained, same device, same run)
    ctx.progress(0.85, "samples per second of each model family")
    from studio.music.families.bench import bench_families

    out["families_4_bar_samples"] = bench_families(ctx.child(), device)
    ctx.progress(1.0, "done")
    return out
