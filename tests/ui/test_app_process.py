"""The real `studio` command: the window opens, quits cleanly, and shots render."""

import os
import signal
import struct
import subprocess
import sys
import time

import pytest


def _wait_for_line(proc, text, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never saw {text!r}; got {seen!r}, stderr: {proc.stderr.read()}")


def test_studio_opens_a_window_and_quits_cleanly(isolated_dirs):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen(
        [sys.executable, "-m", "studio"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_for_line(proc, "studio: window shown", timeout=60)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    # a clean quit saved the window layout for the next start
    assert (isolated_dirs["config"] / "studio" / "window.ini").exists()
    log = (isolated_dirs["state"] / "studio" / "log" / "studio.log").read_text()
    assert "Studio" in log and "started" in log


def _png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("panel, theme", [("music", "light"), ("library", "dark")])
def test_shot_renders_a_png_of_the_asked_size(tmp_path, panel, theme):
    out = tmp_path / f"{panel}.png"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "shot",
            panel,
            "-o",
            str(out),
            "--size",
            "1024x700",
            "--theme",
            theme,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _png_size(out) == (1024, 700)


def test_shot_refuses_a_bad_size(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "shot",
            "music",
            "-o",
            str(tmp_path / "x.png"),
            "--size",
            "huge",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "size must look like" in result.stderr


def test_the_window_opens_without_heavy_imports(isolated_dirs):
    """torch, music21 and miditok load in the jobs that need them, never before the first paint."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from studio.ui.context import StudioContext\n"
        "from studio.ui.main_window import MainWindow\n"
        "w = MainWindow(StudioContext.create(), restore=False)\n"
        "print(sorted(m for m in ('torch', 'music21', 'miditok', 'cv2') if m in sys.modules))\n"
        "w.close()\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.stdout.strip().splitlines()[0] == "[]", out.stdout + out.stderr


def test_a_second_studio_says_one_is_running_and_leaves_it_alone(isolated_dirs):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    first = subprocess.Popen([sys.executable, "-m", "studio"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        _wait_for_line(first, "studio: window shown", timeout=60)
        second = subprocess.run([sys.executable, "-m", "studio"], capture_output=True,
                                text=True, env=env, timeout=60)  # fmt: skip
        assert second.returncode == 3
        assert "already running" in second.stderr and str(first.pid) in second.stderr
        assert first.poll() is None  # the first one goes on
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    # once it has quit, the next start is not refused
    third = subprocess.Popen([sys.executable, "-m", "studio"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        _wait_for_line(third, "studio: window shown", timeout=60)
    finally:
        third.send_signal(signal.SIGTERM)
        third.wait(timeout=30)


@pytest.mark.parametrize("how", ["positional", "--open"])
def test_studio_opens_a_project_given_on_the_command_line(isolated_dirs, tmp_path, how):
    import shutil
    from pathlib import Path

    project = shutil.copytree(
        Path(__file__).parents[1] / "data" / "projects" / "format1-song.studio",
        tmp_path / "my song.studio",
    )
    args = [str(project)] if how == "positional" else ["--open", str(project)]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, "-m", "studio", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        _wait_for_line(proc, "studio: window shown", timeout=60)
        log = isolated_dirs["state"] / "studio" / "log" / "studio.log"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "opened project" not in log.read_text():
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert f"opened project {project}" in log.read_text()
