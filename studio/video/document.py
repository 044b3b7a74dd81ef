"""The Video panel's document, without Qt: the source (the demo clip, a camera, a video file or a
folder of images), the person engine, the matte refinement, the background effect and the export
settings.

Every value is plain (strings, numbers, booleans), so the document is one ``document.json`` in a
project (paths as plain strings) and the same JSON as a settings file (``export(path.json)``).
The panel turns it into engine requests with :meth:`VideoDocument.refine_settings`,
:meth:`~VideoDocument.build_effect` and :meth:`~VideoDocument.video_settings`; the preview and the
export never read the panel's widgets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from studio.core.document import (
    DOCUMENT_JSON,
    Document,
    DocumentError,
    read_json,
    stored_fields,
    to_jsonable,
    write_json,
)
from studio.video.refine import REFINE_PARAMS

__all__ = [
    "VideoDocument",
    "SOURCE_KINDS",
    "BUILTIN_ENGINES",
    "EFFECT_KEYS",
    "VIDEO_SUFFIXES_IN",
    "CAMERA_SIZES",
]

SOURCE_KINDS = ("demo", "camera", "file", "sequence")
BUILTIN_ENGINES = ("selfie", "mog2", "rvm")  # plugins add "plugin/contribution" ids
#: The panel's background choices; "image-panel" uses the Image panel's picture at run time.
EFFECT_KEYS = ("blur", "color", "green", "image", "video", "image-panel", "matte", "alpha", "none")
VIDEO_SUFFIXES_IN = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
CAMERA_SIZES = ("640x480", "1280x720", "1920x1080")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_REFINE = {p.name: p for p in REFINE_PARAMS}


class VideoDocument(Document):
    """What the Video panel shows and edits. Settings changes are undo steps; the view mode is
    view state (saved, not undone)."""

    KIND = "video"
    VERSION = 1
    EXPORT_SUFFIXES = (".json",)
    FIELDS: ClassVar[dict[str, Any]] = {
        # source
        "source": "demo",  # one of SOURCE_KINDS
        "source_path": "",  # the file or folder of "file" / "sequence"
        "camera_index": 0,
        "camera_size": "1280x720",
        "camera_fps": 30,
        # person
        "engine": "selfie",  # selfie, mog2, rvm, or a plugin's contribution id
        "rvm_path": "",  # the Robust Video Matting TorchScript file of "rvm"
        # matte (REFINE_PARAMS' names and defaults)
        **{p.name: float(p.default) for p in REFINE_PARAMS},
        "guided": True,
        # background
        "effect": "blur",  # one of EFFECT_KEYS
        "strength": 16.0,  # blur radius, pixels
        "color": "#336699",
        "background_image": "",
        "background_video": "",
        # export
        "export_frames": 0,  # 0: the whole source; N: its first N frames (a quick try)
        "keep_audio": True,
        "last_export": "",  # where the last export went (shown, not undone)
        # view
        "view_mode": "side",
    }
    QUIET_FIELDS = frozenset({"view_mode", "last_export"})

    # -- what the engines get ----------------------------------------------------------------------
    def source_spec(self) -> str:
        """What :func:`studio.video.sources.open_source` opens: ``demo``, ``camera:N`` or a
        path."""
        if self.source == "camera":
            return f"camera:{int(self.camera_index)}"
        if self.source in ("file", "sequence"):
            return self.source_path
        return "demo"

    def source_name(self) -> str:
        if self.source in ("file", "sequence"):
            return Path(self.source_path).name if self.source_path else "no source"
        return self.source_spec()

    def camera_options(self) -> dict[str, Any]:
        width, height = (int(v) for v in str(self.camera_size).split("x"))
        return {"width": width, "height": height, "fps": int(self.camera_fps)}

    def engine_spec(self) -> str:
        """The segmenter spec: the RVM file's path for ``rvm``, else the engine's name."""
        return self.rvm_path if self.engine == "rvm" else self.engine

    def refine_settings(self):
        """The matte settings as :class:`~studio.video.refine.RefineSettings` (ValueError names
        the control out of range)."""
        from studio.video.refine import RefineSettings

        values = {name: float(self.get(name)) for name in _REFINE}
        return RefineSettings(guided=bool(self.guided), **values)

    def build_effect(self, picture: Any = None):
        """The background as an :class:`~studio.video.effects.Effect`. ``picture``: the Image
        panel's pixels for ``image-panel``. Raises EffectError when the effect lacks its
        picture."""
        import numpy as np

        from studio.video.effects import Effect, EffectError, parse_color, parse_effect

        key = self.effect
        if key == "blur":
            return Effect("blur", strength=float(self.strength))
        if key == "color":
            return Effect("color", color=parse_color(self.color))
        if key in ("image", "video"):
            path = self.background_image if key == "image" else self.background_video
            if not path:
                raise EffectError(f"choose the background {key} first")
            return parse_effect(f"{key}:{path}")
        if key == "image-panel":
            if picture is None:
                raise EffectError("the Image panel has no picture yet")
            return Effect("image", image=np.asarray(picture))
        return Effect(key)

    def video_settings(self, device: str = "auto", picture: Any = None):
        """The :class:`~studio.video.pipeline.VideoSettings` the preview and the export run."""
        from studio.video.pipeline import VideoSettings

        return VideoSettings(
            engine=self.engine_spec(),
            effect=self.build_effect(picture).spec(),
            refine=self.refine_settings(),
            device=device,
        )

    def summary(self) -> str:
        effect = self.effect if self.effect != "blur" else f"blur {self.strength:g} px"
        return f"source {self.source_name()}, engine {self.engine}, background {effect}"

    # -- files -------------------------------------------------------------------------------------
    @classmethod
    def write_snapshot(cls, snapshot: dict[str, Any], folder: Path) -> dict[str, Any]:
        meta = super().write_snapshot(snapshot, folder)
        doc = cls(**{k: v for k, v in snapshot.items() if k in cls.FIELDS})
        meta["summary"] = doc.summary()
        meta["provenance"] = {
            "source": doc.source_spec() or "none",
            "engine": doc.engine,
            "effect": doc.effect,
            **{name: float(snapshot.get(name, p.default)) for name, p in _REFINE.items()},
        }
        return meta

    @classmethod
    def read(cls, folder: Path) -> VideoDocument:
        return cls._from_json(read_json(Path(folder) / DOCUMENT_JSON), str(folder))

    @classmethod
    def _from_json(cls, data: dict[str, Any], where: str) -> VideoDocument:
        fields = stored_fields(data, cls.VERSION, f"the video settings in {where}", where)
        values, messages = _checked(fields)
        doc = cls(**values)
        doc.messages.extend(messages)
        return doc

    @classmethod
    def from_file(cls, path: str | Path) -> VideoDocument:
        """A video file or a folder of numbered images as the source (default settings), or a
        settings file written by :meth:`export` (.json). Raises DocumentError."""
        path = Path(path).expanduser()
        if not path.exists():
            raise DocumentError(f"{path} does not exist")
        if path.is_dir():
            return cls(source="sequence", source_path=str(path.resolve()))
        suffix = path.suffix.lower()
        if suffix == ".json":
            return cls._from_json(read_json(path), path.name)
        if suffix not in VIDEO_SUFFIXES_IN:
            raise DocumentError(
                f"{path.name} is not a video: open {', '.join(VIDEO_SUFFIXES_IN)}, a folder of "
                "images or a Video settings .json"
            )
        return cls(source="file", source_path=str(path.resolve()))

    def export(self, path: str | Path) -> Path:
        """Write the settings as JSON (``.json``), the same shape as the project's
        document.json. Returns the path written."""
        path = Path(path).expanduser()
        if path.suffix.lower() not in self.EXPORT_SUFFIXES:
            raise DocumentError(f"the Video settings are saved as .json, not {path.suffix!r}")
        data = {
            "kind": self.KIND,
            "version": self.VERSION,
            "fields": {k: to_jsonable(v) for k, v in self.values().items()},
        }
        return write_json(path, data)


def _checked(fields: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The values of ``fields`` this Studio can use; a missing file or a bad value goes back to
    its default with a line saying so (the other settings still open)."""
    defaults = VideoDocument.FIELDS
    values: dict[str, Any] = {}
    messages: list[str] = []
    for name, default in defaults.items():
        if name not in fields:
            continue
        value = fields[name]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = float(value) if ok else value
        else:
            ok = isinstance(value, str)
        if ok and name in _REFINE:
            ok = _REFINE[name].minimum <= value <= _REFINE[name].maximum
        if ok and name == "strength":
            ok = 0 <= value <= 200
        if ok and name == "source":
            ok = value in SOURCE_KINDS
        if ok and name == "effect":
            ok = value in EFFECT_KEYS
        if ok and name == "color":
            ok = bool(_COLOR.fullmatch(value))
        if ok and name == "camera_size":
            ok = value in CAMERA_SIZES
        if ok and name in ("camera_index", "export_frames"):
            ok = value >= 0
        if ok and name == "camera_fps":
            ok = 1 <= value <= 240
        if not ok:
            messages.append(f"the setting {name} ({value!r}) was not understood: back to "
                            f"{default!r}")  # fmt: skip
            continue
        values[name] = value
    # Files the settings name, which may have moved since.
    source = values.get("source", "demo")
    if source in ("file", "sequence"):
        path = values.get("source_path", "")
        if not path or not Path(path).exists():
            what = "video" if source == "file" else "image folder"
            messages.append(
                f"the source {what} {path or '(none)'} is missing: the demo clip is shown "
                "instead; open the file again (the other settings are kept)"
            )
            values["source"], values["source_path"] = "demo", ""
    else:
        values["source_path"] = ""
    if values.get("engine") == "rvm":
        path = values.get("rvm_path", "")
        if not path or not Path(path).exists():
            messages.append(
                f"the Robust Video Matting file {path or '(none)'} is missing: back to the "
                "MediaPipe selfie engine"
            )
            values["engine"], values["rvm_path"] = "selfie", ""
    for key in ("image", "video"):
        field = f"background_{key}"
        path = values.get(field, "")
        if path and not Path(path).exists():
            messages.append(f"the background {key} {path} is missing: choose it again")
            values[field] = ""
            if values.get("effect") == key:
                values["effect"] = "blur"
    return values, messages
