import numpy as np

from studio.cli import main


def test_refined_matte_flickers_far_less_than_the_raw_mask_and_agrees_where_stable():
    """The issue's acceptance measure, at a small size: on the jittered demo clip, the mean
    per-pixel change between frames drops by at least 40% while the refined matte agrees with the
    raw mask on its stable region within 2 IoU points."""
    from studio.video.bench import flicker_metrics

    metrics = flicker_metrics(frames=24, width=480, height=270)
    assert metrics["flicker_reduction"] >= 0.4
    assert metrics["stable_region_iou"] >= 0.98
    assert metrics["stable_region_share"] > 0.8


def _band(mask: np.ndarray, radius: int) -> np.ndarray:
    """Pixels within ``radius`` of the mask's boundary."""
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    m = mask.astype(np.uint8)
    return cv2.dilate(m, kernel) != cv2.erode(m, kernel)


def test_refined_matte_keeps_the_edge_where_smoothing_acts():
    """The stable region above leaves out the edge, which is where smoothing acts. Here the
    refined matte is compared with the raw mask on an 8-pixel band around the raw boundary in
    every frame: it agrees there too (about 0.77 IoU at this size), where a matte shifted by 6
    pixels scores about 0.52 and one eroded by 3 pixels about 0.44, so a refiner that moved or
    ate the edge fails."""
    import cv2
    import torch

    from studio.video.refine import FrameTensors, MaskRefiner, RefineSettings
    from studio.video.segmenters import SelfieSegmenter
    from studio.video.sources import DemoSource

    source = DemoSource(480, 270, 24, motion="jitter", noise=6.0, jpeg_quality=70)
    segmenter = SelfieSegmenter()
    raw_refiner = MaskRefiner(RefineSettings(smooth=0.0, guided=False, feather=0.0))
    refiner = MaskRefiner(RefineSettings())
    raw, refined = [], []
    with torch.inference_mode():
        for frame in source:
            low = segmenter.segment(frame.pixels)
            tensors = FrameTensors(frame.pixels)
            raw.append(raw_refiner.refine(tensors, low).numpy() > 0.5)
            refined.append(refiner.refine(tensors, low).numpy() > 0.5)

    def band_iou(a: np.ndarray, b: np.ndarray) -> float:
        band = _band(a, 8)
        return float(np.logical_and(a, b)[band].sum() / np.logical_or(a, b)[band].sum())

    ious = [band_iou(a, b) for a, b in zip(raw, refined, strict=True)]
    assert np.mean(ious) >= 0.7 and min(ious) >= 0.6
    # the measure can fail: the same mattes moved or eroded score well below the bound
    shifted = [band_iou(a, np.roll(b, 6, axis=1)) for a, b in zip(raw, refined, strict=True)]
    eroded = [
        band_iou(a, cv2.erode(b.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool))
        for a, b in zip(raw, refined, strict=True)
    ]
    assert np.mean(shifted) < 0.65 and np.mean(eroded) < 0.65


def test_cli_demo_and_segment(tmp_path, capsys):
    demo = tmp_path / "demo.mp4"
    assert main(["video", "demo", "-o", str(demo), "--seconds", "1", "--size", "320x180"]) == 0
    assert demo.exists()
    out = tmp_path / "matte.mp4"
    code = main(
        [
            "video",
            "segment",
            str(demo),
            "-o",
            str(out),
            "--effect",
            "matte",
            "--smooth",
            "0.5",
            "--device",
            "cpu",
        ]
    )
    assert code == 0 and out.exists()
    assert "frames in" in capsys.readouterr().out
    frames = tmp_path / "frames"
    code = main(
        [
            "video",
            "segment",
            "demo",
            "-o",
            str(frames),
            "--effect",
            "alpha",
            "--frames",
            "3",
            "--engine",
            "mog2",
        ]
    )
    assert code == 0 and len(list(frames.glob("*.png"))) == 3


def test_cli_bad_input_is_one_clear_line(tmp_path, capsys):
    assert main(["video", "segment", str(tmp_path / "none.mp4"), "-o", "x.mp4"]) == 1
    assert "no such file" in capsys.readouterr().err
    assert (
        main(["video", "segment", "demo", "-o", str(tmp_path / "o.mp4"), "--effect", "color:red"])
        == 1
    )
    assert "#RRGGBB" in capsys.readouterr().err
    assert main(["video", "demo", "-o", str(tmp_path / "d.mp4"), "--size", "big"]) == 1
    assert "WIDTHxHEIGHT" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_cli_lists_cameras_without_failing(capsys):
    assert main(["video", "cameras"]) == 0
    assert capsys.readouterr().out.strip()


def test_matte_output_is_grey(tmp_path):
    import cv2

    from studio.video.export import export_video
    from studio.video.pipeline import VideoSettings

    out = tmp_path / "m"
    export_video("demo", out, VideoSettings(effect="matte"), fmt="png", max_frames=1)
    image = cv2.imread(str(next(out.glob("*.png"))))
    assert np.array_equal(image[..., 0], image[..., 2])
