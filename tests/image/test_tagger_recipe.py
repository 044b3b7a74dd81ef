"""The transfer tagger's recipe: extra views of the training pictures, colour layout, a head chosen
on validation, the mirror image asked at tagging time, and the card's per-label figures."""

import tomllib

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from studio.image.tagger import (
    _colour_features,
    _view,
    load_tagger,
    tag_files,
    train_tagger,
)
from tests.image.labelled_pictures import labelled_folder

COLOURS = {"red-left": (220, 30, 30), "blue-left": (30, 60, 220), "red-right": (220, 30, 30)}


def _picture(label: str, rng, size: int = 40) -> Image.Image:
    """A disc on the left or the right half: a label that mirroring would change."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    r = int(rng.integers(6, 9))
    cx = (
        int(rng.integers(r + 1, size // 2 - 2))
        if "left" in label
        else int(rng.integers(size // 2 + 2, size - r - 1))
    )
    cy = int(rng.integers(r + 1, size - r - 1))
    ImageDraw.Draw(img).ellipse([cx - r, cy - r, cx + r, cy + r], fill=COLOURS[label])
    return img


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = labelled_folder(tmp_path_factory.mktemp("discs"), COLOURS, 12, _picture, seed=3)
    out = tmp_path_factory.mktemp("model") / "discs.safetensors"
    report = train_tagger(root, out, size=32, models=("transfer",), seed=0)
    return report, out, root


def test_the_views_keep_the_picture_white_around_and_are_the_same_every_time():
    x = torch.ones(4, 3, 32, 32)
    x[:, :, 12:20, 4:12] = 0.0  # a black square on the left
    zoomed = _view(x, "zoom", 0)
    assert torch.equal(zoomed, _view(x, "zoom", 0))  # cached views must not change
    assert not torch.equal(zoomed, _view(x, "zoom", 64))
    assert zoomed[:, :, 0, :].min() > 0.99 and zoomed[:, :, -1, :].min() > 0.99  # white edges
    mirrored = _view(x, "mirror", 0)
    assert mirrored[:, :, 12:20, 20:28].max() < 0.01  # the square is on the right now


def test_colour_features_tell_a_red_flag_from_a_blue_one():
    red, blue = torch.ones(1, 3, 32, 32), torch.ones(1, 3, 32, 32)
    red[:, 1:, :16] = 0.1  # red top half
    blue[:, :2, 16:] = 0.1  # blue bottom half
    f = _colour_features(torch.cat([red, blue, torch.ones(1, 3, 32, 32)]))
    assert f.shape == (3, 113)
    assert not torch.allclose(f[0], f[1])
    assert abs(float(f[0, -1]) - 0.5) < 0.01 and float(f[2, -1]) == 0.0  # the share of ink
    assert float(f[0, 48:112].sum()) == pytest.approx(1.0)  # a histogram of the ink's colours


def test_the_recipe_is_saved_and_the_card_has_per_label_figures(trained):
    report, out, _root = trained
    m = report.models["transfer"]
    assert m["views"] == ["plain", "mirror", "zoom", "mirror+zoom"]
    assert m["head"] in ("linear", "mlp")
    card = tomllib.loads(out.with_name(out.name + ".card.toml").read_text())
    metrics = card["metrics"]
    assert list(metrics["heldout_per_label"]) == sorted(COLOURS)
    assert all("precision" in v and "recall" in v for v in metrics["heldout_per_label"].values())
    rows = [[int(v) for v in row.split()] for row in metrics["heldout_confusion"].values()]
    assert np.asarray(rows).shape == (3, 3) and np.asarray(rows).sum() == report.n_test


def test_a_tagger_asks_the_mirror_image_too(trained, tmp_path):
    """With test-time mirroring a picture and its mirror image get the same tags, so the
    left/right labels that only mirroring tells apart cannot be learnt, but colour still is."""
    _report, out, _root = trained
    tagger = load_tagger(out)
    rng = np.random.default_rng(8)
    pic = _picture("blue-left", rng)
    pic.save(tmp_path / "a.png")
    pic.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / "b.png")
    a, b = tag_files(tagger, [tmp_path / "a.png", tmp_path / "b.png"], top=3)
    assert [t["label"] for t in a["tags"]] == [t["label"] for t in b["tags"]]
    for ta, tb in zip(a["tags"], b["tags"], strict=True):
        assert ta["confidence"] == pytest.approx(tb["confidence"], abs=2e-3)
    assert a["tags"][0]["label"] == "blue-left"


def test_a_tagger_of_the_older_format_still_loads(tmp_path):
    """A linear head on 2,024 mean-pooled numbers, no recipe metadata: the first shipped tagger."""
    from safetensors.torch import save_file

    labels = ["a", "b"]
    state = {
        "head.weight": torch.zeros(2, 2024),
        "head.bias": torch.tensor([0.0, 1.0]),
        "mu": torch.zeros(2024),
        "sigma": torch.ones(2024),
    }
    meta = {"studio_kind": "tagger", "arch": "transfer", "labels": '["a", "b"]', "size": "32"}
    save_file(state, str(tmp_path / "old.safetensors"), metadata={**meta, "format": "1"})
    tagger = load_tagger(tmp_path / "old.safetensors")
    probs = tagger.predict(np.ones((1, 3, 32, 32), np.float32))
    assert tagger.labels == labels and probs[0].argmax() == 1


def test_fine_tuning_tunes_all_of_lite0_and_the_saved_tagger_reproduces_its_score(
    trained, tmp_path, monkeypatch
):
    import studio.image.tagger as tagger_module
    from studio.image.tagger import load_labelled_folder, stratified_split

    *_, root = trained
    real, tune, calls = tagger_module._accuracy, tagger_module._fine_tune, []

    def tune_keeping_every_epoch(*args, **kwargs):  # each epoch "beats" the last one
        monkeypatch.setattr(
            tagger_module, "_accuracy", lambda p, t: float(len(calls.append(1) or calls))
        )
        try:
            return tune(*args, **kwargs)
        finally:
            monkeypatch.setattr(tagger_module, "_accuracy", real)

    monkeypatch.setattr(tagger_module, "_fine_tune", tune_keeping_every_epoch)
    out = tmp_path / "tuned.safetensors"
    report = train_tagger(root, out, size=32, models=("transfer",), seed=0, fine_tune=2)
    m = report.models["transfer"]
    assert m["fine_tune_epochs"] == 2 and "fine-tuning" in m["title"]
    data = load_labelled_folder(root, 32)
    _, test = stratified_split(data.targets, 0.2, 0)
    tagger = load_tagger(out)
    probs = tagger.predict(data.pixels[test])
    assert float((probs.argmax(1) == data.targets[test]).mean()) == pytest.approx(m["accuracy"])
    from studio.image._lite0 import load_lite0

    wheel = load_lite0()
    tuned = tagger.net.backbone
    for part in ("stem.0", "blocks.3.body.0", "blocks.15.body.0", "head.0"):  # first to last
        assert not torch.equal(
            tuned.get_parameter(f"{part}.weight"), wheel.get_parameter(f"{part}.weight")
        ), part
    assert torch.equal(tuned.blocks[3].body[1].running_mean, wheel.blocks[3].body[1].running_mean)
