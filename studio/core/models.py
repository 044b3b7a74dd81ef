"""The model store (shipped and user models, each with a card) and ModelHost (lazy, warm,
releasable).

A model is a weight file (or a folder) with a card beside it named ``<file>.card.toml``. Shipped
models live under ``resources/models/<kind>/``; the artist's own under ``<user
data>/studio/models/<kind>/``. Nothing is ever downloaded: the store only scans these folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import tomllib
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core import paths
from studio.core.resources import ResourceNotFound, resources_dir

__all__ = [
    "ModelCard",
    "ModelEntry",
    "ModelStore",
    "ModelIntegrityError",
    "ModelHost",
    "release_all_hosts",
    "release_idle_hosts",
    "ReleaseReport",
    "sha256_file",
    "CARD_SUFFIX",
]

CARD_SUFFIX = ".card.toml"
REQUIRED_CARD_FIELDS = ("name", "kind", "file", "sha256", "licence", "source", "command")


class ModelIntegrityError(RuntimeError):
    """A model file does not match the sha256 on its card (or is missing)."""


@dataclass(frozen=True)
class ModelCard:
    """What we know about a model file: where it came from, its licence, how it was made, how good
    it is.
    """

    name: str
    kind: str
    file: str
    sha256: str
    licence: str
    source: str
    command: str
    metrics: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    # A model that an installed Python package ships (a Piper voice): ``file`` is relative to it.
    package: str = ""
    # What the licence forbids or asks for, shown wherever the model is picked.
    restriction: str = ""

    @classmethod
    def from_toml(cls, path: Path) -> ModelCard:
        """Read a card. Raises ValueError naming the file and the missing fields."""
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
        missing = [key for key in REQUIRED_CARD_FIELDS if not data.get(key)]
        if missing:
            raise ValueError(f"{path.name}: card lacks {', '.join(missing)}")
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            file=str(data["file"]),
            sha256=str(data["sha256"]).lower(),
            licence=str(data["licence"]),
            source=str(data["source"]),
            command=str(data["command"]),
            metrics=dict(data.get("metrics", {})),
            description=str(data.get("description", "")),
            package=str(data.get("package", "")),
            restriction=str(data.get("restriction", "")),
        )

    def target(self, card_path: Path) -> Path:
        """Where the file this card describes lives."""
        if self.package:
            import importlib.util

            spec = importlib.util.find_spec(self.package)
            if spec is None or not spec.submodule_search_locations:
                return card_path.parent / f"(package {self.package} is not installed)" / self.file
            return Path(list(spec.submodule_search_locations)[0]) / self.file
        return card_path.parent / self.file

    def as_text(self) -> str:
        lines = [
            f"name: {self.name}",
            f"kind: {self.kind}",
            f"file: {self.file}",
            f"sha256: {self.sha256}",
            f"licence: {self.licence}",
            f"source: {self.source}",
            *([f"package: {self.package}"] if self.package else []),
            f"made with: {self.command}",
        ]
        if self.restriction:
            lines.append(f"restriction: {self.restriction}")
        if self.description:
            lines.append(f"description: {self.description}")
        for key, value in self.metrics.items():
            lines.append(f"metric {key}: {value}")
        return "\n".join(lines)


@dataclass
class ModelEntry:
    """One model found: its card (if readable), where it lives and whether it checks out."""

    path: Path
    origin: str  # "shipped" or "user"
    card: ModelCard | None
    problem: str = ""
    verified: bool | None = None  # None: not yet checked this session

    @property
    def name(self) -> str:
        return self.card.name if self.card else self.path.name

    @property
    def kind(self) -> str:
        return self.card.kind if self.card else self.path.parent.name

    @property
    def licence(self) -> str:
        return self.card.licence if self.card else "unknown"

    @property
    def size_bytes(self) -> int:
        if self.path.is_dir():
            return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())
        return self.path.stat().st_size if self.path.exists() else 0

    @property
    def status(self) -> str:
        if self.problem:
            return self.problem
        if self.verified is None:
            return "ok (not yet verified)"
        return "ok" if self.verified else "sha256 mismatch"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, or of a folder's files in sorted relative-path order."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode())
        with open(file, "rb") as fh:
            while block := fh.read(chunk):
                digest.update(block)
    return digest.hexdigest()


class ModelStore:
    """Finds models in the shipped resources and the user model folder.

    The sha256 on each card is checked the first time the model is loaded (:meth:`verify`), not on
    scan, so listing stays fast.
    """

    def __init__(self, user_dir: Path | None = None, shipped_dir: Path | None = None) -> None:
        self.user_dir = Path(user_dir) if user_dir else paths.user_models_dir()
        if shipped_dir is None:
            try:
                shipped_dir = resources_dir() / "models"
            except ResourceNotFound:
                shipped_dir = None
        self.shipped_dir = shipped_dir
        self._verified: dict[Path, bool] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> ModelStore:
        """The store for the model folder chosen in Preferences (the default one when unset)."""
        from studio.core.settings import load_settings

        return cls(load_settings().settings.models_dir())

    def scan(self) -> list[ModelEntry]:
        """Every model found, shipped first, each with its card or the reason it has none."""
        entries: list[ModelEntry] = []
        for origin, root in (("shipped", self.shipped_dir), ("user", self.user_dir)):
            if root is None or not root.is_dir():
                continue
            carded: set[Path] = set()
            for card_path in sorted(root.rglob(f"*{CARD_SUFFIX}")):
                try:
                    card = ModelCard.from_toml(card_path)
                except (ValueError, tomllib.TOMLDecodeError, OSError) as exc:
                    target = card_path.with_name(card_path.name[: -len(CARD_SUFFIX)])
                    entries.append(ModelEntry(target, origin, None, problem=f"bad card: {exc}"))
                    carded.add(target)
                    continue
                target = card.target(card_path)
                carded.add(target)
                entry = ModelEntry(target, origin, card)
                if not target.exists():
                    entry.problem = f"file missing: {card.file}" + (
                        f" (from the {card.package} package)" if card.package else ""
                    )
                entry.verified = self._verified.get(target)
                entries.append(entry)
            if origin == "user":
                # Files dropped into the user folder without a card are shown, so the artist sees
                # them.
                for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()):
                    for item in sorted(kind_dir.iterdir()):
                        if item.name.endswith(CARD_SUFFIX) or item.name.startswith("."):
                            continue
                        if item not in carded:
                            entries.append(ModelEntry(item, origin, None, problem="no card"))
        return entries

    def find(self, name: str, kind: str | None = None) -> ModelEntry:
        """The model called ``name`` (user models shadow shipped ones). Raises KeyError."""
        matches = [e for e in self.scan() if e.name == name and (kind is None or e.kind == kind)]
        if not matches:
            raise KeyError(f"no model named {name!r}" + (f" of kind {kind!r}" if kind else ""))
        return matches[-1]

    def verify(self, entry: ModelEntry) -> Path:
        """Check the file against its card's sha256 (once per session) and return its path.

        Raises ModelIntegrityError naming the model on a missing file, a missing card or a mismatch.
        """
        if entry.card is None:
            raise ModelIntegrityError(f"model {entry.name!r} has no card ({entry.problem})")
        if not entry.path.exists():
            raise ModelIntegrityError(f"model {entry.name!r}: file missing at {entry.path}")
        with self._lock:
            known = self._verified.get(entry.path)
            if known is None:
                known = sha256_file(entry.path) == entry.card.sha256
                self._verified[entry.path] = known
        entry.verified = known
        if not known:
            raise ModelIntegrityError(
                f"model {entry.name!r}: sha256 of {entry.path.name} does not match its card; "
                "the file is damaged or was replaced"
            )
        return entry.path


_HOSTS: weakref.WeakSet[ModelHost] = weakref.WeakSet()


class ModelHost:
    """Holds one model family: loaded lazily on first use, kept warm, released on demand.

    ``loader(device)`` builds the model. Use it inside ``with host.use(device) as model:``: one
    thread at a time (a second waits), so a model that is not thread-safe (a LiteRT interpreter,
    a torch module with caches) is never run from two threads at once, and a release never pulls
    it from under a run (:func:`release_idle_hosts` skips a busy host).
    """

    def __init__(self, family: str, loader: Callable[[str], Any]) -> None:
        self.family = family
        self._loader = loader
        self._model: Any = None
        self._device: str | None = None
        self._lock = threading.RLock()  # guards loading and releasing
        self._in_use = threading.RLock()  # held for the whole of a use()
        self._users = 0
        self.load_count = 0
        _HOSTS.add(self)

    @contextlib.contextmanager
    def use(self, device: str = "cpu") -> Iterator[Any]:
        """The model on ``device`` for one piece of work, held by this thread until the block
        ends: another thread's ``use`` waits, a release skips it meanwhile."""
        with self._in_use:
            self._users += 1
            try:
                yield self.get(device)
            finally:
                self._users -= 1

    @property
    def busy(self) -> bool:
        """True while some thread is inside :meth:`use`."""
        return self._users > 0

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def device(self) -> str | None:
        return self._device

    def get(self, device: str = "cpu") -> Any:
        """The model on ``device``, loading it (or moving it by reloading) when needed."""
        with self._lock:
            if self._model is None or self._device != device:
                self.release()
                self._model = self._loader(device)
                self._device = device
                self.load_count += 1
            return self._model

    def release(self, *, wait: bool = True) -> bool:
        """Drop the model and give its memory back (GPU cache included). A model in use by
        another thread is waited for, or left alone when ``wait`` is False (then False is
        returned)."""
        if not self._in_use.acquire(blocking=wait):
            return False
        try:
            with self._lock:
                if self._model is None:
                    return True
                model, self._model, self._device = self._model, None, None
                unload = getattr(model, "unload", None)
                if callable(unload):
                    unload()
                del model
        finally:
            self._in_use.release()
        _empty_gpu_cache()  # outside the locks: the next use need not wait for a collection
        return True

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """Run model code without autograd (torch.inference_mode when torch is loaded)."""
        import sys

        torch = sys.modules.get("torch")
        if torch is None:
            yield
            return
        with torch.inference_mode():
            yield


def _empty_gpu_cache() -> None:
    import gc
    import sys

    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class ReleaseReport:
    """What :func:`release_idle_hosts` did: the families released and those skipped (busy)."""

    released: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def release_idle_hosts() -> ReleaseReport:
    """Release every loaded model that no thread is using (when memory is needed); a busy one
    is skipped, never pulled from under its run. Never waits."""
    report = ReleaseReport()
    for host in list(_HOSTS):
        if not host.loaded:
            continue
        if host.busy or not host.release(wait=False):
            report.skipped.append(host.family)
        else:
            report.released.append(host.family)
    return report


def release_all_hosts() -> int:
    """Release every loaded model no thread is using (see :func:`release_idle_hosts`). Returns
    how many were released."""
    return len(release_idle_hosts().released)
