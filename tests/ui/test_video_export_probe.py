"""The Video panel's export as ``studio bench video`` times it (``python -m studio.ui._probe
gui-export``): the window up with the Music panel warming its model at launch, as an artist's."""

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from studio.video.export import write_demo

    path = tmp_path_factory.mktemp("probe") / "clip.mp4"
    write_demo(path, seconds=1.0, width=320, height=180, fps=30)
    return path


def test_the_export_figure_holds_only_the_export(clip, tmp_path):
    # Once the Music model's launch warm-up ran during the export's first second and counted as
    # 1-2 ms of each frame's ~32: the probe now exports after the window has settled and names
    # any other panel's job that ran meanwhile.
    out = tmp_path / "out.mp4"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STUDIO_PRELOAD="1")
    run = subprocess.run(
        [sys.executable, "-m", "studio.ui._probe", "gui-export", str(clip), str(out)],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert "error" not in figures, figures
    assert figures["frames"] == 30
    assert out.is_file() and out.stat().st_size > 0
    assert figures["other_jobs_during_export"] == []
    assert figures["cpu_ms_per_frame"] > 0 and figures["gui_thread_cpu_ms_per_frame"] >= 0
