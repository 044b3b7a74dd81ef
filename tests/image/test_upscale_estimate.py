"""Real-ESRGAN upscaling says how long it will take before it starts, and tiles evenly."""

from __future__ import annotations

import numpy as np
import pytest

from studio.cli import main
from studio.image.io import Picture, load_picture, save_picture
from studio.image.upscale import UpscaleError, calibrate, estimate, tile_plan, upscale


@pytest.mark.parametrize("size", [(389, 640), (80, 80), (257, 1000), (31, 33)])
def test_tiles_cover_the_picture_once_none_larger_than_asked(size):
    h, w = size
    covered = np.zeros((h, w), int)
    for y, x, th, tw in tile_plan(h, w, 256):
        assert th <= 256 and tw <= 256
        covered[y : y + th, x : x + tw] += 1
    assert (covered == 1).all()
    # even: a 389-pixel side is two tiles of 195, not 256 and a sliver
    assert sorted({th for _y, _x, th, _tw in tile_plan(389, 640, 256)}) == [194, 195]


def test_estimate_before_and_after_measuring_this_machine():
    first = estimate(640, 389, "x4plus")
    assert first.basis.startswith("a default") and first.seconds > 0 and first.tiles == 6
    assert "about" in first.text() and "6 tiles" in first.text()
    assert estimate(640, 389, "fast").seconds < first.seconds  # the small model is quicker
    assert calibrate("fast") > 0
    measured = estimate(640, 389, "fast")
    assert measured.basis == "measured on this machine"
    assert estimate(640, 389, "x4plus").basis.startswith("a default")  # per model
    with pytest.raises(UpscaleError, match="unknown upscaling model"):
        estimate(10, 10, "x8")


def test_the_cli_prints_the_estimate_before_it_upscales(tmp_path, capsys):
    rng = np.random.default_rng(1)
    src = save_picture(Picture(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)),
                       tmp_path / "small.png")  # fmt: skip
    out = tmp_path / "big.png"
    assert main(["image", "upscale", str(src), "-o", str(out), "--model", "fast"]) == 0
    captured = capsys.readouterr()
    assert "studio: upscaling 64x48 with fast: about" in captured.err
    assert "px/s measured on this machine" in captured.err  # calibrated first: no speed known
    assert load_picture(out).size == (256, 192)


def test_tiled_and_whole_agree_with_even_tiles():
    rng = np.random.default_rng(2)
    crop = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    whole = upscale(crop, 4, "fast", tile=512)
    tiled = upscale(crop, 4, "fast", tile=40, overlap=8)
    assert whole.shape == tiled.shape == (280, 360, 3)
    assert np.abs(whole.astype(int) - tiled).mean() < 1.0
