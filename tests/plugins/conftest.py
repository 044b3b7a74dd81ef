"""Helpers for the tests that treat the example plugins under plugins/ as third-party plugins."""

import contextlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def install_plugin(project: Path, target: Path) -> Path:
    """pip-install a plugin project into ``target`` (offline, no dependencies: they are in the
    test environment already) and return ``target``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(project)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return target


@contextlib.contextmanager
def registry_with(site: Path):
    """A plugin registry that sees the plugins installed in ``site`` (on sys.path meanwhile)."""
    from studio.plugins.registry import PluginRegistry

    sys.path.insert(0, str(site))
    try:
        registry = PluginRegistry()
        registry.discover()
        yield registry
    finally:
        sys.path.remove(str(site))
