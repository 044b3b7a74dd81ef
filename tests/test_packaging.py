"""The wheel: built from this checkout, installed outside the source tree (reusing the installed
dependencies, offline), and run: `studio doctor`, the self-test (one engine of each panel), the
shipped models with their cards."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", str(ROOT), "--no-deps",
         "--no-build-isolation", "--no-index", "-w", str(out)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (path,) = out.glob("studio-*.whl")
    return path


def test_the_wheel_holds_the_resources_models_and_cards(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "studio/_resources/NOTICES.md",
        "studio/_resources/models/music/studio-music-small.safetensors",
        "studio/_resources/models/music/studio-music-small.safetensors.card.toml",
        "studio/_resources/models/video/selfie_segmentation_landscape.tflite",
        "studio/_resources/models/video/selfie_segmentation_landscape.tflite.card.toml",
        "studio/_resources/licenses/mediapipe-Apache-2.0.txt",
        "studio/_resources/icons/studio.svg",
        "studio/builtin/studio-plugin.toml",
    ):
        assert needed in names, needed


def test_the_installed_wheel_runs_outside_the_source_tree(wheel, tmp_path):
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
         str(site), str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    env = {**__import__("os").environ, "PYTHONPATH": str(site), "QT_QPA_PLATFORM": "offscreen"}

    def studio(*args):
        return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=300)  # fmt: skip

    where = subprocess.run([sys.executable, "-c", "import studio; print(studio.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)  # fmt: skip
    assert where.stdout.strip().startswith(str(site))  # not the checkout
    doctor = studio("doctor", "--json")
    assert doctor.returncode == 0, doctor.stderr
    report = __import__("json").loads(doctor.stdout)
    models = {m["name"]: m for m in report["models"]["models"]}
    assert str(site) in models["selfie-landscape"]["path"]
    selftest = studio("--selftest")
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr
    assert "7 of 7 passed" in selftest.stdout
