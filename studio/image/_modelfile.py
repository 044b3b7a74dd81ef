"""Reading the metadata of the model files Studio's image trainers write (safetensors)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["studio_metadata"]


def studio_metadata(path: str | Path, kind: str, what: str) -> dict[str, str]:
    """The safetensors metadata of ``path``, checked to be a Studio file of ``kind`` (a ``what``:
    "generator", "tagger"). Raises ValueError naming the file otherwise."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no {what} at {path}")
    try:
        with safe_open(str(path), "pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise ValueError(f"{path.name} is not a safetensors file: {exc}") from exc
    if meta.get("studio_kind") != kind:
        raise ValueError(
            f"{path.name} is not a Studio {what} (it is {meta.get('studio_kind') or 'unknown'})"
        )
    return meta
