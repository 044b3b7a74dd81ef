import numpy as np
import pytest

from studio.image.ops import OPS, OpError, apply_op, make_proxy, parse_op


def test_geometry(photo):
    assert apply_op("crop", photo, {"x": 10, "y": 20, "width": 100, "height": 50}).shape == (
        50, 100, 3)  # fmt: skip
    turned = apply_op("rotate", photo[:100, :200], {"angle": 90})
    assert turned.shape == (200, 100, 3)
    assert np.array_equal(turned[0, :, :], photo[:100, 0][::-1])  # clockwise
    tilted = apply_op("rotate", photo, {"angle": 30})
    assert tilted.shape[2] == 4 and tilted[0, 0, 3] == 0  # new corners are transparent
    assert apply_op("resize", photo, {"width": 256}).shape == (256, 256, 3)
    with pytest.raises(OpError, match="outside"):
        apply_op("crop", photo, {"x": 600, "y": 0, "width": 10, "height": 10})


def test_tone_tools_do_what_they_say(photo):
    mean = photo.mean()
    assert apply_op("brightness", photo, {"amount": 20}).mean() > mean + 30
    mid = np.repeat(np.linspace(64, 192, 256).astype(np.uint8)[None, :, None], 3, axis=2)
    assert apply_op("contrast", mid, {"amount": 1.5}).std() == pytest.approx(mid.std() * 1.5, 0.02)
    flat = apply_op("saturation", photo, {"amount": 0})
    assert np.abs(flat[..., 0].astype(int) - flat[..., 2]).max() <= 1  # grey
    levels = apply_op("levels", photo, {"black": 50, "white": 200, "gamma": 1.0})
    assert (levels[photo[..., 0] <= 50, 0] == 0).all()
    inverted = apply_op("curves", photo, {"points": "0:255,255:0"})
    assert np.abs(inverted.astype(int) + photo - 255).max() <= 1
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    shifted = apply_op("hue", red, {"degrees": 120})
    assert shifted[0, 0, 1] > shifted[0, 0, 0]  # red turned towards green


def test_16_bit_pictures_stay_16_bit_and_precise():
    ramp = (np.linspace(0, 65535, 300 * 3).reshape(1, 300, 3)).astype(np.uint16)
    out = apply_op("brightness", ramp, {"amount": 0})
    assert out.dtype == np.uint16 and np.abs(out.astype(int) - ramp).max() <= 1
    assert len(np.unique(apply_op("contrast", ramp, {"amount": 1.1}))) > 256  # not 8-bit steps


def test_a_mask_limits_a_tool_to_its_area(photo):
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[:, :256] = 1
    out = apply_op("brightness", photo, {"amount": 30}, mask=mask)
    assert np.array_equal(out[:, 300:], photo[:, 300:])
    assert out[:, :200].mean() > photo[:, :200].mean() + 40


def test_filters_and_effects_keep_size_and_alpha(photo):
    rgba = np.dstack([photo[:128, :128], np.full((128, 128), 128, np.uint8)])
    for name in ("blur", "sharpen", "denoise", "stylize", "sketch", "detail"):
        out = apply_op(name, rgba, {})
        assert out.shape == rgba.shape, name
        assert (out[..., 3] == 128).all(), name
    assert apply_op("blur", photo, {"radius": 4}).std() < photo.std()


def test_inpaint_removes_a_painted_mark(photo):
    marked = photo.copy()
    marked[250:260, 100:400] = (255, 0, 255)
    mask = np.zeros(photo.shape[:2], np.float32)
    mask[248:262, 98:402] = 1
    out = apply_op("inpaint", marked, {}, mask=mask)
    magenta = (out[250:260, 100:400] == (255, 0, 255)).all(axis=2).mean()
    assert magenta < 0.01
    with pytest.raises(OpError, match="needs a mask"):
        apply_op("inpaint", marked, {})


def test_grabcut_and_person_cutout_make_transparency(photo):
    cut = apply_op("grabcut", photo, {"x": 100, "y": 20, "width": 300, "height": 480})
    assert cut.shape == (512, 512, 4)
    assert cut[5, 5, 3] == 0  # outside the rectangle: transparent
    person = apply_op("cutout", photo, {})
    assert person[100:150, 190:260, 3].mean() > 200  # the face is kept
    assert person[10:60, 400:500, 3].mean() < 40  # the wall is not


def test_cli_tokens_parse_to_parameters():
    assert parse_op("resize=1024x768") == ("resize", {"width": 1024, "height": 768})
    assert parse_op("crop=1,2,3,4") == ("crop", {"x": "1", "y": "2", "width": "3", "height": "4"})
    assert parse_op("inpaint=hole.png") == ("inpaint", {"mask": "hole.png"})
    assert parse_op("sharpen=amount:1.5") == ("sharpen", {"amount": "1.5"})
    assert parse_op("sketch") == ("sketch", {})
    with pytest.raises(OpError, match="unknown operation"):
        parse_op("sparkle")
    with pytest.raises(OpError, match="takes"):
        parse_op("blur=1,2,3")
    with pytest.raises(OpError, match="Amount"):
        apply_op("brightness", np.zeros((4, 4, 3), np.uint8), {"amount": 500})


def test_preview_proxy_matches_the_full_result(photo):
    """What the panel previews on a proxy is what applying at full size gives, scaled down."""
    import cv2

    proxy, scale = make_proxy(photo, 256)
    assert proxy.shape == (256, 256, 3) and scale == 0.5
    for name in ("blur", "levels", "crop"):
        params = {"radius": 6} if name == "blur" else {}
        if name == "crop":
            params = {"x": 100, "y": 100, "width": 200, "height": 200}
        small = apply_op(name, proxy, params, scale=scale)
        full = apply_op(name, photo, params)
        expected = cv2.resize(full, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
        assert np.abs(small.astype(int) - expected).mean() < 4, name


def test_every_operation_declares_its_controls():
    for spec in OPS.values():
        assert spec.title
        for param in spec.params:
            param.check(param.default)
