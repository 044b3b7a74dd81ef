import numpy as np
import pytest
from PIL import Image as PILImage

from studio.image.io import ImageError, Picture, load_picture, read_provenance, save_picture


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_and_alpha_survive_a_round_trip(tmp_path, suffix):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 65535, (24, 40, 4), dtype=np.uint16)
    path = save_picture(Picture(pixels, {"engine": "test"}), tmp_path / f"deep{suffix}")
    back = load_picture(path)
    assert back.depth == 16 and back.has_alpha
    assert np.array_equal(back.pixels, pixels)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_provenance_is_written_into_every_format(tmp_path, suffix, photo):
    info = {"engine": "studio/pattern", "params": {"seed": 7, "prompt": "ünïcode <&>"}}
    path = save_picture(Picture(photo, info), tmp_path / f"ré sult{suffix}")
    assert read_provenance(path) == info
    assert load_picture(path).provenance == info


def test_webp_keeps_alpha_and_jpeg_flattens_it_onto_white(tmp_path):
    pixels = np.zeros((10, 10, 4), np.uint8)
    pixels[..., 0] = 200
    pixels[:5, :, 3] = 255
    assert load_picture(save_picture(Picture(pixels), tmp_path / "a.webp")).has_alpha
    jpeg = load_picture(save_picture(Picture(pixels), tmp_path / "a.jpg"))
    assert not jpeg.has_alpha
    assert jpeg.pixels[8, 5].min() > 240  # the transparent half became white


def test_greyscale_palette_and_cmyk_files_open_as_rgb(tmp_path):
    grey = PILImage.fromarray(np.arange(256, dtype=np.uint8).reshape(16, 16), "L")
    grey.save(tmp_path / "grey.png")
    grey.convert("P").save(tmp_path / "palette.png")
    grey.convert("RGB").convert("CMYK").save(tmp_path / "cmyk.jpg")
    grey16 = PILImage.fromarray((np.arange(256, dtype=np.uint16) * 257).reshape(16, 16))
    grey16.save(tmp_path / "grey16.png")
    for name in ("grey.png", "palette.png", "cmyk.jpg", "grey16.png"):
        picture = load_picture(tmp_path / name)
        assert picture.pixels.shape[:2] == (16, 16) and picture.pixels.shape[2] in (3, 4)
    assert load_picture(tmp_path / "grey16.png").depth == 16


def test_corrupt_truncated_missing_and_huge_files_are_refused_clearly(tmp_path, photo):
    (tmp_path / "junk.png").write_bytes(b"not a picture at all")
    with pytest.raises(ImageError, match="junk.png"):
        load_picture(tmp_path / "junk.png")
    good = save_picture(Picture(photo), tmp_path / "good.jpg")
    data = good.read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    try:
        cut = load_picture(tmp_path / "cut.jpg")
        assert cut.pixels.shape == photo.shape  # decoders may fill the rest grey; never crash
    except ImageError as exc:
        assert "cut.jpg" in str(exc)
    with pytest.raises(ImageError, match="no such picture"):
        load_picture(tmp_path / "missing.png")
    # a 30,000 x 30,000 picture is refused from its header, before decoding
    huge = tmp_path / "huge.png"
    PILImage.new("1", (30000, 30000)).save(huge)
    with pytest.raises(ImageError, match="30000x30000.*megapixels"):
        load_picture(huge)


def test_a_failed_save_leaves_the_old_file(tmp_path, photo):
    path = save_picture(Picture(photo), tmp_path / "keep.png")
    before = path.read_bytes()
    with pytest.raises(ImageError, match="cannot save"):
        save_picture(Picture(photo), tmp_path / "keep.gif")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
