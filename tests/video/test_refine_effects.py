import numpy as np
import pytest
import torch

from studio.video.effects import Compositor, Effect, EffectError, parse_effect
from studio.video.refine import FrameTensors, MaskRefiner, RefineSettings


def _edge_frame(width=320, height=180, edge=150):
    frame = np.full((height, width, 3), 30, np.uint8)
    frame[:, :edge] = 220  # a bright person on the left of a sharp edge
    return frame


def _blurry_mask(edge_low=40.0, width=80, height=45, softness=2.5):
    """A low-resolution mask with a soft edge at ``edge_low``."""
    x = np.arange(width, dtype=np.float32)
    row = 0.5 * (1.0 - np.tanh((x - edge_low) / (2 * softness)))
    return np.repeat(row[None], height, axis=0).astype(np.float32)


def test_guided_refinement_puts_the_matte_edge_on_the_frames_edge():
    # 720p frame, the landscape model's 256x144 mask with its edge 5 pixels off the true one
    frame = _edge_frame(1280, 720, edge=600)
    mask = _blurry_mask(121.0, 256, 144, softness=1.0)
    guided = MaskRefiner(RefineSettings(smooth=0.0, feather=0.0)).refine(frame, mask)
    plain = MaskRefiner(RefineSettings(smooth=0.0, feather=0.0, guided=False)).refine(frame, mask)
    assert guided.shape == (720, 1280)
    g, p = guided.numpy()[360], plain.numpy()[360]
    # across the frame's edge (597 -> 603) the guided matte drops at least twice as far
    assert g[597] - g[603] > 2 * (p[597] - p[603])
    assert g[597] - g[603] > 0.4


def test_temporal_smoothing_steadies_a_flickering_mask_on_a_still_frame():
    frame = _edge_frame()
    rng = np.random.default_rng(0)
    masks = [
        np.clip(_blurry_mask(40) + rng.normal(0, 0.25, (45, 80)), 0, 1).astype(np.float32)
        for _ in range(12)
    ]
    raw = MaskRefiner(RefineSettings(smooth=0.0))
    smooth = MaskRefiner(RefineSettings(smooth=0.8))
    raw_out = [raw.refine(frame, m).numpy().copy() for m in masks]
    smooth_out = [smooth.refine(frame, m).numpy().copy() for m in masks]
    raw_change = np.abs(np.diff(np.stack(raw_out), axis=0)).mean()
    smooth_change = np.abs(np.diff(np.stack(smooth_out), axis=0)).mean()
    assert smooth_change < 0.5 * raw_change


def test_smoothing_follows_motion_without_leaving_a_ghost():
    refiner = MaskRefiner(RefineSettings(smooth=0.9, feather=0.0))

    def frame_and_mask(x0):
        frame = np.full((180, 320, 3), 30, np.uint8)
        frame[40:140, x0 : x0 + 60] = 220
        mask = np.zeros((45, 80), np.float32)
        mask[10:35, x0 // 4 : x0 // 4 + 15] = 1.0
        return frame, mask

    for _ in range(5):
        refiner.refine(*frame_and_mask(40))
    matte = None
    for _ in range(2):  # the person jumps right; two frames later the old place is empty
        matte = refiner.refine(*frame_and_mask(200)).numpy()
    assert matte[90, 60:90].mean() < 0.1  # no ghost where they were
    assert matte[90, 215:245].mean() > 0.9  # and the matte is where they are


def test_grow_shrink_and_threshold():
    frame = np.full((180, 320, 3), 128, np.uint8)
    mask = np.zeros((45, 80), np.float32)
    mask[15:30, 30:50] = 0.7

    def area(**kw):
        settings = RefineSettings(smooth=0.0, feather=0.0, guided=False, **kw)
        return (MaskRefiner(settings).refine(frame, mask).numpy() > 0.5).sum()

    base = area()
    assert area(grow=8) > base * 1.2
    assert area(grow=-8) < base * 0.8
    hard = MaskRefiner(RefineSettings(smooth=0, feather=0, guided=False, threshold=0.5))
    inside = hard.refine(frame, mask).numpy()[80, 160]
    assert inside == pytest.approx(1.0)  # 0.7 is above the cut: fully opaque
    with pytest.raises(ValueError, match="Smoothing: 1.5 is above the maximum"):
        RefineSettings(smooth=1.5)


@pytest.mark.parametrize(
    "spec,kind",
    [
        ("blur", "blur"),
        ("blur:30", "blur"),
        ("color:#336699", "color"),
        ("green", "green"),
        ("matte", "matte"),
        ("alpha", "alpha"),
        ("none", "none"),
    ],
)
def test_effect_specs(spec, kind):
    effect = parse_effect(spec)
    assert effect.kind == kind
    assert parse_effect(effect.spec()).kind == kind


def test_bad_effect_specs_are_explained(tmp_path):
    with pytest.raises(EffectError, match="#RRGGBB"):
        parse_effect("color:blue")
    with pytest.raises(EffectError, match="not found"):
        parse_effect(f"image:{tmp_path / 'nope.png'}")
    with pytest.raises(EffectError, match="unknown effect"):
        parse_effect("sparkles")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"nope")
    with pytest.raises(EffectError, match="cannot read the background image"):
        Compositor(parse_effect(f"image:{broken}"))


def _scene():
    frame = np.zeros((90, 160, 3), np.uint8)
    frame[..., 0] = np.linspace(0, 255, 160, dtype=np.uint8)[None]
    frame[..., 1] = 80
    matte = torch.zeros(90, 160)
    matte[20:70, 50:110] = 1.0
    return frame, matte


@pytest.mark.parametrize("cpu_fast", [True, False])
def test_replacing_the_background_keeps_the_person_untouched(cpu_fast):
    frame, matte = _scene()
    out = Compositor(Effect("color", color=(10, 20, 30)), cpu_fast=cpu_fast).apply(frame, matte)
    assert np.array_equal(out[30:60, 60:100], frame[30:60, 60:100])
    assert (out[:15] == (10, 20, 30)).all()
    green = Compositor(Effect("green"), cpu_fast=cpu_fast).apply(frame, matte)
    assert (green[80, :40] == (0, 177, 64)).all()


@pytest.mark.parametrize("cpu_fast", [True, False])
def test_blur_softens_only_the_background(cpu_fast):
    frame, matte = _scene()
    rng = np.random.default_rng(1)
    frame = np.clip(frame + rng.integers(0, 60, frame.shape), 0, 255).astype(np.uint8)
    out = Compositor(Effect("blur", strength=8), cpu_fast=cpu_fast).apply(frame, matte)
    assert np.array_equal(out[30:60, 60:100], frame[30:60, 60:100])

    def roughness(img):
        return np.abs(np.diff(img[:15].astype(int), axis=1)).mean()

    assert roughness(out) < roughness(frame) / 3


def test_cpu_and_torch_blends_agree():
    frame, matte = _scene()
    matte = torch.nn.functional.avg_pool2d(matte[None, None], 9, 1, 4)[0, 0]  # soft edges
    for spec in ("blur:12", "color:#204060"):
        fast = Compositor(parse_effect(spec), cpu_fast=True).apply(frame, matte)
        plain = Compositor(parse_effect(spec), cpu_fast=False).apply(frame, matte)
        assert np.abs(fast.astype(int) - plain).max() <= 2


def test_alpha_and_matte_outputs():
    frame, matte = _scene()
    rgba = Compositor(Effect("alpha")).apply(frame, matte)
    assert rgba.shape == (90, 160, 4)
    assert rgba[40, 80, 3] == 255 and rgba[5, 5, 3] == 0
    assert np.array_equal(rgba[..., :3], frame)
    grey = Compositor(Effect("matte")).apply(frame, matte)
    assert grey.shape == (90, 160, 3) and grey[40, 80, 0] == 255 and grey[5, 5, 1] == 0


def test_image_and_video_backgrounds(tmp_path, demo_clip):
    import cv2

    picture = np.zeros((50, 200, 3), np.uint8)
    picture[:, :100] = (0, 0, 255)  # BGR red on the left half of a wide picture
    path = tmp_path / "bg.png"
    cv2.imwrite(str(path), picture)
    frame, matte = _scene()
    out = Compositor(parse_effect(f"image:{path}")).apply(frame, matte)
    assert tuple(out[5, 5]) == (255, 0, 0)  # covers the frame: red on the left, not stretched
    video = Compositor(parse_effect(f"video:{demo_clip}"))
    first = video.apply(frame, matte)
    for _ in range(40):  # the 30-frame background loops instead of running out
        last = video.apply(frame, matte)
    assert first.shape == last.shape == (90, 160, 3)
    video.close()


def test_an_image_from_the_image_panel_is_a_background():
    frame, matte = _scene()
    picture = np.full((10, 10, 3), 200, np.uint8)
    out = Compositor(Effect("image", image=picture)).apply(frame, matte)
    assert (out[:10] == 200).all()


def test_frame_tensors_luma_matches_opencv():
    frame, _ = _scene()
    tensors = FrameTensors(frame)
    import cv2

    expected = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    assert np.abs(tensors.luma[0, 0].numpy() - expected).max() <= 1


def test_the_gpu_code_path_matches_the_cpu_one(monkeypatch):
    """Refinement and compositing in torch alone (what runs on a GPU) give the same matte and
    picture as the CPU's OpenCV-assisted path, here run on the CPU."""
    from studio.video import refine
    from studio.video.sources import DemoSource

    frames = list(DemoSource(320, 180, frames=3, fps=10))
    rng = np.random.default_rng(0)
    masks = [rng.random((45, 80)).astype(np.float32) for _ in frames]

    def run():
        refiner = MaskRefiner(RefineSettings(smooth=0.5, feather=2.0, grow=3.0))
        compositor = Compositor(Effect("blur", strength=10))
        out = []
        for frame, mask in zip(frames, masks, strict=True):
            tensors = FrameTensors(frame.pixels)
            matte = refiner.refine(tensors, mask)
            out.append((matte.numpy().copy(), compositor.apply(tensors, matte)))
        return out

    fast = run()
    monkeypatch.setattr(refine, "OPENCV_ON_CPU", False)
    plain = run()
    for (m1, o1), (m2, o2) in zip(fast, plain, strict=True):
        assert np.abs(m1 - m2).max() < 0.03
        assert np.abs(o1.astype(int) - o2).mean() < 1.0
