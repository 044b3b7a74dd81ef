"""Issue 18's video reproductions: the threshold is a hard cut, ``--frames`` trims the sound too,
a folder of photos of different sizes is letterboxed with a message, and a clip with no person
in it says so."""

import json
import subprocess

import cv2
import numpy as np

from studio.cli import main
from studio.video.export import export_video
from studio.video.pipeline import VideoPipeline, VideoSettings
from studio.video.refine import RefineSettings
from studio.video.segmenters import person_found
from studio.video.sources import DemoSource, ImageSequenceSource, letterbox
from tests.image import bombs


def _pngs(folder):
    return [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(folder.glob("*.png"))]


def test_a_threshold_leaves_no_grey_in_the_matte(tmp_path, selfie):
    settings = VideoSettings(effect="matte", refine=RefineSettings(threshold=0.5, feather=3.0))
    pipeline = VideoPipeline(settings, segmenter=selfie)
    export_video(DemoSource(320, 180, 4), tmp_path / "hard/", pipeline=pipeline, fmt="png")
    soft = VideoPipeline(VideoSettings(effect="matte"), segmenter=selfie)
    export_video(DemoSource(320, 180, 4), tmp_path / "soft/", pipeline=soft, fmt="png")
    hard_values = np.unique(np.concatenate([m.ravel() for m in _pngs(tmp_path / "hard")]))
    assert hard_values.tolist() == [0, 255]  # before: 22% of the matte was grey
    soft_mattes = _pngs(tmp_path / "soft")
    grey = np.mean([((m > 0) & (m < 255)).mean() for m in soft_mattes])
    assert grey > 0.005  # without a threshold the edges stay soft
    person = np.mean([(m == 255).mean() for m in _pngs(tmp_path / "hard")])
    assert 0.1 < person < 0.7  # and the cut is the person, not all or nothing


def _duration(path, kind):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", kind, "-show_entries",
         "stream=duration", "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(json.loads(out.stdout)["streams"][0]["duration"])


def test_frames_trims_the_sound_to_the_same_length(clip_with_sound, tmp_path, capsys):
    out = tmp_path / "part.mp4"  # the source: 3 s at 10 FPS, with a tone throughout
    code = main(
        ["video", "segment", str(clip_with_sound), "-o", str(out), "--frames", "10",
         "--effect", "none"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "10 frames" in capsys.readouterr().out
    video, audio = _duration(out, "v"), _duration(out, "a")
    assert abs(video - 1.0) < 0.05
    assert audio < 1.1  # before: the full 3 s of sound under 1 s of picture


def test_photos_of_different_sizes_are_letterboxed_with_a_message(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    wide = np.full((180, 320, 3), 90, np.uint8)
    tall = np.full((320, 180, 3), 200, np.uint8)  # a portrait photo: would be squashed flat
    big = np.full((360, 640, 3), 150, np.uint8)  # the same shape, twice the size: just scaled
    for name, pixels in (("a_1.png", wide), ("a_2.png", tall), ("a_3.png", big)):
        cv2.imwrite(str(folder / name), pixels)
    out = tmp_path / "frames"
    code = main(["video", "segment", str(folder), "-o", f"{out}/", "--effect", "none"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "2 pictures are another size than the first (320x180): letterboxed" in err
    assert "a_2.png, a_3.png" in err
    frames = _pngs(out)
    assert [f.shape for f in frames] == [(180, 320, 3)] * 3
    portrait = frames[1]
    assert portrait[:, :100].max() < 10 and portrait[:, -100:].max() < 10  # black bars
    assert abs(int(portrait[90, 160, 0]) - 200) < 3  # the photo in the middle, whole
    assert abs(int(frames[2][5, 5, 0]) - 150) < 3  # same proportions: no bars


def test_letterbox_keeps_proportions():
    tall = np.full((100, 50, 3), 255, np.uint8)
    boxed = letterbox(tall, 200, 100)
    assert boxed.shape == (100, 200, 3)
    lit = np.nonzero(boxed[50, :, 0])[0]
    assert lit.min() == 75 and lit.max() == 124  # 50 wide, centred: not stretched to 200


def test_a_clip_with_no_person_says_so(tmp_path, selfie):
    folder = tmp_path / "empty"
    folder.mkdir()
    y, x = np.mgrid[0:180, 0:320]
    for i in range(3):  # a gradient and coloured shapes: nothing like a person
        frame = np.dstack([(x + 40 * i) % 256, y, np.full_like(x, 128)]).astype(np.uint8)
        cv2.rectangle(frame, (40 + 30 * i, 40), (140 + 30 * i, 140), (30, 90, 200), -1)
        cv2.imwrite(str(folder / f"f{i}.png"), frame)
    pipeline = VideoPipeline(VideoSettings(effect="matte"), segmenter=selfie)
    source = ImageSequenceSource(folder)
    result = export_video(source, tmp_path / "out/", pipeline=pipeline, fmt="png")
    assert any("no person found" in w and "3 frames" in w for w in result.warnings)
    demo = export_video(DemoSource(320, 180, 2), tmp_path / "demo/", pipeline=pipeline, fmt="png")
    assert not any("no person" in w for w in demo.warnings)


def test_the_no_person_rule():
    mask = np.zeros((144, 256), np.float32)
    assert not person_found(mask)
    mask[:, :] = 0.7  # unsure everywhere: no person
    assert not person_found(mask)
    mask[60:80, 100:120] = 0.95  # 1% of the frame confidently a person
    assert person_found(mask)


def test_damaged_and_huge_pictures_in_a_folder_are_left_out_in_words(tmp_path, capfd):
    folder = tmp_path / "shots"
    folder.mkdir()
    y, x = np.mgrid[0:90, 0:160]
    good = cv2.imencode(".png", np.dstack([x, y, x]).astype(np.uint8))[1].tobytes()
    (folder / "s_1.png").write_bytes(good)
    (folder / "s_2.png").write_bytes(good[: len(good) // 2])  # cut short
    (folder / "s_3.png").write_bytes(bombs.huge_png())  # 249 megapixels: never decoded
    out = tmp_path / "out"
    assert main(["video", "segment", str(folder), "-o", f"{out}/", "--engine", "mog2"]) == 0
    err = capfd.readouterr().err
    assert "libpng" not in err  # before: "libpng error: Read Error"
    assert "1 picture is not readable, left out (s_2.png)" in err
    assert "1 picture is larger than Studio opens, left out (s_3.png)" in err
    assert len(list(out.glob("*.png"))) == 1
