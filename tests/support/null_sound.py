"""A child Python process whose default sound output is ALSA's null device: it plays into
nothing, paced like a real card, on a machine with no sound card."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def null_sound_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment, with ALSA's default output the null device (a config file
    written in ``tmp_path``)."""
    conf = tmp_path / "asound.conf"
    conf.write_text("pcm.!default { type null }\n")
    return dict(os.environ, ALSA_CONFIG_PATH=str(conf))


def run_on_null_sound(
    tmp_path: Path, code: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run ``python -c code`` on the null device; its output, as text."""
    return subprocess.run([sys.executable, "-c", code], env=null_sound_env(tmp_path),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
