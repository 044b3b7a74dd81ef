import threading
import time

import cv2
import numpy as np
import pytest

from studio.video.sources import (
    CameraSource,
    DemoSource,
    FileSource,
    FrameSource,
    ImageSequenceSource,
    LatestFrame,
    SourceError,
    SourceLost,
    open_source,
)


def test_demo_source_is_a_deterministic_clip_of_the_requested_size():
    a = DemoSource(320, 180, frames=5, fps=10, seed=1)
    frames = list(a)
    assert len(frames) == 5
    assert frames[0].pixels.shape == (180, 320, 3) and frames[0].pixels.dtype == np.uint8
    assert [f.time for f in frames] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    b = DemoSource(320, 180, frames=5, fps=10, seed=1)
    b.seek(3)
    assert np.array_equal(b.read().pixels, frames[3].pixels)
    # the camera moves (and comes back: the clip loops seamlessly)
    assert np.abs(frames[0].pixels.astype(int) - frames[1].pixels).mean() > 2
    assert np.array_equal(frames[0].pixels, frames[4].pixels)


def test_jittered_demo_has_noise_but_no_drift():
    clip = DemoSource(320, 180, frames=3, motion="jitter", noise=6.0, jpeg_quality=70)
    f0, f1, _ = list(clip)
    diff = np.abs(f0.pixels.astype(int) - f1.pixels).mean()
    assert 1 < diff < 20


def test_file_source_reads_every_frame_with_timestamps(demo_clip):
    with FileSource(demo_clip) as source:
        assert (source.width, source.height) == (320, 180)
        assert source.fps == pytest.approx(15, abs=0.01)
        frames = list(source)
    assert len(frames) == 30
    times = [f.time for f in frames]
    assert times[0] == 0 and times == sorted(times)
    assert times[-1] == pytest.approx(29 / 15, abs=0.05)


def test_file_source_seeks(demo_clip):
    with FileSource(demo_clip) as source:
        frames = list(source)
        source.seek(10)
        again = source.read()
    assert again.index == 10
    assert np.abs(again.pixels.astype(int) - frames[10].pixels).mean() < 1.0


def test_unreadable_and_missing_files_get_clear_messages(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="cannot read junk.mp4"):
        FileSource(junk)
    with pytest.raises(SourceError, match="no such"):
        open_source(tmp_path / "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SourceError, match="no images"):
        open_source(empty)


def test_truncated_file_ends_early_instead_of_failing(demo_clip, tmp_path):
    data = demo_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    try:
        source = FileSource(cut)
    except SourceError as exc:  # the index was at the end: a clear message is fine too
        assert "cut.mp4" in str(exc)
        return
    frames = list(source)
    assert 0 < len(frames) <= 30


def test_image_sequence_in_natural_order_skips_broken_images_and_fits_sizes(tmp_path):
    for i in (1, 2, 10):
        image = np.full((60, 80, 3), i * 20, np.uint8)
        cv2.imwrite(str(tmp_path / f"frame_{i}.png"), image)
    cv2.imwrite(str(tmp_path / "frame_11.png"), np.zeros((30, 40, 3), np.uint8))
    (tmp_path / "frame_3.png").write_bytes(b"broken")
    source = open_source(tmp_path)
    assert isinstance(source, ImageSequenceSource)
    frames = list(source)
    assert [int(f.pixels[0, 0, 0]) for f in frames] == [20, 40, 200, 0]
    assert all(f.pixels.shape == (60, 80, 3) for f in frames)
    assert source.skipped == ["frame_3.png"]


def test_glob_pattern_is_an_image_sequence(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"shot_{i}.jpg"), np.zeros((16, 16, 3), np.uint8))
    assert len(list(open_source(str(tmp_path / "shot_*.jpg")))) == 3


def test_missing_camera_is_a_message_not_a_crash():
    with pytest.raises(SourceError, match="no camera at index 63"):
        CameraSource(63)
    with pytest.raises(SourceError, match="camera:N"):
        open_source("camera:x")


class _FastLive(FrameSource):
    """A live source that produces frames faster than the reader takes them."""

    live = True

    def __init__(self, fail_after=None):
        super().__init__()
        self.count = 0
        self.fail_after = fail_after

    def read(self):
        time.sleep(0.002)
        if self.fail_after is not None and self.count >= self.fail_after:
            raise SourceLost("camera 0 stopped sending frames (unplugged?)")
        from studio.video.sources import Frame

        self.count += 1
        return Frame(self.count, self.count / 500, np.zeros((4, 4, 3), np.uint8))


def test_latest_frame_always_hands_the_newest_and_drops_the_rest():
    latest = LatestFrame(_FastLive())
    try:
        first = latest.get()
        time.sleep(0.1)  # a slow consumer
        second = latest.get()
        assert second.index > first.index + 5  # no queue of stale frames
        assert latest.dropped > 5
    finally:
        latest.close()


def test_latest_frame_reports_an_unplugged_camera():
    latest = LatestFrame(_FastLive(fail_after=3))
    try:
        with pytest.raises(SourceLost, match="unplugged"):
            for _ in range(10):
                latest.get()
                time.sleep(0.01)
    finally:
        latest.close()
    assert not any(t.name == "frame-grabber" and t.is_alive() for t in threading.enumerate())
