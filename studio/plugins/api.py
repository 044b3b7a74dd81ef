"""What plugin authors import: parameter specs as data, the Generator base and the media values.

A plugin never imports Qt: it declares its parameters as :class:`Param` data and the panel builds
the controls. A generator is created with no arguments, then ``load(device)``, ``run(request, ctx)``
any number of times, and ``unload()``. ``request`` is a dict of parameter values (already checked
and filled with defaults by :meth:`Generator.resolve`) plus the inputs of its kind (``text`` for
voice, ``frame`` for video_mask, ...). ``ctx`` is a :class:`JobContext`: report progress, check for
cancellation.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from studio.core.jobs import Cancelled, JobContext
from studio.core.media import AudioClip, Image, Mask, MidiClip, Note, Scores

__all__ = [
    "API_VERSION",
    "KINDS",
    "Param",
    "Generator",
    "JobContext",
    "Cancelled",
    "MidiClip",
    "Note",
    "AudioClip",
    "Image",
    "Mask",
    "Scores",
    "api_compatible",
]

#: The plugin API version this Studio provides (major.minor). A plugin asking for the same major
# and a
#: minor up to this one is compatible.
API_VERSION = "1.0"

#: Contribution kinds of API v1 and what each makes.
KINDS: dict[str, str] = {
    "midi": "makes a MidiClip",
    "image": "makes an Image",
    "voice": "turns text into an AudioClip",
    "video_mask": "turns a video frame (Image) into a Mask",
    "recommender": "ranks library items (Scores)",
    "transcriber": "turns an AudioClip into text",
    "annotator": "scores and tags a text or an item (Scores)",
}

PARAM_TYPES = ("int", "float", "bool", "choice", "str", "seed")


def api_compatible(wanted: str, provided: str = API_VERSION) -> bool:
    """True when a plugin asking for API ``wanted`` runs on ``provided``."""
    try:
        w_major, w_minor = (int(x) for x in (wanted.split(".") + ["0"])[:2])
        p_major, p_minor = (int(x) for x in (provided.split(".") + ["0"])[:2])
    except ValueError:
        return False
    return w_major == p_major and w_minor <= p_minor


@dataclass(frozen=True)
class Param:
    """One parameter, declared as data: the panel builds a control from it.

    ``type`` is one of int, float, bool, choice, str, seed. ``minimum``/``maximum`` bound numbers,
    ``choices`` lists a choice's values. A ``seed`` is an int where -1 means "pick one at random".
    """

    name: str
    type: str
    default: Any
    label: str = ""
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: Sequence[str] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"param {self.name}: type must be one of {', '.join(PARAM_TYPES)}")
        if self.type == "choice" and self.default not in self.choices:
            raise ValueError(f"param {self.name}: default {self.default!r} is not a choice")
        self.check(self.default)

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def check(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type; raise ValueError when it is out of
        range.
        """
        try:
            if self.type in ("int", "seed"):
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise TypeError
                value = int(value)
            elif self.type == "float":
                value = float(value)
            elif self.type == "bool":
                if isinstance(value, str):
                    value = value.strip().lower() in ("1", "true", "yes", "on")
                else:
                    value = bool(value)
            else:
                value = str(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.title}: {value!r} is not a valid {self.type}") from None
        if self.type == "seed" and value < -1:
            raise ValueError(f"{self.title}: a seed is -1 (random) or a non-negative number")
        if self.type in ("int", "float"):
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{self.title}: {value} is below the minimum {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{self.title}: {value} is above the maximum {self.maximum}")
        if self.type == "choice" and value not in self.choices:
            raise ValueError(f"{self.title}: {value!r} is not one of {', '.join(self.choices)}")
        return value

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "label": self.title,
            "help": self.help,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
            "choices": list(self.choices),
        }


class Generator:
    """Base class of every contribution (built-in or plugin).

    Subclasses set ``kind`` (one of :data:`KINDS`), ``title`` and ``params``, and implement
    :meth:`run`. Override :meth:`load`/:meth:`unload` when there is a model to hold.
    """

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[Sequence[Param]] = ()

    def __init__(self) -> None:
        self.device = "cpu"
        self.loaded = False

    def load(self, device: str) -> None:
        """Prepare to run on ``device`` ("cpu", "cuda" or "mps")."""
        self.device = device
        self.loaded = True

    def unload(self) -> None:
        """Free whatever :meth:`load` took."""
        self.loaded = False

    def resolve(self, request: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Check ``request`` against :attr:`params` and fill in defaults.

        Unknown keys pass through (they are the kind's inputs). A ``seed`` of -1 becomes a concrete
        seed, so the result's provenance can reproduce it. Raises ValueError naming the bad
        parameter.
        """
        request = dict(request or {})
        out = dict(request)
        for param in self.params:
            value = param.check(request.get(param.name, param.default))
            if param.type == "seed" and value == -1:
                value = random.SystemRandom().randrange(2**31)
            out[param.name] = value
        return out

    def run(self, request: dict[str, Any], ctx: JobContext) -> Any:
        """Make the result for ``request``; see :data:`KINDS` for what each kind returns."""
        raise NotImplementedError
