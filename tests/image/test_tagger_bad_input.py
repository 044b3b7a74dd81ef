"""`studio image train-tagger` on bad input (issue 16): odd and broken pictures, too few pictures
or labels, a huge folder, a kill -9 while the model is saved, and files from other models."""

import subprocess
import sys
import textwrap

import torch
from PIL import Image

from studio.cli import main
from studio.image import folder as folder_mod
from studio.image.tagger import load_labelled_folder, load_tagger
from tests.image.odd_pictures import BROKEN, READABLE, make_odd_pictures

MUSIC_MODEL = "models/music/studio-music-lstm.safetensors"
FAST = ["--models", "scratch", "--epochs", "2", "--size", "16"]


def _said(err: str) -> str:
    """The one ``studio:`` line of an error (progress lines may come before it)."""
    lines = [line for line in err.splitlines() if line.startswith("studio:")]
    assert len(lines) == 1, err
    return lines[0]


def _labelled(root, counts):
    for label, n in counts:
        (root / label).mkdir(parents=True)
        colour = (220, 30, 30) if len(label) % 2 else (30, 60, 220)
        for i in range(n):
            Image.new("RGB", (12, 10 + i % 5), colour).save(root / label / f"{i}.png")
    return root


def test_odd_pictures_are_read_and_broken_ones_skipped_and_counted(tmp_path, capsys, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", None)  # as after Studio opened a picture
    root = _labelled(tmp_path / "set", [("plain", 4)])
    make_odd_pictures(root / "odd")
    data = load_labelled_folder(root, 16)
    assert data.labels == ["odd", "plain"] and len(data.files) == len(READABLE) + 4
    assert sorted(s[0].rsplit("/", 1)[1] for s in data.skipped) == sorted(BROKEN)
    out = tmp_path / "m.safetensors"
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "4 unreadable skipped" in printed
    assert "huge.png is 15780x15780 (249 megapixels)" in printed  # refused from its header
    assert "cannot read empty.png" in printed and "cannot read truncated.png" in printed
    assert load_tagger(out).labels == ["odd", "plain"]
    # tagging the same files: a label for each readable one, the reason for each broken one
    odd = sorted((root / "odd").iterdir())
    assert main(["image", "tag", *map(str, odd), "--model", str(out)]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    for file in odd:
        said = lines[str(file)]
        if file.name in BROKEN:
            assert said.startswith(("cannot read", "huge.png is 15780x15780")), said
        else:
            assert said.split()[0] in ("odd", "plain"), said


def test_three_pictures_train_or_say_why_not(tmp_path, capsys):
    root = _labelled(tmp_path / "three", [("a", 2), ("bb", 1)])
    out = tmp_path / "m.safetensors"
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 0
    assert "2 labels, 2 training, 0 validation, 1 held-out pictures" in capsys.readouterr().out
    assert load_tagger(out).labels == ["a", "bb"]
    solo = _labelled(tmp_path / "solo", [("a", 1), ("bb", 1), ("ccc", 1)])
    assert main(["image", "train-tagger", str(solo), "-o", str(out), *FAST]) == 1
    assert "too few pictures to hold any out (each label needs two)" in _said(
        capsys.readouterr().err
    )


def test_one_label_or_no_subfolders_is_refused_before_decoding_anything(tmp_path, capsys, decoded):
    one = _labelled(tmp_path / "one", [("cats", 30)])
    out = tmp_path / "m.safetensors"
    assert main(["image", "train-tagger", str(one), "-o", str(out), *FAST]) == 1
    assert "at least two labels; found one (cats)" in _said(capsys.readouterr().err)
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        Image.new("RGB", (8, 8)).save(flat / f"{i}.png")
    assert main(["image", "train-tagger", str(flat), "-o", str(out), *FAST]) == 1
    assert "one subfolder per label" in _said(capsys.readouterr().err)
    assert decoded == [] and not out.exists()


def test_a_label_with_only_broken_pictures_is_left_out_and_said(tmp_path, capsys):
    root = _labelled(tmp_path / "set", [("a", 3), ("bb", 3)])
    (root / "junk").mkdir()
    (root / "junk" / "x.png").write_bytes(b"")
    out = tmp_path / "m.safetensors"
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "2 labels" in printed and "left out junk: no readable picture" in printed
    assert load_tagger(out).labels == ["a", "bb"]


def test_a_huge_folder_is_sampled_with_every_label_and_said(tmp_path, capsys, monkeypatch, decoded):
    root = _labelled(tmp_path / "set", [("a", 40), ("bb", 40), ("ccc", 10)])
    monkeypatch.setattr(folder_mod, "MAX_PICTURES", 45)  # the rule for 10,000, smaller
    out = tmp_path / "m.safetensors"
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 0
    printed = capsys.readouterr().out
    assert "read a random 45 of the 90 pictures" in printed
    assert len(decoded) == 45
    assert sorted({p.parent.name for p in decoded}) == ["a", "bb", "ccc"]
    monkeypatch.setattr(folder_mod, "MAX_FILES", 80)
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 1
    assert "more than 80 pictures" in _said(capsys.readouterr().err)


KILLED_SAVE = """
import os, signal, sys
import safetensors.torch
from studio.image.tagger import train_tagger

def torn(tensors, filename, metadata=None):  # half the file, then kill -9
    with open(filename, "wb") as fh:
        fh.write(b"\\x00" * 1000)
        fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)

safetensors.torch.save_file = torn
train_tagger(sys.argv[1], sys.argv[2], size=16, epochs=1, models=("scratch",))
"""


def test_a_kill_while_saving_leaves_the_previous_tagger_whole(tmp_path):
    root = _labelled(tmp_path / "set", [("a", 4), ("bb", 4)])
    out = tmp_path / "m.safetensors"
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 0
    before = out.read_bytes(), (tmp_path / "m.safetensors.card.toml").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_SAVE), str(root), str(out)],
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    assert (out.read_bytes(), (tmp_path / "m.safetensors.card.toml").read_bytes()) == before
    assert load_tagger(out).labels == ["a", "bb"]
    # the next run tidies the torn temporary away and saves
    assert main(["image", "train-tagger", str(root), "-o", str(out), *FAST]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m.")) == [
        "m.confusion.png",
        "m.safetensors",
        "m.safetensors.card.toml",
    ]


def test_a_generator_or_music_model_is_neither_used_nor_overwritten_as_a_tagger(tmp_path, capsys):
    from safetensors.torch import save_file

    from studio.core.resources import resources_dir

    root = _labelled(tmp_path / "set", [("a", 3), ("bb", 3)])
    gen = tmp_path / "gen.safetensors"
    save_file({"w": torch.zeros(1)}, str(gen), metadata={"studio_kind": "gan"})
    picture = root / "a" / "0.png"
    for model, said in ((gen, "(it is gan)"), (resources_dir() / MUSIC_MODEL, "music model")):
        assert main(["image", "tag", str(picture), "--model", str(model)]) == 1
        err = _said(capsys.readouterr().err)
        assert f"{model.name} is not a Studio tagger" in err and said in err
    before = gen.read_bytes()
    assert main(["image", "train-tagger", str(root), "-o", str(gen), *FAST]) == 1
    err = _said(capsys.readouterr().err)
    assert "gen.safetensors is a Studio generator, not a tagger" in err
    assert gen.read_bytes() == before
