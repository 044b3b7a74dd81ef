"""``studio music eval``: held-out cross-entropy of the transformer against a smoothed n-gram
trained on the same tokens, and how often generated notes stay in the requested key.
"""

from __future__ import annotations

import math
import time

import numpy as np

from studio.core.jobs import JobContext
from studio.music.keys import PITCH_NAMES, in_key_rate, parse_key
from studio.music.ngram import KneserNey
from studio.music.tokens import PieceTokens
from studio.music.training import cross_entropy, heldout_windows

__all__ = ["evaluate", "in_key_samples"]

DIATONIC_STYLES = ("chorale", "essen", "oneills", "ryans")


def in_key_samples(
    engine, samples: int, strict_key: bool, seed: int = 1234, ctx: JobContext | None = None
) -> float:
    """In-key rate over ``samples`` four-bar melodies in random keys and diatonic styles."""
    from studio.music.engine import MusicRequest

    rng = np.random.default_rng(seed)
    total, inside = 0, 0
    for i in range(samples):
        if ctx:
            ctx.check_cancelled()
        key = f"{PITCH_NAMES[int(rng.integers(12))]} {('major', 'minor')[int(rng.integers(2))]}"
        style = DIATONIC_STYLES[int(rng.integers(len(DIATONIC_STYLES)))]
        req = MusicRequest(
            mode="generate",
            key=key,
            style=style,
            bars=4,
            instruments=[0],
            seed=int(rng.integers(2**31)),
            strict_key=strict_key,
        )
        [clip] = engine.run(req)
        pitches = [n.pitch for n in clip.notes]
        inside += round(in_key_rate(pitches, parse_key(key)) * len(pitches))
        total += len(pitches)
        if ctx:
            ctx.progress((i + 1) / samples, f"in-key sample {i + 1}/{samples}")
    return inside / max(1, total)


def evaluate(
    engine,
    train_pieces: list[PieceTokens],
    heldout: list[PieceTokens],
    orders: tuple[int, ...] = (4, 6),
    samples: int = 100,
    max_windows: int | None = None,
    ctx: JobContext | None = None,
) -> dict:
    """The transformer and smoothed n-grams of each order on the same held-out tokens, plus in-key
    rates. The first order is the baseline the improvement is quoted against. Returns a report."""
    ctx = ctx or JobContext()
    tok, context = engine.tok, engine.model.cfg.context
    started = time.monotonic()
    windows = heldout_windows(tok, heldout, context, max_windows)
    ctx.progress(0.05, f"transformer on {len(windows)} held-out windows")
    ce_model, tokens = cross_entropy(engine.model, windows, tok.PAD, engine.device, ctx=ctx)
    report: dict = {
        "heldout_pieces": len(heldout),
        "heldout_tokens": tokens,
        "transformer_nats_per_token": round(ce_model, 4),
        "transformer_perplexity": round(math.exp(ce_model), 3),
    }
    train_windows = heldout_windows(tok, train_pieces, context)
    for i, order in enumerate(orders):
        ctx.check_cancelled()
        ctx.progress(0.1 + 0.4 * i / len(orders), f"fitting the {order}-gram")
        ngram = KneserNey(order, tok.vocab_size).fit(train_windows)
        ce_ngram, _ = ngram.cross_entropy(windows)
        report[f"ngram{order}_nats_per_token"] = round(ce_ngram, 4)
        report[f"improvement_vs_ngram{order}_percent"] = round(100 * (1 - ce_model / ce_ngram), 2)
    if samples:
        ctx.progress(0.6, "sampling for the in-key rate")
        report["in_key_rate_free"] = round(in_key_samples(engine, samples, False, ctx=None), 4)
        report["in_key_rate_strict"] = round(in_key_samples(engine, samples, True, ctx=None), 4)
        report["in_key_samples"] = samples
    report["seconds"] = round(time.monotonic() - started, 1)
    ctx.progress(1.0, "done")
    return report
