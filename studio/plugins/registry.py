"""Finds plugins through entry points, validates their manifests without running their code, and
guards every import and run so a broken plugin is marked and skipped while the studio keeps going.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import threading
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.jobs import Cancelled, JobContext
from studio.core.media import AudioClip, Image, Mask, MidiClip, Scores
from studio.plugins.api import API_VERSION, Generator, api_compatible
from studio.plugins.manifest import Contribution, Manifest, ManifestError, read_manifest

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginRecord",
    "ContributionRef",
    "PluginRegistry",
    "PluginError",
    "Status",
]

ENTRY_POINT_GROUP = "studio.plugins"
#: A process-isolated plugin is disabled after this many failed runs in a session.
MAX_ISOLATED_FAILURES = 3
BUILTIN_DIST = "studio"
log = logging.getLogger(__name__)

RESULT_TYPES: dict[str, tuple[type, ...]] = {
    "midi": (MidiClip,),
    "image": (Image,),
    "voice": (AudioClip,),
    "video_mask": (Mask,),
    "recommender": (Scores,),
    "transcriber": (str,),
    "annotator": (Scores,),
}


class Status:
    OK = "ok"
    NOT_FOUND = "not found"
    INVALID = "invalid manifest"
    INCOMPATIBLE = "incompatible API"
    IMPORT_FAILED = "import failed"
    FAILED = "failed"
    DISABLED = "disabled"
    SAFE_MODE = "skipped (safe mode)"


class PluginError(RuntimeError):
    """A plugin could not be imported or raised; the plugin has been disabled for this session."""


@dataclass
class PluginRecord:
    """One plugin as the host sees it: where it came from, its manifest and its status."""

    name: str
    entry_point: str
    distribution: str
    builtin: bool
    manifest: Manifest | None = None
    manifest_path: Path | None = None
    status: str = Status.OK
    error: str = ""
    failures: int = 0
    network_guard: str = ""  # how the network was refused in its last isolated run
    file_guard: str = ""  # how writes outside its folders were refused

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

    @property
    def version(self) -> str:
        return self.manifest.plugin.version if self.manifest else ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "builtin": self.builtin,
            "entry_point": self.entry_point,
            "manifest": str(self.manifest_path) if self.manifest_path else None,
            "status": self.status,
            "error": self.error,
            "contributions": [
                {"id": c.id, "kind": c.kind, "title": c.title, "entry": c.entry}
                for c in (self.manifest.contributions if self.manifest else [])
            ],
            "capabilities": self.manifest.capabilities.model_dump() if self.manifest else {},
        }


@dataclass
class ContributionRef:
    plugin: PluginRecord
    contribution: Contribution

    @property
    def id(self) -> str:
        """Qualified id, ``<plugin>/<contribution>``."""
        return f"{self.plugin.name}/{self.contribution.id}"

    @property
    def kind(self) -> str:
        return self.contribution.kind

    @property
    def title(self) -> str:
        return self.contribution.title


@dataclass
class _Loaded:
    generator: Generator
    device: str | None = None
    running: int = 0  # runs in progress: unload_all leaves a busy generator alone


def _isolated_type() -> type:
    from studio.plugins.isolation import IsolatedGenerator

    return IsolatedGenerator


def _locate_manifest(value: str) -> Path:
    """``pkg:studio-plugin.toml`` -> the file's path, found with find_spec (no plugin code runs)."""
    if ":" not in value:
        raise ManifestError(f"entry point {value!r} must be 'package:studio-plugin.toml'")
    package, filename = value.split(":", 1)
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError) as exc:
        raise FileNotFoundError(f"package {package!r} cannot be found ({exc})") from None
    if spec is None:
        raise FileNotFoundError(f"package {package!r} is not installed")
    if spec.submodule_search_locations:
        base = Path(list(spec.submodule_search_locations)[0])
    elif spec.origin:
        base = Path(spec.origin).parent
    else:
        raise FileNotFoundError(f"package {package!r} has no location on disk")
    path = base / filename
    if not path.is_file():
        raise FileNotFoundError(f"manifest {filename!r} not found in {base}")
    return path


def _trusted_from_settings() -> list[str]:
    try:
        from studio.core.settings import load_settings

        return list(load_settings().settings.trusted_plugins)
    except Exception:  # noqa: BLE001 - unreadable settings trust nobody
        return []


class PluginRegistry:
    """Discovers plugins (entry point group ``studio.plugins``) and runs their contributions,
    guarded.
    """

    def __init__(
        self,
        *,
        safe_mode: bool = False,
        disabled: Iterable[str] = (),
        entry_points: Iterable[Any] | None = None,
        trusted: Iterable[str] | None = None,
    ) -> None:
        self.safe_mode = safe_mode
        self.disabled = set(disabled)
        #: third-party plugins the user trusts to run inside Studio (None: from the settings)
        self.trusted: set[str] = set(_trusted_from_settings() if trusted is None else trusted)
        self._entry_points = entry_points
        self._records: list[PluginRecord] = []
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.RLock()
        self._discovered = False

    # -- discovery ---------------------------------------------------------------------------------
    def discover(self) -> list[PluginRecord]:
        """Find every plugin and validate its manifest; nothing of the plugin's code is imported."""
        eps = self._entry_points
        if eps is None:
            eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        records: list[PluginRecord] = []
        seen: set[str] = set()
        for ep in eps:
            if ep.value in seen:
                continue
            seen.add(ep.value)
            dist = getattr(getattr(ep, "dist", None), "name", None) or "?"
            builtin = dist == BUILTIN_DIST
            record = PluginRecord(ep.name, ep.value, dist, builtin)
            records.append(record)
            if self.safe_mode and not builtin:
                record.status = Status.SAFE_MODE
                continue
            try:
                record.manifest_path = _locate_manifest(ep.value)
                record.manifest = read_manifest(record.manifest_path)
            except FileNotFoundError as exc:
                record.status, record.error = Status.NOT_FOUND, str(exc)
                continue
            except ManifestError as exc:
                record.status, record.error = Status.INVALID, str(exc)
                continue
            except Exception as exc:  # noqa: BLE001 - one plugin's manifest never stops the rest
                record.status = Status.INVALID
                record.error = f"its manifest could not be read ({type(exc).__name__}: {exc})"
                continue
            record.name = record.manifest.plugin.name
            wanted = record.manifest.plugin.api_version
            if not api_compatible(wanted):
                record.status = Status.INCOMPATIBLE
                record.error = f"needs plugin API {wanted}; this Studio provides {API_VERSION}"
            elif record.name in self.disabled:
                record.status = Status.DISABLED
        with self._lock:
            self._records = records
            self._discovered = True
        for r in records:
            if not r.ok:
                log.warning("plugin %s: %s %s", r.name, r.status, r.error.splitlines()[:1])
        return records

    @property
    def records(self) -> list[PluginRecord]:
        if not self._discovered:
            self.discover()
        return list(self._records)

    def contributions(self, kind: str | None = None) -> list[ContributionRef]:
        """Contributions of working plugins (built-ins first), optionally of one kind."""
        refs = [
            ContributionRef(r, c)
            for r in sorted(self.records, key=lambda r: (not r.builtin, r.name))
            if r.ok and r.manifest
            for c in r.manifest.contributions
            if kind is None or c.kind == kind
        ]
        return refs

    def get(self, qualified_id: str) -> ContributionRef:
        """The contribution ``plugin/id``. Raises KeyError naming it, and why it is unavailable."""
        for record in self.records:
            if record.manifest is None:
                continue
            for c in record.manifest.contributions:
                if f"{record.name}/{c.id}" == qualified_id:
                    if not record.ok:
                        raise KeyError(f"{qualified_id} is unavailable: plugin {record.status}")
                    return ContributionRef(record, c)
        raise KeyError(f"no generator {qualified_id!r}")

    # -- where a plugin runs -----------------------------------------------------------------------
    def isolated(self, record: PluginRecord) -> bool:
        """True when the plugin runs in a worker process: every third-party plugin the user has
        not marked trusted, and any plugin whose manifest asks for it."""
        if record.manifest is not None and record.manifest.plugin.isolation == "process":
            return True
        return not record.builtin and record.name not in self.trusted

    def set_trusted(self, name: str, trusted: bool) -> None:
        """Let a third-party plugin run inside Studio (or send it back to a worker process).
        Its loaded generators are dropped, so the next run goes the new way."""
        with self._lock:
            if trusted:
                self.trusted.add(name)
            else:
                self.trusted.discard(name)
            for key in [k for k in self._loaded if k.startswith(name + "/")]:
                loaded = self._loaded.pop(key)
                try:
                    loaded.generator.unload()
                except Exception:  # noqa: BLE001 - a failed unload does not stop the switch
                    log.exception("unloading %s failed", key)

    # -- guarded use -------------------------------------------------------------------------------
    def _mark(self, record: PluginRecord, status: str, error: str) -> None:
        with self._lock:
            record.status, record.error = status, error
            dropped = [self._loaded.pop(k) for k in list(self._loaded)
                       if k.startswith(record.name + "/")]  # fmt: skip
        for loaded in dropped:  # a disabled plugin's worker goes too
            if isinstance(loaded.generator, _isolated_type()) and not loaded.running:
                try:
                    loaded.generator.unload()
                except Exception:  # noqa: BLE001 - disabling must not fail
                    log.exception("stopping the worker of %s failed", record.name)
        log.error("plugin %s disabled: %s\n%s", record.name, status, error)

    def create(self, ref: ContributionRef) -> Generator:
        """Import and instantiate a contribution (for a process-isolated plugin: a stand-in that
        runs it in a worker process). On failure the plugin is marked and PluginError raised.
        """
        manifest = ref.plugin.manifest
        if manifest is not None and self.isolated(ref.plugin):
            from studio.plugins.isolation import IsolatedGenerator, IsolationError, params_key

            try:
                from studio.core import paths

                folder = ref.plugin.manifest_path.parent if ref.plugin.manifest_path else None

                isolated = IsolatedGenerator(
                    ref.contribution.entry, ref.kind, manifest.plugin.timeout,
                    network=manifest.capabilities.network,
                    file_access=manifest.capabilities.file_access,
                    folder=str(paths.data_dir() / "plugins" / ref.plugin.name),
                    devices=tuple(manifest.capabilities.device),
                    memory_mb=manifest.plugin.memory_mb,
                    cpu_seconds=manifest.plugin.cpu_seconds,
                    key=ref.plugin.name,
                    params_cache=paths.cache_dir() / "plugin-params.json",
                    params_key=params_key(ref.contribution.entry, ref.plugin.version, folder)
                    if folder else "",
                )  # fmt: skip
            except (IsolationError, Cancelled, TypeError, ValueError) as exc:
                self._mark(ref.plugin, Status.IMPORT_FAILED, str(exc))
                raise PluginError(f"plugin {ref.plugin.name} failed to load: {exc}") from exc
            isolated.title = ref.title
            return isolated
        try:
            module = importlib.import_module(ref.contribution.module)
            obj: Any = module
            for part in ref.contribution.attr.split("."):
                obj = getattr(obj, part)
            generator = obj()
            if not isinstance(generator, Generator):
                raise TypeError(f"{ref.contribution.entry} is not a studio.plugins.api.Generator")
            if generator.kind and generator.kind != ref.kind:
                raise TypeError(
                    f"{ref.contribution.entry} is of kind {generator.kind!r}, "
                    f"the manifest says {ref.kind!r}"
                )
        except Exception as exc:
            self._mark(ref.plugin, Status.IMPORT_FAILED, traceback.format_exc())
            raise PluginError(f"plugin {ref.plugin.name} failed to load: {exc}") from exc
        return generator

    def generator(self, ref: ContributionRef) -> Generator:
        """The contribution's generator, created once and kept for later runs."""
        with self._lock:
            loaded = self._loaded.get(ref.id)
            if loaded is None:
                loaded = self._loaded[ref.id] = _Loaded(self.create(ref))
            return loaded.generator

    def run(
        self,
        qualified_id: str,
        request: dict[str, Any] | None,
        ctx: JobContext | None = None,
        device: str = "cpu",
    ) -> Any:
        """Load (if needed) and run a contribution, guarded.

        Raises ValueError for bad parameters or input the plugin refuses (it stays enabled),
        Cancelled when cancelled,
        and PluginError when the plugin fails (it is then disabled for the session, traceback kept).
        """
        ctx = ctx or JobContext()
        ref = self.get(qualified_id)
        generator = self.generator(ref)
        resolved = generator.resolve(request)  # ValueError here is the user's, not the plugin's
        loaded = None
        try:
            with self._lock:
                loaded = self._loaded[ref.id]
                loaded.running += 1
                if loaded.device != device:
                    generator.load(device)
                    loaded.device = device
            try:
                result = generator.run(resolved, ctx)
            finally:
                with self._lock:
                    loaded.running -= 1
                guard = getattr(generator, "network_guard", "")
                if guard:
                    ref.plugin.network_guard = guard
                files = getattr(generator, "file_guard", "")
                if files:
                    ref.plugin.file_guard = files
            expected = RESULT_TYPES[ref.kind]
            if not isinstance(result, expected):
                raise TypeError(
                    f"{ref.contribution.entry} returned {type(result).__name__}, "
                    f"a {ref.kind} generator must return {expected[0].__name__}"
                )
        except (Cancelled, ValueError):
            # a ValueError is the plugin refusing this request (input too short, a missing
            # file...): the artist gets its message and the plugin stays enabled
            raise
        except Exception as exc:
            isolated = isinstance(generator, _isolated_type())
            with self._lock:
                ref.plugin.failures += 1
                failures = ref.plugin.failures
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if not isolated or failures >= MAX_ISOLATED_FAILURES:
                # in the app's process one failure disables the plugin; a contained one gets
                # a few chances before it is disabled for the session
                self._mark(ref.plugin, Status.FAILED, traceback.format_exc())
                raise PluginError(f"plugin {ref.plugin.name} failed: {first_line}") from exc
            raise PluginError(
                f"plugin {ref.plugin.name} failed: {first_line} (contained; the plugin stays "
                f"enabled for {MAX_ISOLATED_FAILURES - failures} more failure(s))"
            ) from exc
        provenance = getattr(result, "provenance", None)
        if isinstance(provenance, dict):
            provenance.setdefault("engine", ref.id)
            provenance.setdefault("plugin_version", ref.plugin.version)
            provenance.setdefault(
                "params", {p.name: resolved.get(p.name) for p in generator.params}
            )
        return result

    def unload_all(self, *, wait: bool = False) -> list[str]:
        """Unload every loaded generator (an isolated one's worker stops). One that is running
        is left alone unless ``wait`` (on quit, after its job was cancelled): unloading it under
        its own run would make it fail. Returns the ids of those left loaded."""
        skipped: list[str] = []
        with self._lock:
            for key, loaded in self._loaded.items():
                if loaded.running and not wait:
                    skipped.append(key)
                    continue
                try:
                    loaded.generator.unload()
                except Exception:  # noqa: BLE001 - unloading must never stop a shutdown
                    log.exception("unloading %s failed", loaded.generator)
                loaded.device = None
        return skipped
