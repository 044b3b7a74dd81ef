import numpy as np
import pytest

from studio.video.segmenters import (
    Mog2Segmenter,
    RvmSegmenter,
    SegmenterError,
    make_segmenter,
)
from studio.video.sources import DemoSource, demo_photo


def test_selfie_finds_the_person_in_the_photo(selfie):
    photo = demo_photo()  # 512x512: the square model
    mask = selfie.segment(photo)
    assert mask.shape == (256, 256) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    face = mask[40:90, 90:140].mean()  # the astronaut's face
    corner = mask[5:30, 200:250].mean()  # the wall behind, top right
    assert face > 0.9 and corner < 0.1


def test_selfie_uses_the_landscape_model_for_wide_frames(selfie):
    frame = DemoSource(640, 360, 1).read()
    mask = selfie.segment(frame.pixels)
    assert mask.shape == (144, 256)
    assert mask[5:40, 110:126].mean() > 0.9  # the face in the middle
    assert mask[:, :20].mean() < 0.2  # the blurred backdrop at the side


def test_an_8k_frame_costs_a_downscale_and_keeps_working(selfie):
    frame = np.zeros((4320, 7680, 3), np.uint8)
    frame[:] = 120
    mask = selfie.segment(frame)
    assert mask.shape == (144, 256)
    assert mask.mean() < 0.2  # a flat grey frame has nobody in it


def test_mog2_marks_what_enters_a_still_scene():
    rng = np.random.default_rng(0)
    background = rng.integers(60, 90, (180, 320, 3), dtype=np.uint8)
    seg = Mog2Segmenter(history=50)
    for _ in range(30):
        seg.segment(background)
    frame = background.copy()
    frame[40:140, 120:200] = 230  # someone steps in
    mask = seg.segment(frame)
    h, w = mask.shape
    sy, sx = h / 180, w / 320
    inside = mask[int(60 * sy) : int(120 * sy), int(140 * sx) : int(180 * sx)].mean()
    outside = mask[: int(30 * sy), :].mean()
    assert inside > 0.9 and outside < 0.05
    seg.reset()  # forgets the background: the first frame is all foreground or nothing learnt
    assert seg.segment(background).mean() < 1.0


def _tiny_rvm(path):
    """A tiny model with Robust Video Matting's TorchScript signature: its alpha is a running
    mean of the frame's brightness, so it only agrees with a fresh model when the recurrent state
    is carried and reset as RVM's is."""

    import torch
    from torch import Tensor

    class Tiny(torch.nn.Module):
        def forward(
            self,
            src: Tensor,
            r1: Tensor | None = None,
            r2: Tensor | None = None,
            r3: Tensor | None = None,
            r4: Tensor | None = None,
            downsample_ratio: float = 0.25,
        ):
            luma = src.mean(dim=1, keepdim=True)
            state = luma if r1 is None else 0.5 * r1 + 0.5 * luma
            count = torch.ones(1) if r2 is None else r2 + 1
            zero = torch.zeros(1)
            return src, state.clamp(0, 1), state, count, zero, zero

    torch.jit.script(Tiny()).save(str(path))
    return path


def test_rvm_torchscript_carries_its_recurrent_state(tmp_path):
    model = _tiny_rvm(tmp_path / "rvm_tiny.torchscript")
    seg = make_segmenter(str(model))
    assert isinstance(seg, RvmSegmenter) and seg.full_resolution
    white = np.full((24, 32, 3), 255, np.uint8)
    black = np.zeros((24, 32, 3), np.uint8)
    first = seg.segment(white)
    assert first.shape == (24, 32) and first.mean() == pytest.approx(1.0)
    second = seg.segment(black)  # remembers the white frame: half way
    assert second.mean() == pytest.approx(0.5, abs=1e-3)
    seg.reset()
    assert seg.segment(black).mean() == pytest.approx(0.0)


def test_bad_rvm_files_get_clear_messages(tmp_path):
    junk = tmp_path / "junk.torchscript"
    junk.write_bytes(b"not a model")
    with pytest.raises(SegmenterError, match="not a TorchScript model"):
        make_segmenter(str(junk))
    import torch

    class WrongSignature(torch.nn.Module):
        def forward(self, x):
            return x

    wrong = tmp_path / "wrong.torchscript"
    torch.jit.script(WrongSignature()).save(str(wrong))
    seg = make_segmenter(str(wrong))
    with pytest.raises(SegmenterError, match="RVM's inputs"):
        seg.segment(np.zeros((8, 8, 3), np.uint8))


def test_unknown_engine_is_named():
    with pytest.raises(SegmenterError, match="unknown segmenter 'nonsense'"):
        make_segmenter("nonsense")


def test_video_mask_generators_run_through_the_plugin_registry():
    from studio.core.media import Image, Mask
    from studio.plugins.registry import PluginRegistry

    registry = PluginRegistry()
    registry.discover()
    ids = {ref.id for ref in registry.contributions("video_mask")}
    assert {"studio/selfie-segmenter", "studio/mog2-segmenter", "studio/rvm-matting"} <= ids
    mask = registry.run("studio/selfie-segmenter", {"frame": Image(demo_photo())})
    assert isinstance(mask, Mask) and mask.alpha[40:90, 90:140].mean() > 0.9
    with pytest.raises(ValueError, match="Robust Video Matting .torchscript"):
        registry.run("studio/rvm-matting", {"frame": Image(demo_photo())})
    # a plugin id works as an engine, run guarded through the registry
    seg = make_segmenter("studio/mog2-segmenter", registry=registry)
    assert seg.segment(demo_photo()).shape[1] == 320
