"""``studio music eval --all``: one table over the families and the n-gram baselines, with a
family that has no trained model listed as such (a tiny model on synthetic chorales)."""

from __future__ import annotations

import json
import math

from studio.music.evaluate import evaluate_families


def test_one_table_for_every_family(tiny_run, tiny_corpus):
    from studio.music.families.transformer import TransformerFamily

    transformer = TransformerFamily.load(tiny_run[1])
    families = {
        "transformer": transformer,
        "lstm": FileNotFoundError("no lstm music model is installed"),
        "vae": ValueError("vae.safetensors is not a Studio music model of a known family"),
    }
    train, held = tiny_corpus.pieces[:20], tiny_corpus.pieces[20:]
    report = evaluate_families(
        families, train, held, samples=3, max_windows=4, orders=(2, 4), sample_bars=2
    )
    json.dumps(report)  # the --json output
    models = report["models"]
    assert list(models) == ["transformer", "lstm", "vae", "ngram-2", "ngram-4"]
    assert models["lstm"]["status"] == "not trained"
    assert models["vae"]["status"] == "failed to load"
    row = models["transformer"]
    assert row["nll_kind"] == "nll/token" and 0 < row["nll"] < 10
    assert row["samples"] == 3
    assert set(row["mgeval"]) >= {"pitch_class_histogram", "note_density", "repetition", "mean"}
    assert all(0.0 <= v <= 1.0 for v in row["mgeval"].values())
    # the synthetic chorales have four voices: MuseGAN's metrics are defined
    assert report["reference"]["musegan"]["empty_bars"] == 0.0
    assert not math.isnan(report["reference"]["musegan"]["tonal_distance"])
    for order in (2, 4):
        assert models[f"ngram-{order}"]["nll"] > 0
    # every model was scored on the same held-out tokens
    assert row["nll_tokens"] == models["ngram-2"]["nll_tokens"] == report["heldout_tokens"]
