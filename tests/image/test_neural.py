"""Style transfer, upscaling, the pattern generator and the diffusers engine (on a tiny random
pipeline the fixture builds: the real loading and generation code, offline)."""

import numpy as np
import pytest

from studio.core.jobs import Cancelled, JobContext
from studio.image.diffusion import (
    DIFFUSION_PARAMS,
    ENGINE,
    DiffusionError,
    find_diffusion_models,
    inspect_folder,
)
from studio.image.pattern import PATTERN_PARAMS, make_pattern
from studio.image.style import NUM_STYLES, StyleError, style_thumbnails, stylize
from studio.image.upscale import UpscaleError, upscale
from studio.testing import RecordingContext


def test_builtin_styles_blends_and_a_picture_as_style(photo, tmp_path):
    a = stylize(photo, 3)
    b = stylize(photo, 12)
    blend = stylize(photo, "3:0.5,12:0.5")
    assert a.shape == photo.shape == blend.shape
    assert np.abs(a.astype(int) - b).mean() > 10  # different styles look different
    assert 0 < np.abs(blend.astype(int) - a).mean() < np.abs(b.astype(int) - a).mean()
    half = stylize(photo, 3, strength=0.5)
    assert np.abs(half.astype(int) - photo).mean() < np.abs(a.astype(int) - photo).mean()
    from studio.image.io import Picture, save_picture

    style_file = save_picture(Picture(photo[::-1]), tmp_path / "style.png")
    assert stylize(photo, str(style_file)).shape == photo.shape
    with pytest.raises(StyleError, match="0 to 25"):
        stylize(photo, 26)
    with pytest.raises(StyleError, match="no such style picture"):
        stylize(photo, "nowhere.png")


def test_style_keeps_16_bits_and_alpha(photo):
    rgba16 = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)]).astype(np.uint16) * 257
    out = stylize(rgba16, 0)
    assert out.dtype == np.uint16 and out.shape == rgba16.shape
    assert (out[..., 3] == 65535).all()


def test_style_thumbnails():
    thumbs = style_thumbnails(64)
    assert len(thumbs) == NUM_STYLES and max(thumbs[0].shape[:2]) == 64


def test_tiled_upscaling_has_no_seams_and_x2_works(photo):
    crop = photo[150:230, 180:260]
    whole = upscale(crop, 4, "fast", tile=512)
    tiled = upscale(crop, 4, "fast", tile=32, overlap=8)
    assert whole.shape == (320, 320, 3)
    diff = np.abs(whole.astype(int) - tiled)
    assert diff.mean() < 0.1 and diff.max() <= 8  # tiles blend into the same picture
    ctx = RecordingContext()
    half = upscale(crop, 2, "fast", tile=32, overlap=8, ctx=ctx)
    assert half.shape == (160, 160, 3)
    assert len(ctx.reports) >= 4 and ctx.reports[-1][0] == 1.0
    rgba = np.dstack([crop, np.full(crop.shape[:2], 77, np.uint8)])
    assert (upscale(rgba, 4, "fast")[..., 3] == 77).all()
    with pytest.raises(UpscaleError, match="2 or 4"):
        upscale(crop, 3)
    huge = np.zeros((5000, 4000, 3), np.uint8)
    with pytest.raises(UpscaleError, match="250 megapixels"):
        upscale(huge, 4)


def test_upscaling_can_be_cancelled_between_tiles(photo):
    ctx = JobContext(on_progress=lambda f, m: ctx.cancel())
    with pytest.raises(Cancelled):
        upscale(photo[:128, :128], 4, "fast", tile=32, overlap=4, ctx=ctx)


def _pattern_request(**kw):
    request = {p.name: p.default for p in PATTERN_PARAMS}
    request.update(seed=11, width=96, height=64)
    request.update(kw)
    return request


def test_patterns_are_seeded_and_resolution_independent():
    a = make_pattern(_pattern_request())
    assert a.shape == (64, 96, 3) and a.dtype == np.uint8
    assert np.array_equal(a, make_pattern(_pattern_request()))
    assert not np.array_equal(a, make_pattern(_pattern_request(seed=12)))
    big = make_pattern(_pattern_request(width=192, height=128))
    import cv2

    shrunk = cv2.resize(big, (96, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(shrunk.astype(int) - a).mean() < 8  # the same pattern, twice the pixels
    assert a.std() > 5  # not flat
    mono = make_pattern(_pattern_request(colours="mono"))
    assert np.abs(mono[..., 0].astype(int) - mono[..., 2]).max() <= 1
    for style in ("waves", "cells", "stripes"):
        for symmetry in ("mirror", "radial"):
            assert make_pattern(_pattern_request(style=style, symmetry=symmetry)).shape == a.shape


def _request(**kw):
    request = {p.name: p.default for p in DIFFUSION_PARAMS}
    request.update(prompt="a red boat", seed=3, steps=3, width=64, height=64)
    request.update(kw)
    return request


def test_diffusion_text_to_image_with_a_preview_each_step(tiny_model):
    previews = []
    ctx = RecordingContext()
    ctx._on_partial = previews.append
    image = ENGINE.generate(tiny_model, _request(), ctx)
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert len(previews) == 3 and previews[0].dtype == np.uint8
    assert ctx.reports[-1][0] == 1.0
    assert np.array_equal(image, ENGINE.generate(tiny_model, _request()))  # seeded
    assert not np.array_equal(image, ENGINE.generate(tiny_model, _request(seed=4)))


def test_diffusion_image_to_image_and_inpainting_share_the_loaded_model(tiny_model):
    init = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    ENGINE.generate(tiny_model, _request())
    loaded = list(ENGINE._pipes.values())[0]
    out = ENGINE.generate(tiny_model, _request(strength=0.5), init=init)
    assert out.shape == (64, 64, 3)
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    painted = ENGINE.generate(tiny_model, _request(strength=1.0), init=init, mask=mask)
    assert painted.shape == (64, 64, 3)
    assert list(ENGINE._pipes.values())[0] is loaded  # no reload between modes


def test_diffusion_cancel_stops_within_a_step(tiny_model):
    steps = []
    ctx = JobContext(on_progress=lambda f, m: (steps.append(f), ctx.cancel()))
    with pytest.raises(Cancelled):
        ENGINE.generate(tiny_model, _request(steps=20), ctx)
    assert len(steps) == 1


def test_bad_folders_are_refused_with_what_to_do(tmp_path, tiny_model):
    import shutil

    from studio.image.tiny_diffusion import make_tiny_pipeline

    pickled = make_tiny_pipeline(tmp_path / "old-model", bin_weights=True)
    with pytest.raises(DiffusionError, match="(?s)pickled .bin.*safe_serialization=True"):
        inspect_folder(pickled)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    shutil.rmtree(broken / "vae")
    shutil.rmtree(broken / "tokenizer")
    with pytest.raises(DiffusionError, match="missing tokenizer, vae"):
        inspect_folder(broken)
    with pytest.raises(DiffusionError, match="not a diffusers model folder"):
        inspect_folder(tmp_path)
    with pytest.raises(DiffusionError, match="prompt"):
        ENGINE.generate(tiny_model, _request(prompt=""))
    with pytest.raises(DiffusionError, match="multiples of 8"):
        ENGINE.generate(tiny_model, _request(width=100))


def test_models_are_found_in_the_model_folder(tmp_path, tiny_model):
    import shutil

    shutil.copytree(tiny_model, tmp_path / "image" / "my-model")
    assert [p.name for p in find_diffusion_models(tmp_path)] == ["my-model"]


def test_generators_record_model_sha256_and_parameters(tiny_model):
    from studio.plugins.registry import PluginRegistry

    registry = PluginRegistry()
    registry.discover()
    image = registry.run("studio/diffusion", {**_request(), "model": str(tiny_model)})
    info = image.provenance
    assert info["model"] == "tiny-sd" and len(info["model_sha256"]) == 64
    assert info["params"]["seed"] == 3 and info["params"]["prompt"] == "a red boat"
    pattern = registry.run("studio/pattern", {"width": 64, "height": 64})
    assert pattern.provenance["params"]["seed"] >= 0  # a random seed is recorded concretely
