"""Reading the metadata of the model files Studio's image trainers write (safetensors), and
their training checkpoints (written atomically, read back with ``weights_only=True``)."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "describe_model",
    "error_reason",
    "foreign_checkpoint",
    "load_checkpoint",
    "save_checkpoint",
    "studio_metadata",
]

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


def error_reason(exc: BaseException) -> str:
    """An exception's first line (at most 160 characters), or its class when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def foreign_checkpoint(path: Path, what: str, reason: str, fresh: str = "--fresh") -> str:
    """The message for a checkpoint at ``path`` that is not one of this ``what``'s trainings."""
    return (
        f"{path.name} is not a checkpoint of this {what} (damaged, or another program's: "
        f"{reason}); it was left as it is: delete it, or train with {fresh} to replace it"
    )


def load_checkpoint(path: Path, what: str, fresh: str = "--fresh"):
    """The checkpoint at ``path`` (tensors and plain values only: ``weights_only=True``).
    Raises ValueError, in words (:func:`foreign_checkpoint`), for a damaged or foreign file, and
    leaves it as it is."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a foreign file
        raise ValueError(foreign_checkpoint(path, what, error_reason(exc), fresh)) from None


def save_checkpoint(state, path: Path) -> None:
    """Write ``state`` with ``torch.save``, atomically: a kill leaves the previous checkpoint."""
    import torch

    from studio.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)
