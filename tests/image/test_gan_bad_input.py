"""`studio image train-gan` on bad input (issue 16): odd and broken pictures, tiny and huge
folders, a kill -9 then a resume, and files from other models."""

import signal
import time

import pytest
import torch
from PIL import Image

from studio.cli import main
from studio.image import folder as folder_mod
from studio.image.folder import read_folder
from studio.image.gan import load_generator, train_gan
from tests.image.odd_pictures import BROKEN, READABLE, make_odd_pictures, tiny_png
from tests.support.scripts import start_script

MUSIC_MODEL = "models/music/studio-music-lstm.safetensors"


@pytest.fixture
def bomb_check_off(monkeypatch):
    """What every Studio process is like once it has opened a picture: Pillow's own
    decompression-bomb check is off (studio.image.io checks sizes itself)."""
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", None)


def _said(err: str) -> str:
    """The one ``studio:`` line of an error (progress lines may come before it)."""
    lines = [line for line in err.splitlines() if line.startswith("studio:")]
    assert len(lines) == 1, err
    return lines[0]


def _sprites(root, counts=(("a", 3),)):
    for label, n in counts:
        (root / label).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (10 + i, 12), (40 * i, 90, 200)).save(root / label / f"{i}.png")
    return root


def test_odd_pictures_train_and_broken_ones_are_skipped_and_counted(
    tmp_path, capsys, bomb_check_off
):
    odd = make_odd_pictures(tmp_path / "odd")
    data = read_folder(odd, 16, loose_as_one_class=True)
    assert data.labels == ["all"] and len(data.files) == len(READABLE)
    assert sorted(f.split("/")[-1] for f in data.files) == sorted(READABLE)
    assert sorted(s[0].split("/")[-1] for s in data.skipped) == sorted(BROKEN)
    why = {s[0].split("/")[-1]: s[1] for s in data.skipped}
    assert "megapixels" in why["huge.png"]  # refused from its header, not decoded
    assert all(w.startswith(("cannot read", "huge.png")) for w in why.values())
    pic = {f.split("/")[-1]: p for f, p in zip(data.files, data.pixels, strict=True)}
    assert pic["rgba.png"].min() == 1.0 and pic["la.png"].min() == 1.0  # clear -> white
    assert pic["palette-clear.png"].min() == 1.0
    assert pic["anim.gif"][2].max() == 1.0 and pic["anim.gif"][0].min() < 0.1  # blue frame 1
    deep = pic["deep16.png"][:, 8, 8]
    assert 0.55 < deep.mean() < 0.66  # 40000 of 65535, not clipped white
    assert pic["cmyk.jpg"][0, 8, 8] > 0.8 and pic["cmyk.jpg"][1, 8, 8] < 0.3  # red stays red

    out = tmp_path / "odd.safetensors"
    args = ["image", "train-gan", str(odd), "-o", str(out), "--steps", "1", "--batch", "4"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "1 classes, 4 unreadable skipped" in printed
    assert load_generator(out).labels == ["all"]


def test_three_pictures_in_one_class_train_a_generator(tmp_path, capsys):
    _sprites(tmp_path / "three")
    out = tmp_path / "g.safetensors"
    report = train_gan(tmp_path / "three", out, steps=2, batch=64, arch="dcgan")
    assert report.labels == ["a"] and report.steps == 2 and report.skipped == 0
    assert load_generator(out).labels == ["a"]
    one = tmp_path / "one" / "x"
    one.mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(one / "only.png")
    (one / "broken.png").write_bytes(b"")
    assert main(["image", "train-gan", str(tmp_path / "one"), "-o", str(out), "--steps", "1"]) == 1
    err = _said(capsys.readouterr().err)
    assert "at least 2 readable pictures, found 1 (1 unreadable)" in err


def test_a_class_with_only_broken_pictures_is_left_out_and_said(tmp_path, capsys):
    root = _sprites(tmp_path / "set", (("cat", 3), ("dog", 2)))
    (root / "junk").mkdir()
    (root / "junk" / "a.png").write_bytes(b"")
    (root / "junk" / "b.jpg").write_text("no")
    Image.new("RGB", (8, 8)).save(root / "stray.png")  # beside the class folders
    out = tmp_path / "g.safetensors"
    assert main(["image", "train-gan", str(root), "-o", str(out), "--steps", "1"]) == 0
    printed = capsys.readouterr().out
    assert "2 classes, 2 unreadable skipped" in printed
    assert "left out junk: no readable picture" in printed
    assert "left out the 1 picture directly in set/: with subfolders, each subfolder" in printed
    assert load_generator(out).labels == ["cat", "dog"]


def test_fifty_thousand_files_are_listed_then_sampled_not_all_decoded(
    tmp_path, monkeypatch, capsys, decoded
):
    root = tmp_path / "many"
    for label in ("x", "y"):
        (root / label).mkdir(parents=True)
        data = tiny_png((200, 40, 40) if label == "x" else (40, 40, 200))
        for i in range(25_000):
            (root / label / f"{i}.png").write_bytes(data)
    monkeypatch.setattr(folder_mod, "MAX_PICTURES", 300)  # the same rule, smaller
    out = tmp_path / "g.safetensors"
    assert main(["image", "train-gan", str(root), "-o", str(out), "--steps", "1"]) == 0
    printed = capsys.readouterr().out
    assert len(decoded) == 300
    assert "read a random 300 of the 50,000 pictures" in printed
    assert sum("/x/" in str(p) for p in decoded) == 150  # both classes, in proportion
    monkeypatch.setattr(folder_mod, "MAX_FILES", 40_000)
    assert main(["image", "train-gan", str(root), "-o", str(out), "--steps", "1"]) == 1
    assert "more than 40,000 pictures" in _said(capsys.readouterr().err)


KILLED_RUN = """
import sys, torch
torch.set_num_threads(1)
from studio.image.gan import train_gan
train_gan(sys.argv[1], sys.argv[2], steps=100000, batch=4, arch="dcgan", seed=1,
          checkpoint_every_s=0.0, sample_every_s=1e9)
"""


def test_killed_with_sigkill_then_resumed_from_a_whole_checkpoint(tmp_path):
    root = _sprites(tmp_path / "set", (("a", 3), ("b", 3)))
    out = tmp_path / "k.safetensors"
    ckpt = tmp_path / "k.safetensors.ckpt"
    proc = start_script(KILLED_RUN, root, out)
    try:
        deadline = time.monotonic() + 120
        while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ckpt.is_file(), proc.stderr.read().decode() if proc.poll() is not None else ""
        time.sleep(0.3)  # a few more checkpoints: the kill lands during training or a write
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()  # the model is written at the end only
    state = torch.load(ckpt, map_location="cpu", weights_only=True)  # whole, not torn
    done = int(state["step"])
    assert done >= 1
    report = train_gan(root, out, steps=done + 2, batch=4, arch="dcgan", seed=1)
    assert report.resumed_from == done and report.steps == done + 2
    assert load_generator(out).labels == ["a", "b"]


def test_another_architecture_or_size_or_a_foreign_checkpoint_is_refused_untouched(
    tmp_path, capsys
):
    root = _sprites(tmp_path / "set", (("a", 3), ("b", 2)))
    out = tmp_path / "g.safetensors"
    ckpt = tmp_path / "g.safetensors.ckpt"
    train_gan(root, out, steps=1, batch=4, arch="dcgan", size=32)
    before = ckpt.read_bytes(), out.read_bytes()
    for extra, said in (
        (["--arch", "modern"], "arch 'dcgan' (now 'modern')"),
        (["--arch", "dcgan", "--size", "64"], "size 32 (now 64)"),
    ):
        args = ["image", "train-gan", str(root), "-o", str(out), "--steps", "3", *extra]
        assert main(args) == 1
        err = _said(capsys.readouterr().err)
        assert said in err and "delete it" in err
        assert (ckpt.read_bytes(), out.read_bytes()) == before  # nothing overwritten
    # a checkpoint that is not a generator's (another program's torch file, then garbage)
    for foreign in (b"", None):
        if foreign is None:
            torch.save({"model": {"w": torch.zeros(2)}, "step": 3}, ckpt)
        else:
            ckpt.write_bytes(b"PK\x03\x04 half a file")
        kept = ckpt.read_bytes()
        args = ["image", "train-gan", str(root), "-o", str(out), "--steps", "2", "--arch", "dcgan"]
        assert main(args) == 1
        err = _said(capsys.readouterr().err)
        assert "g.safetensors.ckpt" in err and "--fresh" in err
        assert ckpt.read_bytes() == kept and out.read_bytes() == before[1]


def test_a_tagger_or_music_model_is_neither_used_nor_overwritten_as_a_generator(tmp_path, capsys):
    from safetensors.torch import save_file

    from studio.core.resources import resources_dir

    root = _sprites(tmp_path / "set")
    tagger = tmp_path / "tagger.safetensors"
    save_file({"w": torch.zeros(1)}, str(tagger), metadata={"studio_kind": "tagger"})
    music = resources_dir() / MUSIC_MODEL
    for model in (tagger, music):
        args = ["image", "generate", "--engine", str(model), "-o", str(tmp_path / "x.png")]
        assert main(args) == 1
        err = _said(capsys.readouterr().err)
        assert f"{model.name} is not a Studio generator" in err
    assert "it is a music model" in err
    before = tagger.read_bytes()
    assert main(["image", "train-gan", str(root), "-o", str(tagger), "--steps", "1"]) == 1
    err = _said(capsys.readouterr().err)
    assert "tagger.safetensors is a Studio tagger, not a generator" in err, err
    assert tagger.read_bytes() == before and not (tmp_path / "tagger.safetensors.ckpt").exists()


def test_a_huge_captions_file_is_sampled_and_said(tmp_path, monkeypatch):
    from studio.image.gan import load_captioned

    root = tmp_path / "captioned"
    root.mkdir()
    data = tiny_png()
    lines = []
    for i in range(40):
        (root / f"{i}.png").write_bytes(data)
        lines.append(f"{i}.png\ta red square number {i}")
    lines.append("missing.png\tnot there")
    (root / "captions.txt").write_text("\n".join(lines))
    monkeypatch.setattr(folder_mod, "MAX_PICTURES", 12)
    notes = []
    x, caps, skipped = load_captioned(root, 32, root / "captions.txt", notes=notes)
    assert notes == ["read a random 12 of the 41 captioned pictures (at most 12)"]
    assert len(x) + len(skipped) == 12 and x.shape[1:] == (3, 32, 32)
    assert len(caps) == len(x)
