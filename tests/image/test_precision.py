"""Mixed precision (``--precision``) for the GAN and the tagger: bfloat16 on the CPU trains and
samples, ``auto`` on the CPU is float32 bit for bit, fp16 without CUDA is refused in words, and on
a CUDA machine fp16 training goes through the gradient scaler."""

import json
import math
import tomllib

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from studio.cli import main
from studio.image._precision import resolve_precision
from studio.image.gan import load_generator, sample, sample_prompt, train_gan
from studio.image.tagger import load_tagger, train_tagger
from tests.image.labelled_pictures import sprites


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return sprites(tmp_path_factory.mktemp("sprites"), 6)


def _card(model):
    return tomllib.loads(model.with_name(model.name + ".card.toml").read_text())


@pytest.mark.parametrize("arch", ["dcgan", "modern"])
def test_bf16_on_the_cpu_trains_a_generator_that_loads_and_samples_float32(
    pictures, tmp_path, arch
):
    out = tmp_path / "g.safetensors"
    report = train_gan(pictures, out, steps=3, batch=8, arch=arch, seed=0, precision="bf16")
    assert report.steps == 3
    assert math.isfinite(report.d_loss) and math.isfinite(report.g_loss)
    assert _card(out)["precision"] == "bf16"
    weights = load_file(str(out))
    assert {w.dtype for w in weights.values()} == {torch.float32}  # stored float32
    ckpt = torch.load(out.with_name(out.name + ".ckpt"), weights_only=True)
    assert ckpt["precision"] == "bf16" and "scaler" not in ckpt  # bfloat16 needs no scaler
    if arch == "modern":  # spectral norm's power-iteration vectors stayed float32
        us = [v for k, v in ckpt["disc"].items() if k.endswith("weight_u")]
        assert us and all(u.dtype == torch.float32 and torch.isfinite(u).all() for u in us)
    model = load_generator(out)
    for precision in ("bf16", "auto"):
        images, classes = sample(model, 4, seed=1, precision=precision)
        assert images.dtype == np.float32 and images.shape == (4, 3, 32, 32)
        assert np.isfinite(images).all() and classes == [0, 1, 0, 1]
    # and it resumes, in another precision, from that checkpoint
    more = train_gan(pictures, out, steps=4, batch=8, arch=arch, seed=0, precision="fp32")
    assert more.resumed_from == 3 and more.steps == 4 and _card(out)["precision"] == "fp32"


def test_auto_on_the_cpu_gives_exactly_the_weights_of_fp32(pictures, tmp_path):
    files = {}
    for precision in ("auto", "fp32"):
        files[precision] = tmp_path / f"{precision}.safetensors"
        train_gan(
            pictures, files[precision], steps=2, batch=8, arch="modern", seed=5,
            precision=precision,
        )  # fmt: skip
    auto, fp32 = load_file(str(files["auto"])), load_file(str(files["fp32"]))
    assert auto.keys() == fp32.keys()
    assert all(torch.equal(auto[k], fp32[k]) for k in auto)
    assert _card(files["auto"])["precision"] == "fp32"  # auto on the CPU is float32


def test_a_text_generator_trains_and_samples_in_bf16(tmp_path):
    root = tmp_path / "icons"
    root.mkdir()
    caps = {}
    for i in range(4):
        pic = np.full((24, 24, 3), 255, np.uint8)
        pic[4 + i : 16 + i, 5:17] = (220, 30, 30) if i % 2 else (30, 60, 220)
        Image.fromarray(pic).save(root / f"{i}.png")
        caps[f"{i}.png"] = "red square" if i % 2 else "blue square"
    (root / "captions.json").write_text(json.dumps(caps))
    out = tmp_path / "t.safetensors"
    report = train_gan(root, out, size=32, steps=3, batch=8, seed=0, precision="bf16")
    assert math.isfinite(report.d_loss) and math.isfinite(report.g_loss)
    images = sample_prompt(load_generator(out), 3, 2, "red square", precision="bf16")
    assert images.dtype == np.float32 and np.isfinite(images).all()


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a CUDA machine fp16 is allowed")
@pytest.mark.parametrize("command", ["train-gan", "train-tagger"])
def test_fp16_on_the_cpu_is_refused_in_one_line(pictures, tmp_path, capsys, command):
    out = tmp_path / "m.safetensors"
    extra = ["--steps", "1"] if command == "train-gan" else ["--epochs", "1"]
    code = main(["image", command, str(pictures), "-o", str(out), "--precision", "fp16", *extra])
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(said) == 1, err
    assert said[0].startswith("studio: fp16 needs a CUDA GPU")
    assert "Traceback" not in err and not out.exists()


def test_the_precision_names(tmp_path):
    assert resolve_precision("auto", "cpu").name == "fp32"
    assert resolve_precision("auto", "cuda:1").name == "fp16"
    assert resolve_precision("bf16", "cpu").scaler() is None
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        resolve_precision("half", "cpu")


def test_a_tagger_cnn_trains_in_bf16_and_predicts(pictures, tmp_path):
    out = tmp_path / "tagger.safetensors"
    report = train_tagger(
        pictures, out, size=16, epochs=2, models=("scratch",), seed=0, precision="bf16"
    )
    m = report.models["scratch"]
    assert report.precision == "bf16" and 0.0 <= m["accuracy"] <= 1.0
    assert m["train_images_per_s"] > 0
    assert _card(out)["precision"] == "bf16"
    tagger = load_tagger(out, precision="bf16")
    pixels = np.random.default_rng(0).random((3, 3, 16, 16), dtype=np.float32)
    probs = tagger.predict(pixels)
    assert probs.dtype == np.float32 and probs.shape == (3, 2)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-3)


@pytest.fixture
def fp16_on_the_cpu(monkeypatch):
    """The fp16 path (float16 autocast and a gradient scaler), as CUDA runs it, on the CPU's
    float16 autocast: the scaler's calls are counted (its scale before each update)."""
    import studio.image._precision as precision_module

    real_resolve, updates = precision_module.resolve_precision, []

    def resolve(name, device):
        if name == "fp16":
            return precision_module.Precision("fp16", "cpu")
        return real_resolve(name, device)

    real_update = torch.amp.GradScaler.update

    def counting(self, *args, **kwargs):
        updates.append(self.get_scale())
        return real_update(self, *args, **kwargs)

    monkeypatch.setattr(precision_module, "resolve_precision", resolve)
    monkeypatch.setattr(torch.amp.GradScaler, "update", counting)
    return updates


def test_the_gradient_scaler_steps_both_networks_and_resumes_with_its_scale(
    pictures, tmp_path, fp16_on_the_cpu
):
    out = tmp_path / "g.safetensors"
    report = train_gan(pictures, out, steps=3, batch=8, arch="modern", precision="fp16")
    assert len(fp16_on_the_cpu) == 3  # one update a step, after both optimisers stepped
    assert math.isfinite(report.d_loss) and math.isfinite(report.g_loss)
    ckpt_path = out.with_name(out.name + ".ckpt")
    ckpt = torch.load(ckpt_path, weights_only=True)
    assert ckpt["precision"] == "fp16" and ckpt["scaler"]["scale"] > 0
    assert all(v.dtype == torch.float32 for v in ckpt["gen"].values() if v.is_floating_point())
    ckpt["scaler"]["scale"] = 1234.0  # what a long run's scaler would have come to
    torch.save(ckpt, ckpt_path)
    fp16_on_the_cpu.clear()
    more = train_gan(pictures, out, steps=4, batch=8, arch="modern", precision="fp16")
    assert more.resumed_from == 3 and fp16_on_the_cpu == [1234.0]  # restored, not reset


def test_the_tagger_cnn_trains_through_the_gradient_scaler(pictures, tmp_path, fp16_on_the_cpu):
    out = tmp_path / "tagger.safetensors"
    report = train_tagger(
        pictures, out, size=16, epochs=2, models=("scratch",), seed=0, precision="fp16"
    )
    assert report.precision == "fp16" and len(fp16_on_the_cpu) >= 2  # a batch an epoch at least
    probs = load_tagger(out).predict(np.zeros((1, 3, 16, 16), np.float32))
    assert np.isfinite(probs).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fp16_on_cuda_goes_through_the_gradient_scaler(pictures, tmp_path, monkeypatch):
    updates = []
    real = torch.amp.GradScaler.update

    def counting(self, *args, **kwargs):
        updates.append(self.get_scale())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.amp.GradScaler, "update", counting)
    out = tmp_path / "g.safetensors"
    report = train_gan(
        pictures, out, steps=3, batch=8, arch="modern", device="cuda", precision="fp16"
    )
    assert len(updates) == 3  # once a step, after both optimisers
    assert math.isfinite(report.d_loss) and math.isfinite(report.g_loss)
    ckpt = torch.load(out.with_name(out.name + ".ckpt"), weights_only=True)
    assert ckpt["precision"] == "fp16" and ckpt["scaler"]["scale"] > 0
    assert all(v.dtype == torch.float32 for v in load_file(str(out)).values())
    model = load_generator(out, "cuda")
    images, _ = sample(model, 4, seed=0)
    assert images.dtype == np.float32 and np.isfinite(images).all()
