import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.music.corpus import save_corpus
from studio.music.model import ModelConfig, MusicTransformer, load_model, save_model
from studio.music.ngram import KneserNey
from studio.music.training import PRESETS, TrainConfig, heldout_windows, train

ROOT = Path(__file__).resolve().parents[2]


def test_kv_cache_gives_the_same_logits_as_full_recomputation():
    torch.manual_seed(0)
    model = MusicTransformer(
        ModelConfig(vocab_size=50, context=64, d_model=32, n_layers=2, n_heads=2, dropout=0.0)
    ).eval()
    seq = torch.randint(0, 50, (1, 20))
    full, _ = model(seq)
    logits, cache = model(seq[:, :5], use_cache=True)
    steps = [logits[0, -1]]
    for t in range(5, 20):
        logits, cache = model(seq[:, t : t + 1], past=cache, use_cache=True)
        steps.append(logits[0, -1])
    assert torch.allclose(torch.stack(steps[:-1]), full[0, 4:19], atol=1e-5)
    # several new tokens after a cache (prefill continuation) also match
    part, cache = model(seq[:, :8], use_cache=True)
    rest, _ = model(seq[:, 8:], past=cache, use_cache=True)
    assert torch.allclose(rest[0], full[0, 8:], atol=1e-5)


def test_context_overflow_is_an_error():
    model = MusicTransformer(
        ModelConfig(vocab_size=10, context=8, d_model=16, n_layers=1, n_heads=2)
    )
    with pytest.raises(ValueError, match="exceeds the context"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_model_round_trips_through_safetensors(tmp_path):
    model = MusicTransformer(
        ModelConfig(vocab_size=30, context=16, d_model=16, n_layers=1, n_heads=2)
    ).eval()
    path = save_model(model, tmp_path / "m.safetensors")
    loaded, meta = load_model(path)
    x = torch.randint(0, 30, (1, 10))
    assert torch.equal(model(x)[0], loaded(x)[0])
    assert json.loads(meta["config"])["d_model"] == 16
    (tmp_path / "bad.safetensors").write_bytes(b"nonsense")
    with pytest.raises(ValueError, match="not a readable Studio music model"):
        load_model(tmp_path / "bad.safetensors")


def test_training_is_deterministic_for_a_seed_and_resumes_exactly(tiny_corpus, tmp_path):
    cfg = TrainConfig(**(PRESETS["tiny"] | {"steps": 12, "eval_every": 6, "checkpoint_every": 6}))
    train_p, val_p = tiny_corpus.pieces[:20], tiny_corpus.pieces[20:]
    a = train(cfg, train_p, val_p, tmp_path / "a", device="cpu")
    b = train(cfg, train_p, val_p, tmp_path / "b", device="cpu")

    def strip(history):
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert strip(a.history) == strip(b.history)
    assert a.val_loss == b.val_loss
    # stop after 6 steps, then resume to 12: same result as the straight run
    half = TrainConfig(**(PRESETS["tiny"] | {"steps": 6, "eval_every": 6, "checkpoint_every": 6}))
    train(half, train_p, val_p, tmp_path / "c", device="cpu")
    c = train(cfg, train_p, val_p, tmp_path / "c", device="cpu")
    assert c.step == 12
    assert c.val_loss == pytest.approx(a.val_loss, abs=1e-5)


def _as_former_loop_checkpoint(path: Path) -> None:
    """Rewrite a transformer checkpoint in the layout of the transformer's former loop (its own
    config, ``model``/``optimizer``, ``val_loss`` in the history), as runs begun before left."""
    state = torch.load(path, weights_only=True)
    raw = json.loads(state["config"])
    own = {k: v for k, v in raw.items() if k not in ("arch", "model")} | raw["model"]
    history = []
    for record in json.loads(state["history"]):
        val = record.pop("val", None)
        if val:
            record["val_loss"] = val["nll"]
        history.append(record)
    old = {
        "model": state["model.transformer"],
        "optimizer": state["opt.transformer"],
        "step": state["step"],
        "config": json.dumps(own),
        "history": json.dumps(history),
        "rng": state["rng"],
        "torch_rng": state["torch_rng"][0],
    }
    torch.save(old, path)


def test_a_run_of_the_former_transformer_loop_resumes_and_loads(tiny_corpus, tmp_path):
    from studio.music.training import load_checkpoint_model

    train_p, val_p = tiny_corpus.pieces[:20], tiny_corpus.pieces[20:]
    steps = {"eval_every": 6, "checkpoint_every": 6}
    cfg = TrainConfig(**(PRESETS["tiny"] | steps | {"steps": 12}))
    straight = train(cfg, train_p, val_p, tmp_path / "straight", device="cpu")
    half = TrainConfig(**(PRESETS["tiny"] | steps | {"steps": 6}))
    train(half, train_p, val_p, tmp_path / "old", device="cpu")
    _as_former_loop_checkpoint(tmp_path / "old" / "checkpoint.pt")
    model, loaded_cfg, step = load_checkpoint_model(tmp_path / "old" / "checkpoint.pt")
    assert step == 6 and loaded_cfg == half and model.cfg.d_model == half.d_model
    resumed = train(cfg, train_p, val_p, tmp_path / "old", device="cpu")
    assert resumed.step == 12
    assert resumed.val_loss == pytest.approx(straight.val_loss, abs=1e-6)
    assert [h["val"]["nll"] for h in resumed.history if "val" in h] == [
        h["val"]["nll"] for h in straight.history if "val" in h
    ]
    # the former layout with other settings is refused in words, as before
    other = TrainConfig(**(PRESETS["tiny"] | {"steps": 12, "d_model": 32}))
    _as_former_loop_checkpoint(tmp_path / "old" / "checkpoint.pt")
    with pytest.raises(ValueError, match="other settings; use a new folder or --no-resume"):
        train(other, train_p, val_p, tmp_path / "old", device="cpu")


def test_another_familys_checkpoint_is_not_taken_for_a_transformer(tiny_corpus, tmp_path):
    from studio.music.families.trainer import PRESETS as FAMILY_PRESETS
    from studio.music.families.trainer import FamilyTrainConfig, train_family
    from studio.music.training import load_checkpoint_model

    lstm = FamilyTrainConfig(arch="lstm", **(FAMILY_PRESETS["lstm"]["tiny"] | {"steps": 2}))
    train_family(lstm, tiny_corpus.pieces[:20], [], tmp_path, device="cpu", resume=False)
    with pytest.raises(ValueError, match="not a transformer training checkpoint.*lstm"):
        load_checkpoint_model(tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="other settings"):
        train(TrainConfig(**(PRESETS["tiny"] | {"steps": 2})), tiny_corpus.pieces[:20], [],
              tmp_path, device="cpu")  # fmt: skip


def test_training_learns_something(tiny_run, tiny_corpus):
    history = json.loads((tiny_run[0].parent / "history.json").read_text())
    losses = [h["loss"] for h in history]
    assert losses[-1] < losses[0] - 0.5


def test_resume_refuses_a_different_model(tiny_corpus, tmp_path):
    cfg = TrainConfig(**(PRESETS["tiny"] | {"steps": 2}))
    train(cfg, tiny_corpus.pieces[:20], [], tmp_path, device="cpu")
    other = TrainConfig(**(PRESETS["tiny"] | {"steps": 4, "d_model": 32}))
    with pytest.raises(ValueError, match="other settings"):
        train(other, tiny_corpus.pieces[:20], [], tmp_path, device="cpu")


def test_no_pieces_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no training pieces"):
        train(TrainConfig(steps=1), [], [], tmp_path, device="cpu")


def test_ngram_is_a_proper_distribution_and_learns(tok, tiny_corpus):
    windows = heldout_windows(tok, tiny_corpus.pieces[:20], 256)
    model = KneserNey(4, tok.vocab_size).fit(windows)
    for context in ([], windows[0][:3], [7, 7, 7]):
        total = sum(model.prob(context, t) for t in range(tok.vocab_size))
        assert total == pytest.approx(1.0, abs=1e-6)
    seen, _ = model.cross_entropy(windows[:3])
    held, _ = model.cross_entropy(heldout_windows(tok, tiny_corpus.pieces[20:], 256))
    uniform = math.log(tok.vocab_size)  # ln 450 = 6.1 nats a token: a model that learnt nothing
    assert seen < held < 0.5 * uniform  # far below it on unseen pieces too (it gets about 1.1)


@pytest.mark.slow
def test_torchrun_ddp_on_two_cpu_processes(tiny_corpus, tmp_path):
    corpus = save_corpus(tiny_corpus, tmp_path / "corpus.npz")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [
            str(torchrun),
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "studio",
            "music",
            "train",
            "--preset",
            "tiny",
            "--steps",
            "4",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "run"),
            "--device",
            "cpu",
            "--name",
            "ddp-test",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert (tmp_path / "run" / "checkpoint.pt").exists()
    assert (tmp_path / "run" / "ddp-test.safetensors").exists()
    assert "step 4/4" in out.stdout
    ranks = json.loads(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["ranks"])
    assert ranks["world"] == 2 and len(set(ranks["weights_sha256"])) == 1  # the same weights
