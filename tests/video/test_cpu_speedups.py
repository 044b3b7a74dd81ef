"""Issue 19: the CPU shortcuts that cut the video pipeline's CPU per frame give the pictures the
slower ways gave (or, for the half-size matte, pictures a viewer cannot tell apart)."""

from __future__ import annotations

import functools

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@functools.cache
def _frames(count: int = 4) -> tuple[np.ndarray, ...]:
    from studio.video.sources import DemoSource

    return tuple(f.pixels for f in DemoSource(1280, 720, count, motion="pan"))


def test_halved_downscales_match_opencvs_area_resize():
    from studio.video.refine import FrameTensors

    rgb = _frames()[0]
    tensors = FrameTensors(rgb)
    for factor in (2, 4, 8):
        size = (1280 // factor, 720 // factor)
        direct = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(int)
        diff = np.abs(tensors.rgb_u8_at(size[1], size[0]).astype(int) - direct)
        # each halving rounds once: at most a level per halving after the first, rarely
        assert diff.max() <= max(1, factor.bit_length() - 2) and diff.mean() < 0.6
        luma = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
        got = tensors.luma_at(size[1], size[0])[0, 0].numpy()
        assert np.abs(got - luma).max() <= max(1, factor.bit_length() - 2)
    # a factor that is no power of two takes the direct resize
    assert tensors.rgb_u8_at(144, 256).shape == (144, 256, 3)


def test_the_segmenters_box_downscale_is_opencvs_area_resize():
    from studio.video.segmenters import _area_resize

    rgb = _frames()[0]
    direct = cv2.resize(rgb, (256, 144), interpolation=cv2.INTER_AREA)
    assert np.array_equal(np.ascontiguousarray(_area_resize(rgb, 256, 144)), direct)


def test_half_size_matte_composites_like_the_full_size_one(monkeypatch):
    """The blurred-background export with the matte's coefficients applied at half size, against
    full size: the same pictures to the eye (PSNR well above 40 dB on every frame)."""
    from studio.video import refine
    from studio.video.pipeline import VideoPipeline, VideoSettings
    from studio.video.sources import Frame

    frames = _frames()

    def run() -> list[np.ndarray]:
        pipe = VideoPipeline(VideoSettings(device="cpu"))
        return [pipe.process(Frame(i, i / 30, f)).output for i, f in enumerate(frames)]

    half = run()
    monkeypatch.setattr(refine, "HALF_SIZE_APPLY", False)
    full = run()
    for a, b in zip(half, full, strict=True):
        assert a.shape == b.shape == (720, 1280, 3)
        assert _psnr(a, b) >= 40.0


def test_one_decoding_thread_decodes_the_same_frames(tmp_path):
    from studio.video.export import ffmpeg_path, write_demo
    from studio.video.sources import FileSource

    if ffmpeg_path() is None:
        pytest.skip("needs ffmpeg")
    clip = tmp_path / "demo.mp4"
    write_demo(clip, seconds=0.4, width=320, height=180, fps=10)
    default, single = FileSource(clip), FileSource(clip, decode_threads=1)
    try:
        pairs = list(zip(default, single, strict=True))
    finally:
        default.close()
        single.close()
    assert len(pairs) == 4
    for a, b in pairs:
        assert np.array_equal(a.pixels, b.pixels)


def test_the_benchmark_reports_the_half_size_matte_against_the_full_size_one():
    from studio.video.bench import _half_size_apply
    from studio.video.segmenters import SelfieSegmenter

    figures = _half_size_apply(SelfieSegmenter(), frames=2, runs=1)
    assert figures["refine_composite_720p_half_size_cpu_ms"] > 0
    assert figures["refine_composite_720p_full_size_cpu_ms"] > 0
    assert figures["half_size_matte_psnr_db_min"] >= 40.0
