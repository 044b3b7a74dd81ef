"""The music families (LSTM, VAE, GAN) behind one interface, their trainer and their commands, on
tiny untrained models made here from hand-written clips (never the corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from studio.core.media import DRUM_CHANNEL, MidiClip, Note  # noqa: E402
from studio.music.families import (  # noqa: E402
    NotSupportedError,
    family_of,
    load_family,
)
from studio.music.families.trainer import PRESETS, FamilyTrainConfig, train_family  # noqa: E402
from tests.support.music_clips import melody  # noqa: E402


def band(bars: int = 8) -> MidiClip:
    """Melody, bass and a rock beat: what the GAN learns from."""
    clip = melody(bars, step=0.5)
    notes = list(clip.notes)
    for b in range(bars):
        notes.append(Note(b * 4.0, 40, 2.0, 90, 1))
        notes.append(Note(b * 4.0 + 2, 43, 2.0, 90, 1))
        for p in (48, 52, 55):
            notes.append(Note(b * 4.0, p, 4.0, 70, 2))
        for e in range(8):
            notes.append(Note(b * 4.0 + e * 0.5, 42, 0.25, 80, DRUM_CHANNEL))
        notes.append(Note(b * 4.0, 36, 0.25, 100, DRUM_CHANNEL))
        notes.append(Note(b * 4.0 + 1, 38, 0.25, 100, DRUM_CHANNEL))
    return MidiClip(sorted(notes), bpm=120.0, programs={0: 73, 1: 33, 2: 0}, length=bars * 4.0)


@pytest.fixture(scope="module")
def pieces():
    from studio.music.tokens import MusicTokenizer

    tok = MusicTokenizer()
    out = []
    for i in range(6):
        p = tok.encode_clip(band(8) if i % 2 else melody(8, shift=i), style="user")
        p.piece_id = f"freedoom/test{i}.mid"
        out.append(p)
    return out


def _train(arch: str, pieces, folder: Path, steps: int = 4, resume: bool = False):
    cfg = FamilyTrainConfig(arch=arch, **{**PRESETS[arch]["tiny"], "steps": steps})
    return train_family(cfg, pieces[:4], pieces[4:], folder, device="cpu", resume=resume)


def _export(arch: str, pieces, tmp_path: Path) -> Path:
    from studio.music.cli import export_family

    folder = tmp_path / arch
    _train(arch, pieces, folder)
    return export_family(
        folder / "checkpoint.pt", folder / f"{arch}.safetensors", f"t-{arch}", "test", pieces
    )


@pytest.fixture(scope="module")
def models(pieces, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("families")
    return {arch: _export(arch, pieces, tmp) for arch in ("lstm", "vae", "gan")}


def test_each_file_names_its_family_and_modes_it_lacks_say_which_it_has(models):
    for arch, path in models.items():
        assert family_of(path) == arch
        fam = load_family(str(path))
        assert fam.family == arch and "generate" in fam.modes
        card = path.with_name(path.name + ".card.toml").read_text()
        assert f'family = "{arch}"' in card and "sha256" in card
    with pytest.raises(NotSupportedError, match="modes are generate, groove.*--model vae"):
        load_family(str(models["gan"])).variations(melody(), 0.5, 2)
    with pytest.raises(NotSupportedError, match="transformer or lstm"):
        load_family(str(models["vae"])).continue_(melody(), 2)


def test_a_file_that_is_not_a_music_model_is_refused_in_words(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a readable music model"):
        load_family(str(bad))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_family(str(tmp_path / "missing.safetensors"))


def test_lstm_continues_a_clip_keeping_it_and_scores_tokens(models, pieces):
    fam = load_family(str(models["lstm"]))
    clip = melody(2)
    out = fam.continue_(clip, 2, seed=3)
    assert out.notes[: len(clip.notes)] == clip.notes or set(clip.notes) <= set(out.notes)
    assert out.length_beats >= 16.0 - 1e-9
    assert out.provenance["engine"] == "studio/music-lstm"
    assert out.notes == fam.continue_(clip, 2, seed=3).notes  # same seed, same notes
    value, unit = fam.nll(pieces[4:])
    assert unit == "nll/token" and 0 < value < 10


def test_vae_interpolates_varies_and_moves_density(models, pieces):
    fam = load_family(str(models["vae"]))
    a, b = melody(4), melody(4, shift=7, step=0.5)
    steps = fam.interpolate(a, b, 5)
    assert len(steps) == 5 and all(s.bars == 4 for s in steps)
    assert [s.provenance["t"] for s in steps] == [0.0, 0.25, 0.5, 0.75, 1.0]
    same = fam.variations(a, 0.0, 3, seed=1)
    assert same[0].notes == same[1].notes == same[2].notes  # amount 0: the clip as it hears it
    far = fam.variations(a, 1.0, 3, seed=1)
    assert len({tuple(c.notes) for c in far}) > 1
    assert fam.attribute(a, "density", 2.0).provenance["mode"] == "attribute density"
    value, unit = fam.nll(pieces)
    assert unit == "ELBO bound/step" and value > 0
    with pytest.raises(ValueError, match="at least 2 steps"):
        fam.interpolate(a, b, 1)
    with pytest.raises(ValueError, match="4/4"):
        fam.variations(MidiClip([Note(0, 60, 1, 90, 0)], beats_per_bar=3), 0.5, 1)


def test_gan_grooves_in_a_style_and_puts_drums_under_a_melody(models):
    fam = load_family(str(models["gan"]))
    assert fam.nll([]) is None
    groove = fam.groove("game", 6, seed=2)
    assert groove.bars == 6
    mel = melody(4)
    under = fam.groove("groove", None, mel, seed=2)
    kept = [n for n in under.notes if n.channel == 0]
    assert kept == mel.notes  # the melody exactly as it was
    assert {n.channel for n in under.notes} <= {0, DRUM_CHANNEL}
    with pytest.raises(ValueError, match="groove, game"):
        fam.groove("polka", 4)


@pytest.mark.parametrize("arch,model", [("vae", "vae"), ("gan", "generator")])
def test_training_resumes_to_the_same_weights(arch, model, pieces, tmp_path):
    _train(arch, pieces, tmp_path / "straight", steps=4)
    _train(arch, pieces, tmp_path / "again", steps=4)
    _train(arch, pieces, tmp_path / "halves", steps=2)
    _train(arch, pieces, tmp_path / "halves", steps=4, resume=True)
    a, again, b = (
        torch.load(tmp_path / run / "checkpoint.pt", weights_only=True)
        for run in ("straight", "again", "halves")
    )
    assert a["step"] == b["step"] == 4
    for k, v in a[f"model.{model}"].items():
        assert torch.equal(v, again[f"model.{model}"][k]), k  # the same seed, the same weights
        assert torch.equal(v, b[f"model.{model}"][k]), k
    history = json.loads((tmp_path / "halves" / "history.json").read_text())
    assert history[-1]["step"] == 4 and "val" in history[-1]


def test_commands_write_midi_and_refuse_bad_input(models, tmp_path, capsys):
    from studio.cli import main

    a, b = tmp_path / "a.mid", tmp_path / "b.mid"
    melody(4).save(a)
    melody(4, shift=5).save(b)
    out = tmp_path / "morph.mid"
    vae, gan = str(models["vae"]), str(models["gan"])
    assert main(["music", "interpolate", str(a), str(b), "--steps", "3", "--model", vae,
                 "-o", str(out)]) == 0  # fmt: skip
    assert MidiClip.load(out).bars == 12
    assert main(["music", "variations", str(a), "--amount", "0.3", "-n", "2", "--model", vae,
                 "-o", str(tmp_path / "v.mid")]) == 0  # fmt: skip
    assert (tmp_path / "v-1.mid").exists() and (tmp_path / "v-2.mid").exists()
    assert main(["music", "groove", "--style", "game", "--bars", "4", "--under", str(a),
                 "--model", gan, "-o", str(tmp_path / "g.mid")]) == 0  # fmt: skip
    assert any(n.channel == DRUM_CHANNEL for n in MidiClip.load(tmp_path / "g.mid").notes)
    capsys.readouterr()
    assert main(["music", "interpolate", str(a), str(b), "--steps", "0", "--model", vae,
                 "-o", str(out)]) == 1  # fmt: skip
    assert "at least 2" in capsys.readouterr().err
    empty = tmp_path / "empty.mid"
    MidiClip([]).save(empty)
    assert main(["music", "variations", str(empty), "--model", vae, "-o", str(out)]) == 1
    assert "has no notes" in capsys.readouterr().err
    assert main(["music", "groove", "--model", str(tmp_path / "gone.safetensors"),
                 "-o", str(out)]) == 1  # fmt: skip
    assert "does not exist" in capsys.readouterr().err
    assert main(["music", "continue", str(a), "--model", gan, "-o", str(out)]) == 1
    assert "no continue mode" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["lstm", "vae", "gan"])
def test_torchrun_ddp_on_two_cpu_processes(arch, pieces, tmp_path):
    import os
    import subprocess
    import sys

    from studio.music.corpus import Corpus, save_corpus

    corpus = save_corpus(Corpus(list(pieces)), tmp_path / "corpus.npz")
    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "studio", "music", "train",
         "--arch", arch, "--preset", "tiny", "--steps", "4", "--corpus", str(corpus),
         "--out", str(tmp_path / "run"), "--device", "cpu", "--name", f"ddp-{arch}"],
        capture_output=True, text=True, timeout=300, env=env,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "step 4/4" in out.stdout
    model = tmp_path / "run" / f"ddp-{arch}.safetensors"
    assert family_of(model) == arch
    # both processes ended with the same weights (the trainer compares them; rank 0 wrote them)
    ranks = json.loads(torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["ranks"])
    assert ranks["world"] == 2 and len(set(ranks["weights_sha256"])) == 1
    if arch == "gan":  # the model it wrote plays: a 4-bar groove with drums
        clip = load_family(str(model)).groove("groove", 4, seed=1)
        assert clip.bars == 4 and any(n.channel == DRUM_CHANNEL for n in clip.notes)
