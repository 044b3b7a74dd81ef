"""The music model families behind one interface: transformer, LSTM, VAE and GAN.

Every family is loaded with :func:`load_family` (a family name for the shipped model, or a path to a
``.safetensors`` file whose metadata names its family) and answers the :class:`MusicFamily`
protocol. A mode a family does not offer raises :class:`NotSupportedError`, whose message names the
modes it has. Qt-free; torch is imported when a model is loaded, never on import.

- ``transformer``: generate, continue (and infill / harmonize through :mod:`studio.music.engine`);
- ``lstm``: generate, continue (folk-rnn style, on the transformer's tokens);
- ``vae``: generate, interpolate, variations, attributes (MusicVAE style, a latent per bar);
- ``gan``: generate, groove (MuseGAN style: drums, bass and chords bars, optionally under a melody).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from studio.core.jobs import JobContext
    from studio.core.media import MidiClip
    from studio.music.tokens import PieceTokens

__all__ = [
    "FAMILIES",
    "FAMILY_MODES",
    "SHIPPED",
    "MusicFamily",
    "NotSupportedError",
    "load_family",
    "family_of",
    "shipped_path",
]

FAMILIES = ("transformer", "lstm", "vae", "gan")

#: What each family can do (the CLI and the panel show these).
FAMILY_MODES: dict[str, frozenset[str]] = {
    "transformer": frozenset({"generate", "continue", "infill", "harmonize"}),
    "lstm": frozenset({"generate", "continue"}),
    "vae": frozenset({"generate", "interpolate", "variations", "attributes"}),
    "gan": frozenset({"generate", "groove"}),
}

#: The shipped model of each family, in ``resources/models/music/``.
SHIPPED = {
    "transformer": "studio-music-medium",  # studio.music.DEFAULT_MODEL
    "lstm": "studio-music-lstm",
    "vae": "studio-music-vae",
    "gan": "studio-music-gan",
}

#: safetensors metadata key that names the family (the transformer's files predate it).
FAMILY_KEY = "family"


class NotSupportedError(ValueError):
    """A family was asked for a mode it does not have; the message names the modes it has."""

    def __init__(self, family: str, mode: str, modes: frozenset[str]) -> None:
        super().__init__(
            f"the {family} model has no {mode} mode; its modes are {', '.join(sorted(modes))}"
            + _suggest(mode)
        )
        self.family, self.mode, self.modes = family, mode, modes


def _suggest(mode: str) -> str:
    have = [f for f, m in FAMILY_MODES.items() if mode in m]
    return f" (use --model {' or '.join(have)} for {mode})" if have else ""


@runtime_checkable
class MusicFamily(Protocol):
    """What every family offers. Times are in quarter-note beats as in :class:`MidiClip`.

    ``ctx`` is a :class:`~studio.core.jobs.JobContext` (progress, partial results, cancel).
    Methods a family lacks raise :class:`NotSupportedError`.
    """

    family: str
    modes: frozenset[str]
    device: str

    def generate(
        self,
        bars: int,
        *,
        meter: tuple[int, int] = (4, 4),
        tempo: float = 120.0,
        style: str | None = None,
        seed: int = 0,
        ctx: JobContext | None = None,
    ) -> MidiClip:
        """A new clip of ``bars`` bars. Raises ValueError for a request it cannot meet."""
        ...

    def continue_(
        self, clip: MidiClip, bars: int, *, seed: int = 0, ctx: JobContext | None = None
    ) -> MidiClip:
        """``clip`` followed by ``bars`` new bars (the input's notes kept exactly)."""
        ...

    def interpolate(
        self,
        a: MidiClip,
        b: MidiClip,
        steps: int,
        *,
        seed: int = 0,
        ctx: JobContext | None = None,
    ) -> list[MidiClip]:
        """``steps`` clips morphing from ``a`` to ``b`` (both ends included when steps >= 2)."""
        ...

    def variations(
        self,
        clip: MidiClip,
        amount: float,
        n: int,
        *,
        seed: int = 0,
        ctx: JobContext | None = None,
    ) -> list[MidiClip]:
        """``n`` clips near ``clip``; ``amount`` 0 (the clip as the model hears it) .. 1 (far)."""
        ...

    def groove(
        self,
        style: str,
        bars: int,
        under: MidiClip | None = None,
        *,
        seed: int = 0,
        ctx: JobContext | None = None,
    ) -> MidiClip:
        """Drums, bass and chords for ``bars`` bars in ``style``; with ``under`` (a melody), drums
        under it, returned merged with the melody."""
        ...

    def nll(self, pieces: Sequence[PieceTokens]) -> tuple[float, str] | None:
        """Held-out score of ``pieces``: (nats, unit), unit ``"nll/token"`` (exact) or
        ``"ELBO bound/step"`` (an upper bound on the NLL per 16th-note step); None when the
        family has no likelihood (the GAN)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Family, parameters, modes and the metadata stored with the weights."""
        ...


class FamilyBase:
    """Defaults for the optional modes: each raises :class:`NotSupportedError`."""

    family = "?"
    modes: frozenset[str] = frozenset()
    device = "cpu"
    meta: dict[str, str] = {}

    def _unsupported(self, mode: str) -> NotSupportedError:
        return NotSupportedError(self.family, mode, self.modes)

    def generate(self, bars, *, meter=(4, 4), tempo=120.0, style=None, seed=0, ctx=None):
        raise self._unsupported("generate")

    def continue_(self, clip, bars, *, seed=0, ctx=None):
        raise self._unsupported("continue")

    def interpolate(self, a, b, steps, *, seed=0, ctx=None):
        raise self._unsupported("interpolate")

    def variations(self, clip, amount, n, *, seed=0, ctx=None):
        raise self._unsupported("variations")

    def groove(self, style, bars, under=None, *, seed=0, ctx=None):
        raise self._unsupported("groove")

    def nll(self, pieces):
        return None

    def num_parameters(self) -> int:
        model = getattr(self, "model", None)
        return sum(p.numel() for p in model.parameters()) if model is not None else 0

    def describe(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "modes": sorted(self.modes),
            "parameters": self.num_parameters(),
            "meta": dict(self.meta),
        }


def family_of(path: str | Path) -> str:
    """The family a ``.safetensors`` music model belongs to (its metadata's ``family``; the
    transformer's older files are recognized by their format). Raises ValueError otherwise."""
    from safetensors import safe_open

    path = Path(path)
    try:
        # numpy, not torch: only the metadata is read, and the Music panel asks this while it is
        # built on the window's thread (framework="pt" imported torch there, seconds when busy)
        with safe_open(str(path), framework="numpy") as fh:
            meta = dict(fh.metadata() or {})
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own type for bad files
        raise ValueError(f"{path.name} is not a readable music model ({exc})") from exc
    family = meta.get(FAMILY_KEY)
    if family is None and meta.get("format", "").startswith("studio-music-transformer"):
        family = "transformer"
    if family not in FAMILIES:
        raise ValueError(f"{path.name} is not a Studio music model of a known family")
    return family


def shipped_path(family: str) -> Path:
    """The installed model of ``family`` (sha256 checked). Raises FileNotFoundError."""
    from studio.core.models import ModelStore

    store = ModelStore.from_settings()
    try:
        entry = store.find(SHIPPED[family], "music")
    except KeyError:
        raise FileNotFoundError(
            f"no {family} music model is installed ({SHIPPED[family]}); train one with "
            f"`studio music train --arch {family}`"
        ) from None
    return store.verify(entry)


def load_family(name_or_path: str | Path, device: str = "cpu") -> MusicFamily:
    """A family by name (``transformer``, ``lstm``, ``vae``, ``gan``: the shipped model) or a path
    to a ``.safetensors`` model (the family read from its metadata).

    Raises FileNotFoundError for a missing file or model, ValueError for a file that is not a
    Studio music model.
    """
    text = str(name_or_path)
    if text in FAMILIES:
        path = shipped_path(text)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise FileNotFoundError(
                f"model {path} does not exist (give a file or one of {', '.join(FAMILIES)})"
            )
    family = family_of(path)
    if family == "transformer":
        from studio.music.families.transformer import TransformerFamily

        return TransformerFamily.load(path, device)
    if family == "lstm":
        from studio.music.families.lstm import LSTMFamily

        return LSTMFamily.load(path, device)
    if family == "vae":
        from studio.music.families.vae import VAEFamily

        return VAEFamily.load(path, device)
    from studio.music.families.gan import GANFamily

    return GANFamily.load(path, device)
