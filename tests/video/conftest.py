"""Video fixtures: one selfie segmenter for the session, small clips made by Studio's own code."""

import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def selfie(tmp_path_factory):
    from studio.core.models import ModelStore
    from studio.video.segmenters import SelfieSegmenter

    return SelfieSegmenter(store=ModelStore(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory):
    """A 2-second 320x180 demo clip as an MP4 file (ffmpeg when present, else OpenCV)."""
    from studio.video.export import write_demo

    path = tmp_path_factory.mktemp("clips") / "demo.mp4"
    write_demo(path, seconds=2.0, width=320, height=180, fps=15)
    return path


@pytest.fixture(scope="session")
def ffmpeg():
    """The ffmpeg program; tests of H.264 and sound skip without it (CI installs it)."""
    program = shutil.which("ffmpeg")
    if program is None:
        pytest.skip("ffmpeg is not installed (make system-deps installs it)")
    return program


@pytest.fixture(scope="session")
def clip_with_sound(tmp_path_factory, ffmpeg):
    """3 s of ffmpeg's test picture with a 440 Hz tone, 160x120 at 10 FPS."""
    path = tmp_path_factory.mktemp("clips") / "tone.mp4"
    subprocess.run(
        [
            ffmpeg,
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120:rate=10:d=3",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path
