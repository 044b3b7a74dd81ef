"""What every window part shares: settings, plugin registry, model store, job runner and device.

The window paints its front panel with a context from :meth:`StudioContext.starting`: the job
runner and the project only. The settings (a pydantic model), the plugins (entry points, manifests)
and the model store are made by :meth:`StudioContext.load` right after the first paint, or on
first use when something asks for them earlier, so nothing asking for them ever sees a half-made
context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.project import Project
from studio.ui.jobs import JobRunner

if TYPE_CHECKING:
    from studio.core.models import ModelStore
    from studio.core.settings import Settings
    from studio.plugins.registry import PluginRegistry

__all__ = ["StudioContext"]


class StudioContext:
    """Settings, plugins, model store and job runner, shared by the window and its panels.

    ``settings``, ``registry`` and ``store`` are made on first use (or by :meth:`load`); each can
    also be assigned (Preferences, tests)."""

    def __init__(
        self,
        runner: JobRunner,
        safe_mode: bool = False,
        settings: Settings | None = None,
        registry: PluginRegistry | None = None,
        store: ModelStore | None = None,
    ) -> None:
        self.runner = runner
        self.safe_mode = safe_mode
        self.device = "cpu"  # resolved by a background job at start
        self.device_text = "Device: detecting…"
        # What reading the settings had to say (invalid values, an upgrade), for the status bar.
        self.messages: list[str] = []
        # What one panel hands to another: "music.clip" is the Music panel's current clip (the
        # Voice panel sings its melody).
        self.shared: dict[str, Any] = {}
        # The open project: every panel's document. The window replaces it on File ▸ New/Open.
        self.project = Project()
        self._settings = settings
        self._registry = registry
        self._store = store

    @classmethod
    def create(cls, safe_mode: bool = False) -> StudioContext:
        """A context with its settings read and its plugins found."""
        context = cls.starting(safe_mode)
        context.load()
        return context

    @classmethod
    def starting(cls, safe_mode: bool = False) -> StudioContext:
        """What the window needs to paint its front panel: the job runner and the project. The
        settings, plugins and models come with :meth:`load` (or on first use)."""
        return cls(JobRunner(), safe_mode)

    def load(self) -> None:
        """Read the settings and find the plugins (once)."""
        self.registry  # noqa: B018  (reads the settings, then discovers)

    @property
    def loaded(self) -> bool:
        """The settings are read and the plugins found."""
        return self._settings is not None and self._registry is not None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from studio.core.settings import load_settings

            read = load_settings()
            self._settings = read.settings
            self.messages.extend(read.messages)
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    @property
    def registry(self) -> PluginRegistry:
        if self._registry is None:
            from studio.plugins.registry import PluginRegistry

            registry = PluginRegistry(
                safe_mode=self.safe_mode, disabled=self.settings.disabled_plugins
            )
            registry.discover()
            self._registry = registry
        return self._registry

    @registry.setter
    def registry(self, value: PluginRegistry) -> None:
        self._registry = value

    @property
    def store(self) -> ModelStore:
        if self._store is None:
            from studio.core.models import ModelStore

            self._store = ModelStore(self.settings.models_dir())
        return self._store

    @store.setter
    def store(self, value: ModelStore) -> None:
        self._store = value

    def save_settings(self) -> None:
        from studio.core.models import ModelStore
        from studio.core.settings import save_settings

        save_settings(self.settings)
        self.store = ModelStore(self.settings.models_dir())
