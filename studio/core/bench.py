"""Moved to :mod:`studio.bench`: the benchmark registry imports the engines, and the core imports
none. This alias remains only until ``studio.ui.main_window`` and ``studio.project_bench`` import
``studio.bench`` (the import-linter contract names it as the one exception)."""

from studio.bench import *  # noqa: F403
from studio.bench import __all__, _run  # noqa: F401
