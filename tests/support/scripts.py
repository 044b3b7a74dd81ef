"""A Python script run in a fresh interpreter, for the tests that kill a training mid-run."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def start_script(script: str, *args) -> subprocess.Popen:
    """Start ``script`` (Python source, dedented) in a new interpreter with ``args``; its
    standard output is dropped, its standard error kept for a failing test's message."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
