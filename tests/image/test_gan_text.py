"""Text-conditioned generators: captions files, prompts, seeds, RGBA icons, the shipped one."""

import json

import numpy as np
import pytest
from PIL import Image

from studio.image.gan import (
    generate_prompt_grid,
    load_generator,
    read_captions,
    sample_prompt,
    train_gan,
    with_alpha,
)


@pytest.fixture(scope="module")
def captioned(tmp_path_factory):
    """Eight tiny icons: red squares and blue discs on white, with captions."""
    root = tmp_path_factory.mktemp("icons")
    caps = {}
    yy, xx = np.mgrid[:24, :24]
    for i in range(4):
        pic = np.full((24, 24, 3), 255, np.uint8)
        pic[4 + i : 16 + i, 5:17] = (220, 30, 30)
        Image.fromarray(pic).save(root / f"square{i}.png")
        caps[f"square{i}.png"] = ["red square", "a red box"]
        pic = np.full((24, 24, 3), 255, np.uint8)
        pic[(yy - 12) ** 2 + (xx - 10 - i) ** 2 < 36] = (30, 60, 220)
        Image.fromarray(pic).save(root / f"disc{i}.png")
        caps[f"disc{i}.png"] = "blue circle"
    caps["missing.png"] = "not there"
    (root / "captions.json").write_text(json.dumps(caps))
    return root


@pytest.fixture(scope="module")
def text_model(captioned, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "icons-test.safetensors"
    report = train_gan(captioned, out, size=32, steps=4, batch=8, seed=0)
    assert report.labels == [] and report.skipped == 1  # the picture that is not there, counted
    return out


def test_a_captions_file_trains_a_text_generator(text_model):
    model = load_generator(text_model)
    assert model.text and model.text_dim == 384
    assert "red square" in model.prompts or "blue circle" in model.prompts
    card = text_model.with_name(text_model.name + ".card.toml").read_text()
    assert "text-conditioned" in card


def test_the_prompt_changes_the_picture_and_the_seed_repeats_it(text_model):
    model = load_generator(text_model)
    red = sample_prompt(model, 4, seed=7, prompt="red square")
    blue = sample_prompt(model, 4, seed=7, prompt="blue circle")
    assert red.shape == (4, 3, 32, 32)
    assert np.abs(red - blue).mean() > 1e-3  # same latents, other text: other pictures
    again = generate_prompt_grid(model, 4, seed=7, prompt="red square")
    assert np.array_equal(again, generate_prompt_grid(model, 4, seed=7, prompt="red square"))
    other_seed = generate_prompt_grid(model, 4, seed=8, prompt="red square")
    assert not np.array_equal(again, other_seed)
    walk = sample_prompt(model, 3, seed=1, prompt="red square", to="blue circle")
    assert np.allclose(walk[0], sample_prompt(model, 1, seed=1, prompt="red square")[0], atol=1e-5)


def test_transparent_icons_keep_the_inside_and_drop_the_border_white():
    pic = -np.ones((1, 3, 16, 16), np.float32) * -1  # all white
    pic[0, :, 4:12, 4:12] = -1  # a black square ...
    pic[0, :, 7:9, 7:9] = 1  # ... with a white hole
    rgba = with_alpha(pic)
    assert rgba.shape == (1, 16, 16, 4)
    assert rgba[0, 0, 0, 3] == 0 and rgba[0, 5, 5, 3] == 255 and rgba[0, 7, 7, 3] == 255


def test_cli_draws_a_prompt_grid_with_provenance(text_model, tmp_path, capsys):
    from studio.cli import main
    from studio.image.io import load_picture, read_provenance

    out = tmp_path / "grid.png"
    args = ["image", "generate", "--engine", str(text_model), "--prompt", "red square"]
    assert main([*args, "-n", "3", "--seed", "5", "--transparent", "-o", str(out)]) == 0
    picture = load_picture(out)
    assert picture.has_alpha
    saved = read_provenance(out)
    assert saved["params"]["prompt"] == "red square" and saved["params"]["seed"] == 5
    assert main([*args[:4], "--label", "x", "-o", str(out)]) != 0
    assert "use --prompt" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("captions.json", '{"a.png": "x",', "not valid JSON"),
        ("captions.json", '["a.png"]', "must map each picture"),
        ("captions.json", '{"a.png": 3}', "needs a caption"),
        ("captions.txt", "a.png red\n", "FILE<TAB>CAPTION"),
        ("captions.txt", "", "no captions"),
    ],
)
def test_a_bad_captions_file_says_what_is_wrong(tmp_path, name, text, says):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=says):
        read_captions(path)


def test_a_corrupt_captions_file_is_one_studio_message(captioned, tmp_path, capsys):
    from studio.cli import main

    bad = tmp_path / "captions.json"
    bad.write_bytes(b"\xff\xfe{not json")
    args = ["image", "train-gan", str(captioned), "--captions", str(bad), "--steps", "1"]
    assert main([*args, "-o", str(tmp_path / "g.safetensors")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("studio:") and "captions file" in err and "Traceback" not in err


def test_the_shipped_icon_generator_draws_64px_rgba_icons():
    from studio.image.gan import shipped_icons_model

    try:
        path = shipped_icons_model()
    except ValueError:
        pytest.skip("no icon generator shipped in this checkout")
    model = load_generator(path)
    assert model.text and model.size == 64
    icons = with_alpha(sample_prompt(model, 2, seed=0, prompt="sword"))
    assert icons.shape == (2, 64, 64, 4) and icons.dtype == np.uint8
    assert (icons[..., 3] == 0).any() and (icons[..., 3] == 255).any()


def test_eval_scores_a_text_generator_on_captioned_held_out_icons(captioned, text_model, tmp_path):
    from studio.image.gan_eval import evaluate_generators

    held = tmp_path / "heldout"
    held.mkdir()
    caps = {}
    for name in ("square0.png", "disc1.png", "square3.png"):
        (held / name).write_bytes((captioned / name).read_bytes())
        group = "squares" if name.startswith("square") else "discs"
        caps[name] = {"captions": ["red square" if group == "squares" else "blue circle"],
                      "group": group}  # fmt: skip
    (held / "captions.json").write_text(json.dumps(caps))
    result = evaluate_generators([text_model], captioned, held)
    row = result["models"][str(text_model)]
    assert result["n_heldout"] == 3 and row["arch"] == "modern (text)"
    assert row["fid_lite0"] > 0 and 0 <= row["copies"] <= 1
    assert row["prompt_accuracy"] is None  # no tagger given


def test_eval_judges_prompts_by_their_short_and_their_longest_caption(captioned, text_model,
                                                                     tmp_path):  # fmt: skip
    from studio.core.resources import resource_path
    from studio.image.gan_eval import evaluate_generators

    held = tmp_path / "heldout"
    held.mkdir()
    caps = {}
    for name, group in (("square0.png", "symbols"), ("disc1.png", "flags"), ("square3.png", "?")):
        (held / name).write_bytes((captioned / name).read_bytes())
        caps[name] = {"captions": ["thing", f"thing emoji, {group}"], "group": group}
    (held / "captions.json").write_text(json.dumps(caps))
    tagger = resource_path("models", "image", "openmoji-tagger.safetensors")
    result = evaluate_generators([text_model], captioned, held, tagger=tagger, inception=False)
    row, ref = result["models"][str(text_model)], result["reference"]
    assert ref["prompt_judged"] == 2  # the group the tagger does not know is left out
    for key in ("prompt_accuracy", "prompt_accuracy_shuffled", "prompt_accuracy_full_caption",
                "prompt_accuracy_full_caption_shuffled"):  # fmt: skip
        assert row[key] in (0.0, 0.5, 1.0), key  # a share of the two judged icons


def test_a_sprite_sheet_and_its_atlas_give_back_each_icon(text_model, tmp_path, capsys):
    # what a game engine does with the pair: read the atlas, cut each frame out of the sheet
    from studio.cli import main

    out = tmp_path / "sheet.png"
    args = ["image", "generate", "--engine", str(text_model), "--prompt", "Red square!"]
    assert main([*args, "-n", "5", "--seed", "2", "--transparent", "--sheet", "-o", str(out)]) == 0
    atlas = json.loads(out.with_suffix(".json").read_text())
    image = out.parent / atlas["meta"]["image"]
    sheet = np.asarray(Image.open(image))
    assert image == out and sheet.shape == (64, 96, 4)  # 5 icons of 32 px, 3 to a row
    assert atlas["meta"]["size"] == {"w": 96, "h": 64}
    assert list(atlas["frames"]) == [f"red-square-{i:02d}" for i in range(5)]
    icons = with_alpha(sample_prompt(load_generator(text_model), 5, 2, "Red square!"))
    for icon, frame in zip(icons, atlas["frames"].values(), strict=True):
        r = frame["frame"]
        assert np.array_equal(sheet[r["y"] : r["y"] + r["h"], r["x"] : r["x"] + r["w"]], icon)
    assert (sheet[32:, 64:, 3] == 0).all()  # the empty sixth cell is transparent
    assert atlas["meta"]["studio"]["params"]["seed"] == 2
    assert main([*args, "--sheet", "-o", str(tmp_path / "sheet.jpg")]) != 0
    assert "a sprite sheet is a .png or .webp" in capsys.readouterr().err
