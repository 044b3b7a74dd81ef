"""The example plugin under plugins/euclid-drums: installed with pip, discovered, listed, run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from .conftest import install_plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "euclid-drums"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return install_plugin(PLUGIN, tmp_path_factory.mktemp("site"))


def studio(installed, *args):
    env = dict(os.environ, PYTHONPATH=str(installed))
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_validate_accepts_the_project_folder_and_the_manifest():
    for target in (PLUGIN, PLUGIN / "studio_euclid_drums" / "studio-plugin.toml"):
        out = subprocess.run(
            [sys.executable, "-m", "studio", "plugins", "validate", str(target)],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        assert "ok: euclid-drums 0.1.0" in out.stdout


def test_installed_plugin_is_discovered_and_listed(installed):
    out = studio(installed, "plugins", "list", "--json")
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["euclid-drums"]["status"] == "ok"
    assert plugins["euclid-drums"]["builtin"] is False
    assert plugins["euclid-drums"]["contributions"][0]["kind"] == "midi"


def test_installed_plugin_runs_and_writes_a_drum_pattern(installed, tmp_path):
    out_file = tmp_path / "beat.mid"
    out = studio(
        installed,
        "generate",
        "euclid-drums/euclid",
        "-o",
        str(out_file),
        "-p",
        "kick_hits=3",
        "-p",
        "steps=8",
        "-p",
        "bars=2",
        "-p",
        "seed=1",
        "-p",
        "open_hat_hits=0",
    )
    assert out.returncode == 0, out.stderr
    mid = mido.MidiFile(str(out_file))
    hits = [m for m in mid if m.type == "note_on" and m.velocity > 0]
    assert {m.channel for m in hits} == {9}  # General MIDI drums
    kicks = [m for m in hits if m.note == 36]
    assert len(kicks) == 3 * 2  # E(3,8) over two bars


def test_safe_mode_skips_the_plugin(installed):
    out = studio(installed, "--safe-mode", "plugins", "list", "--json")
    status = {p["name"]: p["status"] for p in json.loads(out.stdout)}
    assert status["euclid-drums"] == "skipped (safe mode)"
    assert status["studio"] == "ok"


def test_euclid_patterns_match_the_known_rhythms():
    sys.path.insert(0, str(PLUGIN))
    try:
        from studio_euclid_drums.generator import euclid
    finally:
        sys.path.remove(str(PLUGIN))

    def show(p):
        return "".join("x" if s else "." for s in p)

    assert show(euclid(3, 8)) == "x..x..x."  # tresillo
    assert show(euclid(4, 16)) == "x...x...x...x..."  # four on the floor
    assert sum(euclid(5, 13)) == 5
    assert show(euclid(2, 16, 4)) == "....x.......x..."  # backbeat on 2 and 4
    assert show(euclid(0, 4)) == "...."
