"""Reading the metadata of the model files Studio's image trainers write (safetensors)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["describe_model", "studio_metadata"]

_KINDS = {"gan": "a Studio generator", "tagger": "a Studio tagger"}


def _what(meta: dict[str, str]) -> str:
    kind = meta.get("studio_kind")
    if kind:
        return _KINDS.get(kind, f"a Studio {kind} model")
    if meta.get("format", "").startswith("studio-music") or "family" in meta:
        return "a music model"
    return "not a Studio image model"


def describe_model(path: str | Path) -> str:
    """What the model file at ``path`` is, in words ("a Studio tagger", "a music model",
    "not a safetensors file")."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as fh:
            return _what(fh.metadata() or {})
    except Exception:  # noqa: BLE001 - any unreadable file is simply not a model
        return "not a safetensors file"


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
        said = meta.get("studio_kind") or _what(meta)
        raise ValueError(f"{path.name} is not a Studio {what} (it is {said})")
    return meta
