"""What every window part shares: settings, plugin registry, model store, job runner and device."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.core.models import ModelStore
from studio.core.settings import Settings, load_settings, save_settings
from studio.plugins.registry import PluginRegistry
from studio.project import Project
from studio.ui.jobs import JobRunner

__all__ = ["StudioContext"]


@dataclass
class StudioContext:
    settings: Settings
    registry: PluginRegistry
    store: ModelStore
    runner: JobRunner
    safe_mode: bool = False
    device: str = "cpu"  # resolved by a background job at start
    device_text: str = "Device: detecting…"
    messages: list[str] = field(default_factory=list)
    # What one panel hands to another: "music.clip" is the Music panel's current clip (the
    # Voice panel sings its melody).
    shared: dict[str, Any] = field(default_factory=dict)
    # The open project: every panel's document. The window replaces it on File ▸ New/Open.
    project: Project = field(default_factory=Project)

    @classmethod
    def create(cls, safe_mode: bool = False) -> StudioContext:
        loaded = load_settings()
        settings = loaded.settings
        registry = PluginRegistry(safe_mode=safe_mode, disabled=settings.disabled_plugins)
        registry.discover()
        return cls(
            settings=settings,
            registry=registry,
            store=ModelStore(settings.models_dir()),
            runner=JobRunner(),
            safe_mode=safe_mode,
            messages=list(loaded.messages),
        )

    def save_settings(self) -> None:
        save_settings(self.settings)
        self.store = ModelStore(self.settings.models_dir())
