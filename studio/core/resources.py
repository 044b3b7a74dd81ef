"""Find the shipped ``resources/`` folder in a source checkout and in an installed wheel."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["resources_dir", "resource_path", "ResourceNotFound"]


class ResourceNotFound(FileNotFoundError):
    """A shipped resource is missing: the installation is incomplete."""


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """Return the folder holding Studio's shipped resources.

    In a wheel the build maps the top-level ``resources/`` to ``studio/_resources``; in an editable
    checkout it is ``resources/`` beside the ``studio`` package. Raises ResourceNotFound if neither
    exists.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "_resources", package.parent / "resources"):
        if (candidate / "models").is_dir():
            return candidate
    raise ResourceNotFound(
        f"Studio's resources folder is missing (looked in {package / '_resources'} and "
        f"{package.parent / 'resources'}); reinstall Studio."
    )


def resource_path(*parts: str) -> Path:
    """Path of one shipped resource, e.g. ``resource_path("models", "music", "x.safetensors")``.

    Raises ResourceNotFound when it does not exist.
    """
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise ResourceNotFound(f"missing resource: {'/'.join(parts)}")
    return path
