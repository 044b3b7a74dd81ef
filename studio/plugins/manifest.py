"""Plugin manifests (``studio-plugin.toml``): reading and validating them without importing plugin
code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from studio.plugins.api import KINDS

__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "Contribution",
    "Capabilities",
    "ManifestError",
    "read_manifest",
    "parse_manifest",
    "MAX_MANIFEST_BYTES",
    "MAX_MANIFEST_DEPTH",
]

MANIFEST_NAME = "studio-plugin.toml"
_ENTRY = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class ManifestError(ValueError):
    """The manifest is missing, not TOML, or does not follow the schema; the message says where."""


class Capabilities(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: list[Literal["cpu", "cuda", "mps"]] = Field(default_factory=lambda: ["cpu"])
    network: bool = False
    file_access: bool = False


class Contribution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    title: str
    entry: str
    description: str = ""

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in KINDS:
            raise ValueError(f"unknown kind {value!r}; v1 kinds are {', '.join(KINDS)}")
        return value

    @field_validator("entry")
    @classmethod
    def _entry(cls, value: str) -> str:
        if not _ENTRY.match(value):
            raise ValueError(f"entry {value!r} must look like 'package.module:Class'")
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"id {value!r} must be lower-case letters, digits, '.', '_' or '-'")
        return value

    @property
    def module(self) -> str:
        return self.entry.split(":", 1)[0]

    @property
    def attr(self) -> str:
        return self.entry.split(":", 1)[1]


class PluginInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    api_version: str
    description: str = ""
    author: str = ""
    licence: str = ""
    #: A third-party plugin runs in a worker process of its own (a crash or a hang ends the job,
    #: not the app; network and writes refused unless the capabilities allow them) unless the
    #: user marks it trusted in the Plugins dialog. "process" keeps it there even then;
    #: "thread" (the default) lets a trusted or built-in plugin run inside Studio.
    isolation: Literal["thread", "process"] = "thread"
    #: seconds a process-isolated run may take before it is stopped
    timeout: float = Field(default=300.0, gt=0, le=86400)
    #: address space (MiB) its worker may use; 0 for no limit (a CUDA plugin gets none)
    memory_mb: int | None = Field(default=None, ge=0, le=1024 * 1024)
    #: CPU seconds one run may use (RLIMIT_CPU); by default the timeout times the CPU count
    cpu_seconds: float | None = Field(default=None, gt=0, le=86400 * 64)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"name {value!r} must be lower-case letters, digits, '.', '_' or '-'")
        return value

    @field_validator("api_version")
    @classmethod
    def _api(cls, value: str) -> str:
        if not re.match(r"^\d+(\.\d+)?$", value):
            raise ValueError(f"api_version {value!r} must look like '1' or '1.0'")
        return value


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plugin: PluginInfo
    capabilities: Capabilities = Field(default_factory=Capabilities)
    contributions: list[Contribution] = Field(min_length=1)

    @field_validator("contributions")
    @classmethod
    def _unique(cls, value: list[Contribution]) -> list[Contribution]:
        ids = [c.id for c in value]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"contribution ids repeat: {', '.join(dupes)}")
        return value


#: The bounds a manifest is read within (a manifest of a few plugins is a few KB, 3 levels deep):
#: a deeper one is refused for its plugin alone, before tomllib could recurse out of the stack.
MAX_MANIFEST_BYTES = 256 * 1024
MAX_MANIFEST_DEPTH = 8


def parse_manifest(text: str | bytes, source: str = MANIFEST_NAME) -> Manifest:
    """Validate manifest text (at most :data:`MAX_MANIFEST_BYTES`, nested at most
    :data:`MAX_MANIFEST_DEPTH` levels). Raises ManifestError with every problem, one per line."""
    from studio.core.bounded_toml import TomlError, loads

    try:
        data = loads(text, source, max_depth=MAX_MANIFEST_DEPTH, max_dots=MAX_MANIFEST_DEPTH,
                     max_bytes=MAX_MANIFEST_BYTES)  # fmt: skip
    except TomlError as exc:
        raise ManifestError(str(exc)) from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:20]:
            where = ".".join(str(p) for p in err["loc"])[:200] or "manifest"
            problems.append(f"{source}: {where}: {err['msg']}")
        raise ManifestError("\n".join(problems)) from None


def read_manifest(path: Path) -> Manifest:
    """Read and validate a manifest file. Raises ManifestError."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest ({exc.strerror or exc})") from None
    return parse_manifest(data, str(path))
