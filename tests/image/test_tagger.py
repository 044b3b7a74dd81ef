"""The tagger: trained on tiny synthetic labelled pictures made here (coloured shapes)."""

import json
import tomllib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.cli import main
from studio.core.models import sha256_file
from studio.image.tagger import load_labelled_folder, load_tagger, stratified_split, tag_files
from tests.image.labelled_pictures import labelled_folder

SHAPES = {"red-disc": (220, 30, 30), "blue-square": (30, 60, 220), "green-bar": (30, 170, 60)}


def _draw(label: str, rng, size: int = 40) -> Image.Image:
    img = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(img)
    r = int(rng.integers(7, 13))
    cx, cy = (int(v) for v in rng.integers(r + 1, size - r - 1, 2))
    colour = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in SHAPES[label])
    if label == "red-disc":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif label == "blue-square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    else:
        d.rectangle([cx - r, cy - 3, cx + r, cy + 3], fill=colour)
    return img


@pytest.fixture(scope="module")
def shapes_dir(tmp_path_factory):
    return labelled_folder(tmp_path_factory.mktemp("shapes"), SHAPES, 15, _draw, seed=1)


@pytest.fixture(scope="module")
def trained(shapes_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "shapes.safetensors"
    args = [
        "image",
        "train-tagger",
        str(shapes_dir),
        "-o",
        str(out),
        "--size",
        "32",
        "--epochs",
        "25",
        "--json",
    ]
    return args, out


def test_train_tagger_compares_both_models_and_saves_a_carded_file(trained, capsys):
    args, out = trained
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["models"]) == {"transfer", "scratch"}
    assert report["n_test"] == 9  # a stratified 20%: 3 of 15 per label
    for m in report["models"].values():
        assert 0.0 <= m["accuracy"] <= 1.0
        assert len(m["precision"]) == len(m["recall"]) == 3
        assert np.asarray(m["confusion"]).sum() == 9
    # coloured shapes are easy: ImageNet features separate them
    assert report["models"]["transfer"]["accuracy"] >= 0.85
    assert out.is_file() and out.with_suffix(".confusion.png").is_file()
    card = tomllib.loads((out.parent / (out.name + ".card.toml")).read_text())
    assert card["sha256"] == sha256_file(out) and card["kind"] == "tagger"
    assert "train-tagger" in card["command"]
    assert "transfer_heldout_accuracy" in card["metrics"]


def test_tag_prints_the_right_label_first(trained, tmp_path, capsys):
    args, out = trained
    if not out.exists():
        main(args)
    capsys.readouterr()
    rng = np.random.default_rng(99)
    files = []
    for label in SHAPES:
        path = tmp_path / f"new-{label}.png"
        _draw(label, rng).save(path)
        files.append(path)
    assert main(["image", "tag", *map(str, files), "--model", str(out), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    firsts = [r["tags"][0]["label"] for r in results]
    assert sum(f == label for f, label in zip(firsts, SHAPES, strict=True)) >= 2
    for r in results:
        confidences = [t["confidence"] for t in r["tags"]]
        assert confidences == sorted(confidences, reverse=True) and 0 < confidences[0] <= 1


def test_scratch_cnn_learns_colours(shapes_dir, tmp_path):
    from studio.image.tagger import train_tagger

    report = train_tagger(
        shapes_dir, tmp_path / "s.safetensors", size=32, epochs=25, models=("scratch",)
    )
    assert report.chosen == "scratch"
    assert report.models["scratch"]["accuracy"] >= 0.6
    tagger = load_tagger(tmp_path / "s.safetensors")
    assert tagger.arch == "scratch" and tagger.labels == sorted(SHAPES)


def test_stratified_split_holds_out_a_fifth_of_every_label():
    targets = np.repeat([0, 1, 2], [50, 10, 2])
    kept, held = stratified_split(targets, 0.2, seed=3)
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(62))
    assert [int((targets[held] == k).sum()) for k in range(3)] == [10, 2, 1]


def test_odd_and_broken_files_are_read_or_skipped_and_counted(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(a / "cmyk.jpg")
    Image.fromarray(np.full((16, 16), 40000, np.uint16)).save(a / "deep.png")
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(b / "clear.png")
    frames = [Image.new("P", (12, 12), i) for i in range(3)]
    frames[0].save(b / "anim.gif", save_all=True, append_images=frames[1:])
    (b / "broken.png").write_bytes(b"\x89PNG not really")
    data = load_labelled_folder(tmp_path, 24)
    assert data.pixels.shape == (4, 3, 24, 24) and data.labels == ["a", "b"]
    assert len(data.skipped) == 1 and "broken.png" in data.skipped[0][1]
    clear = data.files.index(str(b / "clear.png"))
    assert data.pixels[clear].min() == 1.0  # transparent flattened on white


def test_one_label_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "only").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "only" / "x.png")
    assert (
        main(["image", "train-tagger", str(tmp_path), "-o", str(tmp_path / "m.safetensors")]) == 1
    )
    assert "at least two labels" in capsys.readouterr().err


def test_a_file_that_is_not_a_tagger_is_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    save_file(
        {"w": torch.zeros(2)}, str(tmp_path / "g.safetensors"), metadata={"studio_kind": "gan"}
    )
    with pytest.raises(ValueError, match="not a Studio tagger"):
        load_tagger(tmp_path / "g.safetensors")


def test_tag_reports_an_unreadable_file(trained, tmp_path):
    args, out = trained
    if not out.exists():
        main(args)
    (tmp_path / "bad.png").write_bytes(b"nope")
    [result] = tag_files(load_tagger(out), [tmp_path / "bad.png"])
    assert "cannot read" in result["error"]


def test_the_shipped_openmoji_tagger_matches_its_card_and_tags():
    from studio.core.resources import resource_path

    path = resource_path("models", "image", "openmoji-tagger.safetensors")
    card = tomllib.loads(path.with_name(path.name + ".card.toml").read_text())
    assert sha256_file(path) == card["sha256"]
    assert "CC BY-SA 4.0" in card["licence"] and card["metrics"]["heldout_accuracy"] > 0.6
    tagger = load_tagger(path)
    assert len(tagger.labels) == 12 and "flags" in tagger.labels
    probs = tagger.predict(np.ones((2, 3, tagger.size, tagger.size), np.float32))
    assert probs.shape == (2, 12) and np.allclose(probs.sum(1), 1, atol=1e-4)
