"""The ``transformer`` and ``lstm`` families share one token path: :class:`TokenFamily` drives any
model with the transformer's call signature through :class:`studio.music.engine.MusicEngine`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from studio.core.jobs import JobContext
from studio.core.media import MidiClip
from studio.music.families import FAMILY_MODES, FamilyBase

__all__ = ["TokenFamily", "TransformerFamily", "NLL_CONTEXT"]

NLL_CONTEXT = 512  # tokens per held-out window


class TokenFamily(FamilyBase):
    """A token model (``forward(idx, past=None, use_cache=False) -> (logits, cache)`` and a
    ``cfg.context``) behind the family interface."""

    def __init__(self, model, device: str = "cpu", meta: dict[str, str] | None = None) -> None:
        from studio.music.engine import MusicEngine

        self.model, self.device, self.meta = model, device, dict(meta or {})
        self.engine = MusicEngine(model, device)
        self.tok = self.engine.tok

    def _run(self, req, ctx: JobContext | None) -> MidiClip:
        clip = self.engine.run(req, ctx)[0]
        clip.provenance["engine"] = f"studio/music-{self.family}"
        if self.meta.get("name"):
            clip.provenance["model"] = self.meta["name"]
        return clip

    def generate(self, bars, *, meter=(4, 4), tempo=120.0, style=None, seed=0, ctx=None):
        from studio.music.engine import MusicRequest

        req = MusicRequest(
            mode="generate",
            meter=f"{meter[0]}/{meter[1]}",
            tempo=float(tempo),
            style=style or "chorale",
            bars=int(bars),
            seed=int(seed),
        )
        return self._run(req, ctx)

    def continue_(self, clip, bars, *, seed=0, ctx=None):
        from studio.music.engine import MusicRequest

        if clip is None or not clip.notes:
            raise ValueError("continue needs a clip with notes")
        req = MusicRequest(mode="continue", clip=clip, style="user", bars=int(bars), seed=seed)
        return self._run(req, ctx)

    def nll(self, pieces: Sequence) -> tuple[float, str] | None:
        from studio.music.training import cross_entropy, heldout_windows

        # The same windows for every token family (the transformer's context), so NLLs compare;
        # the LSTM has no context limit and reads them as they are.
        windows = heldout_windows(self.tok, list(pieces), NLL_CONTEXT)
        if not windows:
            return None
        value, _count = cross_entropy(self.model, windows, self.tok.PAD, self.device)
        return value, "nll/token"


class TransformerFamily(TokenFamily):
    """Today's music transformer (:mod:`studio.music.model`), unchanged."""

    family = "transformer"
    modes = FAMILY_MODES["transformer"]

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> TransformerFamily:
        from studio.music.model import load_model

        model, meta = load_model(Path(path), device)
        return cls(model, device, meta)
