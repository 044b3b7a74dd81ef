import hashlib
import json
import subprocess

import cv2
import numpy as np
import pytest

from studio.core.jobs import Cancelled
from studio.testing import RecordingContext
from studio.video.export import ExportError, export_video, write_demo
from studio.video.pipeline import VideoPipeline, VideoSettings
from studio.video.segmenters import Segmenter
from studio.video.sources import DemoSource, Frame, FrameSource


class BrightSegmenter(Segmenter):
    """A stand-in segmenter: whatever is bright is the person."""

    name = "bright"

    def segment(self, rgb):
        return (rgb.mean(axis=2) > 128).astype(np.float32)


class MovingSquare(FrameSource):
    """A bright square that jumps to a new place every frame."""

    seekable = True

    def __init__(self, frames=12, width=96, height=64, fps=10.0):
        super().__init__()
        self.name = "squares"
        self.width, self.height, self.fps, self.frame_count = width, height, fps, frames

    def read(self):
        if self.position >= self.frame_count:
            return None
        i = self.position
        pixels = np.zeros((self.height, self.width, 3), np.uint8)
        x = (i * 23) % (self.width - 16)
        pixels[20:40, x : x + 16] = 255
        self.position += 1
        return Frame(i, i / self.fps, pixels)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _probe(path, entries="stream=codec_type,codec_name,width,height,nb_frames"):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["streams"]


def test_each_matte_is_applied_to_its_own_frame():
    settings = VideoSettings(effect="color:#000000")
    settings.refine.smooth = 0.0
    settings.refine.feather = 0.0
    pipeline = VideoPipeline(settings, segmenter=BrightSegmenter())
    for frame in MovingSquare():
        out = pipeline.process(frame)
        # the square (kept) is exactly where this frame's square is, never where it was
        kept = out.output.mean(axis=2) > 128
        assert np.array_equal(kept, frame.pixels.mean(axis=2) > 128)
        assert out.matte.shape == (64, 96) and out.matte.dtype == np.uint8


def test_export_h264_keeps_the_sound_and_leaves_the_source_alone(clip_with_sound, tmp_path):
    before = _sha(clip_with_sound)
    out = tmp_path / "out.mp4"
    ctx = RecordingContext()
    result = export_video(clip_with_sound, out, VideoSettings(effect="blur"), ctx)
    assert _sha(clip_with_sound) == before
    assert result.encoder == "ffmpeg" and result.audio_kept and result.frames == 30
    streams = {s["codec_type"]: s for s in _probe(out)}
    assert streams["video"]["codec_name"] == "h264"
    assert (streams["video"]["width"], streams["video"]["height"]) == (160, 120)
    assert streams["audio"]["codec_name"] == "aac"
    assert ctx.reports[-1][0] == 1.0 and ctx.partials  # progress to the end, previews on the way
    assert not list(tmp_path.glob(".*part*"))


def test_without_ffmpeg_opencv_writes_mpeg4_and_says_the_sound_is_lost(
    demo_clip, tmp_path, monkeypatch
):
    monkeypatch.setenv("STUDIO_FFMPEG", "none")
    out = tmp_path / "fallback.mp4"
    result = export_video(demo_clip, out, VideoSettings(effect="green"))
    assert result.encoder == "opencv-mp4v" and not result.audio_kept
    assert any("ffmpeg is not installed" in w for w in result.warnings)
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    cap.release()


def test_png_sequence_with_alpha(demo_clip, tmp_path):
    out = tmp_path / "cutout"
    result = export_video(demo_clip, out, VideoSettings(effect="alpha"), max_frames=5)
    files = sorted(out.glob("frame_*.png"))
    assert result.frames == 5 and len(files) == 5
    rgba = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (180, 320, 4)
    alpha = rgba[..., 3]
    assert alpha.max() == 255 and alpha.min() == 0  # the person opaque, the backdrop clear


def test_transparent_mov_is_prores_4444(demo_clip, tmp_path, ffmpeg):
    out = tmp_path / "cutout.mov"
    export_video(demo_clip, out, VideoSettings(effect="alpha"), max_frames=3)
    video = _probe(out, "stream=codec_name,pix_fmt")[0]
    assert video["codec_name"] == "prores" and video["pix_fmt"].startswith("yuva444")


def test_refusals_leave_nothing_behind(demo_clip, tmp_path):
    with pytest.raises(ExportError, match="transparency"):
        export_video(demo_clip, tmp_path / "a.mp4", VideoSettings(effect="alpha"))
    with pytest.raises(ExportError, match="overwrite the source"):
        export_video(demo_clip, demo_clip, VideoSettings())
    with pytest.raises(ExportError, match="cannot tell the format"):
        export_video(demo_clip, tmp_path / "a.gif", VideoSettings())
    assert list(tmp_path.iterdir()) == []


def test_cancel_stops_the_export_and_removes_the_partial_file(demo_clip, tmp_path):
    ctx = RecordingContext()
    seen = []

    def partial(value):
        seen.append(value)
        ctx.cancel()

    ctx._on_partial = partial
    with pytest.raises(Cancelled):
        export_video(demo_clip, tmp_path / "c.mp4", VideoSettings(), ctx)
    assert seen and list(tmp_path.iterdir()) == []


def test_odd_sizes_and_portrait_frames_export(tmp_path, ffmpeg):
    source = DemoSource(181, 321, frames=4, fps=10)  # portrait, both sides odd
    result = export_video(source, tmp_path / "odd.mp4", VideoSettings(effect="blur"))
    video = _probe(tmp_path / "odd.mp4")[0]
    assert result.frames == 4 and (video["width"], video["height"]) == (182, 322)


def test_variable_frame_rate_source_is_retimed_to_keep_its_length(tmp_path, ffmpeg):
    vfr = tmp_path / "vfr.mkv"
    # 20 frames at 10 FPS with a one-second hole after frame 10
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10:d=2",
            "-vf",
            "setpts='(N+gte(N\\,10)*10)/10/TB'",
            "-fps_mode",
            "vfr",
            str(vfr),
        ],
        check=True,
    )
    result = export_video(vfr, tmp_path / "cfr.mp4", VideoSettings(effect="matte"))
    # 3 seconds at 10 FPS: the hole is held on the last picture, not squeezed out
    assert result.frames == pytest.approx(30, abs=2)
    assert int(_probe(tmp_path / "cfr.mp4")[0]["nb_frames"]) == result.frames


def test_memory_stays_flat_on_a_long_clip(tmp_path):
    import tracemalloc

    long = DemoSource(64, 48, frames=900, fps=30)
    tracemalloc.start()
    export_video(long, tmp_path / "long", VideoSettings(effect="matte"), fmt="png")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # 900 frames kept would be 900 x 9 KB = 8 MB at least
    assert peak < 4_000_000
    assert len(list((tmp_path / "long").iterdir())) == 900


def test_demo_clip_writer(tmp_path):
    result = write_demo(tmp_path / "d.mp4", seconds=1.0, width=160, height=90, fps=12)
    assert result.frames == 12
    with pytest.raises(ExportError, match="video"):
        write_demo(tmp_path / "d.png")


def test_overlapped_export_keeps_each_matte_on_its_own_frame(tmp_path):
    """Segmentation runs a frame ahead on its own thread and encoding behind on another: every
    written frame must still show its own square, never the previous frame's."""
    settings = VideoSettings(effect="color:#000000")
    settings.refine.smooth = 0.0
    settings.refine.feather = 0.0
    outputs = {}
    for overlap in (True, False):
        pipeline = VideoPipeline(settings, segmenter=BrightSegmenter())
        folder = tmp_path / f"overlap-{overlap}"
        result = export_video(
            MovingSquare(frames=24), folder, settings, pipeline=pipeline, overlap=overlap
        )
        assert result.frames == 24
        steps = ("decode", "segment", "refine", "composite", "encode")
        assert {*steps, "wait_input", "wall", "total_cpu"} <= set(result.timings)
        assert all(result.timings[f"{step}_cpu"] >= 0 for step in steps)
        frames = sorted(folder.glob("frame_*.png"))
        assert len(frames) == 24
        source = MovingSquare(frames=24)
        for path in frames:
            expected = source.read().pixels.mean(axis=2) > 128
            written = cv2.imread(str(path)).mean(axis=2) > 128
            assert np.array_equal(written, expected), path.name
        outputs[overlap] = [_sha(p) for p in frames]
    assert outputs[True] == outputs[False]  # the overlap changes the speed, not the pictures


def test_overlapped_export_cancels_promptly_and_leaves_nothing(tmp_path):
    out = tmp_path / "cut"
    ctx = RecordingContext(cancel_after=2)
    with pytest.raises(Cancelled):
        export_video(
            MovingSquare(frames=100_000),
            out,
            VideoSettings(effect="green"),
            ctx,
            pipeline=VideoPipeline(VideoSettings(effect="green"), segmenter=BrightSegmenter()),
        )
    assert not out.exists() and not any(tmp_path.iterdir())
