"""The example plugin under plugins/level-generator, installed with pip and run like a third-party
plugin (it runs in its own process, per its manifest)."""

import json
import os
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from .conftest import install_plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "plugins" / "level-generator"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return install_plugin(PLUGIN, tmp_path_factory.mktemp("site"))


def _studio(site, *args):
    env = dict(os.environ, PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True,
                          text=True, env=env, timeout=300)  # fmt: skip


def _walkable_path(level):
    walk = {level["tiles"].index(t) for t in level["walkable"]}
    grid = level["grid"]
    start = (level["entrance"]["y"], level["entrance"]["x"])
    goal = (level["exit"]["y"], level["exit"]["x"])
    seen, queue = {start}, deque([start])
    while queue:
        y, x = queue.popleft()
        if (y, x) == goal:
            return True
        for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            ny, nx = y + dy, x + dx
            if (
                0 <= ny < len(grid)
                and 0 <= nx < len(grid[0])
                and grid[ny][nx] in walk
                and (ny, nx) not in seen
            ):
                seen.add((ny, nx))
                queue.append((ny, nx))
    return False


def test_the_level_plugin_is_listed_and_makes_a_playable_seeded_level(site, tmp_path):
    listed = _studio(site, "plugins", "list")
    assert "level-generator" in listed.stdout
    assert _studio(site, "plugins", "validate", str(PLUGIN)).returncode == 0
    out = tmp_path / "level.png"
    done = _studio(site, "generate", "level-generator/level", "-p", "width=24", "-p", "height=14",
                   "-p", "seed=5", "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    level = json.loads(out.with_suffix(".json").read_text())
    assert level["width"] == 24 and len(level["grid"]) == 14 and len(level["grid"][0]) == 24
    assert level["entrance"]["x"] == 0 and level["exit"]["x"] == 23
    assert _walkable_path(level)  # the entrance leads to the exit
    from studio.image.io import load_picture

    assert load_picture(out).size == (24 * 12, 14 * 12)
    again = tmp_path / "again.png"
    assert _studio(site, "generate", "level-generator/level", "-p", "width=24", "-p",
                   "height=14", "-p", "seed=5", "-o", str(again)).returncode == 0  # fmt: skip
    assert json.loads(again.with_suffix(".json").read_text())["grid"] == level["grid"]
