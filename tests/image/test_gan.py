"""Class-conditional GANs on tiny pictures made here: a few steps, shapes, determinism, resume."""

import json
import tomllib

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.image.gan import diff_augment, load_generator, sample, train_gan
from studio.image.io import load_picture, read_provenance
from tests.image.labelled_pictures import sprites


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return sprites(tmp_path_factory.mktemp("sprites"), 6, broken=True)


@pytest.mark.parametrize("arch", ["dcgan", "modern"])
def test_train_then_generate_a_grid(pictures, tmp_path, arch, capsys):
    out = tmp_path / f"{arch}.safetensors"
    args = [
        "image",
        "train-gan",
        str(pictures),
        "-o",
        str(out),
        "--arch",
        arch,
        "--steps",
        "3",
        "--batch",
        "8",
        "--json",
    ]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["steps"] == 3 and report["labels"] == ["fire", "water"]
    assert report["skipped"] == 1  # the broken file, counted
    card = tomllib.loads((tmp_path / f"{arch}.safetensors.card.toml").read_text())
    assert card["kind"] == "image-gan" and card["metrics"]["steps"] == 3
    assert load_picture(tmp_path / f"{arch}.samples.png").size[0] > 32
    grid = tmp_path / "grid.png"
    gen_args = [
        "image",
        "generate",
        "--engine",
        str(out),
        "--label",
        "water",
        "-n",
        "6",
        "--seed",
        "5",
        "-o",
        str(grid),
    ]
    assert main(gen_args) == 0
    picture = load_picture(grid)
    assert picture.size == (6 * 34 + 2, 34 + 2)  # 6 pictures of 32 px with 2 px gutters
    assert read_provenance(grid)["params"]["seed"] == 5


def test_same_seed_same_pictures_and_labels_matter(pictures, tmp_path):
    train_gan(pictures, tmp_path / "g.safetensors", steps=2, batch=8, arch="modern")
    model = load_generator(tmp_path / "g.safetensors")
    a, classes = sample(model, 4, seed=7, label="fire")
    b, _ = sample(model, 4, seed=7, label="fire")
    c, _ = sample(model, 4, seed=8, label="fire")
    d, _ = sample(model, 4, seed=7, label="water")
    assert a.shape == (4, 3, 32, 32) and classes == [0, 0, 0, 0]
    assert np.array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, d)
    assert a.min() >= -1 and a.max() <= 1
    with pytest.raises(ValueError, match="no class 'earth'"):
        sample(model, 1, seed=0, label="earth")


def test_resume_continues_from_the_checkpoint(pictures, tmp_path):
    out = tmp_path / "r.safetensors"
    first = train_gan(pictures, out, steps=2, batch=8, arch="dcgan", seed=3)
    assert first.resumed_from == 0 and (tmp_path / "r.safetensors.ckpt").is_file()
    second = train_gan(pictures, out, steps=5, batch=8, arch="dcgan", seed=3)
    assert second.resumed_from == 2 and second.steps == 5
    with pytest.raises(ValueError, match="arch 'dcgan'"):
        train_gan(pictures, out, steps=6, batch=8, arch="modern")
    fresh = train_gan(pictures, out, steps=1, batch=8, arch="modern", resume=False)
    assert fresh.resumed_from == 0


def test_a_plain_folder_is_one_class_and_too_few_pictures_is_an_error(tmp_path):
    for i in range(3):
        Image.new("RGB", (20, 30), (i * 80, 0, 0)).save(tmp_path / f"{i}.png")
    report = train_gan(tmp_path, tmp_path / "out" / "one.safetensors", steps=1, batch=4, size=64)
    assert report.labels == ["all"]
    assert load_generator(tmp_path / "out" / "one.safetensors").size == 64
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    Image.new("RGB", (8, 8)).save(lonely / "x.png")
    with pytest.raises(ValueError, match="at least 2 readable pictures"):
        train_gan(lonely, tmp_path / "l.safetensors", steps=1)


def test_a_tagger_file_is_not_a_generator(tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file(
        {"w": torch.zeros(1)}, str(tmp_path / "t.safetensors"), metadata={"studio_kind": "tagger"}
    )
    with pytest.raises(ValueError, match="not a Studio generator"):
        load_generator(tmp_path / "t.safetensors")


def test_diff_augment_keeps_shape_and_passes_gradients():
    import torch

    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    y = diff_augment(x)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_eval_gan_scores_an_untrained_generator_worse_than_real_pictures(
    pictures, tmp_path, capsys
):
    import shutil

    train, held = tmp_path / "train", tmp_path / "held"
    for label in ("fire", "water"):
        files = sorted((pictures / label).glob("[0-9].png"))
        (train / label).mkdir(parents=True)
        (held / label).mkdir(parents=True)
        for f in files[:4]:
            shutil.copy(f, train / label / f.name)
        for f in files[4:]:
            shutil.copy(f, held / label / f.name)
    out = tmp_path / "g.safetensors"
    train_gan(train, out, steps=1, batch=4)
    args = ["image", "eval-gan", str(out), "--train", str(train), "--heldout", str(held), "--json"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    ref, [scores] = result["reference"], result["models"].values()
    assert result["n_heldout"] == 4
    # one step of training draws noise: far from the held-out pictures, unlike the training ones
    assert scores["fid_lite0"] > ref["fid_lite0"] >= 0
    assert scores["kid_lite0"] > ref["kid_lite0"]
    assert scores["prompt_accuracy"] is None  # no tagger given
    assert 0 <= scores["copies"] <= 1 and scores["nn_ratio"] > 0
